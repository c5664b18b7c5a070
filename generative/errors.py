"""The generative package's own exceptions."""

from __future__ import annotations

from periodicnet.errors import ArgumentError, SlicesError


class GenerativeError(SlicesError):
    """Bad input to the generative model (unknown property, bad count, unreadable checkpoint, bad training data)."""


class SamplingOptionError(GenerativeError, ArgumentError):
    """A sampling option has the wrong type or value (count, temperature, top-k/top-p, guidance, a property target,
    ``elements``, ``max_atoms``, ``valid_composition``, batch size)."""


class TrainingOptionError(GenerativeError, ArgumentError):
    """A training option (:class:`generative.config.TrainConfig` or :class:`~generative.config.Session`) has the
    wrong type or value."""


class UnknownElementsError(SamplingOptionError):
    """``elements`` names symbols that are not elements of the model's vocabulary."""


class CompositionSearchError(GenerativeError):
    """``valid_composition``: the model kept writing element blocks that fail the SMACT test, so sampling gave up."""
