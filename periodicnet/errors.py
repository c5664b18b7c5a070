"""The project's error vocabulary: the root of every exception it raises on purpose and the kinds every package
shares. Each package adds its own subclasses in its own ``errors`` module.

- :class:`SlicesError`: the root (a ``ValueError``). Catch it to catch every error of the project.
- :class:`ArgumentError`: an argument has the wrong type or is out of range, whichever door it came through
  (Python API or command line, codec, generator, screening or orchestration).
- :class:`ReasonError`: an error that carries a short machine-readable ``reason`` code (``err.reason``), for
  callers that record failures as data (a decode record's status, a candidate table's column).
- :class:`StructureInputError`: the object given as a crystal is not usable.
"""

from __future__ import annotations


class SlicesError(ValueError):
    """Base class of the project's own errors (a ``ValueError``, so generic handlers still work)."""


class ArgumentError(SlicesError):
    """An argument has the wrong type or is out of its range."""


class ReasonError(SlicesError):
    """An error with a machine-readable ``reason`` code besides its message: ``ReasonError(reason, message)``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class StructureInputError(SlicesError):
    """The object given as a crystal is not usable (wrong type, no atoms, overlapping atoms, no lattice)."""
