"""Throughput of the end-to-end generator: candidates per hour of ``generate`` called as a function, and of the
``slices generate`` command end to end (a fresh process: imports, model and potential loading included).

Each size runs :func:`pipeline.generate.generate` (``Sampling(n, seed)``, default ``Criteria``, a local pool of
``--workers``) from scratch into a fresh folder, then once more on the same folder to time the resume of a finished
run. ``--cli-n`` runs ``slices generate --n N`` (``python -m pipeline generate``) the same way. Timings per candidate
are medians over the candidates of a run; each size is one run (the machine is shared, so figures move with its
load). Prints a table and writes ``benchmarks/results/generate_sizes.json`` (overwritten); the side-by-side mode
below writes ``generate.json``.

    python benchmarks/bench_generate.py                      # sizes 10 and 50, CLI at 10, shipped model, 2 workers
    python benchmarks/bench_generate.py --sizes 10 100 --cli-n 0
    python benchmarks/bench_generate.py --source reference   # reference strings instead of sampling
    python benchmarks/bench_generate.py --before /tmp/base --n 100 --seed 11 --rounds 1   # side by side

``--before TREE`` runs ``slices generate --n N --seed S --workers W`` (``python -m pipeline generate``, a fresh
process each time, as a user runs it) with another source tree (``git archive <commit> | tar -x -C TREE``) and with
this one, alternately in each round (the first of a round alternates too), so that both see the same machine load;
it runs them without the thread-count variables (``OMP_NUM_THREADS`` ...), as a user's shell has it, and
records wall time, the CPU seconds of the command and its workers, the stage times of ``summary.json`` and
``/proc/loadavg`` before and after each run, and compares the two ``candidates.csv`` of each round (statuses,
formulas, energies, e_above_hull). Speed-up = median wall (CPU) before / median wall (CPU) after.
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
SIZES_RESULTS = REPO / "benchmarks" / "results" / "generate_sizes.json"


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


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (other engineers' jobs share the machine)."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def run_tree(tree: Path, n: int, args, folder: Path) -> dict:
    """``slices generate`` with the sources of ``tree`` in a fresh process: wall and CPU seconds (the command and
    its worker processes), stage times, load average before and after."""
    import resource

    # as a user's shell has it: no thread-count variables (the benchmark's own OMP_NUM_THREADS=1 would hide how the
    # command sets its threads)
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PYTHONPATH"] = str(tree)
    command = [sys.executable, "-m", "pipeline", "generate", "--n", str(n), "--seed", str(args.seed),
               "--workers", str(args.workers), "--no-progress", "--out", str(folder)]
    load_before = loadavg()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: slices generate failed:\n{proc.stderr[-3000:]}")
    if proc.stderr.strip():
        print(f"{tree}: stderr: {proc.stderr.strip()[-500:]}", file=sys.stderr)
    summary = json.loads((folder / "summary.json").read_text())
    return {"wall_s": wall, "cpu_s": (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime),
            "candidates_per_hour": n / wall * 3600.0, "stage_s": summary.get("timings_s"),
            "main_cpu_s": summary.get("main_cpu_s"), "decode_cpu": decode_cpu(folder),
            "status_counts": summary.get("status_counts"), "loadavg_before": load_before, "loadavg_after": loadavg()}


def decode_cpu(folder: Path) -> dict | None:
    """The workers' CPU seconds over the candidates of a run (the decode records' ``cpu_seconds``, which older code
    does not write), split between placement and the potential's relaxation by their wall-clock shares."""
    records = [json.loads(line) for line in (folder / "decoded.jsonl").read_text().splitlines() if line.strip()]
    if not records or any(r.get("cpu_seconds") is None for r in records):
        return None
    parts = {"placement": 0.0, "potential": 0.0, "rest (parse, canonical form, checks, topology)": 0.0}
    for r in records:
        times = r.get("stage_times") or {}
        elapsed = max(r.get("elapsed") or 0.0, 1e-9)
        for stage in ("placement", "potential"):
            parts[stage] += r["cpu_seconds"] * min(1.0, times.get(stage, 0.0) / elapsed)
        parts["rest (parse, canonical form, checks, topology)"] += r["cpu_seconds"] * max(
            0.0, 1.0 - sum(times.get(s, 0.0) for s in ("placement", "potential")) / elapsed)
    return {"candidates": len(records), "total_s": sum(r["cpu_seconds"] for r in records),
            "median_per_candidate_s": statistics.median(r["cpu_seconds"] for r in records), "by_stage_s": parts}


WORKER_START = """
from pipeline.decode_stage import decode_candidate
from relax.potentials import get_potential, DEFAULT_POTENTIAL
import slices.decode, screening.checks
get_potential(DEFAULT_POTENTIAL).calculator()
"""


def worker_start_cpu(tree: Path) -> float:
    """CPU seconds a fresh decode worker of ``tree`` spends before its first candidate (imports, the potential)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", WORKER_START], env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree,
                   check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)


def cpu_table(run: dict, worker_start: float, workers: int, n: int) -> dict:
    """Where the CPU of one run (this tree's) goes, per candidate: the main process per stage, the workers' start
    and their per-candidate work; the remainder is the report (plots, phase diagrams, HTML), pool bookkeeping and
    worker starts beyond the first ones."""
    main = dict(run["main_cpu_s"] or {})
    rows = {f"main: {k}": v for k, v in main.items()}
    rows["workers: start (imports, potential)"] = worker_start * workers
    for stage, value in (run["decode_cpu"] or {}).get("by_stage_s", {}).items():
        rows[f"workers: {stage}"] = value
    rows["main: report (plots, phase diagrams, HTML) and the rest"] = run["cpu_s"] - sum(rows.values())
    return {"total_cpu_s": run["cpu_s"], "n": n,
            "per_candidate_s": {k: v / n for k, v in rows.items()}, "total_s": rows}


def compare_tables(before: Path, after: Path) -> dict:
    """The two runs' ``candidates.csv`` side by side: rows whose status, formula or string differ, and the largest
    differences of the energies and e_above_hull (NaN-equal)."""
    import numpy as np
    import pandas as pd

    a, b = pd.read_csv(before / "candidates.csv"), pd.read_csv(after / "candidates.csv")
    out = {"rows": [len(a), len(b)]}
    if len(a) != len(b):
        return {**out, "same": False}
    for column in ("string", "status", "formula", "space_group", "novelty"):
        differ = ~((a[column] == b[column]) | (a[column].isna() & b[column].isna()))
        out[f"{column}_differ"] = [int(i) for i in a.loc[differ, "index"]]
    for column in ("energy_per_atom", "e_above_hull", "formation_energy_per_atom", "band_gap", "min_distance"):
        x, y = a[column].to_numpy(float), b[column].to_numpy(float)
        both = ~np.isnan(x) & ~np.isnan(y)
        out[f"{column}_max_abs_diff"] = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
        out[f"{column}_nan_differ"] = int(np.sum(np.isnan(x) != np.isnan(y)))
    out["same"] = not any(out[f"{c}_differ"] for c in ("string", "status", "formula")) and all(
        out[f"{c}_nan_differ"] == 0 for c in ("energy_per_atom", "e_above_hull"))
    return out


def side_by_side(args) -> dict:
    """Rounds of ``slices generate`` with the ``--before`` tree and with this one (see the module docstring)."""
    rounds = []
    trees = {"before": args.before.resolve(), "after": REPO}
    with tempfile.TemporaryDirectory(prefix="bench_generate_") as tmp:
        for k in range(args.rounds):
            order = ("before", "after") if k % 2 == 0 else ("after", "before")
            row = {"order": list(order)}
            for label in order:
                row[label] = run_tree(trees[label], args.n, args, Path(tmp) / f"{label}{k}")
                print(f"round {k} {label}: {row[label]['wall_s']:.1f} s wall, {row[label]['cpu_s']:.1f} s CPU, "
                      f"load {row[label]['loadavg_before'][0]:.1f} -> {row[label]['loadavg_after'][0]:.1f}, "
                      f"stages {row[label]['stage_s']}", file=sys.stderr, flush=True)
            row["tables"] = compare_tables(Path(tmp) / f"before{k}", Path(tmp) / f"after{k}")
            rows_equal = row["tables"].get("same")
            print(f"round {k}: same results: {rows_equal} {row['tables']}", file=sys.stderr, flush=True)
            rounds.append(row)
    median = {label: {m: statistics.median(r[label][m] for r in rounds) for m in ("wall_s", "cpu_s")}
              for label in ("before", "after")}
    starts = {label: worker_start_cpu(trees[label]) for label in ("before", "after")}
    where = cpu_table(rounds[-1]["after"], starts["after"], args.workers, args.n)
    return {"n": args.n, "seed": args.seed, "workers": args.workers, "before_tree": str(args.before),
            "rounds": rounds, "median": median, "worker_start_cpu_s": starts, "where_the_cpu_goes": where,
            "speedup_wall": median["before"]["wall_s"] / median["after"]["wall_s"],
            "speedup_cpu": median["before"]["cpu_s"] / median["after"]["cpu_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--cli-n", type=int, default=10, help="candidates of the command-line run (0: none)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source", choices=("model", "reference"), default="model")
    parser.add_argument("--band-gap", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", type=Path, default=None,
                        help="source tree of the code to compare with (side-by-side mode, see above)")
    parser.add_argument("--n", type=int, default=30, help="candidates per run in side-by-side mode")
    parser.add_argument("--rounds", type=int, default=1, help="rounds in side-by-side mode")
    args = parser.parse_args(argv)

    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    if args.before is not None:
        start_load = loadavg()
        result = side_by_side(args)
        header = f"{'code':<8} {'wall s':>8} {'CPU s':>8} {'cand/h':>7}"
        print(header)
        print("-" * len(header))
        for label in ("before", "after"):
            m = result["median"][label]
            print(f"{label:<8} {m['wall_s']:>8.1f} {m['cpu_s']:>8.1f} {args.n / m['wall_s'] * 3600:>7.0f}")
        print(f"speed-up: wall {result['speedup_wall']:.2f}x, CPU {result['speedup_cpu']:.2f}x; "
              f"load {start_load} -> {loadavg()}")
        print(f"\nwhere the CPU of this tree's last run goes ({result['where_the_cpu_goes']['total_cpu_s']:.0f} s):")
        for part, value in result["where_the_cpu_goes"]["per_candidate_s"].items():
            print(f"  {part:<58} {value:6.3f} s per candidate")
        record = {
            "benchmark": "bench_generate",
            "command": "python benchmarks/bench_generate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                        "loadavg_start": start_load, "loadavg_end": loadavg()},
            "notes": "side by side: slices generate in a fresh process per run, the base tree and this one "
                     "alternately; medians over rounds; the 2-core machine was shared with other engineers' jobs "
                     "(load averages recorded per run), so wall times move with their load; CPU seconds are the "
                     "command's and its workers' own",
            "side_by_side": result,
        }
        RESULTS.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {RESULTS}")
        return 0
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
    SIZES_RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {SIZES_RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
