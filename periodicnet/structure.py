"""Validation of a crystal handed to the project: one set of rules for the codec, the potentials and screening."""

from __future__ import annotations

import math

import numpy as np

from periodicnet.elements import is_element
from periodicnet.errors import StructureInputError
from periodicnet.limits import MAX_FRACTIONAL_COORDINATE, MAX_INPUT_VOLUME_PER_ATOM, MIN_DISTANCE


def closest_pair(structure) -> tuple[float, int, int]:
    """``(distance in A, i, j)`` of the closest two atoms of a periodic structure; ``i == j`` when the closest pair
    is an atom and its own periodic image."""
    own_image = float(min(structure.lattice.get_lll_reduced_lattice().abc))
    if len(structure) == 1:
        return own_image, 0, 0
    dmat = np.array(structure.distance_matrix, dtype=float)
    np.fill_diagonal(dmat, np.inf)
    i, j = np.unravel_index(np.argmin(dmat), dmat.shape)
    return (float(dmat[i, j]), int(i), int(j)) if dmat[i, j] < own_image else (own_image, 0, 0)


def validate_structure(structure: object, *, max_sites: int | None = None):
    """Return ``structure`` if it is a usable crystal, else raise :class:`StructureInputError` saying why.

    Usable: a pymatgen ``Structure`` with 1..``max_sites`` ordered sites of elements H..Lr, a finite lattice of
    non-zero volume and at most :data:`~periodicnet.limits.MAX_INPUT_VOLUME_PER_ATOM` per atom, finite fractional
    coordinates within :data:`~periodicnet.limits.MAX_FRACTIONAL_COORDINATE` of the cell, and no two atoms (an
    atom and its own images included) closer than :data:`~periodicnet.limits.MIN_DISTANCE`.
    """
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        raise StructureInputError(f"expected a pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise StructureInputError("the structure has no atoms")
    if max_sites is not None and len(structure) > max_sites:
        raise StructureInputError(f"{len(structure)} sites exceeds the limit of {max_sites}")
    if not structure.is_ordered:
        raise StructureInputError("the structure has partially occupied (disordered) sites; order it first")
    for site in structure:
        symbol = getattr(site.specie, "symbol", str(site.specie))
        if not is_element(symbol):
            raise StructureInputError(f"site species {symbol!r} is not a chemical element (H to Lr)")
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        raise StructureInputError("the lattice vectors are not finite numbers")
    volume = structure.lattice.volume
    if not math.isfinite(volume) or volume < 1e-3:
        raise StructureInputError(f"the lattice is degenerate (volume {volume:.3g} A^3)")
    if volume / len(structure) > MAX_INPUT_VOLUME_PER_ATOM:
        raise StructureInputError(
            f"the cell holds {volume / len(structure):.3g} A^3 per atom, more than {MAX_INPUT_VOLUME_PER_ATOM:g}: "
            f"no crystal is that sparse (is the cell given in Angstrom?)"
        )
    frac = structure.frac_coords
    if not np.all(np.isfinite(frac)):
        raise StructureInputError(f"site {int(np.flatnonzero(~np.isfinite(frac).all(axis=1))[0])} has a coordinate "
                                  f"that is not a finite number")
    if np.abs(frac).max() > MAX_FRACTIONAL_COORDINATE:
        k = int(np.abs(frac).max(axis=1).argmax())
        raise StructureInputError(
            f"site {k} lies {np.abs(frac[k]).max():.3g} cells away from the unit cell (more than "
            f"{MAX_FRACTIONAL_COORDINATE:g}): its place in the cell is lost to rounding; wrap it into the cell first"
        )
    distance, i, j = closest_pair(structure)
    if distance < MIN_DISTANCE:
        pair = f"atom {i} and its own periodic image" if i == j else f"atoms {i} and {j}"
        raise StructureInputError(
            f"{pair} are {distance:.3f} A apart (less than {MIN_DISTANCE} A): overlapping sites"
        )
    return structure
