"""Small real crystals and matchers shared by the reconstruction tests."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from shared_paths import SHARED_DATA

warnings.filterwarnings("ignore", module="pymatgen")

ROOT = Path(__file__).resolve().parent.parent
DEV_CSV = SHARED_DATA / "mp20" / "dev_1000.csv.gz"

LOOSE = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10, primitive_cell=True, scale=True, attempt_supercell=False)
LOOSE_NOSCALE = StructureMatcher(
    ltol=0.3, stol=0.5, angle_tol=10, primitive_cell=True, scale=False, attempt_supercell=False
)
STRICT = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False)


def rock_salt(a: float = 5.64, species=("Na", "Cl")) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), list(species), [[0, 0, 0], [0.5, 0.5, 0.5]])


def diamond(a: float = 5.43) -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])


def perovskite(a: float = 3.905) -> Structure:
    return Structure(Lattice.cubic(a), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def wurtzite(a: float = 3.25, c: float = 5.21, u: float = 0.382) -> Structure:
    return Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(a, c), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, u]])


CRYSTALS = {"rock_salt": rock_salt, "diamond": diamond, "perovskite": perovskite, "wurtzite": wurtzite}


def dev_rows(ids: list[str]) -> dict[str, Structure]:
    """Structures of the named MP-20 dev rows (skips when the shared data is not there)."""
    if not DEV_CSV.exists():
        pytest.skip(f"shared data not found at {DEV_CSV}")
    import pandas as pd

    frame = pd.read_csv(DEV_CSV)
    frame = frame[frame["material_id"].isin(ids)]
    return {m: Structure.from_str(c, fmt="cif") for m, c in zip(frame["material_id"], frame["cif"])}


def require_model() -> None:
    folder = Path(os.environ["SLICES_MODEL_DIR"]) / "M3GNet-MatPES-PBE-v2025.1-PES"
    if not folder.is_dir():
        pytest.skip(f"matgl model not found at {folder}; set SLICES_MODEL_DIR")
