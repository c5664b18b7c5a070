"""A crystal handed to the project: what counts as one (:func:`to_structure`: a pymatgen ``Structure``, an ASE
``Atoms`` or a structure file) and one set of rules for the codec, the potentials and screening
(:func:`validate_structure`)."""

from __future__ import annotations

import math
import os
import sys

from typing import TYPE_CHECKING

import numpy as np

from periodicnet.elements import is_element
from periodicnet.errors import StructureInputError
from periodicnet.limits import (MAX_FRACTIONAL_COORDINATE, MAX_INPUT_SITES, MAX_INPUT_VOLUME_PER_ATOM,
                                MIN_DISTANCE, MIN_VOLUME_PER_ATOM)

if TYPE_CHECKING:
    from pymatgen.core import Structure

ACCEPTED = "a pymatgen Structure, an ASE Atoms or the path of a structure file"
"""What a structure argument may be (for messages)."""


def is_ase_atoms(obj: object) -> bool:
    """Whether ``obj`` is an ASE ``Atoms`` (or a subclass, such as pymatgen's ``MSONAtoms``), without importing ASE
    when nothing has."""
    ase = sys.modules.get("ase")
    return ase is not None and isinstance(obj, ase.Atoms)


def _element_of(species):
    """The chemical element of a pymatgen species (oxidation state and spin dropped); other species (dummy species)
    unchanged, for the checks to name."""
    from pymatgen.core import DummySpecies, Element

    if isinstance(species, (Element, DummySpecies)):
        return species
    try:
        return Element(species.symbol)
    except (ValueError, AttributeError):
        return species


def as_elements(structure) -> "Structure":
    """``structure`` with plain elements on its sites: oxidation states, spins and site properties (magnetic
    moments, charges, selective dynamics) stripped, as screening and the codec judge crystals by their elements.
    Returns ``structure`` itself when there is nothing to strip and it is a mutable ``Structure``."""
    from pymatgen.core import Element, Structure

    plain = type(structure) is Structure and not structure.site_properties and all(
        isinstance(sp, Element) for site in structure for sp in site.species)
    if plain:
        return structure
    species = [{_element_of(sp): occupancy for sp, occupancy in site.species.items()} for site in structure]
    return Structure(structure.lattice, species, structure.frac_coords)


def into_cell(structure) -> "Structure":
    """``structure`` with every site moved into the unit cell (fractional coordinates in [0, 1)): the same crystal,
    and what every neighbour search needs (pymatgen's and matgl's span all given positions, so a site a million
    cells away asks for terabytes). Returns ``structure`` itself when every site is already in the cell."""
    from pymatgen.core import Structure

    frac = structure.frac_coords
    if len(structure) == 0 or not np.all(np.isfinite(frac)) or np.all((frac >= 0) & (frac < 1)):
        return structure
    return Structure(structure.lattice, [site.species for site in structure], np.mod(frac, 1.0),
                     site_properties=structure.site_properties or None)


def check_size(structure, *, max_sites: int = MAX_INPUT_SITES) -> None:
    """Refuse, with :class:`StructureInputError` and before any neighbour search, a crystal whose size would exhaust
    memory: more than ``max_sites`` sites, a lattice that is not finite, or more than
    :data:`~periodicnet.limits.MAX_INPUT_VOLUME_PER_ATOM` per atom (an absurdly large cell)."""
    if len(structure) > max_sites:
        raise StructureInputError(f"{len(structure)} sites exceeds the limit of {max_sites}")
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        raise StructureInputError("the lattice vectors are not finite numbers")
    volume = abs(float(np.linalg.det(matrix)))
    if len(structure) and volume / len(structure) > MAX_INPUT_VOLUME_PER_ATOM:
        raise StructureInputError(
            f"the cell holds {volume / len(structure):.3g} A^3 per atom, more than {MAX_INPUT_VOLUME_PER_ATOM:g}: "
            f"no crystal is that sparse (is the cell given in Angstrom?)"
        )


def to_structure(obj: object, *, check: bool = True) -> "Structure":
    """The pymatgen ``Structure`` of a crystal given as users have it: a pymatgen ``Structure`` or ``IStructure``, an
    ASE ``Atoms`` (with a periodic cell), or the path (``str`` or ``os.PathLike``) of a file holding one crystal
    (CIF, POSCAR, anything pymatgen or ASE reads: :mod:`periodicnet.crystal_files`).

    Oxidation states, spins and magnetic moments are stripped (:func:`as_elements`): a crystal is judged as its
    elements; sites outside the unit cell are moved into it (:func:`into_cell`). With ``check`` (the default) a size that would exhaust memory is refused (:func:`check_size`).
    Anything else, a file that cannot be read or holds several crystals, raises :class:`StructureInputError`.
    """
    from pymatgen.core import IStructure

    if isinstance(obj, IStructure):  # Structure is a subclass
        structure = obj
    elif is_ase_atoms(obj):
        from periodicnet.crystal_files import atoms_to_structure

        structure = atoms_to_structure(obj)
    elif isinstance(obj, (str, os.PathLike)):
        from periodicnet.crystal_files import read_structures

        if isinstance(obj, str) and ("\n" in obj or not obj.strip() or len(obj) > 4096):
            raise StructureInputError(f"expected {ACCEPTED}; got a string that is no file path ({obj[:40]!r}...)")
        crystals = read_structures(obj)
        if len(crystals) != 1:
            raise StructureInputError(
                f"{obj} holds {len(crystals)} crystals; read them one by one with "
                f"periodicnet.crystal_files.read_structures (slices assess takes such files whole)"
            )
        structure = crystals[0][1]
    else:
        raise StructureInputError(f"expected {ACCEPTED}, got {type(obj).__name__}")
    structure = into_cell(as_elements(structure))
    if check:
        check_size(structure)
    return structure


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

    Usable: a pymatgen ``Structure`` (:func:`to_structure` makes one of the other forms) with 1..``max_sites`` (at
    most :data:`~periodicnet.limits.MAX_INPUT_SITES`) ordered sites of elements H..Lr, a finite lattice of non-zero
    volume and at most :data:`~periodicnet.limits.MAX_INPUT_VOLUME_PER_ATOM` per atom, finite fractional
    coordinates within :data:`~periodicnet.limits.MAX_FRACTIONAL_COORDINATE` of the cell, and no two atoms (an
    atom and its own images included) closer than :data:`~periodicnet.limits.MIN_DISTANCE`, nor denser than
    :data:`~periodicnet.limits.MIN_VOLUME_PER_ATOM` per atom.
    """
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        raise StructureInputError(f"expected a pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise StructureInputError("the structure has no atoms")
    check_size(structure, max_sites=min(max_sites or MAX_INPUT_SITES, MAX_INPUT_SITES))
    if not structure.is_ordered:
        raise StructureInputError("the structure has partially occupied (disordered) sites; order it first")
    for site in structure:
        symbol = getattr(site.specie, "symbol", str(site.specie))
        if not is_element(symbol):
            raise StructureInputError(f"site species {symbol!r} is not a chemical element (H to Lr)")
    volume = structure.lattice.volume
    if not math.isfinite(volume) or volume < 1e-3:
        raise StructureInputError(f"the lattice is degenerate (volume {volume:.3g} A^3)")
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
    if volume / len(structure) < MIN_VOLUME_PER_ATOM:  # the fuzz's squeezed crystals kept a single point busy 30 s+
        raise StructureInputError(
            f"the cell holds {volume / len(structure):.3g} A^3 per atom, less than {MIN_VOLUME_PER_ATOM:g}: no solid "
            f"is that dense, and a potential's neighbour search would hold hundreds of neighbours per atom"
        )
    return structure
