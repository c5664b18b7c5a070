"""Known or new: a crystal against every structure and every composition in the shared data.

``novelty`` is

- ``"known"``: its structure matches a crystal of a structure set (equal canonical SLICES strings, the fast path,
  or pymatgen's ``StructureMatcher`` with default tolerances among crystals of the same reduced formula);
  ``known_id`` names that crystal (its database id, or ``<file>:<id>`` when the id has no database prefix);
- ``"known_composition"``: no structure matches, but its reduced formula is in a known-materials table or a
  structure set;
- ``"new"``: neither.

The structure sets are every CSV with a ``cif`` column under the shared data (:data:`STRUCTURE_SETS`, about 44k
crystals: MP-20, MP 21-40 atoms, perov-5, carbon-24, QMOF, MP binaries and elasticity crystals, samples of MP,
Alexandria, OQMD and AFLOW). The index (formula, id, canonical string, compact structure) is built once with a
progress bar (several minutes: every crystal is parsed and encoded) and cached on disk (:mod:`pipeline.cache`);
a lookup then costs milliseconds, plus about 10 ms per same-formula crystal the matcher has to compare.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.hull import shared_data_dir

STRUCTURE_SETS = (
    "mp20/train_pool.csv.gz", "mp20/dev_1000.csv.gz", "mp21_40/dev_300.csv.gz",
    "perov_5/train_1024.csv.gz", "perov_5/val.csv.gz", "perov_5/test.csv.gz",
    "carbon_24/val.csv.gz", "carbon_24/test.csv.gz", "qmof/dev_140.csv.gz",
    "structures/mp_binaries_2025_10k.csv.gz", "structures/mp_elasticity_3959.csv.gz",
    "structures/alexandria_binaries_1170.csv.gz", "structures/lemat_sample_mp_2473.csv.gz",
    "structures/lemat_sample_alexandria_2475.csv.gz", "structures/lemat_sample_oqmd_2487.csv.gz",
    "structures/lemat_sample_aflow_2203.csv.gz",
)
COMPOSITION_TABLES = (
    "known_materials/mp_formation_energy_132k.csv.gz", "known_materials/mp_formation_energy_2020_84k.csv.gz",
    "known_materials/mp_band_gap_106k.csv.gz", "known_materials/mp20_hull_35k.csv.gz",
)
NOVELTY = ("known", "known_composition", "new")
VOLUME_WINDOW = 0.3  # same-formula crystals whose volume per atom differs by more than 30% are not compared
_CACHE_VERSION = 1
_DATABASE_ID = re.compile(r"^[A-Za-z]+-")  # mp-123, oqmd-..., agm..., C-148264-... carry their database


@dataclass(frozen=True)
class KnownMatch:
    """The verdict for one crystal: ``novelty`` (see :data:`NOVELTY`), the matching crystal's id and how it matched
    (``"string"`` or ``"structure"``), or None for both when no structure matched."""

    novelty: str
    known_id: str | None = None
    matched_by: str | None = None


@dataclass
class _Crystal:
    """A known crystal in compact form (rebuilt into a pymatgen Structure only when the matcher needs it)."""

    id: str
    canonical: str | None
    lattice: np.ndarray
    species: tuple[str, ...]
    frac_coords: np.ndarray

    @property
    def volume_per_atom(self) -> float:
        return abs(float(np.linalg.det(self.lattice))) / len(self.species)

    def structure(self):
        from pymatgen.core import Structure

        return Structure(self.lattice, list(self.species), self.frac_coords)


def _known_id(raw: str, source: str) -> str:
    return raw if _DATABASE_ID.match(raw) else f"{source}:{raw}"


def _read_structure_set(path: Path, progress: bool) -> list[tuple[str, _Crystal]]:
    import pandas as pd
    from pymatgen.core import Structure
    from tqdm.auto import tqdm

    import slices

    table = pd.read_csv(path, keep_default_na=False)
    id_column = next((c for c in ("material_id", "qmof_id") if c in table.columns), None)
    source = path.name.split(".")[0]
    raw_ids = table[id_column].astype(str) if id_column else [str(k) for k in range(len(table))]
    out = []
    for raw, cif in tqdm(list(zip(raw_ids, table["cif"])), desc=f"known structures: {source}", unit="crystal",
                         disable=not progress, file=sys.stderr, leave=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CIF parser notes (rounded occupancies, ...)
            try:
                structure = Structure.from_str(cif, fmt="cif")
            except (ValueError, KeyError, IndexError):
                continue  # an unreadable CIF cannot match anything
        if not structure.is_ordered:
            continue
        try:
            canonical = slices.encode(structure)
        except slices.SlicesError:
            canonical = None  # not a 3D net: only the matcher can find it
        crystal = _Crystal(_known_id(raw, source), canonical, structure.lattice.matrix.copy(),
                           tuple(site.specie.symbol for site in structure), structure.frac_coords.copy())
        out.append((structure.composition.reduced_formula, crystal))
    return out


def _read_formulas(path: Path) -> set[str]:
    import pandas as pd
    from pymatgen.core import Composition

    table = pd.read_csv(path, keep_default_na=False, usecols=["formula"])
    out = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen notes missing electronegativities of noble gases
        for formula in table["formula"].unique():
            try:
                out.add(Composition(formula).reduced_formula)
            except (ValueError, KeyError):
                continue
    return out


class KnownIndex:
    """Known crystals by reduced formula, and known compositions; see the module docstring."""

    def __init__(self, crystals: dict[str, list[_Crystal]], formulas: set[str]):
        self.crystals = crystals
        self.formulas = formulas | set(crystals)
        self._structures: dict[int, object] = {}

    @classmethod
    def build(cls, data_dir: str | os.PathLike | None = None, structure_sets: Sequence[str] = STRUCTURE_SETS,
              composition_tables: Sequence[str] = COMPOSITION_TABLES, progress: bool = True) -> KnownIndex:
        """Read (or load from the disk cache) every structure set and composition table under ``data_dir``."""
        from tqdm.auto import tqdm

        from pipeline.cache import cached

        root = Path(data_dir) if data_dir is not None else shared_data_dir()
        paths = [root / p for p in (*structure_sets, *composition_tables)]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise PipelineError(f"known-materials data not found: {missing}; set SLICES_SHARED_DATA to the shared "
                                f"data folder")
        crystals: dict[str, list[_Crystal]] = {}
        for rel in tqdm(structure_sets, desc="known-structure index", unit="file", disable=not progress,
                        file=sys.stderr):
            path = root / rel
            items = cached(f"known-{path.name.split('.')[0]}", _CACHE_VERSION, [path],
                           functools.partial(_read_structure_set, path, progress))
            for formula, crystal in items:
                crystals.setdefault(formula, []).append(crystal)
        formulas: set[str] = set()
        for rel in composition_tables:
            formulas |= cached(f"formulas-{Path(rel).name.split('.')[0]}", _CACHE_VERSION, [root / rel],
                               functools.partial(_read_formulas, root / rel))
        return cls(crystals, formulas)

    @property
    def n_structures(self) -> int:
        return sum(len(v) for v in self.crystals.values())

    @property
    def n_formulas(self) -> int:
        return len(self.formulas)

    def _structure(self, crystal: _Crystal):
        key = id(crystal)
        if key not in self._structures:
            self._structures[key] = crystal.structure()
        return self._structures[key]

    def lookup(self, structure, canonical: str | None = None) -> KnownMatch:
        """Known, known composition or new (see :class:`KnownMatch`). ``canonical`` is the crystal's canonical
        SLICES string when the caller has it (else it is computed; None when the crystal has none)."""
        from pipeline.novelty import first_match

        formula = structure.composition.reduced_formula
        same_formula = self.crystals.get(formula, [])
        if same_formula:
            if canonical is None:
                import slices

                try:
                    canonical = slices.encode(structure)
                except slices.SlicesError:
                    canonical = None
            volume = structure.volume / len(structure)
            near = [c for c in same_formula if abs(c.volume_per_atom / volume - 1) <= VOLUME_WINDOW]
            match = first_match(structure, canonical, same_formula, near, lambda c: c.canonical, self._structure)
            if match is not None:
                crystal, by = match
                return KnownMatch("known", crystal.id, by)
        return KnownMatch("known_composition" if formula in self.formulas else "new")


@functools.lru_cache(maxsize=1)
def known_index(progress: bool = True) -> KnownIndex:
    """The process-wide index of the shared data (built and cached on disk on first use)."""
    return KnownIndex.build(progress=progress)
