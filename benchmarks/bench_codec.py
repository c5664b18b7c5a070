"""Codec benchmark: encode throughput, encodable fraction, invariance, agreement with the reference strings,
encodable fraction of the larger-cell and framework dev sets with and without contacts, and the time to
canonicalise 500- and 1,000-atom cells.

    python benchmarks/bench_codec.py [--data SHARED_DATA] [--n 1000] [--repeats 3]

Prints a table and writes benchmarks/results/codec.json. Run with OMP_NUM_THREADS=1 for one-core numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure
from tqdm import tqdm

import slices
from slices.encode import structure_graph
from slices.graph import SlicesGraph
from slices.transforms import permute_atoms, supercell

HERE = Path(__file__).resolve().parent


def load_structures(path: Path, n: int) -> tuple[pd.DataFrame, list[Structure]]:
    table = pd.read_csv(path, keep_default_na=False).head(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = [Structure.from_str(cif, fmt="cif") for cif in table.cif]
    return table, structures


def disguise(structure: Structure, rng: np.random.Generator) -> Structure:
    """Random rotation + translation + supercell + atom permutation of the same crystal."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    s = Structure(structure.lattice.matrix @ q.T, structure.species, structure.frac_coords)
    s.translate_sites(list(range(len(s))), rng.random(3), frac_coords=True, to_unit_cell=True)
    cells = ([2, 1, 1], [1, 2, 1], [[1, 1, 0], [0, 1, 0], [0, 0, 2]], [[1, 0, 0], [1, 1, 0], [0, 1, 2]])
    s.make_supercell(cells[rng.integers(len(cells))])
    order = rng.permutation(len(s))
    return Structure(s.lattice, [s.species[i] for i in order], s.frac_coords[order])


def encode_all(structures: list[Structure]) -> tuple[list[str | None], Counter, float]:
    strings, reasons = [], Counter()
    start = time.perf_counter()
    for s in structures:
        try:
            strings.append(slices.encode(s))
            reasons["ok"] += 1
        except slices.NotEmbeddableError as exc:
            strings.append(None)
            reasons[exc.reason] += 1
        except slices.SlicesError as exc:
            strings.append(None)
            reasons[type(exc).__name__] += 1
    return strings, reasons, time.perf_counter() - start


def reference_rows(data: Path) -> tuple[list[str], list[str]]:
    """CIFs of the MP-20 rows that match exactly one of the reference's strings, and those strings."""
    ref = pd.read_csv(data / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz")
    pool = pd.concat([pd.read_csv(data / "mp20" / f) for f in ("train_pool.csv.gz", "dev_1000.csv.gz")])
    pool = pool.dropna(subset=["band_gap"])
    key = lambda e, g: (round(float(e), 6), round(float(g), 4))  # noqa: E731
    by_key: dict = {}
    for cif, e, g in zip(pool.cif, pool.formation_energy_per_atom, pool.band_gap):
        by_key.setdefault(key(e, g), []).append(cif)
    cifs, strings = [], []
    for string, e, g in zip(ref.SLICES, ref.eform, ref.bandgap):
        found = by_key.get(key(e, g))
        if found and len(found) == 1:
            cifs.append(found[0])
            strings.append(string)
    return cifs, strings


def reference_agreement(data: Path) -> dict:
    """Match reference strings to MP-20 rows by (formation energy, band gap) and compare canonical forms."""
    counts = Counter()
    for cif, string in zip(*reference_rows(data)):
        counts["matched"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(cif, fmt="cif")
        try:
            ours = slices.encode(structure)
            theirs = slices.canonical(string)
        except slices.SlicesError:
            counts["not_comparable"] += 1
            continue
        same_formula = sorted(slices.parse(ours).species) == sorted(slices.parse(theirs).species)
        counts["same_composition_and_cell"] += same_formula
        counts["identical_canonical_econ"] += ours == theirs
        try:
            counts["identical_canonical_crystalnn"] += slices.encode(structure, bonds="crystalnn") == theirs
        except slices.SlicesError:
            pass
    return dict(counts)


def encodable_by_set(data: Path) -> dict:
    """Per dev set: how many crystals the bonds alone refuse (``complete=False``), how many are refused with contacts
    (the default), and the reasons."""
    out = {}
    for name in ("mp20/dev_1000.csv.gz", "mp21_40/dev_300.csv.gz", "qmof/dev_140.csv.gz"):
        _, structures = load_structures(data / name, 10**9)
        row = {"n": len(structures)}
        for label, complete in (("bonds_only", False), ("with_contacts", True)):
            reasons, completed = Counter(), 0
            for s in tqdm(structures, desc=f"{name} {label}"):
                report = slices.check(s, complete=complete)
                reasons["ok" if report.ok else report.reason] += 1
                completed += report.completed
            row[label] = {"refused": len(structures) - reasons["ok"], "reasons": dict(reasons)}
            if complete:
                row[label]["completed_with_contacts"] = completed
        out[name.split(".")[0]] = row
    return out


def _large_graphs(data: Path, seed: int) -> dict[str, tuple[SlicesGraph, str | None]]:
    """500- and 1,000-atom graphs: supercells of real crystals (atoms shuffled), and doped ones (one atom's element
    changed, so no translation symmetry is left). Value: (graph, canonical string of the primitive crystal or None)."""
    rng = np.random.default_rng(seed)
    nacl = Structure.from_spacegroup("Fm-3m", [[5.64, 0, 0], [0, 5.64, 0], [0, 0, 5.64]], ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    diamond = Structure.from_spacegroup("Fd-3m", [[5.43, 0, 0], [0, 5.43, 0], [0, 0, 5.43]], ["Si"], [[0, 0, 0]])
    _, dev = load_structures(data / "mp20" / "dev_1000.csv.gz", 200)
    twenty = next(s for s in dev if len(s) == 20)
    ten = next(s for s in dev if len(s) == 10)
    cases = {
        "NaCl conventional x125 (1000)": (nacl, (5, 5, 5), False),
        "NaCl conventional x64 (512)": (nacl, (4, 4, 4), False),
        "Si conventional x125 (1000)": (diamond, (5, 5, 5), False),
        f"{twenty.composition.reduced_formula} x50 (1000)": (twenty, (5, 5, 2), False),
        f"{ten.composition.reduced_formula} x50 (500)": (ten, (5, 5, 2), False),
        f"{ten.composition.reduced_formula} x100 doped (1000)": (ten, (10, 5, 2), True),
        f"{ten.composition.reduced_formula} x50 doped (500)": (ten, (5, 5, 2), True),
    }
    graphs = {}
    for name, (structure, repeats, doped) in cases.items():
        graph = supercell(structure_graph(structure, reduce=False), repeats)
        graph = permute_atoms(graph, rng.permutation(graph.n_atoms))
        if doped:
            species = list(graph.species)
            species[0] = "Li" if species[0] != "Li" else "Na"
            graph = SlicesGraph(tuple(species), graph.edges, graph.images, graph.contacts)
        graphs[name] = (graph, None if doped else slices.encode(structure))
    return graphs


def large_cell_times(data: Path, repeats: int, seed: int) -> dict:
    """Seconds to canonicalise each large graph (all runs and the median), its size before and after reduction."""
    out = {}
    for name, (graph, primitive_string) in _large_graphs(data, seed).items():
        string = graph.to_string()
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            canonical = slices.canonical(string)
            runs.append(time.perf_counter() - start)
        out[name] = {
            "atoms": graph.n_atoms,
            "edges": graph.n_edges,
            "canonical_atoms": slices.parse(canonical).n_atoms,
            "same_as_primitive_crystal": None if primitive_string is None else canonical == primitive_string,
            "seconds_runs": runs,
            "seconds_median": float(np.median(runs)),
        }
        print(f"  {name}: {out[name]['seconds_median']:.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder (default: $SLICES_SHARED_DATA)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.data is None:
        from periodicnet.resources import shared_data_dir

        args.data = shared_data_dir()

    load_at_start = os.getloadavg()[0]  # other jobs on the machine slow every timing down; recorded with the result
    table, structures = load_structures(args.data / "mp20" / "dev_1000.csv.gz", args.n)
    slices.encode(structures[0])  # warm caches (element tables)
    rates, strings, reasons = [], None, None
    for _ in tqdm(range(args.repeats), desc="encode passes"):
        strings, reasons, seconds = encode_all(structures)
        rates.append(len(structures) / seconds)
    dim3 = table.slices_dim.values == 3
    ok = np.array([s is not None for s in strings])

    rng = np.random.default_rng(args.seed)
    invariant, tried = 0, 0
    for structure, string in tqdm(list(zip(structures, strings)), desc="invariance"):
        if string is None:
            continue
        tried += 1
        invariant += slices.encode(disguise(structure, rng)) == string
    idempotent = sum(slices.canonical(s) == s for s in strings if s is not None)

    agreement = reference_agreement(args.data)
    by_set = encodable_by_set(args.data)
    large = large_cell_times(args.data, args.repeats, args.seed)
    result = {
        "dataset": "mp20/dev_1000",
        "n_structures": len(structures),
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "load_average_1min_at_start_and_end": [load_at_start, os.getloadavg()[0]],
        "machine": platform.processor() or platform.machine(),
        "encode_structures_per_second_median": float(np.median(rates)),
        "encode_structures_per_second_runs": [float(r) for r in rates],
        "encodable_fraction_all": float(ok.mean()),
        "encodable_fraction_slices_dim3": float(ok[dim3].mean()),
        "n_slices_dim3": int(dim3.sum()),
        "failure_reasons": dict(reasons),
        "invariance_fraction": invariant / tried,
        "invariance_tried": tried,
        "canonical_idempotent_fraction": idempotent / tried,
        "reference_agreement": agreement,
        "encodable_by_set": by_set,
        "large_cells": large,
    }
    out = HERE / "results" / "codec.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    rows = [
        ("encode throughput (structures/s, median)", f"{result['encode_structures_per_second_median']:.1f}"),
        ("encodable, all rows", f"{result['encodable_fraction_all']:.3f}"),
        ("encodable, slices_dim == 3 rows", f"{result['encodable_fraction_slices_dim3']:.3f}"),
        ("invariance (rot+trans+perm+supercell)", f"{result['invariance_fraction']:.4f} of {tried}"),
        ("canonical idempotent", f"{result['canonical_idempotent_fraction']:.4f}"),
        ("reference strings matched to MP-20 rows", str(agreement.get("matched", 0))),
        ("  same composition and cell", str(agreement.get("same_composition_and_cell", 0))),
        ("  identical canonical string, our econ bonds", str(agreement.get("identical_canonical_econ", 0))),
        ("  identical canonical string, our crystalnn bonds", str(agreement.get("identical_canonical_crystalnn", 0))),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"failure reasons: {dict(reasons)}")
    for name, row in by_set.items():
        bonds_only, completed = row["bonds_only"], row["with_contacts"]
        print(f"{name}: refused with bonds only {bonds_only['refused']}/{row['n']} {bonds_only['reasons']}; "
              f"with contacts {completed['refused']}/{row['n']} {completed['reasons']}")
    for name, row in large.items():
        print(f"canonical of {name}: median {row['seconds_median']:.2f} s ({row['atoms']} atoms -> "
              f"{row['canonical_atoms']})")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
