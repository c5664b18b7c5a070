"""Periodic bond graph (species, edges, images) -> relaxed 3D crystal, in three stages.

Public face: :func:`reconstruct`, :class:`Reconstruction`, :class:`RelaxError`. It imports
:mod:`periodicnet` and never :mod:`slices` (the codec's ``decode`` depends on ``relax``, not the other way round).
"""

from relax.errors import REASON_CODES, RelaxError
from relax.reconstruct import STAGES, Reconstruction, reconstruct

__all__ = ["reconstruct", "Reconstruction", "RelaxError", "REASON_CODES", "STAGES"]
