"""Stage-by-stage diagnosis of framework reconstruction (QMOF): where does a round trip lose the crystal?

For each crystal (seeded choice from ``qmof/dev_140``): encode; then per stage (placement, GFN-FF, potential) the
volume per atom against the original's, the worst bond-length error against the original's own bonds, and the
loose/strict match with and without hydrogens (the matcher's view of H); plus two controls that separate the
stages' faults from the potential's: the potential relaxing the ORIGINAL crystal (does it keep it?), and the bond
table's targets against the original's bond lengths per element pair (are the targets right for organics?).
Writes ``benchmarks/results/diagnose_frameworks.json`` and prints a table.

    python benchmarks/diagnose_frameworks.py --n 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_reconstruction_vs_reference import MATCHERS, select  # noqa: E402


def _without_h(structure):
    s = structure.copy()
    s.remove_species(["H"])
    return s


def _matches(matchers, original, rebuilt) -> dict[str, bool]:
    out = {}
    for key, m in matchers.items():
        out[key] = bool(m.fit(original, rebuilt))
        out[f"{key}_noH"] = bool(m.fit(_without_h(original), _without_h(rebuilt)))
    return out


def _bond_lengths(graph, structure) -> np.ndarray:
    """Length of each graph edge in ``structure`` (same atom order as the graph's; stage structures are wrapped
    into the cell, so the shortest image of each pair is taken)."""
    frac = structure.frac_coords
    d = frac[graph.edges[:, 1]] - frac[graph.edges[:, 0]]
    d = (d - np.round(d)) @ structure.lattice.matrix
    return np.linalg.norm(d, axis=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="qmof")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "diagnose_frameworks.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    import warnings

    import torch
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure
    from tqdm import tqdm

    import slices
    from relax.bondtable import bond_length
    from relax.reconstruct import STAGES, reconstruct
    from relax import relax_structure
    from slices.encode import structure_graph

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    matchers = {k: StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False, **kw)
                for k, kw in MATCHERS.items()}
    pair_ratio = defaultdict(list)  # element pair -> original length / target
    rows = []
    for task in tqdm(select(args.set, args.n, args.seed), file=sys.stderr):
        original = Structure.from_str(task["cif"], fmt="cif")
        row = {"id": task["id"], "formula": original.composition.reduced_formula, "natoms": len(original),
               "v_orig": original.volume / len(original)}
        try:
            string = slices.encode(original)
        except slices.SlicesError as exc:
            row["encode"] = getattr(exc, "reason", type(exc).__name__)
            rows.append(row)
            continue
        graph = slices.parse(string)
        # the potential on the original crystal: does it keep it?
        t0 = time.perf_counter()
        run = relax_structure(original)
        relaxed = run.structure
        row["orig_relaxed"] = {"status": run.status, "v": relaxed.volume / len(relaxed), "s": time.perf_counter() - t0,
                               **_matches(matchers, original, relaxed)}
        # bond targets vs the original's bonds: the encoder's graph, in the original's atom order
        own = structure_graph(original, reduce=False)
        for (i, j), length in zip(own.edges.tolist(), _bond_lengths(own, original)):
            a, b = sorted((own.species[i], own.species[j]))
            pair_ratio[f"{a}-{b}"].append(float(length / bond_length(a, b)))
        r = reconstruct(graph.species, graph.edges, graph.images, time_limit=600, stages=STAGES)
        row["status"] = r.status
        row["stage_status"] = r.stage_status
        row["stage_s"] = {k: round(v, 2) for k, v in r.stage_times.items()}
        row["potential_start"] = r.potential_start
        row["potential_energies"] = r.potential_energies
        targets = np.array([bond_length(graph.species[i], graph.species[j]) for i, j in graph.edges.tolist()])
        row["stages"] = {}
        for stage, s in r.stage_structures.items():
            lengths = _bond_lengths(graph, s)
            rel = lengths / targets - 1
            row["stages"][stage] = {"v": s.volume / len(s), "bond_err_max": float(np.abs(rel).max()),
                                    "bond_err_median": float(np.median(np.abs(rel))),
                                    **_matches(matchers, original, s)}
        rows.append(row)
        with open(args.out + ".partial", "a") as handle:
            handle.write(json.dumps(row, default=str) + "\n")
    pairs = {k: {"n": len(v), "median_ratio": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}
             for k, v in sorted(pair_ratio.items())}
    Path(args.out).write_text(json.dumps({"config": vars(args), "pair_length_over_target": pairs, "rows": rows},
                                         default=str, indent=1))
    print_table(rows, pairs)
    print(f"wrote {args.out}")


def print_table(rows: list[dict], pairs: dict) -> None:
    """One line per crystal: encode, per-stage volume ratio and loose match (with / without H), the control."""
    print(f"{'id':<16}{'formula':<18}{'n':>3}  {'orig->pot':>10}  " + "  ".join(f"{s:>16}" for s in
          ("placement", "gfnff", "potential")) + "  start")
    for r in rows:
        if "encode" in r:
            print(f"{r['id']:<16}{r['formula']:<18}{r['natoms']:>3}  encode refused: {r['encode']}")
            continue
        o = r["orig_relaxed"]
        cells = []
        for stage in ("placement", "gfnff", "potential"):
            s = r["stages"].get(stage)
            cells.append(f"{s['v'] / r['v_orig']:5.2f} L{int(s['loose'])}{int(s['loose_noH'])} "
                         f"S{int(s['strict'])}{int(s['strict_noH'])}" if s else
                         f"{r['stage_status'].get(stage, '-'):>16}")
        print(f"{r['id']:<16}{r['formula']:<18}{r['natoms']:>3}  {o['v'] / r['v_orig']:5.2f} L{int(o['loose'])}"
              f"{int(o['loose_noH'])}  " + "  ".join(f"{c:>16}" for c in cells) + f"  {r.get('potential_start')}")
    bad = {k: v for k, v in pairs.items() if abs(v["median_ratio"] - 1) > 0.05}
    print("pairs whose original length is > 5% off the target (median ratio):",
          {k: round(v["median_ratio"], 2) for k, v in bad.items()})


if __name__ == "__main__":
    main()
