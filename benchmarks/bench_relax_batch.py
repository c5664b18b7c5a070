"""Batched against one-at-a-time relaxation (issue 18): the same crystals, settings and potential, side by side.

``relax.batch.relax_batch`` (one batched potential call per optimiser step) against a loop of
``relax.relax_structure``, on the first ``--n`` MP 2025 binaries with at most 12 atoms (screening's relaxation:
BFGS, fmax 0.05, 300 steps), for each potential; interleaved rounds, the median of ``--repeats``. One torch thread
on a shared 2-core machine: only the ratio means much. Also checks that both give the same energies.
Usage: ``python benchmarks/bench_relax_batch.py [--n 16] [--potentials m3gnet 7net-0]``; writes
``benchmarks/results/relax_batch.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")


def crystals(n: int):
    import pandas as pd
    from pymatgen.core import Structure

    from periodicnet.resources import shared_data_dir

    frame = pd.read_csv(shared_data_dir() / "structures" / "mp_binaries_2025_10k.csv.gz", keep_default_na=False)
    frame = frame.sample(frac=1.0, random_state=0)
    out = []
    for cif in frame["cif"]:
        s = Structure.from_str(cif, fmt="cif")
        if len(s) <= 12:
            out.append(s)
        if len(out) == n:
            return out
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--potentials", nargs="+", default=["m3gnet", "7net-0"])
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from relax import relax_structure
    from relax.batch import relax_batch
    from relax.potentials import get_potential
    from screening.formation import SCREENING_RELAXATION

    torch.set_num_threads(1)
    items = crystals(args.n)
    result = {"benchmark": "relax_batch", "n": len(items), "atoms": sum(len(s) for s in items),
              "settings": "BFGS fmax 0.05, 300 steps", "threads": 1,
              "machine": f"{platform.machine()}, 2 cores shared by ~8 engineers (load 7-21 during the run)", "potentials": {}}
    for name in args.potentials:
        potential = get_potential(name)
        relax_structure(items[0], potential, SCREENING_RELAXATION)  # load before timing
        times = {"batched": [], "one_at_a_time": []}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            batched = relax_batch(items, potential, SCREENING_RELAXATION)
            times["batched"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            single = [relax_structure(s, potential, SCREENING_RELAXATION) for s in items]
            times["one_at_a_time"].append(time.perf_counter() - t0)
        diff = max(abs(a.energy_per_atom - b.energy_per_atom) for a, b in zip(batched, single))
        row = {k: float(np.median(v)) / len(items) for k, v in times.items()}
        row["speedup"] = row["one_at_a_time"] / row["batched"]
        row["max_energy_difference_ev_per_atom"] = float(diff)
        result["potentials"][potential.name] = row
        print(f"{potential.name}: batched {row['batched']:.2f} s/crystal, one at a time {row['one_at_a_time']:.2f}"
              f" s/crystal, x{row['speedup']:.2f}, max |dE| {diff:.1e} eV/atom", flush=True)
    out = REPO / "benchmarks" / "results" / "relax_batch.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
