"""Benchmark of the screening against known materials (issue 10).

1. ``hull_sources``: which known-materials tables make the hull. Each crystal's own MP formation energy is placed on
   hulls built from each source (and merge rule) and compared with MP's e_above_hull. Cheap, no model.
2. ``routes``: a crystal's formation energy in the hull's frame, with the relaxation included. Each crystal is
   relaxed with the potential from its MP geometry (``screening.formation.relax_candidate``), then its formation
   energy is computed by each route and placed on the known hull; e_above_hull is compared with MP's (MAE, median,
   share within 0.05 / 0.1 eV/atom, F1 of "stable" = e_above_hull <= 0.1 eV/atom). Routes:
   ``potential_mp_references`` (relaxed energy + MP2020 corrections - MP's own elemental energies: the default for
   the default potential, which was trained on MP energies), ``potential_own_references`` (elemental references
   relaxed with the same potential), ``potential_uncorrected`` (own references, no MP2020 corrections),
   ``m3gnet_eform`` / ``megnet_eform`` (matgl regressors on the relaxed crystal), ``mean`` (of
   ``potential_mp_references`` and ``megnet_eform``).
   Sets: ``mp20/dev_1000`` rows with MP e_above_hull (629; ``--n-dev`` draws a fixed random subset, 0 = all) and
   a fixed random sample of ``structures/mp_binaries_2025_10k`` (``--n-binaries``; MP's 2025 frame).
3. ``known``: novelty of known crystals (dev rows must come out ``known`` or ``known_composition``) and lookup time;
   with ``--candidates DIR``, the novelty counts of a ``slices generate`` run's table.
4. ``band_gap`` (not run by default): MEGNet band gap against MP's on dev rows, by gap range.

Per-crystal results are appended to ``--work`` (JSON lines, one file per set), so an interrupted run resumes.
Usage: ``python benchmarks/bench_screening.py [--sections hull_sources routes known] [--n-dev 250]
[--n-binaries 120] [--candidates DIR]``. Writes ``benchmarks/results/screening.json`` (sections not run are kept
from the previous file).
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
RESULTS = REPO / "benchmarks" / "results" / "screening.json"
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
if not os.environ.get("SLICES_MODEL_DIR") and (REPO.parent / "shared" / "models").is_dir():
    os.environ["SLICES_MODEL_DIR"] = str(REPO.parent / "shared" / "models")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.filterwarnings("ignore")

STABLE = 0.1  # eV/atom: "stable" for the F1 score, as in the issue
ROUTES = ["potential_mp_references", "potential_own_references", "potential_uncorrected", "m3gnet_eform",
          "megnet_eform", "mean"]


def data_dir() -> Path:
    from screening.hull import shared_data_dir

    return shared_data_dir()


def load_set(name: str, n: int, seed: int) -> pd.DataFrame:
    """Rows with MP e_above_hull: ``dev`` (mp20/dev_1000) or ``binaries`` (mp_binaries_2025_10k), shuffled with
    ``seed``; the first ``n`` (all when n is 0)."""
    if name == "dev":
        frame = pd.read_csv(data_dir() / "mp20" / "dev_1000.csv.gz", keep_default_na=False)
        frame = frame.rename(columns={"pretty_formula": "formula"})
    else:
        frame = pd.read_csv(data_dir() / "structures" / "mp_binaries_2025_10k.csv.gz", keep_default_na=False)
    frame = frame[frame["e_above_hull"] != ""].copy()
    frame["e_above_hull"] = frame["e_above_hull"].astype(float)
    frame["formation_energy_per_atom"] = frame["formation_energy_per_atom"].astype(float)
    frame = frame.sample(frac=1.0, random_state=seed)  # a fixed shuffle: any n is a prefix of the full run
    return (frame.head(n) if n else frame).reset_index(drop=True)


def metrics(predicted, reference) -> dict:
    """Errors of predicted against reference e_above_hull (eV/atom), and the F1 of the "stable" class."""
    p, r = np.asarray(predicted, dtype=float), np.asarray(reference, dtype=float)
    ok = np.isfinite(p)
    p, r = p[ok], r[ok]
    err = np.abs(p - r)
    ps, rs = p <= STABLE, r <= STABLE
    tp, fp, fn = int(np.sum(ps & rs)), int(np.sum(ps & ~rs)), int(np.sum(~ps & rs))
    return {
        "n": int(ok.sum()), "missing": int((~ok).sum()),
        "mae": float(err.mean()), "median_ae": float(np.median(err)),
        "within_0.05": float(np.mean(err <= 0.05)), "within_0.1": float(np.mean(err <= 0.1)),
        "f1_stable": float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan"),
        "mae_clipped": float(np.abs(np.clip(p, 0, None) - r).mean()),
        "mean_error": float(np.mean(p - r)),
    }


# ------------------------------------------------------------------------------------------------ hull sources
def bench_hull_sources(sets: dict[str, pd.DataFrame]) -> dict:
    from screening.hull import KnownHull

    choices = [(("mp20",), "priority"), (("mp2020",), "priority"), (("mp2018",), "priority"),
               (("mp20", "mp2020", "mp2018"), "lowest"), (("mp20", "mp2020", "mp2018"), "priority"),
               (("mp2020", "mp20", "mp2018"), "priority")]
    out = {}
    for sources, merge in choices:
        hull = KnownHull(sources, merge)
        key = f"{'>'.join(sources)} ({merge})"
        out[key] = {"entries": len(hull)}
        for name, frame in sets.items():
            values = [hull.place(f, e).e_above_hull for f, e in zip(frame["formula"], frame["formation_energy_per_atom"])]
            out[key][name] = metrics(values, frame["e_above_hull"])
    return out


# ------------------------------------------------------------------------------------------------ routes
def _row_predictions(row) -> dict:
    """Relax one crystal and compute every route's formation energy (eV/atom)."""
    from pymatgen.core import Structure

    from screening import formation, properties
    from slices.errors import SlicesError

    structure = Structure.from_str(row["cif"], fmt="cif")
    out = {"material_id": row["material_id"], "formula": row["formula"], "n_atoms": len(structure)}
    t0 = time.perf_counter()
    try:
        relaxed, energy, converged = formation.relax_candidate(structure)
    except SlicesError as exc:
        out["error"] = f"relaxation: {exc}"[:200]
        return out
    out.update(relax_seconds=time.perf_counter() - t0, energy_per_atom=energy, converged=converged)
    t0 = time.perf_counter()
    for route, corrected, references in (("potential_mp_references", True, "mp"),
                                         ("potential_own_references", True, "potential"),
                                         ("potential_uncorrected", False, "potential")):
        try:
            out[route] = formation.potential_formation_energy(relaxed, energy, corrected=corrected,
                                                              references=references)
        except SlicesError as exc:
            out[f"{route}_error"] = str(exc)[:200]
        if route == "potential_mp_references":
            out["route_seconds"] = time.perf_counter() - t0
    for route, model in (("m3gnet_eform", "M3GNet-MP-2018.6.1-Eform"), ("megnet_eform", "MEGNet-MP-2018.6.1-Eform")):
        t0 = time.perf_counter()
        try:
            value = float(properties.predict_formation_energy([relaxed], model)[0])
        except SlicesError as exc:
            out[f"{route}_error"] = str(exc)[:200]
            continue
        out[f"{route}_seconds"] = time.perf_counter() - t0
        if np.isfinite(value):
            out[route] = value
    return out


def run_routes(name: str, frame: pd.DataFrame, work: Path) -> list[dict]:
    """Per-crystal predictions for a set, resumed from ``work/<name>.jsonl``."""
    from tqdm import tqdm

    from screening.formation import elemental_references

    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}.jsonl"
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line
            done[record["material_id"]] = record
    elemental_references()  # computed (and cached) once, before the timed loop
    with open(path, "a") as fh:
        for _, row in tqdm(frame.iterrows(), total=len(frame), desc=name, initial=0):
            if row["material_id"] in done:
                continue
            record = _row_predictions(row)
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            done[record["material_id"]] = record
    return [done[m] for m in frame["material_id"]]


def bench_routes(name: str, frame: pd.DataFrame, work: Path) -> dict:
    from screening.hull import known_hull

    records = run_routes(name, frame, work)
    hull = known_hull()
    for record in records:
        if "potential_mp_references" in record and "megnet_eform" in record:
            record["mean"] = 0.5 * (record["potential_mp_references"] + record["megnet_eform"])
    reference = frame["e_above_hull"].to_numpy()
    out = {"n": len(frame), "relax_failed": sum("error" in r for r in records)}
    for route in ROUTES:
        eform = np.array([r.get(route, np.nan) for r in records], dtype=float)
        e_hull = np.array([hull.place(f, e).e_above_hull if np.isfinite(e) else np.nan
                           for f, e in zip(frame["formula"], eform)])
        out[route] = metrics(e_hull, reference)
        ok = np.isfinite(eform)
        out[route]["eform_mae"] = float(np.abs(eform[ok] - frame["formation_energy_per_atom"].to_numpy()[ok]).mean())
    seconds = [r["relax_seconds"] for r in records if "relax_seconds" in r]
    out["seconds_per_crystal"] = {
        "relaxation_median": float(np.median(seconds)) if seconds else None,
        "potential_route_median": float(np.median([r["route_seconds"] for r in records if "route_seconds" in r]))
        if seconds else None,
        "m3gnet_eform_median": float(np.median([r["m3gnet_eform_seconds"] for r in records
                                                if "m3gnet_eform_seconds" in r])) if seconds else None,
    }
    return out


# ------------------------------------------------------------------------------------------------ known
def _novelty_counts(index, structures) -> dict:
    counts: dict[str, int] = {}
    seconds = []
    for structure in structures:
        t0 = time.perf_counter()
        found = index.lookup(structure)
        seconds.append(time.perf_counter() - t0)
        counts[found.novelty] = counts.get(found.novelty, 0) + 1
    return {"n": len(structures), "novelty": counts, "lookup_ms_median": 1e3 * float(np.median(seconds)),
            "lookup_ms_p90": 1e3 * float(np.percentile(seconds, 90)), "lookup_ms_max": 1e3 * float(np.max(seconds))}


def bench_known(dev: pd.DataFrame, candidates: Path | None) -> dict:
    """Novelty of the dev crystals against the full index (they are in it: must be "known") and against the index
    without the dev set itself (are they found elsewhere?), lookup times; novelty counts of a generate run."""
    from pymatgen.core import Structure

    from screening.known import STRUCTURE_SETS, KnownIndex, known_index

    t0 = time.perf_counter()
    index = known_index(progress=False)
    out = {"index_seconds": time.perf_counter() - t0, "index_structures": index.n_structures,
           "index_formulas": index.n_formulas}
    structures = [Structure.from_str(cif, fmt="cif") for cif in dev["cif"]]
    out["dev_full_index"] = _novelty_counts(index, structures)
    without_dev = KnownIndex.build(structure_sets=[s for s in STRUCTURE_SETS if s != "mp20/dev_1000.csv.gz"],
                                   progress=False)
    out["dev_index_without_dev"] = _novelty_counts(without_dev, structures)
    if candidates is not None:
        table = pd.read_csv(candidates / "candidates.csv", keep_default_na=False)
        screened = table[table["novelty"] != ""]
        out["generated"] = {"run": str(candidates), "sampled": len(table), "assessed": len(screened),
                            "novelty": screened["novelty"].value_counts().to_dict(),
                            "status": table["status"].value_counts().to_dict()}
    return out


def bench_band_gap(dev: pd.DataFrame) -> dict:
    """MEGNet band gap (PBE fidelity) at the MP geometry against MP's PBE gap, by gap range."""
    from pymatgen.core import Structure

    from screening.properties import predict_band_gap

    frame = dev[dev["band_gap"] != ""]
    structures = [Structure.from_str(cif, fmt="cif") for cif in frame["cif"]]
    t0 = time.perf_counter()
    predicted = predict_band_gap(structures)
    seconds = time.perf_counter() - t0
    reference = frame["band_gap"].astype(float).to_numpy()
    out = {"n": len(frame), "ms_per_crystal": 1e3 * seconds / len(frame)}
    for name, lo, hi in (("all", -1, 1e9), ("metals (0)", -1, 1e-6), ("0-1 eV", 1e-6, 1.0), ("1-3 eV", 1.0, 3.0),
                         ("> 3 eV", 3.0, 1e9)):
        mask = (reference > lo) & (reference <= hi)
        if mask.any():
            err = np.abs(predicted[mask] - reference[mask])
            out[name] = {"n": int(mask.sum()), "mae": float(err.mean()), "median_ae": float(np.median(err)),
                         "predicted_metal": float(np.mean(predicted[mask] < 0.1))}
    return out


def table(rows: dict[str, dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(["what"] + columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for name, values in rows.items():
        cells = [f"{values[c]:.3f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns]
        lines.append("| " + " | ".join([name] + cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["hull_sources", "routes", "known"],
                        choices=["hull_sources", "routes", "known", "band_gap"])
    parser.add_argument("--n-dev", type=int, default=250, help="dev rows with e_above_hull (0 = all 629)")
    parser.add_argument("--n-binaries", type=int, default=120, help="2025 binaries sampled (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "bench_screening")
    parser.add_argument("--candidates", type=Path, default=None, help="a slices generate output folder")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    result["machine"] = {"python": platform.python_version(), "cores": os.cpu_count(), "torch_threads": 1}
    metric_columns = ["n", "missing", "mae", "median_ae", "within_0.05", "within_0.1", "f1_stable", "mae_clipped",
                      "mean_error"]
    if "hull_sources" in args.sections:
        sets = {"dev": load_set("dev", 0, args.seed), "binaries_2025": load_set("binaries", 600, args.seed)}
        result["hull_sources"] = bench_hull_sources(sets)
        for name in sets:
            print(f"\n== hull sources: MP's own formation energy placed on each hull vs MP e_above_hull ({name})")
            print(table({k: v[name] for k, v in result["hull_sources"].items()}, metric_columns))
    if "routes" in args.sections:
        result["routes"] = {"settings": {"n_dev": args.n_dev, "n_binaries": args.n_binaries, "seed": args.seed}}
        for name, n in (("dev", args.n_dev), ("binaries", args.n_binaries)):
            frame = load_set(name, n, args.seed)
            result["routes"][name] = bench_routes(name, frame, args.work)
            print(f"\n== routes, {name}: e_above_hull (relaxed with the potential) vs MP, "
                  f"{len(frame)} crystals; eform_mae = formation energy vs MP")
            print(table({r: result["routes"][name][r] for r in ROUTES}, metric_columns + ["eform_mae"]))
            print("seconds per crystal:", result["routes"][name]["seconds_per_crystal"])
    if "known" in args.sections:
        result["known"] = bench_known(load_set("dev", 0, args.seed), args.candidates)
        print("\n== known-material detection:", json.dumps(result["known"], indent=1))
    if "band_gap" in args.sections:
        dev = pd.read_csv(data_dir() / "mp20" / "dev_1000.csv.gz", keep_default_na=False)
        result["band_gap"] = bench_band_gap(dev)
        print("\n== MEGNet band gap (PBE) vs MP, dev rows with a gap, by MP gap range")
        print(table({k: v for k, v in result["band_gap"].items() if isinstance(v, dict)},
                    ["n", "mae", "median_ae", "predicted_metal"]))
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
