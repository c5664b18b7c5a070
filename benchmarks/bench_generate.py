"""Throughput of the end-to-end generator: candidates per hour of ``generate`` called as a function, and of the
``slices generate`` command end to end (a fresh process: imports, model and potential loading included).

Each size runs :func:`pipeline.generate.generate` (``Sampling(n, seed)``, default ``Criteria``, a local pool of
``--workers``) from scratch into a fresh folder, then once more on the same folder to time the resume of a finished
run. ``--cli-n`` runs ``slices generate --n N`` (``python -m pipeline generate``) the same way. Timings per candidate
are medians over the candidates of a run; each size is one run (the machine is shared, so figures move with its
load). Prints a table and writes ``benchmarks/results/generate.json`` (overwritten).

    python benchmarks/bench_generate.py                      # sizes 10 and 50, CLI at 10, shipped model, 2 workers
    python benchmarks/bench_generate.py --sizes 10 100 --cli-n 0
    python benchmarks/bench_generate.py --source reference   # reference strings instead of sampling
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "generate.json"


def reference_strings(n: int, seed: int) -> tuple[str, ...]:
    """``n`` strings drawn (without replacement, seeded) from the reference implementation's MP-20 strings."""
    import numpy as np
    import pandas as pd

    from periodicnet.resources import shared_data_dir

    table = pd.read_csv(shared_data_dir() / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz")
    rows = np.random.default_rng(seed).choice(len(table), size=min(n, len(table)), replace=False)
    return tuple(table["SLICES"].iloc[rows].tolist())


def describe(n: int, total: float, summary: dict, rows: list[dict]) -> dict:
    """The figures of one run: wall time, candidates per hour, the funnel, per-candidate decode times."""
    decode_times = [r["decode_seconds"] for r in rows if r.get("decode_seconds") is not None]
    return {
        "n": n,
        "total_s": total,
        "candidates_per_hour": n / total * 3600.0,
        "funnel": {k: summary[k] for k in ("sampled", "decoded", "valid", "unique", "novel", "kept")},
        "status_counts": summary["status_counts"],
        "stage_s": summary.get("timings_s"),
        "decode_per_candidate_median_s": statistics.median(decode_times) if decode_times else None,
        "decode_per_candidate_max_s": max(decode_times) if decode_times else None,
    }


def run_function(n: int, args, folder: Path) -> dict:
    """``generate`` as a function, then its resume on the finished folder."""
    from pipeline.criteria import Criteria
    from pipeline.generate import generate
    from pipeline.options import Runner, Sampling

    sampling = Sampling(n=n, seed=args.seed, band_gap=args.band_gap,
                        strings=reference_strings(n, args.seed) if args.source == "reference" else None)
    criteria, runner = Criteria(band_gap=args.band_gap), Runner(workers=args.workers, progress=False)
    start = time.perf_counter()
    result = generate(sampling, criteria, out=folder, runner=runner)
    record = describe(n, time.perf_counter() - start, result.summary, result.rows)
    start = time.perf_counter()
    again = generate(sampling, criteria, out=folder, runner=runner)
    record.update(resume_s=time.perf_counter() - start, resume_decoded=again.decoded_now)
    return record


def run_cli(n: int, args, folder: Path) -> dict:
    """``slices generate --n N`` in a fresh process (same options as the function runs)."""
    command = [sys.executable, "-m", "pipeline", "generate", "--n", str(n), "--seed", str(args.seed),
               "--workers", str(args.workers), "--out", str(folder), "--no-progress"]
    if args.band_gap is not None:
        command += ["--band-gap", str(args.band_gap)]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - start
    rows = json.loads((folder / "candidates.json").read_text())
    from pipeline.report import summarise

    record = describe(n, total, summarise(rows, {}), rows)
    # the table's rows lack the decode records' validity fields that summarise counts: only these two are read
    record["funnel"] = {"sampled": len(rows), "kept": sum(r["status"] == "ok" for r in rows)}
    record["command"] = "slices " + " ".join(command[3:command.index("--out")]) + " --out DIR --no-progress"
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--cli-n", type=int, default=10, help="candidates of the command-line run (0: none)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source", choices=("model", "reference"), default="model")
    parser.add_argument("--band-gap", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    sys.path.insert(0, str(REPO))
    import torch

    torch.set_num_threads(1)
    runs, cli = [], None
    with tempfile.TemporaryDirectory(prefix="bench_generate_") as tmp:
        for n in args.sizes:
            runs.append(run_function(n, args, Path(tmp) / f"n{n}"))
            print(f"generate(n={n}): {runs[-1]['total_s']:.0f} s", file=sys.stderr, flush=True)
        if args.cli_n:
            cli = run_cli(args.cli_n, args, Path(tmp) / f"cli_n{args.cli_n}")
            print(f"slices generate --n {args.cli_n}: {cli['total_s']:.0f} s", file=sys.stderr, flush=True)
    for r in runs:
        r["time_ratio_vs_smallest"] = r["total_s"] / runs[0]["total_s"]

    header = f"{'run':<22} {'n':>4} {'total s':>8} {'cand/h':>7} {'med s/cand':>10} {'kept':>5} {'resume s':>9}"
    print(header)
    print("-" * len(header))
    named = [(f"generate(n={r['n']})", r) for r in runs] + ([("slices generate", cli)] if cli else [])
    for name, r in named:
        med = r["decode_per_candidate_median_s"]
        print(f"{name:<22} {r['n']:>4} {r['total_s']:>8.1f} {r['candidates_per_hour']:>7.0f} "
              f"{(med if med is not None else float('nan')):>10.2f} {r['funnel']['kept']:>5} "
              f"{r.get('resume_s', float('nan')):>9.1f}")
    record = {
        "benchmark": "bench_generate",
        "command": "python benchmarks/bench_generate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"workers": args.workers, "source": args.source, "band_gap": args.band_gap, "seed": args.seed,
                     "threads_per_process": 1},
        "notes": "one run per size; per-candidate decode times are medians over the candidates of the run; the "
                 "2-core machine was shared with other engineers' jobs while measuring, so wall times are upper "
                 "bounds",
        "function_runs": runs,
        "cli_run": cli,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
