"""The screening package's errors (all :class:`periodicnet.errors.SlicesError`)."""

from __future__ import annotations

from periodicnet.errors import SlicesError


class ScreeningError(SlicesError):
    """Bad arguments or unusable inputs for screening (assessment, hull, known materials, property models)."""
