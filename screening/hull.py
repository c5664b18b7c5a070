"""The convex hull of known materials: Materials Project formation energies, one phase diagram per chemical system.

The entries come from the known-materials tables of the shared data (``known_materials/``, see its README):

- ``mp20``: ``mp20_hull_35k.csv.gz``, MP-20 crystals with MP's formation energies (MP2020 corrections), the frame
  of MP's own ``e_above_hull`` for MP-20;
- ``mp2020``: ``mp_formation_energy_2020_84k.csv.gz``, one entry per composition, MP of about 2020;
- ``mp2018``: ``mp_formation_energy_132k.csv.gz``, matbench ``mp_e_form`` (MP 2018 and its corrections of then).

Sources are merged by priority (the default, :data:`DEFAULT_SOURCES`): a reduced formula takes its lowest
formation energy from the first source that has it, so the newer frame wins and the older tables only fill in the
compositions the newer ones lack. Every element is its own reference at 0 eV/atom. ``benchmarks/bench_screening.py``
holds the evidence for this choice. The merged table is cached on disk (:mod:`screening.cache`); each phase diagram
is built on first use and kept in memory.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from periodicnet.resources import shared_data_dir
from screening.errors import ScreeningError

SOURCES = {
    "mp20": ("known_materials/mp20_hull_35k.csv.gz", "material_id"),
    "mp2020": ("known_materials/mp_formation_energy_2020_84k.csv.gz", "material_id"),
    "mp2018": ("known_materials/mp_formation_energy_132k.csv.gz", None),
}
DEFAULT_SOURCES = ("mp20", "mp2020", "mp2018")
MERGE_RULES = ("priority", "lowest")
_CACHE_VERSION = 1


class HullError(ScreeningError):
    """A composition cannot be placed on the known-materials hull (not a composition, unknown element, ...)."""


@dataclass(frozen=True)
class HullPoint:
    """Where a composition at a formation energy lies against the known hull."""

    e_above_hull: float  # eV/atom; negative = below the known hull
    decomposition: str  # the known phases the hull at this composition is made of, e.g. "ErRh2 + Rh"
    hull_energy: float  # formation energy of the hull at this composition, eV/atom
    decomposition_ids: tuple[str, ...] = ()


def _read_source(path: Path, id_column: str | None) -> dict[str, tuple[float, str]]:
    """Lowest formation energy per reduced formula in one table, with the id of that entry."""
    import pandas as pd
    from pymatgen.core import Composition

    table = pd.read_csv(path, keep_default_na=False)
    ids = table[id_column].astype(str) if id_column else [f"{path.name}:{k}" for k in range(len(table))]
    best: dict[str, tuple[float, str]] = {}
    for formula, energy, entry_id in zip(table["formula"], table["formation_energy_per_atom"], ids):
        try:
            energy = float(energy)
        except ValueError:
            continue
        if not math.isfinite(energy):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen notes missing electronegativities of noble gases
            reduced = Composition(formula).reduced_formula
        if reduced not in best or energy < best[reduced][0]:
            best[reduced] = (energy, entry_id)
    return best


def _merge(tables: Sequence[dict[str, tuple[float, str]]], rule: str) -> dict[str, tuple[float, str]]:
    merged: dict[str, tuple[float, str]] = {}
    for table in tables:
        for formula, value in table.items():
            if formula not in merged or (rule == "lowest" and value[0] < merged[formula][0]):
                merged[formula] = value
    return merged


def _by_system(sources: Sequence[str], paths: Sequence[Path], merge: str) -> dict[frozenset[str], list]:
    """The merged entries ``(reduced formula, formation energy, id)`` of the sources, grouped by chemical system."""
    from pymatgen.core import Composition

    from screening.cache import cached

    tables = [cached(f"hull-{s}", _CACHE_VERSION, [p], functools.partial(_read_source, p, SOURCES[s][1]))
              for s, p in zip(sources, paths)]
    grouped: dict[frozenset[str], list[tuple[str, float, str]]] = {}
    for formula, (energy, entry_id) in _merge(tables, merge).items():
        system = frozenset(el.symbol for el in Composition(formula).elements)
        grouped.setdefault(system, []).append((formula, energy, entry_id))
    return grouped


class KnownHull:
    """Phase diagrams of known materials (formation energies, eV/atom), built per chemical system on demand."""

    def __init__(self, sources: Sequence[str] = DEFAULT_SOURCES, merge: str = "priority",
                 data_dir: str | os.PathLike | None = None):

        from screening.cache import cached

        unknown = [s for s in sources if s not in SOURCES]
        if unknown or not sources:
            raise HullError(f"hull sources must be a non-empty selection of {sorted(SOURCES)}, got {list(sources)}")
        if merge not in MERGE_RULES:
            raise HullError(f"merge must be one of {MERGE_RULES}, got {merge!r}")
        root = Path(data_dir) if data_dir is not None else shared_data_dir()
        paths = [root / SOURCES[s][0] for s in sources]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise HullError(f"known-materials table(s) not found: {missing}; set SLICES_SHARED_DATA to the shared "
                            f"data folder")
        self.sources, self.merge = tuple(sources), merge
        # the merged entries grouped by chemical system, cached whole: parsing ~100k formulas took 5 s per process
        self._by_system: dict[frozenset[str], list[tuple[str, float, str]]] = cached(
            f"hull-systems-{'-'.join(sources)}-{merge}", _CACHE_VERSION, paths,
            functools.partial(_by_system, sources, paths, merge))
        self.elements = frozenset().union(*self._by_system)
        self._diagrams: dict[frozenset[str], object] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_system.values())

    def formation_energy(self, formula: str) -> tuple[float, str] | None:
        """The table's formation energy (eV/atom) and id for a reduced formula, or None."""
        from pymatgen.core import Composition

        reduced = Composition(formula).reduced_formula
        system = frozenset(el.symbol for el in Composition(reduced).elements)
        for f, energy, entry_id in self._by_system.get(system, []):
            if f == reduced:
                return energy, entry_id
        return None

    def composition_e_above_hull(self, formula: str) -> float | None:
        """How far (eV/atom) the table's own lowest entry of ``formula`` lies above the hull of the other known
        phases (0 when it is on the hull), or None when the table has no entry for it."""
        known = self.formation_energy(formula)
        if known is None:
            return None
        try:
            return max(0.0, self.place(formula, known[0]).e_above_hull)
        except HullError:
            return None

    def phase_diagram(self, elements: Sequence[str]):
        """pymatgen ``PhaseDiagram`` of the known entries whose elements are all among ``elements``."""
        from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
        from pymatgen.core import Composition

        system = frozenset(elements)
        if system not in self._diagrams:
            missing = sorted(system - self.elements)
            if missing:
                raise HullError(f"no known material contains {', '.join(missing)}: the hull is undefined there")
            entries = [PDEntry(Composition(el), 0.0, name=el, attribute="element") for el in sorted(system)]
            for size in range(1, len(system) + 1):
                for subset in combinations(sorted(system), size):
                    for formula, energy, entry_id in self._by_system.get(frozenset(subset), []):
                        comp = Composition(formula)
                        entries.append(PDEntry(comp, energy * comp.num_atoms, name=formula, attribute=entry_id))
            self._diagrams[system] = PhaseDiagram(entries)
        return self._diagrams[system]

    def place(self, composition, formation_energy_per_atom: float) -> HullPoint:
        """Energy above the known hull (eV/atom, negative below it) and the decomposition at ``composition``."""
        from pymatgen.analysis.phase_diagram import PDEntry

        comp = as_composition(composition)
        if not (isinstance(formation_energy_per_atom, (int, float)) and math.isfinite(formation_energy_per_atom)):
            raise HullError(f"formation energy must be a finite number, got {formation_energy_per_atom!r}")
        diagram = self.phase_diagram([el.symbol for el in comp.elements])
        entry = PDEntry(comp, float(formation_energy_per_atom) * comp.num_atoms)
        decomposition, e_hull = diagram.get_decomp_and_e_above_hull(entry, allow_negative=True)
        parts = sorted(decomposition.items(), key=lambda kv: -kv[1])
        return HullPoint(
            e_above_hull=float(e_hull),
            decomposition=" + ".join(e.composition.reduced_formula for e, _ in parts),
            hull_energy=float(formation_energy_per_atom) - float(e_hull),
            decomposition_ids=tuple(str(e.attribute) for e, _ in parts),
        )


def as_composition(composition):
    """A pymatgen ``Composition`` of real elements with atoms, or ``HullError`` naming what is wrong."""
    from pymatgen.core import Composition, Element

    try:
        comp = Composition(composition)
    except (ValueError, KeyError, TypeError) as exc:
        raise HullError(f"not a chemical composition: {composition!r} ({exc})") from None
    if comp.num_atoms <= 0:
        raise HullError(f"composition {composition!r} has no atoms")
    if not all(isinstance(el, Element) for el in comp.elements):
        raise HullError(f"composition {composition!r} names something that is not a chemical element")
    return comp


@functools.lru_cache(maxsize=4)
def known_hull(sources: tuple[str, ...] = DEFAULT_SOURCES, merge: str = "priority") -> KnownHull:
    """The (process-wide, cached) known-materials hull from the shared data."""
    return KnownHull(sources, merge)
