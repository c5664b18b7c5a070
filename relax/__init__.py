"""Periodic bond graph (species, edges, images) -> relaxed 3D crystal (placement, optional GFN-FF, potential);
relaxing a crystal with a universal potential.

Public face: :func:`reconstruct`, :class:`Reconstruction`, :func:`relax_structure` (relax a pymatgen structure
with a potential under :class:`RelaxSettings`, giving a :class:`RelaxResult`), :class:`RelaxError`. It imports
:mod:`periodicnet` and never :mod:`slices` (the codec's ``decode`` depends on ``relax``, not the other way round).
"""

from relax.driver import RelaxSettings
from relax.errors import REASON_CODES, RelaxError
from relax.potential import DEFAULT_POTENTIAL, RelaxResult, relax_structure
from relax.reconstruct import DEFAULT_STAGES, STAGES, Reconstruction, reconstruct

__all__ = [
    "DEFAULT_POTENTIAL",
    "REASON_CODES",
    "DEFAULT_STAGES",
    "STAGES",
    "Reconstruction",
    "RelaxError",
    "RelaxResult",
    "RelaxSettings",
    "reconstruct",
    "relax_structure",
]
