"""S.U.N. rate and band-gap conditioning of the product: what ``slices generate`` produces, per sampling condition.

    python benchmarks/bench_generative_sun.py                    # n = 100 per condition, the three default ones
    python benchmarks/bench_generative_sun.py --n 100,30,30                # fewer where the machine is busy
    python benchmarks/bench_generative_sun.py --n 20 --conditions unconditioned,band_gap=2

Each condition is one call of :func:`pipeline.generate.generate` (``Sampling(n, band_gap, guidance, seed)``,
``Criteria(band_gap=target)``, a local pool of ``--workers``), exactly as a user runs it: sampling with the SMACT
composition filter on, decoding on the default route, validity filters, deduplication of the relaxed crystals,
:func:`screening.assess` against the known materials. The figures are computed from the rows it returns with
:mod:`pipeline.metrics`:

- S.U.N.: e_above_hull <= 0.1 eV/atom against OUR hull (MP formation energies + the potential's formation energy of
  the candidate, :mod:`screening.hull`; not DFT), unique, not a known crystal, over all sampled strings, with its 95%
  Wilson interval; S.U.N.T.: S.U.N. and the predicted band gap within 0.5 eV of the target (per predictor);
- the funnel (decoded, valid and unique, not known, stable) and each candidate status;
- band-gap accuracy of the assessed candidates against the target (composition model, the default predictor, and
  MEGNet), and the unconditioned candidates' accuracy against the same target as the baseline.

The run folders (``--run-dir``, one per condition) are ``generate``'s own: an interrupted benchmark resumes where it
stopped. Writes ``benchmarks/results/generative_sun.json`` (overwritten).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "generative_sun.json"
CONDITIONS = {
    "unconditioned": {},
    **{f"band_gap={t}": {"band_gap": float(t)} for t in (0, 1, 2, 3)},
    **{f"band_gap={t}+guidance=2": {"band_gap": float(t), "guidance": 2.0} for t in (0, 1, 2, 3)},
}
DEFAULT_CONDITIONS = ("unconditioned", "band_gap=2", "band_gap=2+guidance=2")
JUDGES = {"composition": "band_gap_composition", "megnet": "band_gap"}  # band-gap predictor -> table column


def condition_sizes(text: str, count: int) -> list[int]:
    """The ``--n`` option as one sample size per condition: one number for all ``count`` conditions, or one each."""
    try:
        sizes = [int(k) for k in text.split(",")]
    except ValueError:
        raise ValueError(f"--n must be whole numbers, got {text!r}") from None
    sizes = sizes * count if len(sizes) == 1 else sizes
    if len(sizes) != count or min(sizes) < 1:
        raise ValueError(f"--n needs one positive number or one per condition ({count}), got {text!r}")
    return sizes


def summarize(rows: list[dict], target: float | None) -> dict:
    """One condition's figures from ``generate``'s rows (see the module docstring)."""
    from pipeline import metrics

    row = {
        "n_sampled": len(rows),
        "statuses": dict(Counter(str(r.get("status")) for r in rows).most_common()),
        "funnel": {k: v.as_dict() for k, v in metrics.funnel(rows).items()},
        "sun": metrics.sun_rate(rows).as_dict(),
        "sun_new_composition": sum(metrics.is_sun(r) and r.get("novelty") == "new" for r in rows),
        "sun_formulas": sorted(r["formula"] for r in rows if metrics.is_sun(r)),
        "kept": sum(r.get("status") == "ok" for r in rows),
        "median_e_above_hull": _median(r.get("e_above_hull") for r in rows),
        "median_decode_seconds": _median(r.get("decode_seconds") for r in rows),
        "band_gap_mean": {name: _mean(r.get(col) for r in rows) for name, col in JUDGES.items()},
    }
    if target is not None:
        row["target_band_gap"] = target
        row["band_gap_accuracy"] = {name: metrics.gap_accuracy(rows, target, col) for name, col in JUDGES.items()}
        row["sunt"] = {name: metrics.sunt_rate(rows, col, target).as_dict() for name, col in JUDGES.items()}
    return row


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def add_baselines(conditions: dict, rows_by_condition: dict[str, list[dict]]) -> None:
    """The unconditioned candidates' band-gap accuracy against each condition's target (what conditioning adds)."""
    from pipeline import metrics

    base = rows_by_condition.get("unconditioned")
    if base is None:
        return
    for name, row in conditions.items():
        if "target_band_gap" in row:
            row["unconditioned_accuracy"] = {judge: metrics.gap_accuracy(base, row["target_band_gap"], col)
                                             for judge, col in JUDGES.items()}


def fmt(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(conditions: dict) -> str:
    """The conditions as a text table."""
    head = ["condition", "n", "decoded", "valid+unique", "not known", "stable", "S.U.N. (95% CI)",
            "S.U.N.T. comp.", "gap MAE comp.", "within 0.5 comp.", "gap MAE MEGNet"]
    lines = []
    for name, r in conditions.items():
        f, sun = r["funnel"], r["sun"]
        acc = r.get("band_gap_accuracy", {})
        lines.append([name, str(r["n_sampled"]), fmt(f["decoded"]["rate"]), fmt(f["valid_unique"]["rate"]),
                      fmt(f["not_known"]["rate"]), fmt(f["stable"]["rate"]),
                      f"{fmt(sun['rate'])} ({sun['ci95'][0]:.2f}-{sun['ci95'][1]:.2f})",
                      fmt(r.get("sunt", {}).get("composition", {}).get("rate")),
                      fmt(acc.get("composition", {}).get("mae")), fmt(acc.get("composition", {}).get("within")),
                      fmt(acc.get("megnet", {}).get("mae"))])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    return "\n".join("  ".join(x.rjust(w) if k else x.ljust(w) for k, (x, w) in enumerate(zip(line, widths)))
                     for line in [head, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="100", help="samples per condition: one number for all, or one per condition "
                        "(comma-separated, e.g. 100,30,30; default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS),
                        help=f"comma-separated, of {', '.join(CONDITIONS)} (default: {','.join(DEFAULT_CONDITIONS)})")
    parser.add_argument("--workers", type=int, default=2, help="decode processes (default 2)")
    parser.add_argument("--retry-failed", action="store_true", help="decode again, on resume, the candidates whose "
                        "worker timed out or crashed (a loaded machine), as slices generate --retry-failed does")
    parser.add_argument("--run-dir", default=str(ROOT / "benchmarks" / ".runs" / "generative_sun"),
                        help="generate's run folders, one per condition (default benchmarks/.runs/generative_sun)")
    args = parser.parse_args(argv)
    names = args.conditions.split(",")
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        parser.error(f"unknown conditions {unknown}; choose from {list(CONDITIONS)}")
    try:
        sizes = condition_sizes(args.n, len(names))
    except ValueError as exc:
        parser.error(str(exc))

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    sys.path.insert(0, str(ROOT))
    import torch

    from generative.checkpoint import DEFAULT_MODEL
    from pipeline.criteria import Criteria
    from pipeline.generate import generate
    from pipeline.options import Runner, Sampling
    from relax.potential import DEFAULT_POTENTIAL
    from relax.reconstruct import DEFAULT_STAGES, POTENTIAL_SETTINGS

    torch.set_num_threads(1)
    conditions, rows_by_condition, seconds = {}, {}, {}
    for name, n in zip(names, sizes):
        spec = CONDITIONS[name]
        start = time.perf_counter()
        result = generate(Sampling(n=n, seed=args.seed, **spec), Criteria(band_gap=spec.get("band_gap")),
                          out=Path(args.run_dir) / f"n{n}_seed{args.seed}" / name,
                          runner=Runner(workers=args.workers, retry_failed=args.retry_failed))
        seconds[name] = time.perf_counter() - start
        rows_by_condition[name] = result.rows
        conditions[name] = {"condition": spec, **summarize(result.rows, spec.get("band_gap")),
                            "decoded_now": result.decoded_now, "stage_seconds": result.timings}
        print(f"{name}: S.U.N. {conditions[name]['sun']['rate']:.2f} ({result.decoded_now} decoded now, "
              f"{seconds[name]:.0f} s)", file=sys.stderr, flush=True)
    add_baselines(conditions, rows_by_condition)
    record = {
        "benchmark": "bench_generative_sun",
        "command": "python benchmarks/bench_generative_sun.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "2-core machine shared with other jobs"},
        "model": str(DEFAULT_MODEL), "model_sha256": hashlib.sha256(Path(DEFAULT_MODEL).read_bytes()).hexdigest(),
        "potential": DEFAULT_POTENTIAL,
        "decode_route": {"stages": list(DEFAULT_STAGES), "potential_fmax": POTENTIAL_SETTINGS.fmax},
        "n": dict(zip(names, sizes)), "seed": args.seed, "workers": args.workers, "retry_failed": args.retry_failed,
        "definition": "pipeline.metrics.sun_rate on generate()'s rows: e_above_hull <= 0.1 eV/atom on our hull "
                      "(MP formation energies + the potential's, not DFT), duplicate_of empty, novelty new or "
                      "known_composition; over all sampled strings (valid_composition sampling filter on)",
        "conditions": conditions,
    }
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(table(conditions))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
