"""Benchmark the shipped generative model: validity, compositional validity, uniqueness, novelty, throughput.

    python benchmarks/bench_generative.py [--n 1000] [--decode] [--model PATH]

Samples ``--n`` strings per condition (unconditioned, and conditioned on band gap / formation energy) on one core and
measures: syntactic validity (parses and is a connected 3D net), SMACT compositional validity (CDVAE protocol; the
MP-20 training pool is scored the same way for comparison), uniqueness (distinct canonical strings), novelty
(canonical strings absent from the training set), sampling throughput (median over batches, wall clock and this
process's CPU time, which is the fairer figure on a shared machine), and the model's recorded training time. The
conditions include chemistry-aware sampling (``valid_composition``, ``elements``, ``max_atoms``). ``--decode`` adds,
on a ``--decode-n`` subset, the fraction that decode to 3D structures and
the band gap predicted for them (matgl MEGNet) and, for the band-gap conditions, the conditioning accuracy (MAE
and share within 0.5 eV of the target, against unconditioned samples as the baseline).
Prints a table and writes ``benchmarks/results/generative.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "generative.json"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from generative.checkpoint import DEFAULT_MODEL, load_model  # noqa: E402
from generative.metrics import composition_valid, is_all_metal  # noqa: E402
from generative.sampling import sample  # noqa: E402
from slices.errors import SlicesError  # noqa: E402
from slices.graph import parse  # noqa: E402

TRAIN_POOL = ROOT.parent / "shared" / "data" / "mp20" / "train_pool.csv.gz"
TRAIN_STRINGS = ROOT / "data" / "model" / "train_strings.csv.gz"
CONDITIONS = {
    "unconditioned": {},
    "band_gap=0": {"band_gap": 0.0},
    "band_gap=2": {"band_gap": 2.0},
    "band_gap=4": {"band_gap": 4.0},
    "band_gap=2+eform=-2": {"band_gap": 2.0, "formation_energy": -2.0},
    "band_gap=0+guidance=2": {"band_gap": 0.0, "guidance": 2.0},
    "band_gap=4+guidance=2": {"band_gap": 4.0, "guidance": 2.0},
    "unconditioned+canonical": {"canonical": True},  # samples without a canonical form are redrawn
    # chemistry-aware sampling: element blocks failing SMACT are redrawn; a chemical system; a size cap
    "unconditioned+valid_composition": {"valid_composition": True},
    "band_gap=2+valid_composition": {"band_gap": 2.0, "valid_composition": True},
    "Li-Fe-P-O+max_atoms=12+valid_composition": {"elements": ["Li", "Fe", "P", "O"], "max_atoms": 12,
                                                 "valid_composition": True},
}

DECODE_CONDITIONS = ("unconditioned", "band_gap=0", "band_gap=2", "band_gap=4", "band_gap=0+guidance=2",
                     "band_gap=4+guidance=2")


def canonical_or_none(s: str) -> str | None:
    from slices import canonical

    try:
        return canonical(s)
    except SlicesError:
        return None


def species_of(s: str) -> list[str]:
    return list(parse(s).species)


def mp20_reference() -> dict:
    """Compositional validity of the MP-20 training pool (all crystals, and the 3D-encodable subset)."""
    pool = pd.read_csv(TRAIN_POOL, usecols=["cif"])
    from pymatgen.core import Composition

    valid = []
    for cif in pool["cif"]:
        formula = re.search(r"_chemical_formula_sum\s+'?([^'\n]+)'?", cif).group(1)
        comp = Composition(formula)
        valid.append(composition_valid([str(e) for e, n in comp.items() for _ in range(int(round(n)))]))
    strings = pd.read_csv(TRAIN_STRINGS)["slices"].tolist()
    valid3d = [composition_valid(species_of(s)) for s in strings]
    return {"n_crystals": len(valid), "composition_validity": float(np.mean(valid)),
            "n_3d_encoded": len(strings), "composition_validity_3d_encoded": float(np.mean(valid3d)),
            "all_metal_fraction_3d_encoded": float(np.mean([is_all_metal(species_of(s)) for s in strings]))}


def evaluate(strings: list[str], train_canon: set[str]) -> dict:
    valid, comp_ok, metal, canon, atoms = 0, [], [], [], []
    for s in strings:
        try:
            g = parse(s)
            g.check_embeddable()
        except SlicesError:
            continue
        valid += 1
        comp_ok.append(composition_valid(g.species))
        metal.append(is_all_metal(g.species))
        atoms.append(g.n_atoms)
        canon.append(canonical_or_none(s))
    known = [c for c in canon if c is not None]
    n = len(strings)
    return {
        "n": n,
        "syntactic_validity": valid / n,
        "composition_validity": float(np.mean(comp_ok)),
        "uniqueness": len(set(known)) / n,
        "novelty": sum(c not in train_canon for c in known) / n,
        "novel_unique": len({c for c in known if c not in train_canon}) / n,
        "canonical_fraction": len(known) / n,
        "uniqueness_among_canonical": len(set(known)) / max(len(known), 1),
        "all_metal_fraction": float(np.mean(metal)),
        "mean_atoms": float(np.mean(atoms)),
    }


def structurally_valid(structure) -> bool:
    """CDVAE's structural validity: every interatomic distance above 0.5 A and a cell volume above 0.1 A^3."""
    if structure.volume <= 0.1:
        return False
    if len(structure) < 2:
        return True
    dist = structure.distance_matrix
    np.fill_diagonal(dist, np.inf)
    return bool(dist.min() > 0.5)


def _decode_one(args: tuple[str, float]) -> tuple[str, float, object | None, bool]:
    """Decode one string in a worker: (status, seconds, structure as dict or None, topology kept)."""
    import warnings

    import torch as _torch

    from slices.decode import decode_report

    warnings.filterwarnings("ignore")
    _torch.set_num_threads(1)
    string, time_limit = args
    t0 = time.time()
    report = decode_report(string, time_limit=time_limit)
    ok = report.structure is not None and report.ok
    return report.status, time.time() - t0, report.structure.as_dict() if ok else None, bool(report.topology_ok)


def decode_metrics(strings: list[str], time_limit: float, workers: int = 2) -> dict:
    """Decode a subset (over ``workers`` processes) and predict band gaps; returns the measurements."""
    from concurrent.futures import ProcessPoolExecutor

    from pymatgen.core import Structure

    from screening.properties import predict_band_gap

    structures, statuses, times, topology = [], Counter(), [], []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for status, seconds, structure, kept in pool.map(_decode_one, [(s, time_limit) for s in strings]):
            times.append(seconds)
            statuses[status] += 1
            if structure is not None:
                structures.append(Structure.from_dict(structure))
                topology.append(kept)
    n = len(strings)
    result = {"measured": True, "n": n, "decoded_fraction": len(structures) / n, "statuses": dict(statuses),
              "topology_kept_fraction": sum(topology) / n,
              "structural_validity": sum(structurally_valid(x) for x in structures) / n,
              "median_decode_seconds": statistics.median(times)}
    if structures:
        try:
            gaps = np.asarray(predict_band_gap(structures), dtype=float)
        except Exception as exc:
            result["band_gap_error"] = f"{type(exc).__name__}: {exc}"
        else:
            result.update(predicted_band_gap_mean=float(np.nanmean(gaps)),
                          predicted_band_gap_median=float(np.nanmedian(gaps)),
                          predicted_band_gaps=[round(float(g), 3) for g in gaps])
    return result


def conditioning_accuracy(conditions: dict) -> dict:
    """Band gap of decoded samples (MEGNet) against each band-gap target: MAE and share within 0.5 eV, for the
    samples conditioned on that target and, as the baseline, for the unconditioned samples."""
    def gaps(name):
        d = conditions.get(name, {}).get("decode") or {}
        return np.asarray(d.get("predicted_band_gaps", []), dtype=float)

    base = gaps("unconditioned")
    out = {}
    for name, row in conditions.items():
        cond = row.get("condition", {})
        if "band_gap" not in cond or "formation_energy" in cond or not len(gaps(name)):
            continue
        target, got = cond["band_gap"], gaps(name)
        out[name] = {"target": target, "n": int(len(got)), "mae": float(np.mean(np.abs(got - target))),
                     "within_0.5_eV": float(np.mean(np.abs(got - target) <= 0.5))}
        if len(base):
            out[name].update({"unconditioned_mae": float(np.mean(np.abs(base - target))),
                              "unconditioned_within_0.5_eV": float(np.mean(np.abs(base - target) <= 0.5))})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="samples per condition (default 1000)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--batch-size", type=int, default=500, help="samples per batch, each timed (default 500)")
    parser.add_argument("--decode", action="store_true", help="also decode a subset and predict band gaps")
    parser.add_argument("--decode-n", type=int, default=100, help="subset size for --decode (default 100)")
    parser.add_argument("--decode-conditions", default=",".join(DECODE_CONDITIONS),
                        help="comma-separated conditions to decode (default: unconditioned, the band gaps 0/2/4 eV "
                        "and the two guided ones)")
    parser.add_argument("--decode-time-limit", type=float, default=60.0, help="seconds per decode (default 60)")
    parser.add_argument("--decode-workers", type=int, default=2, help="processes for decoding (default 2)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated conditions to sample (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    bundle = load_model(args.model)
    train_strings = pd.read_csv(TRAIN_STRINGS)["slices"].tolist()
    t0 = time.time()
    train_canon = {c for c in map(canonical_or_none, train_strings) if c is not None}
    canon_seconds = time.time() - t0
    results = {"model": str(args.model or DEFAULT_MODEL.relative_to(ROOT)), "n_params": bundle.model.n_params(),
               "training": {k: bundle.info.get(k) for k in ("train_minutes", "steps", "best_val_loss", "stop_reason",
                                                              "torch_threads", "n_train_sequences")},
               "train_set_canonical": {"n_strings": len(train_strings), "n_distinct": len(train_canon),
                                       "seconds": round(canon_seconds, 1)},
               "mp20_reference": mp20_reference(), "conditions": {}}
    if args.decode:
        os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    for name in args.conditions.split(","):
        cond = CONDITIONS[name]
        strings, rates, cpu_rates = [], [], []
        seed = 0
        while len(strings) < args.n:
            b = min(args.batch_size, args.n - len(strings))
            t, c = time.perf_counter(), time.process_time()
            strings += sample(b, seed=seed, model=bundle, batch_size=b, **cond)
            rates.append(b / (time.perf_counter() - t))
            cpu_rates.append(b / (time.process_time() - c))
            seed += 1
        row = evaluate(strings, train_canon)
        row["strings_per_second"] = statistics.median(rates)  # wall clock, median over the batches
        row["strings_per_cpu_second"] = statistics.median(cpu_rates)  # this process's CPU time (shared machines)
        row["batches"] = len(rates)
        row["load_average_1min"] = os.getloadavg()[0]
        row["condition"] = cond
        if args.decode and name in args.decode_conditions.split(","):
            row["decode"] = decode_metrics(strings[: args.decode_n], args.decode_time_limit, args.decode_workers)
        results["conditions"][name] = row
        RESULTS.write_text(json.dumps(results, indent=1))  # partial results survive an interrupted run
        print(f"  {name}: done", file=sys.stderr)
    if not args.decode:
        results["decode"] = {"measured": False, "reason": "run with --decode"}
    else:
        results["conditioning_accuracy"] = conditioning_accuracy(results["conditions"])

    cols = ["syntactic_validity", "canonical_fraction", "composition_validity", "uniqueness", "novelty",
            "all_metal_fraction", "mean_atoms", "strings_per_second", "strings_per_cpu_second"]
    print(f"\nmodel {results['model']} ({results['n_params']:,} parameters), {args.n} samples per condition, 1 core")
    print(f"{'condition':<42}" + "".join(f"{c[:11]:>12}" for c in cols))
    for name, row in results["conditions"].items():
        print(f"{name:<42}" + "".join(f"{row[c]:>12.3f}" for c in cols))
    ref = results["mp20_reference"]
    print(f"{'MP-20 train pool':<42}{'':>24}{ref['composition_validity']:>12.3f}"
          f"   (3D-encodable subset: {ref['composition_validity_3d_encoded']:.3f}; all-metal "
          f"{ref['all_metal_fraction_3d_encoded']:.3f})")
    tr = results["training"]
    print(f"training: {tr['train_minutes']} min, {tr['steps']} steps, best val loss {tr['best_val_loss']}")
    if args.decode:
        for name, row in results["conditions"].items():
            d = row.get("decode")
            if d is None:
                continue
            if d.get("measured"):
                print(f"decode {name} ({d['n']}): decoded {d['decoded_fraction']:.2f}, topology kept "
                      f"{d['topology_kept_fraction']:.2f}, structurally valid {d['structural_validity']:.2f}, "
                      f"predicted band gap mean {d.get('predicted_band_gap_mean', float('nan')):.2f} eV "
                      f"(median {d.get('predicted_band_gap_median', float('nan')):.2f}); statuses {d['statuses']}")
            else:
                print(f"decode {name}: not measured ({d['reason']})")
        for name, acc in results.get("conditioning_accuracy", {}).items():
            print(f"conditioning {name}: MAE {acc['mae']:.2f} eV, within 0.5 eV {acc['within_0.5_eV']:.2f} "
                  f"(unconditioned: MAE {acc.get('unconditioned_mae', float('nan')):.2f}, within "
                  f"{acc.get('unconditioned_within_0.5_eV', float('nan')):.2f}; n {acc['n']})")
    RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
