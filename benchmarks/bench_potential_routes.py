"""Which potential route judges stability best on chemistry the default potential was not tuned on (issue 18).

Each route is ``screening.assess`` as a user calls it, on the crystals' MP geometries: relax with one potential
(cell included, screening's BFGS fmax 0.05) and score the relaxed crystal with the same or another one (a single
point, ``score_with``), then formation energy (MP2020 corrections, MP's elemental energies) and e_above_hull on the
known hull. Truth: MP's e_above_hull of each crystal.

Sets (fixed shuffles with ``--seed``, the first ``--n`` rows of each):
- ``binaries_2025``: ``structures/mp_binaries_2025_10k`` (every binary of MP's 2025 database; MP's 2025 frame);
- ``mp20_dev``: ``mp20/dev_1000`` rows with an e_above_hull (a slice not used to choose anything here).

Routes: ``m3gnet`` (relax and score with M3GNet-MP-2021.2.8), ``7net-0``, ``7net-l3i5`` (relax and score with
SevenNet), ``m3gnet>7net-0`` / ``m3gnet>7net-l3i5`` (relax with M3GNet, single point with SevenNet: the crystals
M3GNet relaxed are given to ``assess(relax=False, potential="m3gnet", score_with=...)``, exactly what
``slices generate`` does after decoding; its time per crystal is M3GNet's relaxation time plus the single point's),
``7net-0>7net-l3i5``.

Metrics: e_above_hull MAE and median, F1 of "stable" at e_above_hull <= 0.1 and <= 0 eV/atom, time per crystal
(median over chunks of ``--chunk`` crystals; one torch thread; the machine was shared, so times are pessimistic and
only their ratios mean much). Per-crystal results go to ``--work`` as JSON lines, so an interrupted run resumes.

Usage: ``python benchmarks/bench_potential_routes.py [--n 75] [--routes ...]``. Writes
``benchmarks/results/potential_routes.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")

ROUTES = ["m3gnet", "7net-0", "m3gnet>7net-0", "m3gnet>7net-l3i5", "7net-0>7net-l3i5", "7net-l3i5"]
SETS = {"binaries_2025": "binaries", "mp20_dev": "dev"}
THRESHOLDS = (0.1, 0.0)


def f1(predicted: np.ndarray, reference: np.ndarray, threshold: float) -> float:
    """F1 of the class e_above_hull <= threshold."""
    ps, rs = predicted <= threshold, reference <= threshold
    tp, fp, fn = int(np.sum(ps & rs)), int(np.sum(ps & ~rs)), int(np.sum(~ps & rs))
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")


def metrics(records: list[dict]) -> dict:
    """e_above_hull errors against MP, F1 at each threshold, time per crystal."""
    p = np.array([r["e_above_hull"] if r["e_above_hull"] is not None else np.nan for r in records], dtype=float)
    t = np.array([r["truth"] for r in records], dtype=float)
    ok = np.isfinite(p)
    err = np.abs(p[ok] - t[ok])
    out = {"n": int(ok.sum()), "missing": int((~ok).sum()),
           "mae": float(err.mean()) if ok.any() else None, "median_ae": float(np.median(err)) if ok.any() else None}
    for threshold in THRESHOLDS:
        out[f"f1_at_{threshold:g}"] = f1(p[ok], t[ok], threshold)
    out["seconds_per_crystal"] = float(np.median([r["seconds"] for r in records]))
    return out


def run_chunk(route: str, structures, relaxed_by_first):
    """Assess ``structures`` by ``route``; returns (assessments, seconds per crystal)."""
    from screening import assess

    first, _, second = route.partition(">")
    t0 = time.perf_counter()
    if not second:
        results = assess(structures, relax=True, potential=first, novelty=False, band_gap=False)
        return results, (time.perf_counter() - t0) / len(structures)
    base, base_seconds = relaxed_by_first
    given = [r.structure for r in base]
    results = assess(given, relax=False, potential=first, score_with=second, novelty=False, band_gap=False)
    return results, base_seconds + (time.perf_counter() - t0) / len(structures)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=75, help="crystals per set")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=15)
    parser.add_argument("--routes", nargs="+", default=ROUTES)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".runs" / "potential_routes")
    parser.add_argument("--report-only", action="store_true", help="write the table from the crystals already "
                        "done (an interrupted run), running nothing")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "potential_routes.json")
    args = parser.parse_args(argv)

    import torch
    from pymatgen.core import Structure

    from bench_screening import load_set

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    frames = {name: load_set(kind, args.n, args.seed) for name, kind in SETS.items()}
    done: dict[tuple[str, str], dict[int, dict]] = {}
    for name in SETS:
        for route in args.routes:
            path = args.work / f"{name}__{route.replace('>', '_then_')}.jsonl"
            rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
            done[name, route] = {r["row"]: r for r in rows}
    warm = [Structure.from_str(frames["binaries_2025"]["cif"].iloc[0], fmt="cif")]
    for route in [] if args.report_only else args.routes:  # load models, hull and elemental references before anything is timed
        run_chunk(route, warm, run_chunk(route.partition(">")[0], warm, None))
    for start in range(0, 0 if args.report_only else args.n, args.chunk):
        for name, frame in frames.items():
            chunk = frame.iloc[start:start + args.chunk]
            if chunk.empty:
                continue
            structures = [Structure.from_str(c, fmt="cif") for c in chunk["cif"]]
            base: dict[str, tuple] = {}
            for route in args.routes:
                first, _, second = route.partition(">")
                if all(row in done[name, route] for row in chunk.index):
                    continue
                if second and first not in base:  # the first potential's relaxation, as assess gives it
                    base[first] = run_chunk(first, structures, None)
                results, seconds = run_chunk(route, structures, base.get(first))
                if not second:
                    base[route] = (results, seconds)
                path = args.work / f"{name}__{route.replace('>', '_then_')}.jsonl"
                with path.open("a") as fh:
                    for row, truth, result in zip(chunk.index, chunk["e_above_hull"], results):
                        record = {"row": int(row), "formula": result.formula, "truth": float(truth),
                                  "e_above_hull": result.e_above_hull, "reason": result.reason, "seconds": seconds}
                        done[name, route][int(row)] = record
                        fh.write(json.dumps(record) + "\n")
                print(f"{name} rows {start}-{start + len(chunk)} {route}: {seconds:.2f} s/crystal", flush=True)

    table = {name: {route: metrics([done[name, route][r] for r in frame.index if r in done[name, route]])
                    for route in args.routes if done[name, route]} for name, frame in frames.items()}
    result = {"benchmark": "potential_routes", "settings": {"n_requested": args.n, "seed": args.seed, "chunk": args.chunk,
              "routes": args.routes, "relaxation": "screening.formation.SCREENING_RELAXATION (BFGS, fmax 0.05, 300)",
              "threads": 1, "machine": f"{platform.machine()}, 2 cores shared by ~8 engineers"},
              "results": table}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    head = ["route", "n", "MAE", "median", "F1@0.1", "F1@0", "s/crystal"]
    for name, rows in table.items():
        print(f"\n{name}\n" + " | ".join(head))
        for route, m in rows.items():
            print(" | ".join([route, str(m["n"]), f"{m['mae']:.3f}", f"{m['median_ae']:.3f}",
                              f"{m['f1_at_0.1']:.3f}", f"{m['f1_at_0']:.3f}", f"{m['seconds_per_crystal']:.2f}"]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
