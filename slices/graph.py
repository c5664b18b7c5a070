"""The labelled quotient graph behind a SLICES string, and the string grammar itself.

Grammar (the form this project writes)::

    El El ... El  i j xyz  i j xyz ...

element symbols, then one edge per three tokens: atom ``j`` in the lattice image ``xyz`` bonds to atom ``i`` in the
home cell, with each of x, y, z one of ``-`` (-1), ``o`` (0), ``+`` (+1). The parser also reads the paper-era form
with five tokens per edge (``i j x y z``) and skips a leading space-group symbol (``Fm-3m Na Cl 0 1 ...``) that newer
versions of the reference implementation put in front.

Edges after the token ``~`` are *contacts*, not bonds: non-bonded pairs that :mod:`slices.contacts` adds to complete
a layered, chain or molecular crystal's bond graph into a 3D net (``docs/canonical.md``). A string without ``~`` has
no contacts and reads exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from periodicnet.elements import ATOMIC_NUMBER
from periodicnet.graph import embeddability, normalise_edges, normalise_marked_edges
from slices.errors import (
    EdgeIndexError,
    ImageLabelError,
    InputTooLargeError,
    NotEmbeddableError,
    ParseError,
    UnknownElementError,
)

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

MAX_ATOMS = 1000
MAX_EDGES = 20000
MAX_CHARS = 2_000_000

ASCII_DIGITS = "atom indices are written with the ASCII digits 0-9"
LABEL_OF = {-1: "-", 0: "o", 1: "+"}
VALUE_OF = {"-": -1, "o": 0, "+": 1}
CONTACT_SEPARATOR = "~"



@dataclass(frozen=True)
class SlicesGraph:
    """A labelled quotient graph: species per atom, undirected edges with integer image vectors.

    ``edges[k] = (i, j)`` and ``images[k] = t`` mean atom ``j`` translated by lattice vector ``t`` bonds to atom ``i``.
    Edges are stored with ``i <= j`` (an edge ``(j, i, -t)`` is the same bond) and without duplicates.
    ``contacts[k]`` is True when edge ``k`` is a non-bonded contact added to complete the net (see
    :mod:`slices.contacts`), False for a bond; left out, every edge is a bond.
    """

    species: tuple[str, ...]
    edges: np.ndarray  # (m, 2) int64
    images: np.ndarray  # (m, 3) int64
    contacts: np.ndarray | None = None  # (m,) bool

    def __post_init__(self) -> None:
        mask = np.zeros(len(self.edges), dtype=bool) if self.contacts is None else np.asarray(self.contacts, dtype=bool)
        if mask.shape != (len(self.edges),):
            raise ValueError(f"contacts must hold one bool per edge ({len(self.edges)}), got shape {mask.shape}")
        object.__setattr__(self, "contacts", mask)

    @property
    def n_contacts(self) -> int:
        """Number of contact (non-bond) edges."""
        return int(self.contacts.sum())

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def atomic_numbers(self) -> np.ndarray:
        return np.array([ATOMIC_NUMBER[s] for s in self.species], dtype=np.int64)

    @property
    def formula(self) -> str:
        """Reduced-free formula in element order of first appearance, e.g. ``Na1Cl1``."""
        counts: dict[str, int] = {}
        for s in self.species:
            counts[s] = counts.get(s, 0) + 1
        return "".join(f"{el}{n}" for el, n in counts.items())

    def degree(self) -> np.ndarray:
        """Number of edges (bonds and contacts) at each atom (a self-loop counts twice)."""
        deg = np.zeros(self.n_atoms, dtype=np.int64)
        np.add.at(deg, self.edges[:, 0], 1)
        np.add.at(deg, self.edges[:, 1], 1)
        return deg

    def to_networkx(self) -> "nx.MultiGraph":
        """The quotient multigraph: node attribute ``element``, edge attributes ``image`` (a tuple, from i to j) and
        ``contact`` (True for a contact, False for a bond)."""
        import networkx as nx

        g = nx.MultiGraph()
        for i, el in enumerate(self.species):
            g.add_node(i, element=el)
        for (i, j), t, c in zip(self.edges.tolist(), self.images.tolist(), self.contacts.tolist()):
            g.add_edge(i, j, image=tuple(t), contact=c)
        return g

    def embeddability(self) -> tuple[str, str] | None:
        """``None`` when the graph can describe a 3D-bonded crystal, else ``(reason, message)``."""
        return embeddability(self.n_atoms, self.edges, self.images)

    def check_embeddable(self) -> None:
        """Raise :class:`NotEmbeddableError` naming the reason when the graph is not a 3D net."""
        problem = self.embeddability()
        if problem is not None:
            raise NotEmbeddableError(*problem)

    def to_string(self) -> str:
        """Write the graph as it stands (no canonicalisation); see :func:`slices.canonical` for that."""
        return format_slices(self.species, self.edges, self.images, self.contacts)


def format_slices(species, edges, images, contacts=None) -> str:
    """Write species, edges and images as a SLICES string: the bonds in the order given, then, after ``~``, the
    contacts (edges whose ``contacts`` entry is True) in the order given."""
    edges, images = np.asarray(edges).reshape(-1, 2), np.asarray(images).reshape(-1, 3)
    mask = np.zeros(len(edges), dtype=bool) if contacts is None else np.asarray(contacts, dtype=bool)
    parts = list(species)
    for block in (~mask, mask):
        if block is mask and mask.any():
            parts.append(CONTACT_SEPARATOR)
        for (i, j), t in zip(edges[block].tolist(), images[block].tolist()):
            try:
                label = "".join(LABEL_OF[int(x)] for x in t)
            except KeyError:
                raise ImageLabelError(f"edge {i} {j} has image {tuple(t)}, outside -1/0/+1") from None
            parts.extend((str(i), str(j), label))
    return " ".join(parts)


def _is_int(token: str) -> bool:
    """An atom index: ASCII digits only (``str.isdigit`` also accepts ``'²'`` or ``'١'``, which ``int`` refuses or
    reads as another script's digits)."""
    return token.isascii() and token.isdigit()


@lru_cache(maxsize=256)
def _looks_like_space_group(token: str) -> bool:
    if token in ATOMIC_NUMBER or _is_int(token) or len(token) > 12:
        return False
    try:
        from pymatgen.symmetry.groups import SpaceGroup

        SpaceGroup(token)
        return True
    except ValueError:  # pymatgen's "Bad international symbol"
        return False


def parse(string: str) -> SlicesGraph:
    """Parse a SLICES string into a :class:`SlicesGraph` (edges normalised, duplicates removed).

    Raises a :class:`~slices.errors.ParseError` subclass naming the offending token for any malformed input.
    Parsing checks syntax only; use :meth:`SlicesGraph.check_embeddable` for the 3D requirement.
    """
    if not isinstance(string, str):
        raise ParseError(f"a SLICES string must be str, got {type(string).__name__}")
    if len(string) > MAX_CHARS:
        raise InputTooLargeError(f"string of {len(string)} characters exceeds the limit of {MAX_CHARS}")
    tokens = string.split()
    if not tokens:
        raise ParseError("empty SLICES string")
    if _looks_like_space_group(tokens[0]) and len(tokens) > 1 and tokens[1] in ATOMIC_NUMBER:
        tokens = tokens[1:]
    n_atoms = 0
    while n_atoms < len(tokens) and not _is_int(tokens[n_atoms]) and tokens[n_atoms] != CONTACT_SEPARATOR:
        symbol = tokens[n_atoms]
        if symbol not in ATOMIC_NUMBER and symbol.isnumeric():
            raise ParseError(f"token {n_atoms}: expected an element symbol or an atom index, found {symbol!r} "
                             f"({ASCII_DIGITS})")
        if symbol not in ATOMIC_NUMBER:
            raise UnknownElementError(f"token {n_atoms} ({symbol!r}) is not a chemical element symbol")
        n_atoms += 1
    if n_atoms == 0:
        raise ParseError("a SLICES string starts with element symbols; found none")
    if n_atoms > MAX_ATOMS:
        raise InputTooLargeError(f"{n_atoms} atoms exceeds the limit of {MAX_ATOMS}")
    species = tuple(tokens[:n_atoms])
    rest = tokens[n_atoms:]
    n_separators = rest.count(CONTACT_SEPARATOR)
    if n_separators > 1:
        raise ParseError(f"the contact separator {CONTACT_SEPARATOR!r} may appear once; found {n_separators}")
    n_bond_tokens = rest.index(CONTACT_SEPARATOR) if n_separators else len(rest)
    rest = rest[:n_bond_tokens] + rest[n_bond_tokens + 1 :]
    five_token_form = len(rest) >= 5 and all(t in VALUE_OF for t in rest[2:5])
    width = 5 if five_token_form else 3
    if n_separators and n_bond_tokens % width:
        raise ParseError(
            f"the bond block before {CONTACT_SEPARATOR!r} has {n_bond_tokens} tokens, not a multiple of {width}"
        )
    if len(rest) % width:
        raise ParseError(
            f"the edge block has {len(rest)} tokens, not a multiple of {width} (i j xyz per edge); "
            f"the last edge is incomplete"
        )
    n_edges = len(rest) // width
    if n_edges > MAX_EDGES:
        raise InputTooLargeError(f"{n_edges} edges exceeds the limit of {MAX_EDGES}")
    edges = np.zeros((n_edges, 2), dtype=np.int64)
    images = np.zeros((n_edges, 3), dtype=np.int64)
    for k in range(n_edges):
        chunk = rest[k * width : (k + 1) * width]
        for slot in (0, 1):
            token = chunk[slot]
            if not _is_int(token) or len(token) > 6:
                hint = f" ({ASCII_DIGITS})" if token.isnumeric() and not token.isascii() else ""
                raise ParseError(f"edge {k}: expected an atom index, found {token!r}{hint}")
            index = int(token)
            if index >= n_atoms:
                raise EdgeIndexError(f"edge {k}: atom index {index} is out of range for {n_atoms} atoms")
            edges[k, slot] = index
        label = "".join(chunk[2:]) if width == 5 else chunk[2]
        if len(label) != 3 or any(c not in VALUE_OF for c in label):
            raise ImageLabelError(f"edge {k}: image label {label!r} is not three of '-', 'o', '+'")
        images[k] = [VALUE_OF[c] for c in label]
    contacts = np.arange(n_edges) >= n_bond_tokens // width
    if contacts.any():
        n_bonds = len(normalise_edges(edges[~contacts], images[~contacts])[0])
        n_contacts = len(normalise_edges(edges[contacts], images[contacts])[0])
        if len(normalise_edges(edges, images)[0]) < n_bonds + n_contacts:
            raise ParseError("an edge is listed both as a bond and, after '~', as a contact")
    edges, images, marks = normalise_marked_edges(edges, images, contacts)
    return SlicesGraph(species=species, edges=edges, images=images, contacts=marks)
