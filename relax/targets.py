"""Target length of every edge of a graph: the placement's spring rest lengths and the bond checks' reference.

Three kinds of edge:

- *bonds*: the per-element-pair median of :mod:`relax.bondtable` (learnt from MP-20's inorganic crystals);
- *organic ring and chain bonds*: C-C, C-N and N-N bonds between two atoms that each have at least two neighbours
  among H, C, N, O (members of a linker's ring or chain) take standard organic bond lengths instead. The MP-20 table
  learnt these pairs from carbides, cyanides and nitrides (C-C 1.30 A from C2 dumbbells, N-N 2.62 A), while in
  the QMOF frameworks the same pairs measure 1.42, 1.35 and 1.34 A (``docs/reconstruction.md``); a saturated
  pair (both atoms with their full count of organic neighbours: 4 for C, 3 for N) takes the single-bond length;
- *contacts*: the non-bonded pairs the codec adds to complete a layered, chain or molecular crystal into a 3D net
  (after ``~`` in a string, ``docs/canonical.md``), at a van der Waals distance: :data:`VDW_FRACTION` of the
  pair's van der Waals radii sum. They get weak springs in the placement and are left out of every bond check.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from periodicnet.elements import COVALENT_NON_METALS, NON_METALS
from relax.bondtable import bond_length, covalent_radius

VDW_FRACTION = 0.95
"""Contact target = this x (r_vdW(a) + r_vdW(b)) (MoS2's gap: 3.49 A against a sum of 3.60 A, ratio 0.97)."""

CONTACT_WEIGHT = 0.1
"""Stiffness of a contact's spring relative to a bond's in the placement (weak: pieces settle on the repulsion)."""

CONTACT_STRETCH_WEIGHT = 1.0
"""Extra stiffness of a contact against stretching past its target (a flat-bottom spring): without it the
placement's volume term pulled the pieces of frameworks and layered crystals apart (QMOF placement volumes came out
25-40% too large); compression stays soft (:data:`CONTACT_WEIGHT`), the repulsion sets the closest approach."""

DEFAULT_VDW_RADIUS = 2.0
"""Angstrom, for an element without a tabulated van der Waals radius."""

ORGANIC_ELEMENTS = frozenset({"H", "C", "N", "O"})
SATURATED_VALENCE = {"C": 4, "N": 3}
# standard lengths (angstrom) of organic bonds: (conjugated / aromatic, single between saturated atoms)
ORGANIC_BOND_LENGTHS = {("C", "C"): (1.40, 1.53), ("C", "N"): (1.35, 1.47), ("N", "N"): (1.35, 1.45)}


@lru_cache(maxsize=None)
def vdw_radius(symbol: str) -> float:
    """Van der Waals radius (angstrom) of an element from pymatgen's table (:data:`DEFAULT_VDW_RADIUS` if absent)."""
    from pymatgen.core.periodic_table import Element

    radius = Element(symbol).van_der_waals_radius
    return float(radius) if radius else DEFAULT_VDW_RADIUS


def contact_length(a: str, b: str) -> float:
    """Target length (angstrom) of a contact between elements ``a`` and ``b``."""
    return VDW_FRACTION * (vdw_radius(a) + vdw_radius(b))


def organic_neighbour_counts(species, edges: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Per atom, how many of its bonds (``bonds`` marks which edges are bonds) go to H, C, N or O."""
    counts = np.zeros(len(species), dtype=np.int64)
    organic = np.array([s in ORGANIC_ELEMENTS for s in species])
    for (i, j), is_bond in zip(edges.tolist(), bonds.tolist()):
        if is_bond:
            counts[i] += organic[j]
            counts[j] += organic[i]
    return counts


def organic_bond_length(a: str, b: str, count_a: int, count_b: int) -> float | None:
    """Standard length of a ring or chain bond between ``a`` and ``b`` with these organic-neighbour counts, or
    None when the rule does not apply (another pair, or an end atom such as cyanide's C or an azide's N)."""
    pair = tuple(sorted((a, b)))
    if pair not in ORGANIC_BOND_LENGTHS or min(count_a, count_b) < 2:
        return None
    conjugated, single = ORGANIC_BOND_LENGTHS[pair]
    saturated = count_a >= SATURATED_VALENCE[a] and count_b >= SATURATED_VALENCE[b]
    return single if saturated else conjugated


COVALENT_LIMIT = 1.2
MAX_CENTRE_BONDS = 6

HALOGENS = frozenset({"F", "Cl", "Br", "I"})
H_PARTNERS = ("C", "N", "O")
"""A hydrogen's covalent partner, in order of preference: its first element present exactly once among the H's
neighbours; the H's other edges are secondary (:func:`secondary_edges`)."""


def secondary_edges(species, edges: np.ndarray, contacts: np.ndarray | None = None) -> np.ndarray:
    """Bonds of the graph that are long secondary contacts rather than covalent or ionic bonds (bool per edge).

    The encoder's bonds (EconNN) include, in frameworks and organic salts, hydrogen bonds and van der Waals
    contacts. Two rules, from the chemistry of the atoms' other bonds alone (so the same on any basis or order):

    - a hydrogen bonded to C, N or O has one covalent partner (the first of :data:`H_PARTNERS` present exactly once
      among its neighbours); its other edges (to metals, halides, a second O) are secondary;
    - a halogen bonded to a metal, or to more than one C or N, is a halide ion: its edges to C and N are secondary.

    Contacts already marked (``contacts``) are not bonds and are left out.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    marks = np.zeros(len(edges), dtype=bool) if contacts is None else np.asarray(contacts, dtype=bool)
    around: list[list[int]] = [[] for _ in species]  # edge indices at each atom
    for k, ((i, j), contact) in enumerate(zip(edges.tolist(), marks.tolist())):
        if not contact:
            around[i].append(k)
            around[j].append(k)
    secondary = np.zeros(len(edges), dtype=bool)
    for atom, ks in enumerate(around):
        element = species[atom]
        neighbours = [species[edges[k, 1] if edges[k, 0] == atom else edges[k, 0]] for k in ks]
        if element == "H":
            partner = next((p for p in H_PARTNERS if neighbours.count(p) == 1), None)
            if partner is not None:
                for k, e in zip(ks, neighbours):
                    secondary[k] |= e != partner
        elif element in HALOGENS and element != "F":
            organic = [k for k, e in zip(ks, neighbours) if e in ("C", "N")]
            if len(organic) > 1 or any(e not in NON_METALS for e in neighbours):
                secondary[organic] = True
    return secondary


def covalent_centres(species, edges: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Per atom: a covalent centre, a non-metal other than H with 1 to :data:`MAX_CENTRE_BONDS` bonds, all to
    non-metals (the Cl of a perchlorate, the I of an iodate, the C of a CF3 group, the S of SF6)."""
    n = len(species)
    degree = np.zeros(n, dtype=np.int64)
    metal_neighbour = np.zeros(n, dtype=bool)
    metal = np.array([s not in NON_METALS for s in species])
    for (i, j), is_bond in zip(edges.tolist(), bonds.tolist()):
        if is_bond:
            degree[i] += 1
            degree[j] += 1
            metal_neighbour[i] |= metal[j]
            metal_neighbour[j] |= metal[i]
    own = np.array([s in COVALENT_NON_METALS and s != "H" for s in species])
    return own & ~metal_neighbour & (degree >= 1) & (degree <= MAX_CENTRE_BONDS)


def covalent_bond_length(a: str, b: str, centre: bool) -> float | None:
    """Sum of covalent radii for a bond between two different non-metals at a covalent centre whose bond-table
    length is a non-bonded distance (over :data:`COVALENT_LIMIT` x that sum: Cl-O 3.41 A, I-O 3.88 A, C-F 2.86 A
    learnt from MP-20's oxychlorides and fluorides); None when the rule does not apply."""
    if not centre or a == b or a not in COVALENT_NON_METALS or b not in COVALENT_NON_METALS:
        return None
    covalent = covalent_radius(a) + covalent_radius(b)
    return covalent if bond_length(a, b) > COVALENT_LIMIT * covalent else None


def edge_targets(species, edges: np.ndarray, contacts: np.ndarray | None = None) -> np.ndarray:
    """Target length (angstrom) of every edge: contacts, organic ring/chain bonds, covalent bonds at a non-metal
    centre, other bonds (module doc)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    marks = np.zeros(len(edges), dtype=bool) if contacts is None else np.asarray(contacts, dtype=bool)
    counts = organic_neighbour_counts(species, edges, ~marks)
    centres = covalent_centres(species, edges, ~marks)
    out = np.empty(len(edges))
    for k, ((i, j), contact) in enumerate(zip(edges.tolist(), marks.tolist())):
        a, b = species[i], species[j]
        if contact:
            out[k] = contact_length(a, b)
            continue
        organic = organic_bond_length(a, b, counts[i], counts[j])
        if organic is None:
            organic = covalent_bond_length(a, b, bool(centres[i] or centres[j]))
        out[k] = organic if organic is not None else bond_length(a, b)
    return out
