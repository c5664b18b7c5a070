"""Crystal -> canonical SLICES string."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from slices.bonds import find_bonds
from slices.canonicalize import canonical_graph
from slices.errors import NotEmbeddableError, SlicesError, StructureInputError
from periodicnet.graph import normalise_edges
from periodicnet.structure import validate_structure
from slices.graph import SlicesGraph

MAX_SITES = 500


def _validated(structure: object) -> Structure:
    """The structure, checked, with every site in the unit cell (a neighbour search spans all given positions)."""
    structure = validate_structure(structure, max_sites=MAX_SITES)
    frac = structure.frac_coords
    if np.any((frac < 0) | (frac >= 1)):
        structure = Structure(structure.lattice, structure.species, np.mod(frac, 1.0))  # the same crystal
    return structure


def primitive(structure: Structure) -> Structure:
    """The primitive cell, with the input's own atomic positions (no symmetrisation, which could move atoms
    across a bonding threshold); the canonical form also removes any translation symmetry this misses."""
    prim = structure.get_primitive_structure(tolerance=0.01, use_site_props=False)
    return prim if len(prim) <= len(structure) else structure


def structure_graph(structure: Structure, bonds: str = "econ", reduce: bool = True) -> SlicesGraph:
    """Bond graph of ``structure`` (in its primitive cell when ``reduce``), not yet canonical."""
    structure = _validated(structure)
    if reduce:
        structure = primitive(structure)
    edges, images = find_bonds(structure, bonds)
    edges, images = normalise_edges(edges, images)
    species = tuple(site.specie.symbol for site in structure)
    return SlicesGraph(species=species, edges=edges, images=images)


def encode(structure: Structure, bonds: str = "econ") -> str:
    """Canonical SLICES string of a crystal.

    The same crystal gives the same string whatever its cell, origin, orientation or atom order. Raises
    :class:`~slices.errors.StructureInputError` for unusable input, :class:`~slices.errors.NotEmbeddableError`
    (with a ``reason``) when the bonded network is not a 3D framework.
    """
    graph = structure_graph(structure, bonds)
    return canonical_graph(graph).to_string()


@dataclass(frozen=True)
class Encodability:
    """Outcome of :func:`check`: ``ok`` and, when not ok, a reason code and a sentence."""

    ok: bool
    reason: str | None = None
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def check(structure: Structure, bonds: str = "econ") -> Encodability:
    """Report whether ``structure`` can be encoded, without raising."""
    try:
        canonical_graph(structure_graph(structure, bonds))  # checks embeddability first, raising with the reason
    except NotEmbeddableError as exc:
        return Encodability(False, exc.reason, str(exc))
    except SlicesError as exc:
        return Encodability(False, type(exc).__name__, str(exc))
    return Encodability(True)
