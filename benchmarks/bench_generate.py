"""Throughput of the end-to-end generator: candidates per hour, and how the time grows from 10 to 100 candidates.

Each size runs ``pipeline.generate.generate`` from scratch into a fresh folder (all stages, local process pool),
then once more on the same folder to time a resume of a finished run. Timings per candidate are medians over the
candidates of a run. Prints a table and writes ``benchmarks/results/bench_generate.json``.

    python benchmarks/bench_generate.py                      # sizes 10 and 100, shipped model, 2 workers
    python benchmarks/bench_generate.py --sizes 10 100 1000
    python benchmarks/bench_generate.py --source reference   # reference strings instead of sampling
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("SLICES_MODEL_DIR", str(REPO.parent / "shared" / "models"))


def reference_strings(n: int, seed: int) -> list[str]:
    """``n`` strings drawn (without replacement, seeded) from the reference implementation's MP-20 strings."""
    import numpy as np
    import pandas as pd

    from periodicnet.resources import shared_data_dir

    table = pd.read_csv(shared_data_dir() / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz")
    rows = np.random.default_rng(seed).choice(len(table), size=min(n, len(table)), replace=False)
    return table["SLICES"].iloc[rows].tolist()


def run_one(n: int, args, folder: Path) -> dict:
    from pipeline.generate import generate

    strings = reference_strings(n, args.seed) if args.source == "reference" else None
    start = time.perf_counter()
    result = generate(n, out=folder, strings=strings, workers=args.workers, seed=args.seed,
                      band_gap=args.band_gap, progress=False)
    total = time.perf_counter() - start
    start = time.perf_counter()
    again = generate(n, out=folder, strings=strings, workers=args.workers, seed=args.seed, band_gap=args.band_gap,
                     progress=False)
    resume = time.perf_counter() - start
    decode_times = [r["decode_seconds"] for r in result.rows if r.get("decode_seconds") is not None]
    return {
        "n": n,
        "total_s": total,
        "candidates_per_hour": n / total * 3600.0,
        "kept": result.summary["kept"],
        "funnel": {k: result.summary[k] for k in ("sampled", "decoded", "valid", "unique", "novel", "kept")},
        "status_counts": result.summary["status_counts"],
        "stage_s": result.timings,
        "decode_per_candidate_median_s": statistics.median(decode_times) if decode_times else None,
        "decode_per_candidate_max_s": max(decode_times) if decode_times else None,
        "resume_s": resume,
        "resume_decoded": again.decoded_now,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source", choices=("model", "reference"), default="model")
    parser.add_argument("--band-gap", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_generate.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_generate_") as tmp:
        for n in args.sizes:
            runs.append(run_one(n, args, Path(tmp) / f"n{n}"))
            print(f"n={n}: {runs[-1]['total_s']:.0f} s", flush=True)
    base = runs[0]
    for r in runs:
        r["time_ratio_vs_smallest"] = r["total_s"] / base["total_s"]
        r["size_ratio_vs_smallest"] = r["n"] / base["n"]

    header = (f"{'n':>6} {'total s':>9} {'cand/h':>8} {'decode s':>9} {'med s/cand':>10} {'kept':>5} "
              f"{'resume s':>9} {'x time':>7}")
    print(header)
    print("-" * len(header))
    for r in runs:
        med = r["decode_per_candidate_median_s"]
        print(f"{r['n']:>6} {r['total_s']:>9.1f} {r['candidates_per_hour']:>8.0f} {r['stage_s']['decode']:>9.1f} "
              f"{(med or float('nan')):>10.2f} {r['kept']:>5} {r['resume_s']:>9.1f} "
              f"{r['time_ratio_vs_smallest']:>7.2f}")

    record = {
        "benchmark": "bench_generate",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"workers": args.workers, "source": args.source, "band_gap": args.band_gap, "seed": args.seed,
                     "threads_per_process": 1},
        "notes": "single run per size; per-candidate decode times are medians over the candidates of the run; "
                 "the machine was shared with other jobs while measuring",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
