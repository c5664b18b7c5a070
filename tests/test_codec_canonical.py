"""The canonical form: one string per crystal graph, whatever the presentation (proved by trying many)."""

from __future__ import annotations

import numpy as np
import pytest
from codec_support import shared_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slices
from slices.canonicalize import canonical_form
from slices.errors import ImageOverflowError, NotEmbeddableError
from slices.graph import SlicesGraph
from slices.transforms import change_basis, permute_atoms, shift_images, supercell


def _reference_graphs() -> list[SlicesGraph]:
    table = shared_csv("slices_reference/mp20_nonmetal_slices_1432.csv.gz")
    return [slices.parse(s) for s in table.SLICES]


@pytest.fixture(scope="module")
def reference_graphs():
    return _reference_graphs()


@pytest.fixture(scope="module")
def canonical_strings(reference_graphs):
    return [slices.canonical(graph.to_string()) for graph in reference_graphs]


def test_canonical_is_idempotent_on_every_reference_string(canonical_strings):
    for once in canonical_strings:
        assert slices.canonical(once) == once


def _per_cell_invariants(graph: SlicesGraph) -> tuple:
    """Invariants that do not change when a supercell reduces to its primitive cell."""
    from collections import Counter
    from fractions import Fraction

    n = graph.n_atoms
    species = Counter(graph.species)
    degrees = Counter(zip(graph.species, graph.degree().tolist()))
    return (
        tuple(sorted((el, Fraction(c, n)) for el, c in species.items())),
        Fraction(graph.n_edges, n),
        tuple(sorted((key, Fraction(c, n)) for key, c in degrees.items())),
    )


def test_canonical_string_describes_the_same_crystal(reference_graphs, canonical_strings):
    reduced = 0
    for graph, string in zip(reference_graphs, canonical_strings):
        out = slices.parse(string)
        assert _per_cell_invariants(out) == _per_cell_invariants(graph)
        assert graph.n_atoms % out.n_atoms == 0
        reduced += out.n_atoms < graph.n_atoms
    # some reference strings are written in a supercell; the canonical form reduces them to the primitive cell
    assert reduced > 0


unimodular = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from([-1, 1])), min_size=0, max_size=5
).map(lambda ops: _shear_product(ops))


def _shear_product(ops) -> np.ndarray:
    m = np.eye(3, dtype=np.int64)
    for a, b, sign in ops:
        if a != b:
            m[a] += sign * m[b]
    return m


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(0, 1431),
    seed=st.integers(0, 2**31 - 1),
    basis=unimodular,
    flips=st.tuples(*(st.sampled_from([-1, 1]) for _ in range(3))),
    axis_order=st.permutations([0, 1, 2]),
    repeats=st.sampled_from([(1, 1, 1), (2, 1, 1), (1, 1, 2), (1, 2, 1)]),
)
def test_canonical_sees_through_order_images_basis_and_supercells(
    reference_graphs, index, seed, basis, flips, axis_order, repeats
):
    graph = reference_graphs[index]
    if (graph.degree() == 0).any():
        graph = slices.parse(slices.canonical(graph.to_string()))  # isolated atoms: compare as written canonically
    expected = slices.canonical(graph.to_string())
    rng = np.random.default_rng(seed)
    axes = np.eye(3, dtype=np.int64)[list(axis_order)] * np.array(flips)[:, None]
    other = change_basis(graph, axes @ basis)
    other = shift_images(other, rng.integers(-2, 3, size=(graph.n_atoms, 3)))
    other = permute_atoms(other, rng.permutation(graph.n_atoms))
    if repeats != (1, 1, 1):
        other = supercell(other, repeats)
        if other.embeddability() is not None:
            return  # an interpenetrated net can fall apart in a supercell's quotient graph (documented)
    assert canonical_form(other).to_string() == expected


def test_different_graphs_give_different_strings(reference_graphs, canonical_strings):
    """Canonical strings separate crystals: distinct reference graphs (by a permutation-invariant fingerprint) never
    collapse onto one string."""
    seen: dict[str, tuple] = {}
    for graph, string in zip(reference_graphs, canonical_strings):
        fingerprint = _per_cell_invariants(graph)
        if string in seen:
            assert seen[string] == fingerprint
        seen[string] = fingerprint
    assert len(seen) > 1300


def test_sublattice_translation_is_factored_out():
    # the NaCl net written in a doubled cell reduces to the two-atom string
    nacl = slices.parse("Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o-")
    doubled = supercell(nacl, (2, 2, 1))
    assert doubled.n_atoms == 8
    assert slices.canonical(doubled.to_string()) == slices.canonical(nacl.to_string())


def test_non_3d_graphs_raise_with_a_reason():
    with pytest.raises(NotEmbeddableError) as info:
        slices.canonical("C C 0 1 ooo 0 1 +oo 0 1 o+o")  # a layer
    assert info.value.reason == "low_dimensional"
    with pytest.raises(NotEmbeddableError) as info:
        slices.canonical("Na Cl Cl 0 0 +oo 0 0 o+o 0 0 oo+ 1 2 ooo 1 1 +oo")  # two pieces
    assert info.value.reason == "disconnected"
    with pytest.raises(NotEmbeddableError) as info:
        slices.canonical("Na Na 0 1 ooo 0 0 ooo")
    assert info.value.reason == "self_loop_zero_image"


def test_bond_longer_than_the_cell_raises_overflow():
    # one atom bonded to its images along a, b, c and also two cells along a: no basis labels that with -/o/+
    graph = SlicesGraph(
        species=("Po",),
        edges=np.zeros((4, 2), dtype=np.int64),
        images=np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0]]),
    )
    with pytest.raises(ImageOverflowError):
        canonical_form(graph)


def test_isolated_atoms_are_kept_after_the_net():
    out = slices.canonical("Na Cl Ar 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o-")
    assert out.split()[:3] == ["Na", "Cl", "Ar"]
    assert slices.canonical(out) == out


# Strings written by the generative model: bonds to an atom's own image, and bonds that in the graph's reduced cell
# span more than one cell, so atoms must be moved to other images to label every bond with -/o/+.
GENERATED = [
    "Ho Ho Zn Sm 0 1 --o 0 1 o-- 3 3 -+o 0 3 ooo 0 3 o++ 0 3 o+o 0 3 ++o 1 2 +++ 1 2 ++o 1 3 ooo 1 3 +oo 1 3 ++o "
    "2 3 ooo 2 3 o-+ 2 3 +oo 2 3 ++o",
    "Si Si Si Si Si Si Tm Tm 0 2 o-o 0 2 +oo 0 2 +-o 0 4 oo- 0 4 o-- 0 4 o-o 0 5 o-o 0 6 --o 0 6 -o- 0 7 -oo 0 7 -o- "
    "0 7 o-- 1 2 --- 1 2 o-o 1 2 ooo 1 3 -oo 1 4 ooo 1 4 -oo 1 5 ooo 1 6 ooo 1 7 -oo 1 6 -oo 1 7 ooo 1 7 oo- 2 3 ooo "
    "2 3 o-o 2 4 ooo 2 6 ooo 2 6 +oo 2 7 ooo 3 4 oo+ 3 4 ooo 3 6 ooo 3 6 +-o 3 7 oo+ 3 7 ooo 3 7 o-o 3 7 o++ 4 6 ooo "
    "4 6 oo+ 4 7 ooo 4 7 o-o 4 7 +oo 4 7 o+o 4 7 oo+ 4 7 o++ 4 7 ++o 5 6 +oo 5 7 ooo 5 7 +o- 6 6 +o+ 6 6 +o-",
]


@settings(max_examples=60, deadline=None)
@given(
    index=st.integers(0, len(GENERATED) - 1),
    seed=st.integers(0, 2**31 - 1),
    basis=unimodular,
    repeats=st.sampled_from([(1, 1, 1), (2, 1, 1), (1, 2, 1)]),
)
def test_canonical_is_invariant_for_generated_graphs_with_loops_and_long_bonds(index, seed, basis, repeats):
    graph = slices.parse(GENERATED[index])
    expected = slices.canonical(GENERATED[index])
    assert slices.canonical(expected) == expected
    rng = np.random.default_rng(seed)
    other = shift_images(change_basis(graph, basis), rng.integers(-2, 3, size=(graph.n_atoms, 3)))
    other = permute_atoms(other, rng.permutation(graph.n_atoms))
    if repeats != (1, 1, 1):
        other = supercell(other, repeats)
        if other.embeddability() is not None:
            return
    assert canonical_form(other).to_string() == expected
