"""Every crystal encodable: layered, chain and molecular crystals are completed into 3D nets with contact edges."""

from __future__ import annotations

import numpy as np
import pytest
from codec_support import disguise, from_cif, rock_salt, shared_csv
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Structure

import slices
from periodicnet.graph import component_ranks, embeddability
from slices.canonicalize import canonical_form
from slices.encode import structure_graph
from slices.errors import NotEmbeddableError, ParseError
from slices.transforms import change_basis, permute_atoms, shift_images, supercell


def graphite() -> Structure:
    return Structure(
        Lattice.hexagonal(2.46, 6.7), ["C"] * 4, [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    )


def molybdenite() -> Structure:
    """2H-MoS2: Mo-S layers held together by van der Waals contacts."""
    return Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(3.16, 12.29), ["Mo", "S"], [[1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, 0.621]]
    )


def chains() -> Structure:
    """Zig-zag Se chains along c, 3.5 A apart."""
    return Structure(Lattice.orthorhombic(3.5, 4.1, 4.4), ["Se", "Se"], [[0, 0, 0], [0, 0.25, 0.5]])


def dry_ice() -> Structure:
    """Molecular CO2 (Pa-3), each molecule a separate piece."""
    return Structure.from_spacegroup("Pa-3", Lattice.cubic(5.62), ["C", "O"], [[0, 0, 0], [0.1185, 0.1185, 0.1185]])


LOW_DIMENSIONAL = {"graphite": graphite, "MoS2": molybdenite, "chains": chains, "CO2": dry_ice}


@pytest.mark.parametrize("name", sorted(LOW_DIMENSIONAL))
def test_bonds_alone_are_not_a_3d_net_but_the_completed_graph_is(name):
    structure = LOW_DIMENSIONAL[name]()
    bonds = structure_graph(structure, complete=False)
    assert bonds.embeddability() is not None
    assert max(component_ranks(bonds.n_atoms, bonds.edges, bonds.images)) < 3
    completed = structure_graph(structure)
    assert completed.n_contacts > 0
    assert embeddability(completed.n_atoms, completed.edges, completed.images) is None
    # the bonds are kept as they were; contacts only add edges
    kept = {tuple(r) for r in np.column_stack([completed.edges, completed.images])[~completed.contacts].tolist()}
    assert kept == {tuple(r) for r in np.column_stack([bonds.edges, bonds.images]).tolist()}


@pytest.mark.parametrize("name", sorted(LOW_DIMENSIONAL))
def test_low_dimensional_crystals_encode_with_contacts_and_check_says_so(name):
    structure = LOW_DIMENSIONAL[name]()
    string = slices.encode(structure)
    assert " ~ " in string
    graph = slices.parse(string)
    assert graph.n_contacts > 0 and graph.embeddability() is None
    assert slices.canonical(string) == string
    report = slices.check(structure)
    assert report.ok and report.completed and report.contacts == graph.n_contacts
    assert report.reason in {"low_dimensional", "disconnected"}
    with pytest.raises(NotEmbeddableError):
        slices.encode(structure, complete=False)
    assert not slices.check(structure, complete=False)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(LOW_DIMENSIONAL)),
    seed=st.integers(0, 2**31 - 1),
    cell=st.sampled_from([None, [2, 1, 1], [[1, 1, 0], [0, 1, 0], [0, 0, 2]], [[1, 0, 0], [1, 1, 0], [0, 0, 1]]]),
)
def test_contact_strings_are_invariant_under_rotation_translation_permutation_and_supercell(name, seed, cell):
    structure = LOW_DIMENSIONAL[name]()
    rng = np.random.default_rng(seed)
    assert slices.encode(disguise(structure, rng, cell)) == slices.encode(structure)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(LOW_DIMENSIONAL)),
    seed=st.integers(0, 2**31 - 1),
    repeats=st.sampled_from([(1, 1, 1), (2, 1, 1), (1, 1, 2)]),
)
def test_canonical_of_contact_graphs_sees_through_order_images_basis_and_supercells(name, seed, repeats):
    expected = slices.encode(LOW_DIMENSIONAL[name]())
    graph = slices.parse(expected)
    rng = np.random.default_rng(seed)
    basis = np.array([[1, 0, 0], [1, 1, 0], [0, -1, 1]])[rng.permutation(3)]
    other = change_basis(graph, basis)
    other = shift_images(other, rng.integers(-2, 3, size=(graph.n_atoms, 3)))
    other = permute_atoms(other, rng.permutation(graph.n_atoms))
    if repeats != (1, 1, 1):
        other = supercell(other, repeats)
    assert other.n_contacts > 0
    assert canonical_form(other).to_string() == expected


def test_contacts_are_a_distinct_edge_colour():
    # the same quotient graph with the contact on a different edge is a different string
    a = slices.canonical("C C 0 1 ooo 0 1 o-o 0 1 -oo ~ 0 1 oo- 0 0 oo+ 1 1 oo+")
    b = slices.canonical("C C 0 1 ooo 0 1 o-o 0 1 -oo 0 1 oo- 0 0 oo+ 1 1 oo+")
    c = slices.canonical("C C 0 1 ooo 0 1 o-o ~ 0 1 -oo 0 1 oo- 0 0 oo+ 1 1 oo+")
    assert len({a, b, c}) == 3
    assert "~" not in b and "~" in a and "~" in c


def test_3d_crystals_have_no_contacts_and_unchanged_strings():
    table = shared_csv("mp20/dev_1000.csv.gz").head(40)
    for cif in table.cif:
        structure = from_cif(cif)
        string = slices.encode(structure)
        assert "~" not in string
        assert string == slices.encode(structure, complete=False)
        assert not slices.check(structure).completed
    assert slices.check(rock_salt()).contacts == 0


def test_contact_string_grammar():
    graph = slices.parse("C C 0 1 ooo 0 1 o-o 0 1 -oo ~ 0 1 oo- 1 1 oo+")
    assert graph.n_edges == 5 and graph.n_contacts == 2
    assert slices.parse(graph.to_string()).to_string() == graph.to_string()
    assert graph.to_networkx().number_of_edges() == 5
    with pytest.raises(ParseError, match="once"):
        slices.parse("C C 0 1 ooo ~ 0 1 o-o ~ 0 1 -oo")
    with pytest.raises(ParseError, match="both as a bond"):
        slices.parse("C C 0 1 ooo 0 1 o-o ~ 1 0 o+o")
    with pytest.raises(ParseError):
        slices.parse("C C 0 1 ooo 0 ~ 1 o-o")
    assert slices.parse("Na Cl ~ 0 1 ooo").n_contacts == 1


def test_refused_dev_crystals_are_encodable_and_invariant():
    """MP-21-40 crystals whose bonds are not a 3D net: each now encodes, and a disguised copy gives the same string."""
    table = shared_csv("mp21_40/dev_300.csv.gz")
    rng = np.random.default_rng(3)
    tried = 0
    for cif in table.cif:
        structure = from_cif(cif)
        if slices.check(structure, complete=False).reason not in {"low_dimensional", "disconnected"}:
            continue
        string = slices.encode(structure)
        assert "~" in string and slices.parse(string).embeddability() is None
        assert slices.encode(disguise(structure, rng, [2, 1, 1])) == string
        tried += 1
        if tried == 6:
            break
    assert tried == 6
