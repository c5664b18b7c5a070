"""Crystals as users have them (issue 21): pymatgen Structure and IStructure, ASE Atoms, file paths (CIF with several
blocks, POSCAR, extended XYZ), oxidation-state and magnetic-moment decorations, sizes that would exhaust memory, and
files that are no crystal, through ``to_structure``, ``slices.encode``, ``slices.check`` and ``screening.assess``
(the parts of ``assess`` that need no model)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import IStructure, Lattice, Species, Structure

import slices
from periodicnet.crystal_files import CrystalFileError, read_crystals, read_structures
from periodicnet.errors import StructureInputError
from periodicnet.limits import MAX_INPUT_SITES
from periodicnet.structure import to_structure
from screening.errors import ScreeningError


def salt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def decorated_salt() -> Structure:
    """Rock salt with oxidation states, spins and magnetic moments, as ICSD-derived CIFs and MP documents carry."""
    s = salt()
    s.add_oxidation_state_by_element({"Na": 1, "Cl": -1})
    s.add_site_property("magmom", [0.1 * k for k in range(len(s))])
    return s


@pytest.fixture(scope="module")
def salt_string() -> str:
    return slices.encode(salt())


def test_decorated_structures_are_taken_as_their_elements(salt_string):
    decorated = decorated_salt()
    plain = to_structure(decorated)
    assert {type(sp).__name__ for sp in plain.composition.elements} == {"Element"}
    assert not plain.site_properties
    assert decorated.site_properties["magmom"]  # the caller's object is left alone
    assert slices.encode(decorated) == salt_string
    spin = Structure(Lattice.cubic(2.87), [Species("Fe", 0, spin=4)], [[0, 0, 0]])
    assert slices.check(spin).ok


def test_istructure_ase_atoms_and_paths_give_the_same_string(salt_string, tmp_path):
    from pymatgen.io.ase import AseAtomsAdaptor

    assert slices.encode(IStructure.from_sites(salt())) == salt_string
    atoms = AseAtomsAdaptor.get_atoms(salt())
    atoms.set_initial_magnetic_moments(np.linspace(0, 1, len(atoms)))
    assert slices.encode(atoms) == salt_string
    cif = tmp_path / "NaCl.cif"
    decorated_salt().to(filename=str(cif))
    poscar = tmp_path / "POSCAR"
    salt().to(filename=str(poscar), fmt="poscar")
    xyz = tmp_path / "salt.extxyz"
    atoms.write(xyz)
    for path in (cif, str(cif), poscar, xyz):
        assert slices.encode(path) == salt_string
        assert slices.check(path).ok
    iron = bulk("Fe", "bcc", a=2.87)
    assert to_structure(iron).composition.reduced_formula == "Fe"


def test_multi_block_cif_is_read_block_by_block(tmp_path):
    from pymatgen.io.cif import CifWriter

    blocks = [str(CifWriter(s)) for s in (salt(), Structure(Lattice.cubic(2.87), ["Fe", "Fe"],
                                                             [[0, 0, 0], [0.5, 0.5, 0.5]]))]
    path = tmp_path / "two.cif"
    path.write_text(blocks[0] + "\n" + blocks[1].replace("data_Fe", "data_iron"))
    crystals = read_structures(path)
    assert [label for label, _ in crystals] == [f"{path}#NaCl", f"{path}#iron"]
    assert [s.composition.reduced_formula for _, s in crystals] == ["NaCl", "Fe"]
    with pytest.raises(StructureInputError, match="holds 2 crystals"):
        slices.encode(path)
    broken = tmp_path / "broken_block.cif"
    broken.write_text(blocks[0] + "\ndata_bad\n_cell_length_a 3\n_atom_site_fract_x\n_atom_site_fract_y\n")
    entries = read_crystals(broken)
    assert entries[0].structure is not None
    assert entries[1].structure is None and entries[1].error is not None and "#bad" in str(entries[1].error)


@pytest.mark.parametrize(("content", "words"), [
    (None, "no such file"),
    (b"", "could read it"),
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "could read it|not a text file"),
    (b"data_x\n_cell_length_a 4\n", "readable|atom sites"),
    (b"hello world\n1 2 3\n", "could read it"),
])
def test_bad_files_are_refused_naming_the_file(tmp_path, content, words):
    path = tmp_path / ("crystal.cif" if content and content.startswith(b"data_") else "crystal.dat")
    if content is not None:
        path.write_bytes(content)
    for call in (to_structure, slices.encode, read_structures):
        with pytest.raises(CrystalFileError, match=words) as info:
            call(path)
        assert str(path) in str(info.value)
    assert not slices.check(path).ok
    with pytest.raises(ScreeningError, match=f"item 0: {path}"):
        from screening import assess

        assess([path], relax=False, hull=False, novelty=False, band_gap=False)


def test_a_folder_and_non_crystals_are_refused(tmp_path):
    from ase import Atoms

    with pytest.raises(CrystalFileError, match="not a file"):
        to_structure(tmp_path)
    with pytest.raises(StructureInputError, match="not a 3D periodic crystal"):
        to_structure(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]))
    with pytest.raises(StructureInputError, match="holds no atoms"):
        to_structure(Atoms())
    with pytest.raises(StructureInputError, match="expected a pymatgen Structure, an ASE Atoms"):
        to_structure(3.0)
    with pytest.raises(StructureInputError, match="no file path"):
        to_structure("Na Cl 0 1 ooo\n0 1 +oo")


@pytest.mark.parametrize("make", [
    lambda: Structure(Lattice.cubic(1e5), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    lambda: Structure(Lattice([[1e5, 0, 0], [0, 3e4, 0], [0, 0, 3]]), ["Na"], [[0, 0, 0]]),
    lambda: Structure(Lattice.cubic(40), ["Cu"] * (MAX_INPUT_SITES + 1),
                      np.random.default_rng(0).random((MAX_INPUT_SITES + 1, 3))),
])
def test_sizes_that_would_exhaust_memory_are_refused_before_any_neighbour_search(make):
    """The 1e5 A cell once asked for 8 TB in ``assess``: now every door refuses it from its size alone."""
    from screening import assess

    structure = make()
    with pytest.raises(StructureInputError, match="per atom|exceeds the limit"):
        to_structure(structure)
    with pytest.raises(StructureInputError, match="per atom|exceeds the limit"):
        slices.encode(structure)
    assert not slices.check(structure).ok
    result = assess([structure], relax=False, hull=False, novelty=False, band_gap=False)[0]
    assert result.reason.startswith("unusable") and ("per atom" in result.reason or "exceeds" in result.reason)
    assert result.energy_per_atom is None and result.formation_energy_per_atom is None


def test_assess_takes_one_crystal_in_any_form_and_refuses_garbage(tmp_path):
    from screening import assess

    path = tmp_path / "NaCl.cif"
    decorated_salt().to(filename=str(path))
    empty = Structure(Lattice.cubic(4), [], [])
    for one in (str(path), path):  # a single path is one crystal, not a sequence of characters
        result = assess(one, relax=False, energies=[-3.4], hull=False, novelty=False, band_gap=False)
        assert len(result) == 1 and result[0].formula == "NaCl" and result[0].space_group == "Fm-3m"
        assert result[0].reason is None and result[0].formation_energy_per_atom is not None
    result = assess([empty], relax=False, hull=False, novelty=False, band_gap=False)[0]
    assert result.reason == "unusable: the structure has no atoms"
    with pytest.raises(ScreeningError, match="list of crystals, got int"):
        assess(5)
    with pytest.raises(ScreeningError, match="item 0: expected a pymatgen Structure"):
        assess([{"lattice": 1}])


def test_sites_far_outside_the_cell_are_moved_into_it(salt_string):
    """A site a million cells away once made the potential's neighbour search ask for terabytes inside ``assess``:
    every door now takes the crystal with its sites in the unit cell (the same crystal)."""
    far = salt()
    far.translate_sites([0], [1e6 - 1, -3e5, 7.0], frac_coords=True, to_unit_cell=False)
    assert abs(far.frac_coords).max() > 1e5
    inside = to_structure(far)
    assert ((inside.frac_coords >= 0) & (inside.frac_coords < 1)).all()
    assert inside.matches(salt())
    assert slices.encode(far) == salt_string


def test_a_crushed_cell_is_refused_from_its_density():
    from screening import assess

    crushed = salt()
    crushed.scale_lattice(crushed.volume * 0.04)  # 1.8 A^3 per atom, atoms still 0.77 A apart
    with pytest.raises(StructureInputError, match="less than 2: no solid is that dense"):
        slices.encode(crushed)
    result = assess([crushed], relax=False, hull=False, novelty=False, band_gap=False)[0]
    assert result.reason.startswith("unusable") and "dense" in result.reason
