"""When two crystals are the same: duplicates among candidates, and the matching rule the known-materials index
(:mod:`screening.known`) uses.

Two crystals are the same when their canonical SLICES strings are equal, or when pymatgen's ``StructureMatcher``
(default tolerances) matches them. Only crystals with the same reduced formula are compared.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
_FORMULA_SUM = re.compile(r"^_chemical_formula_sum\s+['\"]?([^'\"\n]+)['\"]?\s*$", re.MULTILINE)


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
