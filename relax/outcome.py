"""What a relaxation with a universal potential gives back: a :class:`RelaxResult`, or a :class:`PotentialError`
when the potential cannot evaluate the crystal. Shared by :mod:`relax.batch` (the loop) and :mod:`relax.potential`
(its one-crystal face)."""

from __future__ import annotations

from dataclasses import dataclass

from relax.driver import RelaxationError

__all__ = ["MODEL_ERRORS", "PotentialError", "RelaxResult"]

MODEL_ERRORS = (RuntimeError, ValueError, FloatingPointError, IndexError)
"""What torch, e3nn and matgl raise when a model cannot evaluate a crystal: caught and reported as a
:class:`PotentialError`."""


class PotentialError(RelaxationError):
    """The potential cannot evaluate this structure: not a potential, an element it lacks (reason ``bad_input``),
    or it failed or returned non-finite numbers (reason ``potential_failed``)."""


@dataclass(frozen=True)
class RelaxResult:
    """Outcome of one crystal's relaxation (:func:`relax.potential.relax_structure`, :func:`relax.batch.relax_batch`).

    ``structure`` is the last geometry (sites wrapped into the cell), ``energy_per_atom`` the potential's energy
    there (eV/atom), ``converged`` whether the largest force (cell included) fell below ``settings.fmax``, ``steps``
    the optimiser steps taken, ``status`` ``"ok"``, ``"not_converged"`` (steps used up with a force above
    ``settings.accept_fmax``) or ``"timeout"`` (the deadline passed).
    """

    structure: object
    energy_per_atom: float
    converged: bool
    steps: int
    status: str
