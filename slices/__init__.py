"""SLICES codec: crystal structure <-> canonical, invertible string.

Public face: :func:`encode`, :func:`decode`, :func:`canonical`, :func:`parse`, :func:`check`, and the errors in
:mod:`slices.errors`.
"""

from slices import errors
from slices.errors import *  # noqa: F403 - the errors are part of the public face (errors.__all__)
from slices.graph import SlicesGraph, parse
from slices.canonicalize import canonical_form
from slices.encode import Encodability, check, encode, structure_graph
from slices.decode import DecodeResult, decode, decode_report


def canonical(string: str) -> str:
    """Canonical form of a SLICES string: the same crystal graph always gives the same string.

    Atom order, periodic images, lattice basis and cell size (supercells) are all normalised; see
    ``docs/canonical.md``. Raises :class:`ParseError` for malformed strings and :class:`NotEmbeddableError` for graphs
    that are not 3D frameworks.
    """
    return canonical_form(parse(string)).to_string()


__all__ = [
    "encode",
    "canonical",
    "check",
    "Encodability",
    "structure_graph",
    "decode",
    "decode_report",
    "DecodeResult",
    "SlicesGraph",
    "parse",
    *errors.__all__,
]
