"""Benchmark of the band-gap predictors used for screening (issue 11, item 3).

Each predictor against Materials Project's PBE gap on the evaluation sets' crystals that have one
(``mp20/dev_1000``: 629 rows; ``mp21_40/dev_300``: 300 rows; both kept out of the composition model's training):

- ``megnet``: ``screening.properties.predict_band_gap`` (MEGNet-MP-2019.4.1-BandGap-mfi, PBE fidelity) on the MP
  geometry, as ``screening.assess(relax=False)`` calls it;
- ``composition``: ``screening.gap_model`` (composition MLP trained on matbench mp_gap without these formulas);
- ``composition_metal_call_megnet_gap``: the composition model decides metal / non-metal, MEGNet's gap otherwise;
- ``mean``: the composition model decides metal / non-metal, the mean of both gaps otherwise.

Per gap bin of the MP value (0, 0-1, 1-2, 2-3, 3+ eV, and 1-4 eV, the range the generative targets live in): count,
MAE, mean signed error (predicted - MP), share within 0.5 eV; overall MAE; metals called metals and non-metals called
non-metals (a prediction below 0.1 eV is a metal call). Rows with an element the composition model was not trained on
(a noble gas) are left out for every predictor, and listed. Usage: ``python benchmarks/bench_band_gap.py``.
Writes ``benchmarks/results/band_gap_predictors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "band_gap_predictors.json"
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
if not os.environ.get("SLICES_MODEL_DIR") and (REPO.parent / "shared" / "models").is_dir():
    os.environ["SLICES_MODEL_DIR"] = str(REPO.parent / "shared" / "models")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SETS = {"dev_1000": "mp20/dev_1000.csv.gz", "dev_300": "mp21_40/dev_300.csv.gz"}
BINS = [("0", 0.0, 0.0), ("0-1", 0.0, 1.0), ("1-2", 1.0, 2.0), ("2-3", 2.0, 3.0), ("3+", 3.0, np.inf),
        ("1-4", 1.0, 4.0)]  # (lo, hi]; "0" is exactly 0
METAL_CALL = 0.1  # eV: a predicted gap below this is a metal call
PREDICTORS = ["megnet", "composition", "composition_metal_call_megnet_gap", "mean"]


def load_set(relative: str):
    """(structures, MP gaps) of a set's rows with a band gap."""
    from pymatgen.core import Structure

    from periodicnet.resources import shared_data_path

    frame = pd.read_csv(shared_data_path(relative), keep_default_na=False)
    frame = frame[frame["band_gap"].astype(str) != ""].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's notes on rounded CIF coordinates
        structures = [Structure.from_str(cif, fmt="cif") for cif in frame["cif"]]
    return structures, frame["band_gap"].astype(float).to_numpy()


def bin_mask(truth: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return truth <= 0 if hi == 0 else (truth > lo) & (truth <= hi)


def table(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Scores of one predictor on one set."""
    error = predicted - truth
    metal = truth <= 0
    out = {"n": int(len(truth)), "mae": round(float(np.mean(np.abs(error))), 4),
           "metals_called_metal": round(float(np.mean(predicted[metal] < METAL_CALL)), 4),
           "nonmetals_called_nonmetal": round(float(np.mean(predicted[~metal] >= METAL_CALL)), 4), "bins": {}}
    for name, lo, hi in BINS:
        mask = bin_mask(truth, lo, hi)
        if not mask.any():
            out["bins"][name] = {"n": 0}
            continue
        e = error[mask]
        out["bins"][name] = {"n": int(mask.sum()), "mae": round(float(np.mean(np.abs(e))), 4),
                             "mean_signed_error": round(float(np.mean(e)), 4),
                             "within_0.5": round(float(np.mean(np.abs(e) <= 0.5)), 4)}
    return out


def predictions(structures) -> tuple[dict, dict]:
    """Each predictor's gaps, and the median seconds per crystal of the two models (3 runs)."""
    from screening.gap_model import load_gap_model
    from screening.properties import predict_band_gap

    model = load_gap_model()
    timings = {"megnet": [], "composition": []}
    for _ in range(3):
        start = time.perf_counter()
        megnet = predict_band_gap(structures)
        timings["megnet"].append(time.perf_counter() - start)
        start = time.perf_counter()
        composition = model.predict(structures)
        timings["composition"].append(time.perf_counter() - start)
    gap = composition.band_gap
    nonmetal = gap > 0
    values = {
        "megnet": megnet,
        "composition": gap,
        "composition_metal_call_megnet_gap": np.where(nonmetal, megnet, 0.0),
        "mean": np.where(nonmetal, 0.5 * (megnet + gap), 0.0),
    }
    seconds = {k: float(np.median(v)) / len(structures) for k, v in timings.items()}
    return values, seconds


def print_table(name: str, scores: dict) -> None:
    print(f"\n{name}")
    header = "| predictor | MAE | metals->metal | non-metals->non-metal | " + " | ".join(
        f"{b[0]} eV: n, MAE, signed, within 0.5" for b in BINS) + " |"
    print(header)
    for predictor, s in scores.items():
        cells = []
        for b, _, _ in BINS:
            c = s["bins"][b]
            cells.append(f"{c['n']}, {c['mae']:.2f}, {c['mean_signed_error']:+.2f}, {c['within_0.5']:.0%}"
                         if c["n"] else "0")
        print(f"| {predictor} | {s['mae']:.3f} | {s['metals_called_metal']:.1%} | {s['nonmetals_called_nonmetal']:.1%}"
              f" | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    import torch

    from screening.gap_model import load_gap_model

    torch.set_num_threads(1)
    result = {"settings": {"metal_call_below_eV": METAL_CALL, "bins": [b[0] for b in BINS],
                           "megnet_on": "MP geometry (as screening.assess(relax=False))",
                           "composition_model": load_gap_model().training_info,
                           "machine": platform.machine(), "torch_threads": 1},
              "sets": {}}
    known = set(load_gap_model().elements)
    for name, relative in SETS.items():
        structures, truth = load_set(relative)
        covered = np.array([all(el.symbol in known for el in s.composition) for s in structures])
        left_out = [s.composition.reduced_formula for s, c in zip(structures, covered) if not c]
        structures, truth = [s for s, c in zip(structures, covered) if c], truth[covered]
        values, seconds = predictions(structures)
        scores = {p: table(values[p], truth) for p in PREDICTORS}
        result["sets"][name] = {"file": relative, "n": int(len(truth)), "seconds_per_crystal": seconds,
                                "left_out_elements_unknown_to_composition_model": left_out, "predictors": scores}
        print_table(f"{name} ({len(truth)} crystals with an MP gap)", scores)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
