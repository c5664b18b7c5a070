"""The reconstruction package's errors: :class:`periodicnet.errors.ReasonError` subclasses with a reason code.

Model-loading errors live here (not in :mod:`relax.models`) so that both :mod:`relax.models` and
:mod:`relax.matgl_fix` can raise them without importing each other.
"""

from __future__ import annotations

from periodicnet.errors import ReasonError

REASON_CODES = (
    "bad_input",
    "not_embeddable",
    "placement_failed",
    "gfnff_failed",
    "gfnff_crashed",
    "potential_failed",
    "not_converged",
    "timeout",
    "model_missing",
)


class RelaxError(ReasonError):
    """Reconstruction failed or was given bad input; ``reason`` is one of :data:`REASON_CODES`."""


class ModelNotFoundError(RelaxError):
    """No folder with the model's weights was found and the hub is not reachable (reason ``model_missing``)."""

    def __init__(self, message: str):
        super().__init__("model_missing", message)


class ModelLoadError(RelaxError):
    """A model folder was found but could not be loaded (damaged or incompatible files; reason ``model_missing``)."""

    def __init__(self, message: str):
        super().__init__("model_missing", message)


class MatglFixError(ModelLoadError):
    """The installed matgl's message direction is wrong (or unrecognised) and no verified fix applies to it."""
