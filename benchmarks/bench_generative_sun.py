"""S.U.N. rate and band-gap conditioning of decoded samples (issue 11, decode side).

    python benchmarks/bench_generative_sun.py [--model PATH] [--label v1] [--n 100] [--conditions ...]
    python benchmarks/bench_generative_sun.py --compare v1,v2      # one table from the committed results

Per condition (unconditioned; band-gap targets 0, 1, 2, 3 eV; optionally each with guidance 2) it samples ``--n``
strings with a fixed seed (:func:`generative.sample`), decodes them on a local process pool
(:func:`pipeline.decode_stage.decode_candidate`: placement -> GFN-FF -> the potential, ``--time-limit`` s each) and
screens the decoded crystals with :func:`screening.assess` (``relax=False``: the decoder already relaxed them with the
same potential, and its energy per atom is passed on, exactly as ``slices generate`` does). Reported per condition:

- decoded: decode status ``ok``; valid: decoded and passes the structural and SMACT checks (:mod:`screening.checks`);
- unique: distinct crystals among the decoded (``StructureMatcher`` within the condition, first occurrence kept);
- novelty counts of the decoded: known (a known structure) / known_composition / new (formula in no known table);
- S.U.N.: decoded AND e_above_hull <= 0.1 eV/atom against the known-materials hull AND unique AND not a known
  structure, divided by the number sampled; ``sun_new``: of those, the ones with a new composition; ``sun_valid``:
  S.U.N. that also pass the validity checks;
- band gap of the decoded crystals (the matgl MEGNet prediction ``assess`` reports) against the target: MAE and
  share within 0.5 eV (and, as the baseline, the same for the unconditioned samples).

The hull is OURS (MP formation energies + our potential's formation energy for the candidate, :mod:`screening.hull`),
not DFT. Each candidate's decode record and assessment are appended to JSONL files under ``--run-dir`` as they
finish; a rerun skips what is done. Writes ``benchmarks/results/generative_sun_<label>.json`` after each round, and
at the end ``generative_sun_<label>_candidates.jsonl.gz``: every candidate's string, decode record, decoded crystal and
screening, so that another band-gap predictor or hull can be applied later without decoding again. A results file
records the decoder's route (stages, the potential's fmax); a rerun on another route must use another label.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
os.environ.setdefault("SLICES_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
E_HULL_MAX = 0.1  # eV/atom: the S.U.N. stability threshold
GAP_WINDOW = 0.5  # eV: "within" for the band-gap conditioning
CONDITIONS = {
    "unconditioned": {},
    **{f"band_gap={t}": {"band_gap": float(t)} for t in (0, 1, 2, 3)},
    **{f"band_gap={t}+guidance=2": {"band_gap": float(t), "guidance": 2.0} for t in (0, 1, 2, 3)},
}
DEFAULT_CONDITIONS = ("unconditioned", "band_gap=0", "band_gap=1", "band_gap=2", "band_gap=3")


def read_jsonl(path: Path) -> dict[int, dict]:
    """Records of a JSONL file by ``index`` (a torn last line from an interrupted run is ignored)."""
    out: dict[int, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            out[record["index"]] = record
    return out


def append_jsonl(path: Path, record: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sample_strings(run: Path, name: str, n: int, seed: int, model_path: Path, model_sha: str) -> list[str]:
    """The condition's ``n`` sampled strings (sampled once, then read back from ``strings.json``)."""
    import torch

    import generative

    meta = {"condition": name, "n": n, "seed": seed, "model_sha256": model_sha}
    path = run / "strings.json"
    if path.exists():
        stored = json.loads(path.read_text())
        if {k: v for k, v in stored["meta"].items() if k != "seconds"} == meta:
            return stored["strings"]
        raise SystemExit(f"{path} was sampled with other settings ({stored['meta']}); use another --run-dir")
    torch.set_num_threads(1)
    start = time.perf_counter()
    strings = generative.sample(n, seed=seed, model=str(model_path), batch_size=n, **CONDITIONS[name])
    meta["seconds"] = round(time.perf_counter() - start, 2)
    path.write_text(json.dumps({"meta": meta, "strings": strings}))
    return strings


TASK_STRIDE = 1_000_000  # pool task id = condition number * TASK_STRIDE + candidate index


def decode_round(runs: list[Path], strings: list[list[str]], upto: int, workers: int, time_limit: float,
                 potential: str) -> None:
    """Decode candidates ``0..upto-1`` of every condition not yet in its ``decoded.jsonl``, on one process pool."""
    from tqdm.auto import tqdm

    from pipeline import decode_stage
    from pipeline.generate import hard_timeout

    todo = []
    for c, (run, cond_strings) in enumerate(zip(runs, strings)):
        done = read_jsonl(run / "decoded.jsonl")
        todo += [(c * TASK_STRIDE + i, s) for i, s in enumerate(cond_strings[:upto]) if i not in done]
    if not todo:
        return
    with tqdm(total=len(todo), desc=f"decode (first {upto} of each condition)", unit="cand", file=sys.stderr) as bar:

        def on_result(record: dict) -> None:
            c, record["index"] = divmod(record["index"], TASK_STRIDE)
            append_jsonl(runs[c] / "decoded.jsonl", record)
            bar.update(1)

        decode_stage.run_local(todo, on_result, workers=workers, hard_timeout=hard_timeout(time_limit),
                               decode_kwargs={"time_limit": time_limit, "seed": 0, "potential": potential})


def assess_all(run: Path, decoded: dict[int, dict], potential: str, chunk: int = 10) -> dict[int, dict]:
    """Screen every decoded crystal not yet in ``assessed.jsonl`` (in chunks, so an interruption loses little)."""
    from pymatgen.core import Structure
    from tqdm.auto import tqdm

    from screening import assess

    path = run / "assessed.jsonl"
    done = read_jsonl(path)
    todo = [i for i in sorted(decoded) if decoded[i].get("status") == "ok" and decoded[i].get("structure")
            and i not in done]
    for start in tqdm(range(0, len(todo), chunk), desc=f"assess {run.name}", unit="chunk", file=sys.stderr,
                      disable=not todo):
        part = todo[start:start + chunk]
        # canonicals=None: the decoded crystal is relaxed and often no longer has the string's bonds, so the
        # known-structure lookup encodes the crystal itself instead of trusting the sampled string.
        results = assess([Structure.from_dict(decoded[i]["structure"]) for i in part], relax=False,
                         potential=potential, energies=[decoded[i].get("energy_per_atom") for i in part])
        for i, result in zip(part, results):
            append_jsonl(path, {"index": i, **result.as_dict()})
    return read_jsonl(path)


def duplicates(decoded: dict[int, dict]) -> dict[int, int]:
    """Repeated crystals among the decoded ones (index -> first equal index), by ``StructureMatcher``."""
    from pymatgen.core import Structure

    from screening.matching import find_duplicates

    items = [(i, None, Structure.from_dict(decoded[i]["structure"])) for i in sorted(decoded)
             if decoded[i].get("status") == "ok" and decoded[i].get("structure")]
    return find_duplicates(items)


def export_candidates(path: Path, names: list[str], runs: list[Path], n: int) -> None:
    """Every measured candidate in one gzipped JSONL file (committed beside the results): its condition, string,
    decode status, the decoded crystal (``Structure.as_dict()``) and the screening, so that another band-gap
    predictor (or another hull) can be applied later without decoding again."""
    import gzip

    with gzip.open(path, "wt") as fh:
        for name, run in zip(names, runs):
            decoded = read_jsonl(run / "decoded.jsonl")
            assessed = read_jsonl(run / "assessed.jsonl")
            duplicate_of = duplicates({i: r for i, r in decoded.items() if i < n})
            for i in sorted(k for k in decoded if k < n):
                record = decoded[i]
                screening = {k: v for k, v in assessed.get(i, {}).items() if k != "index"}
                fh.write(json.dumps({
                    "condition": name, "index": i, "string": record["string"], "status": record.get("status"),
                    "message": record.get("message"), "energy_per_atom": record.get("energy_per_atom"),
                    "structure_valid": record.get("structure_valid"),
                    "composition_valid": record.get("composition_valid"), "topology_ok": record.get("topology_ok"),
                    "duplicate_of": duplicate_of.get(i), "assessment": screening or None,
                    "structure": record.get("structure"),
                }) + "\n")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (how far a rate from ``n`` samples can be trusted)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def gap_accuracy(gaps: list[float], target: float) -> dict:
    if not gaps:
        return {"n": 0, "mae": None, "within_0.5_eV": None}
    errors = [abs(g - target) for g in gaps]
    return {"n": len(gaps), "mae": statistics.fmean(errors),
            "within_0.5_eV": sum(e <= GAP_WINDOW for e in errors) / len(gaps)}


def summarize(n: int, decoded: dict[int, dict], assessed: dict[int, dict], duplicate_of: dict[int, int],
              target: float | None) -> dict:
    """The condition's row: rates over the ``n`` sampled strings, counts, and the band-gap accuracy."""
    ok = [i for i in sorted(decoded) if decoded[i].get("status") == "ok" and decoded[i].get("structure")]
    valid = [i for i in ok if decoded[i].get("structure_valid") and decoded[i].get("composition_valid")]
    unique = [i for i in ok if i not in duplicate_of]
    novelty = Counter(str(assessed.get(i, {}).get("novelty")) for i in ok)
    hulls = {i: assessed[i]["e_above_hull"] for i in ok if assessed.get(i, {}).get("e_above_hull") is not None}
    sun = [i for i in unique if i in hulls and hulls[i] <= E_HULL_MAX
           and assessed[i].get("novelty") in ("known_composition", "new")]
    gaps = [assessed[i]["band_gap"] for i in ok if assessed.get(i, {}).get("band_gap") is not None]
    row = {
        "n_sampled": n,
        "n_decoded_records": len(decoded),
        "statuses": dict(Counter(str(r.get("status")) for r in decoded.values())),
        "decoded": len(ok) / n,
        "valid": len(valid) / n,
        "unique": len(unique) / n,
        "novelty_counts": {k: novelty.get(k, 0) for k in ("known", "known_composition", "new", "None")},
        "n_with_e_above_hull": len(hulls),
        "stable_0.1": sum(v <= E_HULL_MAX for v in hulls.values()) / n,
        "median_e_above_hull": statistics.median(hulls.values()) if hulls else None,
        "sun": len(sun) / n,
        "sun_count": len(sun),
        "sun_ci95": wilson_interval(len(sun), n),
        "sun_new_composition": sum(assessed[i]["novelty"] == "new" for i in sun),
        "sun_valid": sum(i in set(valid) for i in sun) / n,
        "sun_formulas": sorted(assessed[i]["formula"] for i in sun),
        "assessment_reasons": dict(Counter(assessed[i]["reason"].split(":")[0] for i in ok
                                           if assessed.get(i, {}).get("reason"))),
        "band_gap_n": len(gaps),
        "band_gap_mean": statistics.fmean(gaps) if gaps else None,
        "band_gap_median": statistics.median(gaps) if gaps else None,
        "band_gaps": [round(g, 3) for g in gaps],
        "median_decode_seconds": statistics.median(r["elapsed"] for r in decoded.values()
                                                   if r.get("elapsed") is not None) if decoded else None,
    }
    if target is not None:
        row["target_band_gap"] = target
        row["band_gap_accuracy"] = gap_accuracy(gaps, target)
    return row


def add_baselines(conditions: dict) -> None:
    """The unconditioned samples' band-gap accuracy against each target, as the baseline."""
    base = conditions.get("unconditioned", {}).get("band_gaps")
    for row in conditions.values():
        if base and "target_band_gap" in row:
            row["unconditioned_accuracy"] = gap_accuracy(base, row["target_band_gap"])


def fmt(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[dict], markdown: bool = False) -> str:
    """One table over the results files (rows: model label x condition)."""
    head = ["model", "condition", "n", "decoded", "valid", "unique", "known", "known comp.", "new", "S.U.N. (95% CI)",
            "S.U.N. new comp.", "S.U.N. valid", "gap mean", "gap MAE", "within 0.5 eV"]
    rows = []
    for res in results:
        for name, r in res["conditions"].items():
            acc = r.get("band_gap_accuracy", {})
            nc = r["novelty_counts"]
            rows.append([res["label"], name, str(r["n_sampled"]), fmt(r["decoded"]), fmt(r["valid"]), fmt(r["unique"]), str(nc["known"]),
                         str(nc["known_composition"]), str(nc["new"]), fmt(r["sun"]) + (" ({:.2f}-{:.2f})".format(*r["sun_ci95"]) if "sun_ci95" in r else ""),
                         str(r["sun_new_composition"]),
                         fmt(r["sun_valid"]), fmt(r["band_gap_mean"]), fmt(acc.get("mae")),
                         fmt(acc.get("within_0.5_eV"))])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(x.rjust(w) if k > 1 else x.ljust(w) for k, (x, w) in enumerate(zip(r, widths)))
                     for r in [head, *rows])


def check_same_setup(results: dict, model_sha: str, route: dict, out: Path) -> None:
    """Refuse to add to a results file made with another checkpoint or another decode route (no mixed tables)."""
    if not results:
        return
    if results.get("model_sha256") != model_sha:
        raise SystemExit(f"{out} holds results of another checkpoint; use another --label")
    if results.get("decode_route") != route:
        raise SystemExit(f"{out} was decoded on another route ({results.get('decode_route')}, now {route}); "
                         "use another --label and --run-dir")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped data/model/slices_gpt.pt)")
    parser.add_argument("--label", default="v1", help="names the results file generative_sun_<label>.json")
    parser.add_argument("--n", type=int, default=100, help="samples per condition (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS),
                        help=f"comma-separated, of {', '.join(CONDITIONS)} (default: the unguided ones)")
    parser.add_argument("--workers", type=int, default=2, help="decode processes (default 2)")
    parser.add_argument("--round", type=int, default=20, help="candidates per condition per round (default 20)")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="measure only the first this many of each condition in this call (default --n); a later "
                        "call continues")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per decode (default 120)")
    parser.add_argument("--run-dir", default=str(ROOT / "benchmarks" / ".runs"),
                        help="where the per-candidate JSONL files go (default benchmarks/.runs)")
    parser.add_argument("--compare", default=None, help="comma-separated labels: print one table from their results "
                        "files (markdown with --markdown) and exit")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    if args.compare:
        paths = [RESULTS / f"generative_sun_{label}.json" for label in args.compare.split(",")]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            parser.error(f"no results file {', '.join(missing)}: run the benchmark with that --label first")
        results = [json.loads(p.read_text()) for p in paths]
        print(table(results, args.markdown))
        return 0
    names = args.conditions.split(",")
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        parser.error(f"unknown conditions {unknown}; choose from {list(CONDITIONS)}")

    from generative.checkpoint import DEFAULT_MODEL, load_model
    from relax.potential import DEFAULT_POTENTIAL
    from relax.reconstruct import DEFAULT_STAGES, POTENTIAL_SETTINGS

    model_path = Path(args.model) if args.model else DEFAULT_MODEL
    model_sha = file_sha256(model_path)
    bundle = load_model(model_path)
    out = RESULTS / f"generative_sun_{args.label}.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    # The decoder's route (its default stages and the potential's fmax) decides the crystals: one label, one route.
    route = {"stages": list(DEFAULT_STAGES), "potential_fmax": POTENTIAL_SETTINGS.fmax}
    check_same_setup(results, model_sha, route, out)
    results.update({
        "label": args.label, "model": str(model_path), "model_sha256": model_sha, "n_params": bundle.model.n_params(),
        "potential": DEFAULT_POTENTIAL, "decode_route": route, "n": args.n, "seed": args.seed,
        "time_limit": args.time_limit,
        "e_hull_max": E_HULL_MAX, "hull": "ours: MP formation energies + the potential's formation energy "
        "(screening.hull), not DFT", "assess": "screening.assess(relax=False, energies=decoder's energy per atom)",
    })
    results.setdefault("conditions", {})
    del bundle
    runs = [Path(args.run_dir) / f"sun_{args.label}_{model_sha[:8]}" / name for name in names]
    strings = []
    for name, run in zip(names, runs):
        run.mkdir(parents=True, exist_ok=True)
        strings.append(sample_strings(run, name, args.n, args.seed, model_path, model_sha))
    # Rounds over all conditions, so that an interrupted run (scarce CPU) leaves every condition measured on the
    # same number of samples: the first --round of each, then the next, ...
    stop = min(args.stop_after or args.n, args.n)
    for upto in sorted({min(k, stop) for k in range(args.round, stop + args.round, args.round)}):
        decode_round(runs, strings, upto, args.workers, args.time_limit, DEFAULT_POTENTIAL)
        for name, run in zip(names, runs):
            decoded = {i: r for i, r in read_jsonl(run / "decoded.jsonl").items() if i < upto}
            assessed = assess_all(run, decoded, DEFAULT_POTENTIAL)
            row = summarize(upto, decoded, assessed, duplicates(decoded), CONDITIONS[name].get("band_gap"))
            row["condition"] = CONDITIONS[name]
            results["conditions"][name] = row
        results["conditions"] = {k: results["conditions"][k] for k in CONDITIONS if k in results["conditions"]}
        add_baselines(results["conditions"])
        out.write_text(json.dumps(results, indent=1))
        print(f"  first {upto} of each condition done: " + ", ".join(
            f"{name} S.U.N. {results['conditions'][name]['sun']:.2f}" for name in names), file=sys.stderr)
    candidates = RESULTS / f"generative_sun_{args.label}_candidates.jsonl.gz"
    export_candidates(candidates, names, runs, stop)
    print(f"\nmodel {args.label} ({results['model']}, {results['n_params']:,} parameters), {args.n} samples per "
          f"condition; S.U.N. against our hull (e_above_hull <= {E_HULL_MAX} eV/atom)")
    print(table([results]))
    print(f"wrote {out} and {candidates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
