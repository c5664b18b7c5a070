"""Checks of the plain arguments every entry point takes (seeds, time limits, counts), written once.

The API (:func:`slices.decode`, :func:`generative.sample`, :func:`pipeline.generate.generate`) and the command line
(through :func:`cli_type`) use the same rules, so a bad value gets the same message everywhere, before any work starts.
Each check returns the value in its normal type (a numpy integer seed comes back as ``int``) or raises
:class:`periodicnet.errors.ArgumentError`, whichever door the value came through.
"""

from __future__ import annotations

import argparse
import math
import numbers
from typing import Callable

from periodicnet.errors import ArgumentError, SlicesError
from periodicnet.limits import MAX_SEED

__all__ = ["ArgumentError", "check_count", "check_number", "check_seed", "check_time_limit", "cli_type"]


def check_seed(value: object, name: str = "seed") -> int:
    """A random seed: a whole number from 0 to :data:`~periodicnet.limits.MAX_SEED`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{name} must be a whole number from 0 to {MAX_SEED}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if not 0 <= value <= MAX_SEED:
        raise ArgumentError(f"{name} must be from 0 to {MAX_SEED} (a 63-bit non-negative integer), got {value}")
    return value


def check_time_limit(value: object, name: str = "time_limit") -> float:
    """A time limit in seconds: a finite number > 0 (NaN, infinity, zero and negatives are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number of seconds > 0, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ArgumentError(f"{name} must be a finite number of seconds > 0, got {value}")
    return value


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """A count: a whole number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "a positive integer" if minimum == 1 else f"a whole number >= {minimum}"
        raise ArgumentError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum:
        raise ArgumentError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_number(value: object, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 above: float | None = None, below: float | None = None, optional: bool = False) -> float | None:
    """A finite real number within the bounds given: ``minimum``/``maximum`` inclusive, ``above``/``below``
    exclusive (None when ``optional`` and the value is None)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        kind = "a finite number or None" if optional else "a finite number"
        raise ArgumentError(f"{name} must be {kind}, got {value!r}")
    value = float(value)
    for bound, sign, holds in ((minimum, ">=", float.__ge__), (maximum, "<=", float.__le__),
                               (above, ">", float.__gt__), (below, "<", float.__lt__)):
        if bound is not None and not holds(value, float(bound)):
            raise ArgumentError(f"{name} must be {sign} {bound}, got {value}")
    return value


def _number_from_text(text: str, whole: bool) -> int | float:
    """Read a command-line number; only ASCII digits count (``int('١')`` would silently accept other scripts)."""
    stripped = text.strip()
    if not stripped.isascii():
        raise ValueError(text)
    return int(stripped) if whole else float(stripped)


def cli_type(check: Callable[..., object], whole: bool, **options) -> Callable[[str], object]:
    """An argparse ``type=`` that reads the text as a number and applies ``check`` (e.g. :func:`check_seed`), so the
    command line reports ``argument --seed: ...`` with the same message as the API."""

    def convert(text: str):
        try:
            value = _number_from_text(text, whole)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        try:
            return check(value, **options)
        except SlicesError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert
