"""Training throughput of a few model sizes on one CPU thread: optimiser steps/s and target tokens/s.

Used to choose the shipped model's size and schedule for a fixed time budget. Batches are real SLICES strings
(the shipped training strings, similar-length batches as in training). Prints a table and writes
``benchmarks/results/train_speed.json``.

    OMP_NUM_THREADS=1 python benchmarks/bench_train_speed.py [--steps 30] [--sizes 6x128 8x160 6x192]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from generative import TrainConfig
from generative.checkpoint import new_bundle
from generative.train import _batches, _collate, _loss

ROOT = Path(__file__).resolve().parent.parent
STRINGS = ROOT / "data" / "model" / "train_strings.csv.gz"
RESULTS = ROOT / "benchmarks" / "results" / "train_speed.json"


def measure(n_layer: int, n_embd: int, seqs: list[np.ndarray], steps: int, batch_size: int, repeats: int) -> dict:
    """Median seconds per step (over ``repeats`` runs of ``steps`` steps, after 3 warm-up steps) for one size (the
    other model options are the training defaults, :class:`generative.TrainConfig`)."""
    torch.manual_seed(0)
    shape = TrainConfig(n_layer=n_layer, n_embd=n_embd, batch_size=batch_size)  # checks the size
    bundle = new_bundle(["band_gap", "formation_energy"], {"band_gap": (1, 1), "formation_energy": (-1, 1)},
                        max_atoms=shape.max_atoms, n_layer=shape.n_layer, n_head=shape.n_head, n_embd=shape.n_embd,
                        block_size=shape.block_size, dropout=shape.dropout)
    model, tok = bundle.model, bundle.tokenizer
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    lengths = np.array([len(s) for s in seqs])
    values = torch.zeros(len(seqs), 2)
    present = torch.ones(len(seqs), 2, dtype=torch.bool)
    batches = _batches(lengths, batch_size, rng)
    model.train()
    per_step, tokens, seconds = [], 0, 0.0
    k = 0
    for rep in range(repeats + 1):
        n_steps = 3 if rep == 0 else steps
        t0 = time.perf_counter()
        count = 0
        for _ in range(n_steps):
            x, y, v, p = _collate(seqs, batches[k % len(batches)], values, present, tok)
            k += 1
            count += int((y != tok.pad_id).sum())
            loss = _loss(model, x, y, v, p, tok.pad_id)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if rep:
            elapsed = time.perf_counter() - t0
            per_step.append(elapsed / n_steps)
            tokens += count
            seconds += elapsed
    sec = statistics.median(per_step)
    return {"n_layer": n_layer, "n_embd": n_embd, "n_params": model.n_params(), "sec_per_step": round(sec, 4),
            "steps_per_min": round(60 / sec, 1), "tokens_per_s": round(tokens / seconds),
            "repeats": repeats, "steps": steps, "batch_size": batch_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["6x128", "8x160", "6x192"], help="LAYERSxWIDTH")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from generative.tokenizer import Tokenizer

    tok = Tokenizer(20)
    strings = pd.read_csv(STRINGS, keep_default_na=False)["slices"].tolist()
    seqs = [np.asarray(tok.encode(s), dtype=np.int16) for s in strings]
    rows = []
    for size in args.sizes:
        n_layer, n_embd = (int(v) for v in size.split("x"))
        rows.append(measure(n_layer, n_embd, seqs, args.steps, args.batch_size, args.repeats))
        r = rows[-1]
        print(f"{n_layer:>2} x {n_embd:<4} {r['n_params']:>10,} params  {r['sec_per_step']:.3f} s/step  "
              f"{r['steps_per_min']:>6} steps/min  {r['tokens_per_s']:>7.0f} tokens/s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"torch_threads": 1, "strings": str(STRINGS.relative_to(ROOT)), "sizes": rows},
                                  indent=1) + "\n")


if __name__ == "__main__":
    main()
