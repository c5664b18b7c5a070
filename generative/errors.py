"""The generative package's own exception."""

from __future__ import annotations

from slices.errors import SlicesError


class GenerativeError(SlicesError):
    """Bad input to the generative model (unknown property, bad count, unreadable checkpoint, bad training data)."""
