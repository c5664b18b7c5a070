"""A symmetrised CIF must read back as the crystal it was written from (a generated AgMo3 whose C2/m CIF at
symprec 0.1 read back as AgMo5, two Mo sites 0.04 A apart, is the case that showed it)."""

from __future__ import annotations

import warnings

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser, CifWriter

from screening.symmetry import find_symmetry, write_cif

AG_MO3 = Structure(  # the relaxed crystal of candidate 70 of `slices generate --n 100 --seed 0` (shipped model)
    [[4.415547, 0.150435, 0.037011], [1.891404, 3.992778, 0.037011], [2.26651, 1.488934, 3.775714]],
    ["Ag", "Mo", "Mo", "Mo"],
    [[0.941766, 0.941766, 0.056676], [0.706333, 0.706333, 0.787532], [0.43647, 0.43647, 0.559552],
     [0.190431, 0.190431, 0.321241]],
)


def _read(path) -> Structure:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CifParser(path).parse_structures(primitive=False)[0]


def test_a_cif_that_would_not_read_back_is_written_in_p1(tmp_path):
    symmetry = find_symmetry(AG_MO3)
    assert (symmetry.space_group, symmetry.symprec) == ("C2/m", 0.1)
    (tmp_path / "plain.cif").write_text(str(CifWriter(AG_MO3, symprec=symmetry.symprec)))
    assert _read(tmp_path / "plain.cif").composition.reduced_formula == "AgMo5"  # what pymatgen alone writes
    write_cif(AG_MO3, tmp_path / "checked.cif", symmetry.symprec)
    back = _read(tmp_path / "checked.cif")
    assert back.composition.reduced_formula == "AgMo3" and len(back) == 4
    assert StructureMatcher().fit(back, AG_MO3)


def test_a_cif_that_reads_back_keeps_its_space_group(tmp_path):
    rocksalt = Structure.from_spacegroup("Fm-3m", [[5.6, 0, 0], [0, 5.6, 0], [0, 0, 5.6]], ["Na", "Cl"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    write_cif(rocksalt, tmp_path / "nacl.cif", find_symmetry(rocksalt).symprec)
    assert "Fm-3m" in (tmp_path / "nacl.cif").read_text()
    assert StructureMatcher().fit(_read(tmp_path / "nacl.cif"), rocksalt)
