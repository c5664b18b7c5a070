"""The potential stage's optimiser on generated crystals: FIRE against BFGS, same strings, same route otherwise.

Samples ``--n`` strings from the shipped model as ``slices generate`` does (``generative.sample`` with
``valid_composition=True``, ``--seed``), decodes each with :func:`slices.decode.decode_report` under the default
route once per optimiser (``optimizer=`` names it; everything else is the route's), one thread, one process per
optimiser, and compares per string: status, CPU seconds of the decode, final energy per atom.
"Lower" / "higher" count strings whose final energy under the second optimiser is more than 5 meV/atom below /
above the first's (a different local minimum; neither optimiser is the truth). Prints a table and writes
``benchmarks/results/optimizer.json`` (overwritten). The reconstruction side (MP-20, MP 21-40 matches) is
``bench_reconstruction_vs_reference.py --optimizer``.

    python benchmarks/bench_optimizer.py --n 100 --seed 11
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "optimizer.json"
OPTIMIZERS = ("FIRE", "BFGS")


def decode_all(optimizer: str, strings: list[str]) -> list[dict]:
    """Decode every string with ``optimizer`` in this process (one thread); one record per string."""
    import torch

    from slices.decode import decode_report

    torch.set_num_threads(1)
    decode_report(strings[0], optimizer=optimizer)  # load the potential outside the timed region
    records = []
    for string in strings:
        c0 = time.process_time()
        report = decode_report(string, optimizer=optimizer, check_topology=False)
        records.append({"status": report.status, "route": report.route, "energy_per_atom": report.energy_per_atom,
                        "cpu_s": time.process_time() - c0, "potential_s": report.timings.get("potential")})
    return records


def compare(first: list[dict], second: list[dict]) -> dict:
    """Per-string energy differences (second - first, meV/atom) where both gave an energy."""
    diffs = [1000 * (b["energy_per_atom"] - a["energy_per_atom"]) for a, b in zip(first, second)
             if a["energy_per_atom"] is not None and b["energy_per_atom"] is not None]
    return {"n_both": len(diffs), "median_meV": statistics.median(diffs) if diffs else None,
            "lower_by_5meV": sum(d < -5 for d in diffs), "higher_by_5meV": sum(d > 5 for d in diffs),
            "within_5meV": sum(abs(d) <= 5 for d in diffs)}


def summary(records: list[dict]) -> dict:
    cpu = [r["cpu_s"] for r in records]
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {"statuses": statuses, "cpu_total_s": sum(cpu), "cpu_median_s": statistics.median(cpu)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    import multiprocessing

    import generative

    strings = generative.sample(args.n, seed=args.seed, valid_composition=True)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = dict(zip(OPTIMIZERS, pool.map(decode_all, OPTIMIZERS, [strings] * len(OPTIMIZERS))))
    result = {
        "benchmark": "bench_optimizer",
        "command": "python benchmarks/bench_optimizer.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "loadavg_end": list(os.getloadavg()),
        "n": args.n, "seed": args.seed,
        "summary": {name: summary(records) for name, records in runs.items()},
        "bfgs_vs_fire": compare(runs["FIRE"], runs["BFGS"]),
        "records": runs,
    }
    fire, bfgs = result["summary"]["FIRE"], result["summary"]["BFGS"]
    print(f"{'optimiser':<10}{'statuses':<40}{'CPU total s':>12}{'CPU median s':>14}")
    for name in OPTIMIZERS:
        s = result["summary"][name]
        print(f"{name:<10}{json.dumps(s['statuses']):<40}{s['cpu_total_s']:>12.1f}{s['cpu_median_s']:>14.2f}")
    c = result["bfgs_vs_fire"]
    print(f"BFGS / FIRE CPU: {bfgs['cpu_total_s'] / fire['cpu_total_s']:.2f}x; final energy, BFGS vs FIRE over "
          f"{c['n_both']}: lower {c['lower_by_5meV']}, higher {c['higher_by_5meV']}, within 5 meV/atom "
          f"{c['within_5meV']} (median {c['median_meV']:.1f} meV/atom)")
    RESULTS.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {RESULTS}")
    return result


if __name__ == "__main__":
    main()
