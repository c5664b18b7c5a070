"""The space group of a relaxed crystal by a tolerance ladder, and its CIF written in that space group.

A relaxed crystal is symmetric only up to the optimiser's tolerance, so spglib's answer depends on ``symprec``.
The ladder tries :data:`SYMPREC_LADDER` from loose to strict and keeps the loosest tolerance whose refined crystal
is still the same crystal as the input (pymatgen ``StructureMatcher`` with tight tolerances: lattice lengths within
:data:`MAX_LATTICE_CHANGE`, sites within :data:`MAX_SITE_SHIFT` of the mean atomic spacing, no rescaling). A crystal
that no tolerance symmetrises without moving it is reported as P1 with ``symprec`` None.
"""

from __future__ import annotations

from dataclasses import dataclass

SYMPREC_LADDER = (0.1, 0.05, 0.01, 0.001)  # angstrom
MAX_LATTICE_CHANGE = 0.02  # fractional (StructureMatcher ltol)
MAX_SITE_SHIFT = 0.05  # fraction of (volume per atom)^(1/3) (StructureMatcher stol)


@dataclass(frozen=True)
class Symmetry:
    """``space_group`` (international symbol), its ``number`` and the ``symprec`` (A) it was found with."""

    space_group: str
    number: int
    symprec: float | None


def _same_crystal(a, b) -> bool:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=MAX_LATTICE_CHANGE, stol=MAX_SITE_SHIFT, angle_tol=1.0, scale=False,
                               primitive_cell=True)
    return bool(matcher.fit(a, b))


def find_symmetry(structure) -> Symmetry:
    """The space group at the loosest tolerance of :data:`SYMPREC_LADDER` that leaves the crystal in place."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    for symprec in SYMPREC_LADDER:
        try:
            analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
            number = int(analyzer.get_space_group_number())
            if number == 1:
                return Symmetry("P1", 1, symprec)  # P1 at a loose tolerance is P1 at every stricter one
            refined = analyzer.get_refined_structure()
        except (ValueError, TypeError):  # spglib gives up on some distorted cells at a given tolerance
            continue
        if _same_crystal(structure, refined):
            return Symmetry(analyzer.get_space_group_symbol(), number, symprec)
    return Symmetry("P1", 1, None)


def write_cif(structure, path, symprec: float | None) -> None:
    """Write ``structure`` as a CIF in its refined space group at ``symprec`` (P1 when ``symprec`` is None, or when
    the symmetrised CIF would not read back as the same crystal: near a special position, the symmetry copies of a
    site can land a few hundredths of an angstrom apart instead of on top of each other)."""
    from pathlib import Path

    from pymatgen.io.cif import CifWriter

    text = str(CifWriter(structure, symprec=symprec)) if symprec is not None else None
    if text is None or not _reads_back_as(text, structure):
        text = str(CifWriter(structure))
    Path(path).write_text(text)


def _reads_back_as(text: str, structure) -> bool:
    """Whether the CIF ``text`` parses into the same crystal as ``structure`` (same sites, same arrangement)."""
    import warnings

    from pymatgen.io.cif import CifParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns about the very problems this check is looking for
            parsed = CifParser.from_str(text).parse_structures(primitive=False)
    except ValueError:  # pymatgen found no structure it could build
        return False
    if len(parsed) != 1 or parsed[0].composition.reduced_composition != structure.composition.reduced_composition:
        return False
    return _same_crystal(structure, parsed[0])
