"""Crystal -> canonical SLICES string."""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.core import Structure

from periodicnet.graph import embeddability, normalise_edges
from periodicnet.structure import to_structure, validate_structure
from slices.bonds import DEFAULT_BONDS, find_bonds
from slices.canonicalize import canonical_graph
from slices.contacts import complete_with_contacts
from slices.errors import NotEmbeddableError, SlicesError
from slices.graph import SlicesGraph

MAX_SITES = 500


def _validated(structure: object) -> Structure:
    """The crystal (a pymatgen Structure, ASE Atoms or a structure file: :func:`periodicnet.structure.to_structure`),
    checked, with every site in the unit cell (a neighbour search spans all given positions)."""
    return validate_structure(to_structure(structure), max_sites=MAX_SITES)  # to_structure moves sites into the cell


def primitive(structure: Structure) -> Structure:
    """The primitive cell, with the input's own atomic positions (no symmetrisation, which could move atoms
    across a bonding threshold); the canonical form also removes any translation symmetry this misses."""
    prim = structure.get_primitive_structure(tolerance=0.01, use_site_props=False)
    return prim if len(prim) <= len(structure) else structure


def _reduced(structure: Structure, reduce: bool) -> Structure:
    structure = _validated(structure)
    return primitive(structure) if reduce else structure


def _bond_graph(structure: Structure, bonds: str) -> SlicesGraph:
    edges, images = normalise_edges(*find_bonds(structure, bonds))
    return SlicesGraph(species=tuple(site.specie.symbol for site in structure), edges=edges, images=images)


def _completed(structure: Structure, graph: SlicesGraph) -> SlicesGraph:
    edges, images, contacts = complete_with_contacts(structure, graph.edges, graph.images)
    return SlicesGraph(species=graph.species, edges=edges, images=images, contacts=contacts)


def structure_graph(
    structure: Structure, bonds: str = DEFAULT_BONDS, reduce: bool = True, complete: bool = True
) -> SlicesGraph:
    """Bond graph of ``structure`` (in its primitive cell when ``reduce``), not yet canonical.

    With ``complete`` (the default), a graph that is not a connected 3D net gets the contact edges of
    :func:`slices.contacts.complete_with_contacts`; without, it is returned as the bonds alone.
    """
    structure = _reduced(structure, reduce)
    graph = _bond_graph(structure, bonds)
    return _completed(structure, graph) if complete else graph


def encode(structure: Structure | object, bonds: str = DEFAULT_BONDS, complete: bool = True) -> str:
    """Canonical SLICES string of a crystal: a pymatgen ``Structure``, an ASE ``Atoms`` or the path of a file holding
    one crystal (oxidation states and magnetic moments are ignored).

    The same crystal gives the same string whatever its cell, origin, orientation or atom order. A crystal whose
    bonds do not form a connected 3D net (layers, chains, molecules) is completed with contacts, written after
    ``~`` (``docs/canonical.md``); with ``complete=False`` it is refused instead. Raises
    :class:`~slices.errors.StructureInputError` for unusable input, :class:`~slices.errors.NotEmbeddableError`
    (with a ``reason``) when no canonical form can be made.
    """
    graph = structure_graph(structure, bonds, complete=complete)
    return canonical_graph(graph).to_string()


@dataclass(frozen=True)
class Encodability:
    """Outcome of :func:`check`.

    ``ok``: a string can be made. ``reason``/``message``: why not, or, when ``ok`` and ``contacts > 0``, why the
    bonds alone are not a 3D net (e.g. ``"low_dimensional"``, ``"disconnected"``). ``contacts``: the number of
    contact edges the canonical string carries (0: the bonds alone are a 3D net).
    """

    ok: bool
    reason: str | None = None
    message: str = ""
    contacts: int = 0

    @property
    def completed(self) -> bool:
        """Whether contacts were needed to make a 3D net."""
        return self.contacts > 0

    def __bool__(self) -> bool:
        return self.ok


def check(structure: Structure | object, bonds: str = DEFAULT_BONDS, complete: bool = True) -> Encodability:
    """Report whether ``structure`` (any form :func:`encode` takes) can be encoded (and whether it needs contacts),
    without raising."""
    try:
        structure = _reduced(structure, True)
        graph = _bond_graph(structure, bonds)
        problem = embeddability(graph.n_atoms, graph.edges, graph.images)
        if problem is not None and not complete:
            raise NotEmbeddableError(*problem)
        canonical = canonical_graph(_completed(structure, graph) if complete else graph)
    except NotEmbeddableError as exc:
        return Encodability(False, exc.reason, str(exc))
    except SlicesError as exc:
        return Encodability(False, type(exc).__name__, str(exc))
    if problem is None:
        return Encodability(True)
    message = f"{problem[1]}; completed into a 3D net with {canonical.n_contacts} contacts"
    return Encodability(True, problem[0], message, canonical.n_contacts)
