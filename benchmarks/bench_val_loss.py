"""Validation loss of several models on the same held-out crystals, so models trained on different data compare.

The crystals are the validation rows of a training-strings CSV (``split == val``), by default only those of the MP-20
train pool (the crystals every shipped model so far held out). Each crystal is scored as ``--orderings`` atom
orderings (its canonical string first, the same orderings for every model), with its properties given (as in
training validation) and with them hidden (the unconditioned model). Prints a table and writes
``benchmarks/results/val_loss.json`` (overwritten; the source is recorded inside).

    python benchmarks/bench_val_loss.py --model old=/tmp/old.pt --model new=data/model/slices_gpt.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from generative.checkpoint import load_model
from generative.data import reorderings
from generative.train import _evaluate

ROOT = Path(__file__).resolve().parent.parent
STRINGS = ROOT / "data" / "model" / "train_strings.csv.gz"
RESULTS = ROOT / "benchmarks" / "results" / "val_loss.json"
COLUMNS = {"band_gap": "band_gap", "formation_energy": "formation_energy_per_atom"}


def score(bundle, strings: list[str], values: np.ndarray, orderings: int, conditioned: bool) -> float:
    """Per-token cross-entropy of ``bundle`` on ``orderings`` orderings of each string."""
    rng = np.random.default_rng(0)
    tok = bundle.tokenizer
    seqs, rows = [], []
    for r, s in enumerate(strings):
        for text in reorderings(s, orderings, rng):
            seqs.append(np.asarray(tok.encode(text), dtype=np.int16))
            rows.append(r)
    vals = np.zeros((len(rows), len(bundle.properties)))
    for p, name in enumerate(bundle.properties):
        mean, std = bundle.scaling[name]
        vals[:, p] = (values[rows, list(COLUMNS).index(name)] - mean) / std
    present = np.isfinite(vals) & conditioned
    return _evaluate(bundle.model, seqs, torch.tensor(np.nan_to_num(vals), dtype=torch.float32),
                     torch.tensor(present), tok, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--strings", default=str(STRINGS))
    parser.add_argument("--source", default="mp20_train_pool", help="only validation rows of this source ('' = all)")
    parser.add_argument("--orderings", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    frame = pd.read_csv(args.strings, keep_default_na=False)
    frame = frame[frame["split"] == "val"]
    if args.source:
        frame = frame[frame["source"] == args.source]
    values = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                              for c in COLUMNS.values()])
    strings = frame["slices"].tolist()
    rows = []
    for spec in args.model:
        name, path = spec.split("=", 1)
        bundle = load_model(path)
        row = {"model": name, "path": path, "n_params": bundle.model.n_params(),
               "val_loss_conditioned": round(score(bundle, strings, values, args.orderings, True), 4),
               "val_loss_unconditioned": round(score(bundle, strings, values, args.orderings, False), 4)}
        rows.append(row)
        print(f"{name:>10}  conditioned {row['val_loss_conditioned']:.4f}  "
              f"unconditioned {row['val_loss_unconditioned']:.4f}", flush=True)
    results = RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"crystals": len(strings), "source": args.source or "all",
                                   "orderings": args.orderings, "models": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
