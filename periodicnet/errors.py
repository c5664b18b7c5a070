"""The root of every exception the project raises on purpose, and the ones shared by more than one package."""

from __future__ import annotations


class SlicesError(ValueError):
    """Base class of the project's own errors (a ``ValueError``, so generic handlers still work)."""


class StructureInputError(SlicesError):
    """The object given as a crystal is not usable (wrong type, no atoms, overlapping atoms, no lattice)."""
