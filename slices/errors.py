"""Every exception the codec raises on purpose. Catch :class:`SlicesError` to catch them all.

:class:`SlicesError` (the root of all the project's errors), :class:`ArgumentError` (a bad argument through any
door), :class:`ReasonError` (an error with a ``reason`` code) and :class:`StructureInputError` live in
:mod:`periodicnet.errors`, the floor shared with the reconstruction; they are the same classes here.
"""

from __future__ import annotations

from periodicnet.errors import ArgumentError, ReasonError, SlicesError, StructureInputError

__all__ = [
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
    "ArgumentError",
    "ReasonError",
]


class ParseError(SlicesError):
    """A string is not a well-formed SLICES string."""


class UnknownElementError(ParseError):
    """A token in the element block is not a chemical element symbol."""


class EdgeIndexError(ParseError):
    """An edge names an atom index outside ``0 .. n_atoms - 1``."""


class ImageLabelError(ParseError):
    """An edge's periodic-image label is not three characters from ``-``, ``o``, ``+``."""


class InputTooLargeError(ParseError):
    """The input exceeds the size limits (atoms, edges or characters) the codec accepts."""


class NotEmbeddableError(ReasonError):
    """The bond graph cannot describe a 3D periodic crystal.

    ``reason`` is a short machine-readable code:

    - ``"disconnected"``: the quotient graph has more than one component;
    - ``"isolated_atom"``: some atom has no bond at all;
    - ``"low_dimensional"``: the bonded network is 0D, 1D or 2D (cycle rank of the image labels below 3);
    - ``"self_loop_zero_image"``: an atom is bonded to itself in the same cell;
    - ``"unstable_net"``: the barycentric placement puts two atoms on the same point and the canonical
      form cannot separate them (see ``docs/canonical.md``);
    - ``"no_contacts"``: a crystal's bonded pieces are too far apart to be joined by contacts
      (:mod:`slices.contacts`).
    """


class ImageOverflowError(SlicesError):
    """A bond spans more than one cell even in the reduced basis, so ``-``/``o``/``+`` cannot label it."""


class DecodeError(ReasonError):
    """Reconstruction of a crystal from a string failed; ``reason`` is the failing stage's code."""
