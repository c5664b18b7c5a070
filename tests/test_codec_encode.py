"""Encoding real crystals: invariance under rotation, translation, atom order and cell choice; clear refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from codec_support import (
    aflow_prototypes,
    cesium_chloride,
    diamond,
    disguise,
    from_cif,
    perovskite,
    rock_salt,
    shared_csv,
    wurtzite,
    zincblende,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Molecule, Structure

import slices
from slices.bonds import econ_bonds
from slices.errors import NotEmbeddableError, StructureInputError

SUPERCELLS = [None, [2, 1, 1], [[1, 1, 0], [0, 1, 0], [0, 0, 2]], [[1, 0, 0], [1, 1, 0], [0, 0, 1]]]


def _encodable_prototypes():
    out = []
    for label, structure in aflow_prototypes():
        if len(structure) <= 12 and slices.check(structure):
            out.append((label, structure))
    return out


ENCODABLE = _encodable_prototypes()


def test_most_prototypes_are_encodable():
    assert len(ENCODABLE) > 120


@settings(max_examples=120, deadline=None)
@given(index=st.integers(0, len(ENCODABLE) - 1), seed=st.integers(0, 2**31 - 1), cell=st.sampled_from(SUPERCELLS))
def test_prototype_strings_are_invariant(index, seed, cell):
    label, structure = ENCODABLE[index]
    rng = np.random.default_rng(seed)
    assert slices.encode(disguise(structure, rng, cell)) == slices.encode(structure), label


def test_dev_crystals_are_invariant_under_disguise():
    table = shared_csv("mp20/dev_1000.csv.gz").head(60)
    rng = np.random.default_rng(7)
    for k, cif in enumerate(table.cif):
        structure = from_cif(cif)
        expected = slices.encode(structure)
        assert slices.encode(disguise(structure, rng, SUPERCELLS[k % len(SUPERCELLS)])) == expected
        assert slices.canonical(expected) == expected


def test_known_crystals_encode_as_chemists_expect():
    nacl = slices.parse(slices.encode(rock_salt()))
    assert nacl.species == ("Na", "Cl") and nacl.n_edges == 6  # octahedral, one formula unit
    si = slices.parse(slices.encode(diamond()))
    assert si.species == ("Si", "Si") and si.n_edges == 4  # tetrahedral
    sto = slices.parse(slices.encode(perovskite()))
    assert sorted(sto.species) == ["O", "O", "O", "Sr", "Ti"]
    zno = slices.parse(slices.encode(wurtzite()))
    assert zno.n_atoms == 4 and sorted(zno.degree().tolist()) == [4, 4, 4, 4]


def test_different_crystals_give_different_strings():
    strings = {slices.encode(s) for s in (rock_salt(), cesium_chloride(), diamond(), zincblende(), wurtzite())}
    assert len(strings) == 5
    # diamond and zincblende share the net: only the element labels differ
    assert slices.parse(slices.encode(diamond())).n_edges == slices.parse(slices.encode(zincblende())).n_edges


def test_econ_bonds_agree_with_pymatgen_econnn():
    from pymatgen.analysis.graphs import StructureGraph
    from pymatgen.analysis.local_env import EconNN

    from slices.graph import normalise_edges

    table = shared_csv("mp20/dev_1000.csv.gz").head(25)
    for cif in table.cif:
        structure = from_cif(cif)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = StructureGraph.from_local_env_strategy(structure, EconNN())
        rows = [(u, v, *d["to_jimage"]) for u, v, d in graph.graph.edges(data=True)]
        ref_edges, ref_images = normalise_edges(np.array(rows)[:, :2], np.array(rows)[:, 2:])
        edges, images = econ_bonds(structure)
        assert (edges == ref_edges).all() and (images == ref_images).all()


def test_check_reports_low_dimensional_crystals_without_raising():
    graphite = Structure(
        Lattice.hexagonal(2.46, 6.7), ["C"] * 4, [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    )
    report = slices.check(graphite, complete=False)
    assert not report and report.reason == "low_dimensional" and "2D" in report.message
    with pytest.raises(NotEmbeddableError) as info:
        slices.encode(graphite, complete=False)
    assert info.value.reason == "low_dimensional"
    completed = slices.check(graphite)  # the default completes the layers with contacts
    assert completed.ok and completed.completed and completed.reason == "low_dimensional" and "2D" in completed.message
    assert slices.check(rock_salt()).ok and not slices.check(rock_salt()).completed


def test_molecular_crystal_is_reported_as_disconnected_or_0d():
    box = Lattice.cubic(12.0)
    co2 = Structure(box, ["C", "O", "O"], [[0.5, 0.5, 0.5], [0.5, 0.5, 0.597], [0.5, 0.5, 0.403]])
    report = slices.check(co2, complete=False)
    assert not report and report.reason in {"low_dimensional", "disconnected"}
    completed = slices.check(co2)
    assert completed.ok and completed.contacts > 0 and completed.reason == report.reason


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: "NaCl.cif", "NaCl.cif: no such file"),  # a string is a file path
        (lambda: Molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.74]]), "pymatgen Structure"),
        (lambda: Structure(Lattice.cubic(4), ["Na", "Na"], [[0, 0, 0], [0, 0, 0.01]]), "overlapping"),
        (lambda: Structure(Lattice.cubic(4), [{"Na": 0.5, "K": 0.5}], [[0, 0, 0]]), "disordered"),
    ],
)
def test_bad_structures_raise_named_errors(make, words):
    with pytest.raises(StructureInputError, match=words):
        slices.encode(make())


def test_unknown_bond_method_is_refused():
    with pytest.raises(slices.SlicesError, match="unknown bond method"):
        slices.encode(rock_salt(), bonds="magic")
