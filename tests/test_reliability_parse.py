"""The parser against any text: every input is a SlicesGraph or a ParseError, never another exception.

The strategy mixes the grammar's own tokens with characters of every Unicode category, so that look-alikes such as
superscript or Arabic-Indic digits (``str.isdigit`` is True for them, ``int`` refuses or misreads them) reach every
slot of the grammar.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import slices
from pipeline.cli import main
from slices.errors import ParseError, SlicesError

NACL = "Na Cl 0 1 --- 0 1 o-- 0 1 o-o 0 1 oo- 0 1 ooo 0 1 +oo"
# digits that are not ASCII: decimal digits of other scripts (Nd), superscripts and circled digits (No)
LOOKALIKE_DIGITS = ["²", "⁰", "³", "١", "٣", "５", "߀", "𝟘", "①", "Ⅻ"]
UNICODE_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi",
                      "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cs")

any_text = st.text(st.characters(categories=UNICODE_CATEGORIES), max_size=6)
digits_of_any_script = st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=3)
grammar_token = st.one_of(
    st.sampled_from(["Na", "Cl", "O", "Cu", "Fm-3m", "P1", "Xx"]),
    st.integers(0, 4).map(str),
    st.sampled_from(["ooo", "+oo", "o-o", "--+", "+", "o", "-", "oo", "oooo", "o+-"]),
    digits_of_any_script,
    any_text,
)
separator = st.sampled_from([" ", "  ", "\t", "\n", "\u3000", "\u00a0", "\x1c"])


@st.composite
def slices_like(draw) -> str:
    tokens = draw(st.lists(grammar_token, min_size=0, max_size=14))
    return "".join(token + draw(separator) for token in tokens)


def test_lookalike_digits_are_rejected_as_atom_indices():
    for char in LOOKALIKE_DIGITS:
        assert char.isdigit() or unicodedata.category(char) in ("Nl", "No")
        for string in (f"Na Cl 0 {char} ooo", f"Na Cl {char} 1 +oo 0 1 o+o 0 1 oo+"):
            with pytest.raises(ParseError, match=f"found '{char}' \\(atom indices are written with the ASCII digits"):
                slices.parse(string)
            with pytest.raises(ParseError):
                slices.canonical(string)
            with pytest.raises(ParseError):
                slices.decode(string)


def test_a_word_after_the_elements_is_an_unknown_element():
    with pytest.raises(ParseError, match="not a chemical element"):
        slices.parse("Na Cl Ab 1 +oo")


def test_canonical_command_reports_the_bad_string_and_goes_on(capsys):
    assert main(["canonical", "Na Cl 0 ² ooo", NACL, "Na Cl ⁰ 1 ooo", NACL]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [slices.canonical(NACL)] * 2
    assert captured.err.count("ASCII digits 0-9") == 2


def test_decode_command_reports_each_bad_string_and_goes_on(capsys):
    assert main(["decode", "Na Cl 0 ² ooo", "Na Cl 0 1 ⁰oo"]) == 1
    err = capsys.readouterr().err
    assert "string 0: error: edge 0: expected an atom index, found '²'" in err
    assert "string 1: error: edge 0: image label '⁰oo'" in err


@settings(max_examples=400, deadline=None)
@given(slices_like())
def test_parse_gives_a_graph_or_a_parse_error(string):
    try:
        graph = slices.parse(string)
    except ParseError:
        return
    assert graph.n_atoms >= 1
    assert all(t.isascii() for t in string.split()[graph.n_atoms:])  # atom indices and labels are ASCII
    assert (graph.edges < graph.n_atoms).all()


@settings(max_examples=150, deadline=None)
@given(slices_like())
def test_canonical_raises_only_project_errors(string):
    try:
        result = slices.canonical(string)
    except SlicesError:
        return
    assert slices.canonical(result) == result
