"""Reconstruction benchmark: crystal -> slices.encode -> string -> slices.decode -> StructureMatcher vs the original.

Rows of an MP-20 style CSV with ``slices_dim == 3`` that our encoder can encode. Reports the match rate after each
stage (placement, GFN-FF, potential; a stage that failed carries the previous structure forward, as the pipeline
does), loose (ltol 0.3, stol 0.5, angle_tol 10) and strict (pymatgen defaults) matching with primitive_cell=True,
attempt_supercell=False, both scale=True and scale=False; seconds per structure (wall and CPU of one process plus
its GFN-FF children, one thread each), and failure counts by reason. Prints a table, writes
``benchmarks/results/reconstruction.json`` (overwritten).

    python benchmarks/bench_reconstruction.py --n 100 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ("placement", "gfnff", "potential")
MATCHERS = {
    "loose": dict(ltol=0.3, stol=0.5, angle_tol=10),
    "strict": dict(),
}
_STATE: dict = {}


def _init(stages: tuple[str, ...], fmax: float | None, steps: int | None, time_limit: float,
          optimizer: str | None = None) -> None:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matchers = {}
    for name, kw in MATCHERS.items():
        for scale in (True, False):
            key = name if scale else f"{name}_noscale"
            matchers[key] = StructureMatcher(primitive_cell=True, scale=scale, attempt_supercell=False, **kw)
    _STATE.update(stages=stages, fmax=fmax, steps=steps, time_limit=time_limit, optimizer=optimizer, matchers=matchers)
    if "potential" in stages:  # load the model outside the timed region
        from relax.potential import calculator

        calculator()


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _run(row: tuple[str, str]) -> dict:
    import slices
    from pymatgen.core import Structure
    from slices.decode import decode_report

    material_id, cif = row
    original = Structure.from_str(cif, fmt="cif")
    record = {"id": material_id, "formula": original.composition.reduced_formula, "natoms": len(original)}
    try:
        string = slices.encode(original)
    except slices.SlicesError as exc:
        record.update(encoded=False, encode_error=f"{type(exc).__name__}: {exc}")
        return record
    record.update(encoded=True, string=string)
    wall, cpu = time.perf_counter(), _cpu()
    report = decode_report(
        string, stages=_STATE["stages"], time_limit=_STATE["time_limit"], fmax=_STATE["fmax"], steps=_STATE["steps"],
        optimizer=_STATE["optimizer"],
    )
    record.update(
        wall_s=time.perf_counter() - wall,
        cpu_s=_cpu() - cpu,
        status=report.status,
        message=report.message,
        stage_status=report.stage_status,
        stage_times=report.timings,
        topology_ok=report.topology_ok,
        energy_per_atom=report.energy_per_atom,
        potential_start=report.potential_start,
    )
    matches = {}
    current = None
    for stage in _STATE["stages"]:
        current = report.stage_structures.get(stage, current)  # a failed stage carries the previous structure
        if current is None:
            matches[stage] = {key: False for key in _STATE["matchers"]}
            continue
        matches[stage] = {}
        for key, matcher in _STATE["matchers"].items():
            try:
                matches[stage][key] = bool(matcher.fit(original, current))
            except Exception:
                matches[stage][key] = False
    record["matches"] = matches
    return record


def summarise(records: list[dict], stages: tuple[str, ...]) -> dict:
    """Rates, timings and failure counts over the encodable rows."""
    done = [r for r in records if r.get("encoded")]
    n = len(done)
    rates = {
        stage: {key: (sum(r["matches"][stage][key] for r in done) / n if n else None) for key in _matcher_keys()}
        for stage in stages
    }
    wall = np.array([r["wall_s"] for r in done]) if n else np.zeros(1)
    cpu = np.array([r["cpu_s"] for r in done]) if n else np.zeros(1)
    stage_fail = Counter(f"{s}:{v}" for r in done for s, v in r["stage_status"].items() if v != "ok")
    return {
        "n_rows": len(records),
        "n_encoded": n,
        "n_not_encodable": len(records) - n,
        "not_encodable_reasons": dict(Counter(r["encode_error"].split(":")[0] for r in records if not r["encoded"])),
        "match_rate_after_stage": rates,
        "status_counts": dict(Counter(r["status"] for r in done)),
        "stage_failure_counts": dict(stage_fail),
        "topology_ok_rate": (sum(bool(r["topology_ok"]) for r in done) / n) if n else None,
        "seconds_per_structure": {
            "wall_median": float(np.median(wall)),
            "wall_p90": float(np.percentile(wall, 90)),
            "cpu_median": float(np.median(cpu)),
            "cpu_p90": float(np.percentile(cpu, 90)),
        },
        "stage_seconds_median": {
            s: float(np.median([r["stage_times"][s] for r in done if s in r["stage_times"]] or [np.nan]))
            for s in stages
        },
    }


def compact(record: dict) -> dict:
    """A small per-row record for the JSON: match flags as strings of 0/1 in :func:`_matcher_keys` order."""
    keep = ("id", "formula", "natoms", "encoded", "encode_error", "status", "stage_status", "topology_ok",
            "potential_start")
    out = {k: record[k] for k in keep if k in record}
    if record.get("encoded"):
        out["wall_s"] = round(record["wall_s"], 3)
        out["cpu_s"] = round(record["cpu_s"], 3)
        out["stage_s"] = {k: round(v, 3) for k, v in record["stage_times"].items()}
        out["match"] = {s: "".join(str(int(m[k])) for k in _matcher_keys()) for s, m in record["matches"].items()}
        if record["status"] != "ok":
            out["message"] = record["message"]
    return out


def _matcher_keys() -> list[str]:
    return [k if scale else f"{k}_noscale" for k in MATCHERS for scale in (True, False)]


def print_table(summary: dict, stages: tuple[str, ...]) -> None:
    keys = _matcher_keys()
    print(f"\nn encoded = {summary['n_encoded']} of {summary['n_rows']} rows")
    print(f"{'after stage':<12}" + "".join(f"{k:>16}" for k in keys))
    for stage in stages:
        rates = summary["match_rate_after_stage"][stage]
        print(f"{stage:<12}" + "".join(f"{100 * rates[k]:>15.2f}%" for k in keys))
    t = summary["seconds_per_structure"]
    print(
        f"seconds/structure: wall median {t['wall_median']:.2f} p90 {t['wall_p90']:.2f}; "
        f"CPU median {t['cpu_median']:.2f} p90 {t['cpu_p90']:.2f}"
    )
    print("stage median seconds:", {k: round(v, 3) for k, v in summary["stage_seconds_median"].items()})
    print("status:", summary["status_counts"], " stage failures:", summary["stage_failure_counts"])
    print(f"topology preserved (re-encode == string): {100 * (summary['topology_ok_rate'] or 0):.2f}%")


def _default(name: str):
    from relax import RelaxSettings

    return getattr(RelaxSettings(), name)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mp20" / "dev_1000.csv.gz"))
    parser.add_argument("--n", type=int, default=100, help="rows to use (0 = all)")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--fmax", type=float, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--optimizer", default=None, help="BFGS or FIRE (default: relax.RelaxSettings')")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 2:
        parser.error("--workers must be 1 or 2 (the machine is shared)")
    import multiprocessing

    import pandas as pd
    from tqdm import tqdm

    os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    stages = tuple(args.stages.split(","))
    frame = pd.read_csv(args.data)
    frame = frame[frame["slices_dim"] == 3] if "slices_dim" in frame else frame
    frame = frame.iloc[args.start :]
    if args.n:
        frame = frame.head(args.n)
    rows = list(zip(frame["material_id"], frame["cif"]))
    records = []
    started = time.time()
    with ProcessPoolExecutor(
        args.workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init,
        initargs=(stages, args.fmax, args.steps, args.time_limit, args.optimizer),
    ) as pool:
        futures = [pool.submit(_run, row) for row in rows]
        for future in tqdm(as_completed(futures), total=len(futures), file=sys.stderr, desc="reconstruct"):
            records.append(future.result())
    records.sort(key=lambda r: r["id"])
    summary = summarise(records, stages)
    summary["config"] = {
        "data": args.data,
        "n": args.n,
        "start": args.start,
        "workers": args.workers,
        "stages": stages,
        "fmax": args.fmax if args.fmax is not None else _default("fmax"),
        "steps": args.steps if args.steps is not None else _default("steps"),
        "optimizer": args.optimizer if args.optimizer is not None else _default("optimizer"),
        "time_limit": args.time_limit,
        "threads_per_process": 1,
        "elapsed_s": time.time() - started,
        "matchers": {"loose": MATCHERS["loose"], "strict": "pymatgen defaults",
                     "common": "primitive_cell=True, attempt_supercell=False, scale=True (and *_noscale: False)"},
        "reference": {"loose": 0.9495, "strict": 0.9255, "median_s": 0.9},
    }
    print_table(summary, stages)
    out = ROOT / "benchmarks" / "results" / "reconstruction.json"
    summary["record_match_key"] = _matcher_keys()
    out.write_text(json.dumps({"summary": summary, "records": [compact(r) for r in records]}, default=str))
    print(f"wrote {out}")
    return summary


if __name__ == "__main__":
    main()
