"""Validity checks on a reconstructed crystal: structural (no two atoms too close) and compositional (SMACT)."""

from __future__ import annotations

from periodicnet.chemistry import smact_valid
from periodicnet.limits import MIN_DISTANCE
from periodicnet.structure import closest_pair


def min_distance(structure) -> float:
    """Shortest interatomic distance (angstrom) in the periodic crystal, an atom's own images included
    (:func:`periodicnet.structure.closest_pair`)."""
    return closest_pair(structure)[0]


def structure_valid(structure, tol: float = MIN_DISTANCE) -> bool:
    """True when every interatomic distance (periodic images included) exceeds ``tol`` angstrom and the cell is
    not collapsed."""
    if structure.volume <= 0.1 * len(structure):
        return False
    return not any(len(site) for site in structure.get_all_neighbors(tol))


composition_valid = smact_valid
"""The project's one SMACT test (:func:`periodicnet.chemistry.smact_valid`, SMACT's 2014 oxidation-state set)."""
