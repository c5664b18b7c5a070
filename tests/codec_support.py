"""Real crystals for the codec tests: pymatgen's bundled AFLOW prototypes and the shared MP-20 / reference data."""

from __future__ import annotations

import gzip
import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from shared_paths import SHARED_DATA


@lru_cache(maxsize=None)
def aflow_prototypes() -> tuple[tuple[str, Structure], ...]:
    """(AFLOW label, structure) for the 288 prototypes that ship with pymatgen."""
    import pymatgen.analysis.prototypes as prototypes
    from pymatgen.util.provenance import StructureNL

    path = Path(prototypes.__file__).with_name("aflow_prototypes.json.gz")
    with gzip.open(path) as handle:
        entries = json.load(handle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple((e["tags"]["aflow"], StructureNL.from_dict(e["snl"]).structure) for e in entries)


def shared_csv(relative: str):
    """A shared data table, or a skip naming what is missing."""
    import pandas as pd

    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data {path} is not present (set SLICES_SHARED_DATA)")
    return pd.read_csv(path)


def from_cif(cif: str) -> Structure:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(cif, fmt="cif")


def rock_salt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def diamond() -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])


def zincblende() -> Structure:
    return Structure.from_spacegroup("F-43m", Lattice.cubic(5.45), ["Ga", "As"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def cesium_chloride() -> Structure:
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def perovskite() -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    )


def wurtzite() -> Structure:
    return Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]
    )


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def disguise(structure: Structure, rng: np.random.Generator, supercell=None) -> Structure:
    """The same crystal, rotated, translated, atoms shuffled, optionally as a supercell."""
    s = Structure(structure.lattice.matrix @ random_rotation(rng).T, structure.species, structure.frac_coords)
    s.translate_sites(list(range(len(s))), rng.random(3), frac_coords=True, to_unit_cell=True)
    if supercell is not None:
        s.make_supercell(supercell)
    order = rng.permutation(len(s))
    return Structure(s.lattice, [s.species[i] for i in order], s.frac_coords[order])
