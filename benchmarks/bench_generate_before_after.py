"""``slices generate`` end to end, today's code against a base commit, side by side (issue 18).

Each round runs the command line as a user does (``python -m pipeline generate --n N --seed 11 --workers 2``) in a
fresh folder, first with the base tree (``--before``, a checkout of the base commit, e.g. ``git archive dd339ec``),
then with this tree; rounds alternate so both see the same machine load. Records wall time and the stage timings
the run writes. The machine was shared (2 cores, ~8 engineers): only ratios within a round mean much.
Usage: ``python benchmarks/bench_generate_before_after.py --before /tmp/before [--n 20] [--rounds 1]``; writes
``benchmarks/results/generate_before_after.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(tree: Path, n: int, seed: int, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipeline", "generate", "--n", str(n), "--seed", str(seed),
                           "--workers", "2", "--no-progress", "--out", str(folder)], env=env, cwd=tree,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: generate failed: {proc.stderr[-2000:]}")
    timings = {}
    for name in ("run.json", "summary.json", "settings.json"):
        path = folder / name
        if path.is_file():
            data = json.loads(path.read_text())
            timings = data.get("timings_s", timings) or timings
    return {"wall_s": wall, "candidates_per_hour": n / wall * 3600, "stage_timings_s": timings}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            row = {}
            for label, tree in (("before", args.before), ("after", REPO)):
                row[label] = run(tree, args.n, args.seed, Path(tmp) / f"{label}{k}")
                print(f"round {k} {label}: {row[label]['wall_s']:.1f} s, "
                      f"{row[label]['candidates_per_hour']:.0f} candidates/h, {row[label]['stage_timings_s']}",
                      flush=True)
            row["speedup"] = row["before"]["wall_s"] / row["after"]["wall_s"]
            rows.append(row)
    result = {"benchmark": "generate_before_after", "n": args.n, "seed": args.seed, "workers": 2,
              "before": str(args.before), "machine": "2 cores shared by ~8 engineers (load 10-20 during the run)",
              "rounds": rows}
    (REPO / "benchmarks" / "results" / "generate_before_after.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
