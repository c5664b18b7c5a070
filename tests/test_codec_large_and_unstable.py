"""Large cells (up to the 1,000-atom limit) and unstable nets (several atoms on one point of the placement)."""

from __future__ import annotations

import numpy as np
import pytest
from codec_support import diamond, disguise, from_cif, perovskite, rock_salt, shared_csv
from hypothesis import given, settings
from hypothesis import strategies as st

import slices
from slices.canonicalize import _multiset_orders, canonical_form
from slices.encode import structure_graph
from slices.graph import SlicesGraph
from slices.transforms import change_basis, permute_atoms, shift_images, supercell


@pytest.mark.parametrize(
    ("make", "repeats"),
    [(rock_salt, (5, 5, 5)), (diamond, (5, 5, 5)), (perovskite, (5, 5, 8))],
)
def test_thousand_atom_supercell_graphs_reduce_to_the_primitive_string(make, repeats):
    structure = make()
    graph = supercell(structure_graph(structure, reduce=False), repeats)
    graph = permute_atoms(graph, np.random.default_rng(1).permutation(graph.n_atoms))
    assert 990 <= graph.n_atoms <= 1000
    assert slices.canonical(graph.to_string()) == slices.encode(structure)


def test_thousand_atom_graph_without_translations_is_canonical():
    # one Na of a 1,000-atom NaCl supercell replaced by K: nothing to factor out, every atom stays
    graph = supercell(structure_graph(rock_salt()), (10, 10, 5))
    species = list(graph.species)
    species[species.index("Na")] = "K"
    doped = SlicesGraph(tuple(species), graph.edges, graph.images)
    expected = slices.canonical(doped.to_string())
    assert slices.parse(expected).n_atoms == 1000
    assert slices.canonical(expected) == expected
    rng = np.random.default_rng(5)
    other = shift_images(permute_atoms(doped, rng.permutation(1000)), rng.integers(-1, 2, size=(1000, 3)))
    other = change_basis(other, np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    assert canonical_form(other).to_string() == expected


# Crystals whose placement puts several atoms (hydrogens of methyl or water groups, and the atoms they hang on) on
# one point in so many combinations that trying every order (the limit of 720) refused them before.
UNSTABLE_QMOF = ["qmof-2a5ad82", "qmof-abfe36f", "qmof-045f7a6", "qmof-56158f0", "qmof-70ee38e", "qmof-6e0400c",
                 "qmof-6aa9d97"]
UNSTABLE_MP = ["mp-1202664", "mp-1202563"]


def _unstable_crystals():
    qmof = shared_csv("qmof/dev_140.csv.gz")
    mp = shared_csv("mp21_40/dev_300.csv.gz")
    cifs = list(qmof[qmof.qmof_id.isin(UNSTABLE_QMOF)].cif) + list(mp[mp.material_id.isin(UNSTABLE_MP)].cif)
    assert len(cifs) == len(UNSTABLE_QMOF) + len(UNSTABLE_MP)
    return [from_cif(c) for c in cifs]


@pytest.fixture(scope="module")
def unstable_crystals():
    return _unstable_crystals()


def test_unstable_nets_encode_and_are_invariant(unstable_crystals):
    rng = np.random.default_rng(11)
    for k, structure in enumerate(unstable_crystals):
        string = slices.encode(structure)
        assert slices.canonical(string) == string
        for cell in (None, [2, 1, 1] if k % 2 else [[1, 1, 0], [0, 1, 0], [0, 0, 1]]):
            assert slices.encode(disguise(structure, rng, cell)) == string


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, len(UNSTABLE_QMOF) + len(UNSTABLE_MP) - 1), seed=st.integers(0, 2**31 - 1))
def test_unstable_net_strings_are_canonical_under_graph_transforms(unstable_crystals, index, seed):
    expected = slices.encode(unstable_crystals[index])
    graph = slices.parse(expected)
    rng = np.random.default_rng(seed)
    other = change_basis(graph, np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]])[rng.permutation(3)])
    other = shift_images(other, rng.integers(-1, 2, size=(graph.n_atoms, 3)))
    other = permute_atoms(other, rng.permutation(graph.n_atoms))
    assert canonical_form(other).to_string() == expected


def test_multiset_orders_are_distinct_and_complete():
    orders = list(_multiset_orders([2, 1, 1]))
    assert len(orders) == len(set(orders)) == 12
    assert all(sorted(o) == [0, 0, 1, 2] for o in orders)
    assert orders == sorted(orders)


@settings(max_examples=30, deadline=None)
@given(
    index=st.integers(0, len(UNSTABLE_QMOF) + len(UNSTABLE_MP) - 1),
    seed=st.integers(0, 2**31 - 1),
    repeats=st.sampled_from([(2, 1, 1), (1, 2, 1), (1, 1, 2)]),
)
def test_supercell_graphs_of_unstable_nets_give_the_primitive_string_or_a_clear_refusal(
    unstable_crystals, index, seed, repeats
):
    """Where atoms sharing a point make a repeat ambiguous, the canonical form refuses; it never writes another string
    (a wrong quotient), and never keeps the supercell."""
    expected = slices.encode(unstable_crystals[index])
    rng = np.random.default_rng(seed)
    graph = supercell(slices.parse(expected), repeats)
    graph = permute_atoms(graph, rng.permutation(graph.n_atoms))
    try:
        assert canonical_form(graph).to_string() == expected
    except slices.NotEmbeddableError as exc:
        assert exc.reason == "unstable_net" and "repeats" in str(exc)


def test_supercell_of_an_unstable_net_with_only_twins_reduces():
    # ZnH6(CN2)4: its tied atoms are methyl-like twins only, so its repeats are unambiguous
    structure = _unstable_crystals()[UNSTABLE_QMOF.index("qmof-2a5ad82")]
    expected = slices.encode(structure)
    graph = permute_atoms(supercell(slices.parse(expected), (1, 2, 1)), np.random.default_rng(2).permutation(76))
    assert canonical_form(graph).to_string() == expected
