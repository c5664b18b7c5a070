"""The SLICES grammar: reading the reference implementation's strings, and refusing bad input clearly."""

from __future__ import annotations

import numpy as np
import pytest
from codec_support import shared_csv
from hypothesis import given, settings
from hypothesis import strategies as st

import slices
from slices.errors import (
    EdgeIndexError,
    ImageLabelError,
    InputTooLargeError,
    ParseError,
    SlicesError,
    UnknownElementError,
)

NACL = "Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o-"


def test_reference_strings_all_parse_and_keep_their_atoms():
    table = shared_csv("slices_reference/mp20_nonmetal_slices_1432.csv.gz")
    for string in table.SLICES:
        graph = slices.parse(string)
        tokens = string.split()
        n_atoms = next(k for k, t in enumerate(tokens) if t.isdigit())
        assert graph.species == tuple(tokens[:n_atoms])
        assert graph.n_edges <= (len(tokens) - n_atoms) // 3
        assert (graph.edges[:, 0] <= graph.edges[:, 1]).all()
        assert graph.edges.max() < graph.n_atoms


def test_graph_contents():
    graph = slices.parse(NACL)
    assert graph.species == ("Na", "Cl")
    assert graph.n_edges == 6
    assert sorted(map(tuple, graph.images.tolist()))[0] == (-1, -1, 0)
    nx_graph = graph.to_networkx()
    assert nx_graph.number_of_nodes() == 2 and nx_graph.number_of_edges() == 6
    assert nx_graph.nodes[0]["element"] == "Na"


def test_paper_era_five_token_form_reads_the_same_graph():
    five = "Na Cl 0 1 o o o 0 1 - o o 0 1 o - o 0 1 o o - 0 1 - - o 0 1 - o -"
    a, b = slices.parse(NACL), slices.parse(five)
    assert a.species == b.species and (a.edges == b.edges).all() and (a.images == b.images).all()


def test_space_group_prefix_is_skipped():
    graph = slices.parse("Fm-3m " + NACL)
    assert graph.species == ("Na", "Cl") and graph.n_edges == 6


def test_reversed_and_duplicate_edges_are_normalised():
    graph = slices.parse("Na Cl 1 0 +oo 0 1 -oo 0 1 ooo")
    assert graph.n_edges == 2
    assert {tuple(t) for t in graph.images.tolist()} == {(0, 0, 0), (-1, 0, 0)}


@pytest.mark.parametrize(
    ("string", "error", "words"),
    [
        ("", ParseError, "empty"),
        ("   \n ", ParseError, "empty"),
        ("Xx Cl 0 1 ooo", UnknownElementError, "'Xx'"),
        ("Na Cl 0 2 ooo", EdgeIndexError, "out of range"),
        ("Na Cl 0 1 oxo", ImageLabelError, "'oxo'"),
        ("Na Cl 0 1 oo", ImageLabelError, "'oo'"),
        ("Na Cl 0 1 ooo 0", ParseError, "incomplete"),
        ("Na Cl 0 a ooo", ParseError, "atom index, found 'a'"),
        ("0 1 ooo", ParseError, "element"),
    ],
)
def test_bad_strings_raise_named_errors(string, error, words):
    with pytest.raises(error, match=words):
        slices.parse(string)


@pytest.mark.parametrize("value", [None, 3, b"Na Cl 0 1 ooo", ["Na"]])
def test_wrong_types_raise_parse_error(value):
    with pytest.raises(ParseError, match="must be str"):
        slices.parse(value)


def test_huge_input_is_refused_quickly():
    with pytest.raises(InputTooLargeError):
        slices.parse("Na " * 2000 + "0 1 ooo")
    with pytest.raises(InputTooLargeError):
        slices.parse("x" * 3_000_000)


TOKENS = st.sampled_from(["Na", "Cl", "O", "Si", "Xx", "0", "1", "2", "17", "ooo", "+-o", "o", "-", "+", "oxo", "Fm-3m"])


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=40))
def test_fuzz_token_soup_only_raises_project_errors(tokens):
    try:
        graph = slices.parse(" ".join(tokens))
    except SlicesError:
        return
    assert graph.n_atoms >= 1
    assert graph.edges.size == 0 or graph.edges.max() < graph.n_atoms
    assert np.isin(graph.images, (-1, 0, 1)).all()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text_only_raises_project_errors(text):
    try:
        slices.parse(text)
    except SlicesError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(TOKENS, max_size=30))
def test_fuzz_canonical_only_raises_project_errors(tokens):
    try:
        out = slices.canonical(" ".join(tokens))
    except SlicesError:
        return
    assert slices.canonical(out) == out
