"""Duplicates among candidates and novelty against the training data.

Two crystals are the same when their canonical SLICES strings are equal, or when pymatgen's ``StructureMatcher``
(default tolerances) matches them. Only crystals with the same reduced formula are compared.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from periodicnet.resources import SHARED_DATA_ENV, shared_data_dir

from pipeline.errors import PipelineError

T = TypeVar("T")
_FORMULA_SUM = re.compile(r"^_chemical_formula_sum\s+['\"]?([^'\"\n]+)['\"]?\s*$", re.MULTILINE)


def default_data_dir() -> Path:
    """The shared data folder: ``$SLICES_SHARED_DATA``, else ``../shared/data`` beside a source checkout
    (:func:`periodicnet.resources.shared_data_dir`)."""
    return shared_data_dir()


def default_train_data() -> Path:
    """``$SLICES_TRAIN_DATA``, else ``<data dir>/mp20/train_pool.csv.gz`` (see :func:`default_data_dir`)."""
    if os.environ.get("SLICES_TRAIN_DATA"):
        return Path(os.environ["SLICES_TRAIN_DATA"])
    return default_data_dir() / "mp20" / "train_pool.csv.gz"


def _matcher():
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher()


def header_composition(cif: str):
    """The composition on a CIF's ``_chemical_formula_sum`` line (no structure parsing), or None when the line is
    missing or is not a formula."""
    from pymatgen.core import Composition
    from pymatgen.core.composition import CompositionError

    found = _FORMULA_SUM.search(cif)
    if not found:
        return None
    try:
        return Composition(found.group(1))
    except (ValueError, KeyError, CompositionError):
        return None


def _reduced_formula(cif: str) -> str:
    from pymatgen.core import Structure

    composition = header_composition(cif)
    if composition is not None:
        return composition.reduced_formula
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(cif, fmt="cif").composition.reduced_formula


@dataclass
class Match:
    """How a candidate matched a known crystal: ``by`` is ``"string"`` or ``"structure"``."""

    id: str
    by: str


class TrainingSet:
    """Training crystals (a CSV with a ``cif`` column) indexed by reduced formula; structures parsed on demand."""

    def __init__(self, path: str | os.PathLike):
        import pandas as pd

        self.path = Path(path)
        if not self.path.is_file():
            raise PipelineError(
                f"training data {self.path} not found; pass --train-data PATH (a CSV with a 'cif' column), set "
                f"SLICES_TRAIN_DATA or {SHARED_DATA_ENV}, or --train-data none to skip the novelty check"
            )
        try:
            table = pd.read_csv(self.path)
        except Exception as exc:
            raise PipelineError(f"cannot read training data {self.path}: {exc}") from exc
        if "cif" not in table.columns:
            raise PipelineError(f"training data {self.path} has no 'cif' column (columns: {list(table.columns)})")
        self.cifs = table["cif"].astype(str).tolist()
        ids = table["material_id"] if "material_id" in table.columns else table.index
        self.ids = [str(x) for x in ids]
        self.by_formula: dict[str, list[int]] = {}
        for row, cif in enumerate(self.cifs):
            self.by_formula.setdefault(_reduced_formula(cif), []).append(row)
        self._structures: dict[int, object] = {}
        self._canonical: dict[int, str | None] = {}

    def __len__(self) -> int:
        return len(self.cifs)

    def structure(self, row: int):
        if row not in self._structures:
            from pymatgen.core import Structure

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._structures[row] = Structure.from_str(self.cifs[row], fmt="cif")
        return self._structures[row]

    def canonical(self, row: int) -> str | None:
        """The training crystal's canonical string, or None when it has none (e.g. a layered crystal)."""
        if row not in self._canonical:
            import slices

            try:
                self._canonical[row] = slices.encode(self.structure(row))
            except slices.SlicesError:
                self._canonical[row] = None
        return self._canonical[row]

    def find(self, structure, canonical: str | None, matcher=None) -> Match | None:
        """The first training crystal equal to the candidate (by canonical string, then by structure), or None."""
        rows = self.by_formula.get(structure.composition.reduced_formula, [])
        found = first_match(structure, canonical, rows, rows, self.canonical, self.structure, matcher)
        return Match(self.ids[found[0]], found[1]) if found else None


def first_match(structure, canonical: str | None, by_string: Sequence[T], by_structure: Sequence[T],
                canonical_of: Callable[[T], str | None], structure_of: Callable[[T], object],
                matcher=None) -> tuple[T, str] | None:
    """The first known item equal to ``structure``: among ``by_string`` with the same canonical string (when
    ``canonical`` is given), else among ``by_structure`` by ``StructureMatcher``; with ``"string"`` or
    ``"structure"``. Items are anything; ``canonical_of`` and ``structure_of`` read them."""
    if canonical is not None:
        for item in by_string:
            if canonical_of(item) == canonical:
                return item, "string"
    matcher = matcher or _matcher()
    for item in by_structure:
        if matcher.fit(structure, structure_of(item)):
            return item, "structure"
    return None


def find_duplicates(items: list[tuple[int, str | None, object]]) -> dict[int, int]:
    """Map each repeated candidate's index to the first (lowest index) equal candidate.

    ``items`` are ``(index, canonical string or None, structure)`` in the order of precedence.
    """
    matcher = _matcher()
    kept: dict[str, list[tuple[int, str | None, object]]] = {}
    duplicate_of: dict[int, int] = {}
    for index, canonical, structure in items:
        group = kept.setdefault(structure.composition.reduced_formula, [])
        for other, other_canonical, other_structure in group:
            if (canonical is not None and canonical == other_canonical) or matcher.fit(structure, other_structure):
                duplicate_of[index] = other
                break
        else:
            group.append((index, canonical, structure))
    return duplicate_of
