"""The reconstruction package's own error: a :class:`periodicnet.errors.SlicesError` with a reason code."""

from __future__ import annotations

from periodicnet.errors import SlicesError

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


class RelaxError(SlicesError):
    """Reconstruction failed or was given bad input; ``reason`` is one of :data:`REASON_CODES`."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
