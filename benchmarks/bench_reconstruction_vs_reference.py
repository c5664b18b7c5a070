"""Side-by-side round trip, this project vs the reference implementation (PyPI ``slices`` 2.0.12), same crystals.

For each crystal of a set: encode -> string -> decode, on both sides, single-threaded, one crystal at a time. The
reference runs in its own scratch venv (``--ref-python``, never a project dependency) through
``benchmarks/reference_driver.py``; it returns its reconstructed structure as CIF so both sides are matched by the
same pymatgen: loose (ltol 0.3, stol 0.5, angle_tol 10) and strict (defaults), primitive_cell=True, scale=True,
attempt_supercell=False. Times are round-trip wall seconds (encode + decode; model loading excluded on both sides).

Resumable: every crystal appends one JSON line to ``<work-dir>/<set>_{ours,reference}.jsonl`` and is skipped on a
rerun. The summary (rates over all selected crystals, median/mean time, failures by reason, paired time ratio) is
printed and written to ``benchmarks/results/reconstruction_vs_reference_<set>.json`` (one file per set; ``--tag``
names only the scratch files). ``--reference-from FILE`` takes the reference's records from a result file written
before (the reference needs minutes to hours per crystal on the larger sets) instead of running it.

    python benchmarks/bench_reconstruction_vs_reference.py --set mp20 --n 200 --side both
    python benchmarks/bench_reconstruction_vs_reference.py --set qmof --side ours \
        --reference-from benchmarks/results/reconstruction_vs_reference_qmof.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETS = {  # name -> (path under the shared data folder, id column)
    "mp20": ("mp20/dev_1000.csv.gz", "material_id"),
    "mp21_40": ("mp21_40/dev_300.csv.gz", "material_id"),
    "qmof": ("qmof/dev_140.csv.gz", "qmof_id"),
}
MATCHERS = {"loose": dict(ltol=0.3, stol=0.5, angle_tol=10), "strict": dict()}
SIDES = ("ours", "reference")


def shared_data() -> Path:
    return Path(os.environ.get("SLICES_SHARED_DATA", ROOT.parent / "shared" / "data"))


def select(set_name: str, n: int, seed: int) -> list[dict]:
    """The benchmark's crystals: ``n`` rows of the set chosen with ``seed`` (all rows when n is 0 or too big)."""
    import pandas as pd

    path, id_column = SETS[set_name]
    frame = pd.read_csv(shared_data() / path, keep_default_na=False)
    if n and n < len(frame):
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
        frame = frame.iloc[rows]
    return [{"id": str(i), "cif": cif} for i, cif in zip(frame[id_column], frame["cif"])]


def _cpu() -> float:
    """CPU seconds of this process (all threads) plus its finished children (our GFN-FF workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _done(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    with path.open() as handle:
        return {r["id"]: r for r in (json.loads(line) for line in handle if line.strip())}


def _matchers():
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return {k: StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False, **kw)
            for k, kw in MATCHERS.items()}


def _match(matchers, original, rebuilt) -> dict[str, bool]:
    return {k: bool(m.fit(original, rebuilt)) for k, m in matchers.items()}


def run_ours(tasks: list[dict], out: Path, time_limit: float, options: dict) -> None:
    """Round trip every task with this project (in this process, one thread), appending to ``out``; ``options``
    go to :func:`slices.decode.decode_report` (stages, fmax, ...)."""
    import warnings

    import torch
    from pymatgen.core import Structure
    from tqdm import tqdm

    import slices
    from relax.potential import calculator
    from slices.decode import decode_report

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    calculator()  # load the model outside the timed region
    matchers = _matchers()
    done = _done(out)
    for task in tqdm([t for t in tasks if t["id"] not in done], desc="ours", file=sys.stderr):
        original = Structure.from_str(task["cif"], fmt="cif")
        record = {"id": task["id"], "natoms": len(original), "formula": original.composition.reduced_formula}
        t0, c0 = time.perf_counter(), _cpu()
        try:
            string = slices.encode(original)
        except slices.SlicesError as exc:
            record.update(encoded=False, failure=f"encode:{getattr(exc, 'reason', type(exc).__name__)}")
            _append(out, record)
            continue
        encode_s = time.perf_counter() - t0
        report = decode_report(string, time_limit=time_limit, **options)
        record.update(encoded=True, encode_s=encode_s, wall_s=time.perf_counter() - t0, cpu_s=_cpu() - c0,
                      contacts=int(slices.parse(string).contacts.sum()),
                      volume_ratio={stage: s.volume / len(s) / (original.volume / len(original))
                                    for stage, s in report.stage_structures.items()},
                      status=report.status, route=report.route,
                      stage_status=report.stage_status, stage_s=report.timings,
                      potential_start=report.potential_start, topology_ok=report.topology_ok,
                      message=report.message if report.status != "ok" else "")
        if report.structure is not None:
            record["match"] = _match(matchers, original, report.structure)
            record["stage_match"] = {stage: _match(matchers, original, s)
                                     for stage, s in report.stage_structures.items()}
        if report.status != "ok":
            record["failure"] = f"decode:{report.status}"
        _append(out, record)


def run_reference(tasks: list[dict], out: Path, work: Path, ref_python: str, launch: bool = True) -> None:
    """Round trip every task with the reference (its own venv, a subprocess; skipped when not ``launch``), then
    match what it has written so far with our pymatgen."""
    from pymatgen.core import Structure

    raw = work / (out.stem + "_raw.jsonl")
    task_file = work / (out.stem + "_tasks.jsonl")
    done = _done(raw)
    todo = [t for t in tasks if t["id"] not in done]
    if todo and launch:
        task_file.write_text("".join(json.dumps(t) + "\n" for t in todo))
        driver = ROOT / "benchmarks" / "reference_driver.py"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        subprocess.run([ref_python, str(driver), str(task_file), str(raw)], check=True, env=env, cwd=work)
    matchers = _matchers()
    by_id = {t["id"]: t for t in tasks}
    matched = _done(out)
    for rid, r in _done(raw).items():
        if rid not in by_id or rid in matched:
            continue
        original = Structure.from_str(by_id[rid]["cif"], fmt="cif")
        record = {"id": rid, "natoms": len(original), "formula": original.composition.reduced_formula,
                  "encoded": r["encoded"], "encode_s": r["encode_s"]}
        if r["encoded"] and r["decode_s"] is not None:
            record["wall_s"] = r["encode_s"] + r["decode_s"]
            record["cpu_s"] = r.get("cpu_s")
        rebuilt = None
        if r["cif"]:
            try:
                rebuilt = Structure.from_str(r["cif"], fmt="cif")
            except ValueError:  # pymatgen finds no structure in the CIF the reference wrote
                record["failure"] = "decode:unreadable_cif"
        if rebuilt is not None:
            record["match"] = _match(matchers, original, rebuilt)
            # the reference returns energy 0 when its potential step failed (its ZL*-optimised structure instead)
            record["status"] = "ok" if r["energy_per_atom"] else "potential_failed"
            if not r["energy_per_atom"]:
                record["failure"] = "decode:potential_failed"
        elif not r["cif"]:
            stage = "decode" if r["encoded"] else "encode"
            record["failure"] = f"{stage}:{(r['error'] or 'unknown').split(':')[0]}"
            record["message"] = r["error"]
        _append(out, record)


def stored_reference(path: Path) -> dict[str, dict]:
    """The reference's per-crystal records from a result file this script wrote before, by crystal id."""
    try:
        records = json.loads(path.read_text())["records"]["reference"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"no reference records in {path}: {exc}") from None
    return {r["id"]: r for r in records}


def _append(path: Path, record: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def summarise(records: list[dict]) -> dict:
    """Rates over all crystals, times over the crystals with a round trip, failures by reason."""
    n = len(records)
    timed = np.array([r["wall_s"] for r in records if r.get("encoded") and r.get("wall_s") is not None])
    cpu = np.array([r["cpu_s"] for r in records if r.get("encoded") and r.get("cpu_s") is not None])
    loose = sum(bool(r.get("match", {}).get("loose")) for r in records)
    strict = sum(bool(r.get("match", {}).get("strict")) for r in records)
    return {
        "n": n,
        "encoded": sum(bool(r.get("encoded")) for r in records),
        "loose": loose,
        "strict": strict,
        "loose_rate": loose / n if n else None,
        "strict_rate": strict / n if n else None,
        "wall_median_s": float(np.median(timed)) if len(timed) else None,
        "wall_mean_s": float(np.mean(timed)) if len(timed) else None,
        "cpu_median_s": float(np.median(cpu)) if len(cpu) else None,
        "cpu_mean_s": float(np.mean(cpu)) if len(cpu) else None,
        "failures": dict(Counter(r["failure"] for r in records if r.get("failure"))),
    }


def paired(ours: dict[str, dict], ref: dict[str, dict]) -> dict:
    """On crystals both sides round-tripped: median time ratios (ours / reference), wall and CPU seconds."""
    out = {}
    for kind in ("wall_s", "cpu_s"):
        common = [i for i in ours if i in ref and ours[i].get(kind) and ref[i].get(kind)]
        if not common:
            continue
        a = np.array([ours[i][kind] for i in common])
        b = np.array([ref[i][kind] for i in common])
        out[kind] = {"n": len(common), "ours_median": float(np.median(a)), "reference_median": float(np.median(b)),
                     "ratio_of_medians": float(np.median(a) / np.median(b)),
                     "median_of_ratios": float(np.median(a / b))}
    return out


def paired_rates(ours: dict[str, dict], ref: dict[str, dict]) -> dict:
    """Loose/strict matches of both sides on the crystals both have a record for (the fair comparison when one
    side finished only part of the set)."""
    common = sorted(set(ours) & set(ref))
    out = {"n": len(common)}
    for side, recs in (("ours", ours), ("reference", ref)):
        for kind in MATCHERS:
            out[f"{side}_{kind}"] = sum(bool(recs[i].get("match", {}).get(kind)) for i in common)
    return out


def print_table(set_name: str, result: dict) -> None:
    print(f"\n{set_name}: {result['config']['n_selected']} crystals (seed {result['config']['seed']})")
    print(f"{'side':<10}{'encoded':>9}{'loose':>14}{'strict':>14}{'wall med':>10}{'mean':>7}{'CPU med':>9}{'mean':>7}"
          "  failures")
    for side in SIDES:
        s = result.get(side)
        if not s:
            continue
        n = s["n"]
        times = "".join(f"{s[k]:>{w}.2f}" if s[k] is not None else f"{'-':>{w}}" for k, w in
                        (("wall_median_s", 10), ("wall_mean_s", 7), ("cpu_median_s", 9), ("cpu_mean_s", 7)))
        print(f"{side:<10}{s['encoded']:>9}{s['loose']:>6}/{n} {100 * s['loose_rate']:>5.1f}%"
              f"{s['strict']:>6}/{n} {100 * s['strict_rate']:>5.1f}%{times}  {s['failures']}")
    if "paired_rates" in result:
        p = result["paired_rates"]
        print(f"paired rates ({p['n']} crystals both sides ran): ours {p['ours_loose']} loose / {p['ours_strict']} "
              f"strict, reference {p['reference_loose']} / {p['reference_strict']}")
    for kind, p in result.get("paired", {}).items():
        print(f"paired {kind} ({p['n']} crystals): median ours {p['ours_median']:.2f} s, reference "
              f"{p['reference_median']:.2f} s, ratio of medians {p['ratio_of_medians']:.2f}, "
              f"median of ratios {p['median_of_ratios']:.2f}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), required=True)
    parser.add_argument("--n", type=int, default=0, help="crystals chosen with --seed (0 = the whole set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", choices=("ours", "reference", "both", "summary"), default="both")
    parser.add_argument("--work-dir", default=str(ROOT / "benchmarks" / ".runs"),
                        help="per-crystal JSON lines (scratch, not committed)")
    parser.add_argument("--ref-python", default="/work/refvenv/bin/python")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds per crystal, our side (the reference keeps its own limits)")
    parser.add_argument("--route", choices=("auto", "fast", "large", "full"), default=None,
                        help="our route (relax.routes; default: the decoder's, auto)")
    parser.add_argument("--stages", default=None, help="our stages, comma-separated (default: the route's)")
    parser.add_argument("--fmax", type=float, default=None, help="our potential's fmax (default: the decoder's)")
    parser.add_argument("--optimizer", choices=("FIRE", "BFGS"), default=None,
                        help="our potential's optimiser (default: the route's)")
    parser.add_argument("--tag", default="", help="suffix of our scratch file (a variant run keeps its own records)")
    parser.add_argument("--reference-from", default=None, metavar="FILE",
                        help="take the reference's records from this earlier result file instead of running it")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    tasks = select(args.set, args.n, args.seed)
    stem = f"{args.set}_n{len(tasks)}_s{args.seed}"
    ours_file = work / f"{stem}_ours{args.tag}.jsonl"
    ref_file = work / f"{stem}_reference.jsonl"
    if args.side in ("ours", "both"):
        options = {"stages": tuple(args.stages.split(","))} if args.stages else {}
        if args.route:
            options["route"] = args.route
        if args.fmax is not None:
            options["fmax"] = args.fmax
        if args.optimizer:
            options["optimizer"] = args.optimizer
        run_ours(tasks, ours_file, args.time_limit, options)
    ids = {t["id"] for t in tasks}
    if args.reference_from:
        ref = {k: v for k, v in stored_reference(Path(args.reference_from)).items() if k in ids}
    else:
        if args.side in ("reference", "both", "summary"):
            run_reference(tasks, ref_file, work, args.ref_python, launch=args.side != "summary")
        ref = {k: v for k, v in _done(ref_file).items() if k in ids}
    ours = {k: v for k, v in _done(ours_file).items() if k in ids}
    result = {"config": {"set": args.set, "data": SETS[args.set][0], "n_selected": len(tasks), "seed": args.seed,
                         "time_limit_s": args.time_limit, "threads": 1, "tag": args.tag,
                         "our_route": args.route or "auto", "our_stages": args.stages, "our_fmax": args.fmax,
                         "our_optimizer": args.optimizer,
                         "reference_from": args.reference_from,
                         "matchers": {"loose": MATCHERS["loose"], "strict": "pymatgen defaults",
                                      "common": "primitive_cell=True, scale=True, attempt_supercell=False"},
                         "reference": "PyPI slices 2.0.12 in its own venv (benchmarks/reference_driver.py)"}}
    if ours:
        result["ours"] = summarise(list(ours.values()))
        result["ours"]["complete"] = len(ours) == len(tasks)
    if ref:
        result["reference"] = summarise(list(ref.values()))
        result["reference"]["complete"] = len(ref) == len(tasks)
    if ours and ref:
        result["paired"] = paired(ours, ref)
        result["paired_rates"] = paired_rates(ours, ref)
    result["records"] = {side: sorted(recs.values(), key=lambda r: r["id"])
                         for side, recs in (("ours", ours), ("reference", ref)) if recs}
    print_table(args.set, result)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"reconstruction_vs_reference_{args.set}.json"
    out.write_text(json.dumps(result, default=str, indent=1))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
