"""SLICES codec: crystal structure <-> canonical, invertible string.

Public face: :func:`encode`, :func:`decode`, :func:`canonical`, :func:`parse`, :func:`check`, and the errors in
:mod:`slices.errors`.
"""

from slices.errors import (
    DecodeError,
    EdgeIndexError,
    ImageLabelError,
    ImageOverflowError,
    InputTooLargeError,
    NotEmbeddableError,
    ParseError,
    SlicesError,
    StructureInputError,
    UnknownElementError,
)
from slices.graph import SlicesGraph, parse

__all__ = [
    "SlicesGraph",
    "parse",
    "SlicesError",
    "ParseError",
    "UnknownElementError",
    "EdgeIndexError",
    "ImageLabelError",
    "InputTooLargeError",
    "NotEmbeddableError",
    "ImageOverflowError",
    "StructureInputError",
    "DecodeError",
]
