"""Train the composition band-gap model (:mod:`screening.gap_model`) deterministically.

    OMP_NUM_THREADS=1 python -m screening.gap_training [--out data/band_gap_composition.pt] [--epochs 60]

Data: matbench ``mp_gap`` (``known_materials/mp_band_gap_106k.csv.gz`` of the shared data: formula, PBE gap), minus
every row whose reduced formula is a formula of an evaluation set (``mp20/dev_1000``, ``mp21_40/dev_300``).
A seeded 5% of the remaining formulas (all rows of a formula together) is held out for choosing the epoch and the
metal threshold and for the scores recorded in the model file. Same data and seed -> the same weights on CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from screening.gap_features import PROPERTIES, element_property_table, featurize, fraction_rows
from screening.gap_model import FORMAT_VERSION, MODEL_FILE, build_network

__all__ = ["EVALUATION_SETS", "TRAINING_TABLE", "evaluation_formulas", "train"]

TRAINING_TABLE = "known_materials/mp_band_gap_106k.csv.gz"
EVALUATION_SETS = ("mp20/dev_1000.csv.gz", "mp21_40/dev_300.csv.gz")
HIDDEN = (256, 256, 128)
VALIDATION_SHARE = 0.05
THRESHOLDS = tuple(np.round(np.arange(0.30, 0.71, 0.05), 2))


def evaluation_formulas() -> set[str]:
    """Reduced formulas of every crystal of the evaluation sets (kept out of training)."""
    import pandas as pd

    from periodicnet.resources import shared_data_path
    from screening.matching import _reduced_formula

    formulas: set[str] = set()
    for name in EVALUATION_SETS:
        table = pd.read_csv(shared_data_path(name), keep_default_na=False)
        formulas.update(_reduced_formula(cif) for cif in table["cif"])
    return formulas


def _training_rows(progress: bool):
    """(element compositions, gaps, reduced formulas) of the training table without the evaluation formulas."""
    import pandas as pd
    from pymatgen.core import Composition
    from tqdm.auto import tqdm

    from periodicnet.resources import shared_data_path

    table = pd.read_csv(shared_data_path(TRAINING_TABLE), keep_default_na=False)
    excluded = evaluation_formulas()
    compositions, gaps, formulas = [], [], []
    for formula, gap in tqdm(zip(table["formula"], table["band_gap"]), total=len(table), desc="formulas",
                             disable=not progress, file=sys.stderr):
        composition = Composition(formula).element_composition
        reduced = composition.reduced_formula
        if reduced in excluded:
            continue
        compositions.append(composition)
        gaps.append(float(gap))
        formulas.append(reduced)
    return compositions, np.array(gaps), np.array(formulas), len(table)


def _scores(gap_pred: np.ndarray, gap_true: np.ndarray) -> dict:
    metal = gap_true <= 0
    return {
        "mae": float(np.mean(np.abs(gap_pred - gap_true))),
        "mae_metals": float(np.mean(np.abs(gap_pred[metal] - gap_true[metal]))),
        "mae_nonmetals": float(np.mean(np.abs(gap_pred[~metal] - gap_true[~metal]))),
        "metals_called_metal": float(np.mean(gap_pred[metal] <= 0)),
        "nonmetals_called_nonmetal": float(np.mean(gap_pred[~metal] > 0)),
    }


def _combine(out: np.ndarray, threshold: float) -> np.ndarray:
    probability = 1.0 / (1.0 + np.exp(-out[:, 0]))
    return np.where(probability >= threshold, 0.0, np.clip(out[:, 1], 0.0, None))


def train(out: Path, epochs: int = 60, seed: int = 0, batch_size: int = 256, hidden: tuple[int, ...] = HIDDEN,
          progress: bool = True) -> dict:
    """Train on the data of the module docstring, write the model file ``out`` and return its training record."""
    import torch
    from pymatgen.core import Element
    from tqdm.auto import tqdm

    start_time = time.perf_counter()
    torch.manual_seed(seed)
    compositions, gaps, formulas, n_table = _training_rows(progress)
    elements = sorted({el.symbol for c in compositions for el in c}, key=lambda s: Element(s).Z)
    table = element_property_table(elements)
    features = featurize(fraction_rows(compositions, {s: i for i, s in enumerate(elements)}), table)

    rng = np.random.default_rng(seed)
    distinct = np.unique(formulas)
    held = set(rng.choice(distinct, size=int(round(VALIDATION_SHARE * len(distinct))), replace=False))
    is_val = np.array([f in held for f in formulas])
    mean = features[~is_val].mean(axis=0)
    std = np.maximum(features[~is_val].std(axis=0), 1e-6)
    x = torch.from_numpy((features - mean) / std)
    y = torch.from_numpy(gaps.astype(np.float32))
    x_train, y_train = x[~is_val], y[~is_val]
    x_val, y_val = x[is_val], gaps[is_val]

    network = build_network(x.shape[1], hidden)
    optimizer = torch.optim.AdamW(network.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = (len(x_train) + batch_size - 1) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    best = (np.inf, -1, None)
    history = []
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress, file=sys.stderr):
        network.train()
        order = torch.randperm(len(x_train), generator=generator)
        for batch in order.split(batch_size):
            xb, yb = x_train[batch], y_train[batch]
            logits = network(xb)
            metal = (yb <= 0).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], metal)
            nonmetal = yb > 0
            if nonmetal.any():
                loss = loss + torch.nn.functional.l1_loss(logits[nonmetal, 1], yb[nonmetal])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        network.eval()
        with torch.no_grad():
            val_out = network(x_val).double().numpy()
        val_mae = float(np.mean(np.abs(_combine(val_out, 0.5) - y_val)))
        history.append(round(val_mae, 4))
        if val_mae < best[0]:
            best = (val_mae, epoch, {k: v.clone() for k, v in network.state_dict().items()})
    network.load_state_dict(best[2])
    with torch.no_grad():
        val_out = network(x_val).double().numpy()
    threshold = min(THRESHOLDS, key=lambda t: (np.mean(np.abs(_combine(val_out, t) - y_val)), abs(t - 0.5)))
    record = {
        "data": TRAINING_TABLE,
        "rows_in_table": n_table,
        "rows_excluded_as_evaluation_formulas": n_table - len(formulas),
        "rows_train": int((~is_val).sum()),
        "rows_validation": int(is_val.sum()),
        "epochs": epochs,
        "best_epoch": best[1] + 1,
        "seed": seed,
        "validation_mae_per_epoch": history,
        "validation": _scores(_combine(val_out, threshold), y_val),
        "seconds": round(time.perf_counter() - start_time, 1),
        "torch": str(torch.__version__),
    }
    payload = {
        "format": FORMAT_VERSION,
        "elements": elements,
        "properties": list(PROPERTIES),
        "table": torch.from_numpy(table),
        "feature_mean": torch.from_numpy(mean),
        "feature_std": torch.from_numpy(std),
        "hidden": list(hidden),
        "threshold": float(threshold),
        "state_dict": network.state_dict(),
        "training": record,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out)
    return record


def main(argv: list[str] | None = None) -> int:
    """Command line: train and write the model file, print the training record."""
    import json

    import torch

    from periodicnet.resources import shipped_data_path

    parser = argparse.ArgumentParser(prog="python -m screening.gap_training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help=f"model file (default: data/{MODEL_FILE})")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN), help="widths of the hidden layers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    record = train(args.out or shipped_data_path(MODEL_FILE), epochs=args.epochs, seed=args.seed,
                   hidden=tuple(args.hidden), progress=not args.no_progress)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
