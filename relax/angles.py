"""Bond-angle targets for the placement, written as 1-3 (second-neighbour) distances.

Bond lengths alone leave the angles at an atom free; the placement then splays organic linkers and tetrahedral
anions (the framework diagnosis in ``docs/reconstruction.md``: volumes 25-40% too large). For a p-block centre whose
geometry follows from its coordination number alone, every pair of its bonded neighbours gets a spring on their
distance, ``d13 = sqrt(a^2 + b^2 - 2 a b cos(theta))`` with ``a``, ``b`` the two bonds' targets:

- 4 neighbours: tetrahedral, 109.47 deg (sp3 C and N, SiO4, PO4, SO4, BO4, ...);
- 3 neighbours, centre B, C or N: trigonal planar, 120 deg (aromatic rings, carboxylates, CO3, NO3, BO3);
- 2 neighbours, centre C: linear, 180 deg (nitriles, cyanides, alkynes, CO2).

A centre counts only when at most one of its neighbours is a metal (a pyridine N or a carboxylate O bound to a metal
keeps its geometry; a carbon inside a metal cluster, as in carbides, does not), and contacts (after ``~``) are
never bonds of an angle. Each 1-3 pair is returned as a pseudo-edge ``(n1, n2, image)`` in the graph's own basis,
so the placement adds it to its springs like any edge.
"""

from __future__ import annotations

import numpy as np

from periodicnet.elements import NON_METALS

TETRAHEDRAL = float(np.degrees(np.arccos(-1.0 / 3.0)))
ANGLE_RULES = {  # (centre element or None for any angle centre, coordination number) -> angle in degrees
    (None, 4): TETRAHEDRAL,
    ("B", 3): 120.0,
    ("C", 3): 120.0,
    ("N", 3): 120.0,
    ("C", 2): 180.0,
}
ANGLE_CENTRES = frozenset({"B", "C", "N", "Si", "P", "S", "Ge", "As", "Se"})
ANGLE_WEIGHT = 0.3
"""Stiffness of a 1-3 spring relative to a bond's (angles are softer than bonds)."""


def ideal_angle(symbol: str, coordination: int) -> float | None:
    """The angle (degrees) between two bonds at a centre ``symbol`` with ``coordination`` neighbours, or None when
    the coordination does not fix it (module doc)."""
    if symbol not in ANGLE_CENTRES:
        return None
    return ANGLE_RULES.get((symbol, coordination), ANGLE_RULES.get((None, coordination)))


def second_neighbours(species, edges: np.ndarray, images: np.ndarray, targets: np.ndarray,
                      contacts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-3 pseudo-edges ``(pairs (k, 2), images (k, 3), target lengths (k,))`` of every angle centre (module doc)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    bonds = np.ones(len(edges), dtype=bool) if contacts is None else ~np.asarray(contacts, dtype=bool)
    arms: list[list[tuple[int, tuple[int, int, int], float]]] = [[] for _ in species]
    for (i, j), t, length, bond in zip(edges.tolist(), images.tolist(), np.asarray(targets).tolist(), bonds.tolist()):
        if not bond:
            continue
        arms[i].append((j, tuple(t), length))  # neighbour j at image t, seen from i
        arms[j].append((i, tuple(-x for x in t), length))
    pairs, pair_images, lengths = [], [], []
    for centre, around in enumerate(arms):
        angle = ideal_angle(species[centre], len(around))
        if angle is None or sum(species[n] not in NON_METALS for n, _, _ in around) > 1:
            continue
        cos = np.cos(np.radians(angle))
        for p in range(len(around)):
            for q in range(p + 1, len(around)):
                (n1, t1, a), (n2, t2, b) = around[p], around[q]
                pairs.append((n1, n2))
                pair_images.append([y - x for x, y in zip(t1, t2)])
                lengths.append(float(np.sqrt(a * a + b * b - 2 * a * b * cos)))
    return (np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(pair_images, dtype=np.int64).reshape(-1, 3),
            np.array(lengths, dtype=float))


def angle_springs(species, edges: np.ndarray, images: np.ndarray, targets: np.ndarray,
                  contacts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`second_neighbours` with a spring weight each (:data:`ANGLE_WEIGHT`): the placement's ``extra_springs``."""
    pairs, pair_images, lengths = second_neighbours(species, edges, images, targets, contacts)
    return pairs, pair_images, lengths, np.full(len(lengths), ANGLE_WEIGHT)
