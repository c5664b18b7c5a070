"""Which canonical strings the default bond finder (``econ_covalent``) changes against ECoN alone (``econ``), and why.

For every crystal of the MP-20 dev set (1,000), MP 21-40 (300), QMOF (140), and the MP-20 rows matched to the
reference implementation's 1,432 strings (by formation energy and band gap, as ``bench_codec.py`` does): encode
with both finders, count identical and changed strings, and for each changed one record the bonds the covalent
rule added (element pair, shortest distance) and the contact count before and after. Prints a table and writes
``benchmarks/results/bond_change.json``.

    python benchmarks/bench_bond_change.py [--n 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_codec import reference_rows  # noqa: E402  (one matching rule for the reference's strings)

SETS = {"mp20_dev_1000": "mp20/dev_1000.csv.gz", "mp21_40_dev_300": "mp21_40/dev_300.csv.gz",
        "qmof_dev_140": "qmof/dev_140.csv.gz"}


def shared_data() -> Path:
    return Path(os.environ.get("SLICES_SHARED_DATA", ROOT.parent / "shared" / "data"))


def added_bonds(structure) -> list[tuple[str, float]]:
    """(element pair, distance) of each bond ``econ_covalent`` finds and ECoN does not, in the primitive cell."""
    from slices.bonds import econ_bonds, econ_covalent_bonds
    from slices.encode import primitive

    prim = primitive(structure)
    old = {(i, j, tuple(t)) for (i, j), t in zip(*(x.tolist() for x in econ_bonds(prim)))}
    edges, images = econ_covalent_bonds(prim)
    out = []
    for (i, j), t in zip(edges.tolist(), images.tolist()):
        if (i, j, tuple(t)) not in old:
            d = float(np.linalg.norm(prim.lattice.get_cartesian_coords(prim[j].frac_coords + t - prim[i].frac_coords)))
            out.append(("-".join(sorted((prim[i].specie.symbol, prim[j].specie.symbol))), round(d, 3)))
    return out


def compare(cifs: list[str], ids: list[str], reference: list[str] | None = None) -> dict:
    """Encode each CIF with both finders; counts and the changed crystals with their added bonds."""
    from pymatgen.core import Structure
    from tqdm import tqdm

    import slices

    counts: Counter = Counter()
    changed = []
    pairs: Counter = Counter()
    for k, (cid, cif) in enumerate(tqdm(list(zip(ids, cifs)), file=sys.stderr, leave=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(cif, fmt="cif")
        try:
            old = slices.encode(structure, bonds="econ")
            new = slices.encode(structure)
        except slices.SlicesError as exc:
            counts[f"not_encoded:{getattr(exc, 'reason', type(exc).__name__)}"] += 1
            continue
        counts["encoded"] += 1
        if reference is not None:
            try:
                theirs = slices.canonical(reference[k])
                counts["identical_to_reference_econ"] += old == theirs
                counts["identical_to_reference_econ_covalent"] += new == theirs
            except slices.SlicesError:
                counts["reference_not_canonical"] += 1
        if old == new:
            counts["identical"] += 1
            continue
        counts["changed"] += 1
        added = added_bonds(structure)
        kinds = sorted({p for p, _ in added})
        pairs.update(kinds)
        before, after = slices.parse(old).contacts.sum(), slices.parse(new).contacts.sum()
        counts["changed_fewer_contacts"] += int(after < before)
        counts["changed_no_contacts_left"] += int(before > 0 and after == 0)
        changed.append({"id": cid, "formula": structure.composition.reduced_formula, "added_pairs": kinds,
                        "shortest_added": {p: min(d for q, d in added if q == p) for p in kinds},
                        "contacts_before": int(before), "contacts_after": int(after)})
    return {"counts": dict(counts), "changed_by_pair": dict(pairs.most_common()), "changed": changed}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=0, help="first n crystals of each set (0 = all)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bond_change.json"))
    args = parser.parse_args(argv)
    data = shared_data()
    result = {"config": {"n": args.n, "old": "econ", "new": "econ_covalent"}}
    for name, path in SETS.items():
        frame = pd.read_csv(data / path, keep_default_na=False)
        frame = frame.head(args.n) if args.n else frame
        id_col = "qmof_id" if "qmof_id" in frame else "material_id"
        result[name] = compare(list(frame.cif), [str(i) for i in frame[id_col]])
    cifs, strings = reference_rows(data)
    if args.n:
        cifs, strings = cifs[:args.n], strings[:args.n]
    result["reference_1432_matched"] = compare(cifs, [f"ref{k}" for k in range(len(cifs))], strings)
    print(f"{'set':<26}{'encoded':>9}{'identical':>11}{'changed':>9}  fewer contacts  pairs added")
    for name in (*SETS, "reference_1432_matched"):
        c = result[name]["counts"]
        print(f"{name:<26}{c.get('encoded', 0):>9}{c.get('identical', 0):>11}{c.get('changed', 0):>9}"
              f"  {c.get('changed_fewer_contacts', 0):>14}  {result[name]['changed_by_pair']}")
    ref = result["reference_1432_matched"]["counts"]
    print(f"reference strings identical to ours: econ {ref.get('identical_to_reference_econ', 0)}, "
          f"econ_covalent {ref.get('identical_to_reference_econ_covalent', 0)} (of {ref.get('encoded', 0)})")
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
