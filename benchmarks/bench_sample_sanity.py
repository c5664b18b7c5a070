"""Quick check of a retrained model against another: unconditioned samples, parse rate and SMACT validity.

A small-n sanity check after training (the full measurement is ``bench_generative.py``). For each model, ``--n``
unconditioned strings (seed 0, one thread): share that parse and are 3D nets, share whose composition passes the
SMACT test (``generative.metrics.composition_valid``), distinct strings, all-metal share, strings/s. Prints a table
and writes ``benchmarks/results/sample_sanity.json``.

    python benchmarks/bench_sample_sanity.py --model old=/tmp/old.pt --model new=data/model/slices_gpt.pt --n 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import generative
from generative.checkpoint import load_model
from generative.metrics import composition_valid, is_all_metal
from slices.errors import SlicesError
from slices.graph import parse

RESULTS = Path(__file__).resolve().parent / "results" / "sample_sanity.json"


def measure(path: str, n: int, seed: int) -> dict:
    """Parse rate, SMACT rate, uniqueness, all-metal share and speed of ``n`` unconditioned samples."""
    bundle = load_model(path)
    t0 = time.perf_counter()
    strings = generative.sample(n, model=bundle, seed=seed)
    seconds = time.perf_counter() - t0
    parsed, smact, metal = 0, 0, 0
    for s in strings:
        try:
            graph = parse(s)
            graph.check_embeddable()
        except SlicesError:
            continue
        parsed += 1
        smact += composition_valid(graph.species)
        metal += is_all_metal(graph.species)
    return {"n": n, "parse_rate": parsed / n, "smact": smact / n, "unique": len(set(strings)) / n,
            "all_metal": metal / n, "strings_per_s": round(n / seconds, 1), "n_params": bundle.model.n_params()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for spec in args.model:
        name, path = spec.split("=", 1)
        rows[name] = dict(measure(path, args.n, args.seed), path=path)
        r = rows[name]
        print(f"{name:>8}: parse {r['parse_rate']:.3f}  SMACT {r['smact']:.3f}  unique {r['unique']:.3f}  "
              f"all-metal {r['all_metal']:.2f}  {r['strings_per_s']} strings/s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"seed": args.seed, "models": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
