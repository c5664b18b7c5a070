"""The relaxation driver: an ASE optimiser on a guarded ``FrechetCellFilter``, settings in one dataclass.
Relaxations with a universal potential (reconstruction's potential stage, the hull builder, screening) run
:func:`relax.batch.relax_batch`, which drives these optimisers and this filter for a batch of crystals (a batch of
one through :func:`relax.potential.relax_structure`); :func:`relax_atoms` drives them for an ASE calculator of one
crystal, the GFN-FF stage with GFN-FF plus the graph springs. The filter's matrix functions come from
:mod:`relax.cellmath` (scipy's general algorithms were 14% of a small crystal's relaxation).

Guards: with the cell relaxed, the volume per atom is checked before each force evaluation (so a runaway cell is
never evaluated) against :data:`~periodicnet.limits.MIN_VOLUME_PER_ATOM` and
:data:`~periodicnet.limits.MAX_VOLUME_PER_ATOM` (one evaluation of a collapsed CoNiPt2 cell took 75 s and 12 GB),
and forces and stress must be finite; positions are checked after every step, the energy at the end.
A tripped guard raises :class:`RelaxationError`; a deadline passed ends the run with status ``timeout``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from periodicnet.limits import MAX_VOLUME_PER_ATOM, MIN_VOLUME_PER_ATOM
from relax.errors import RelaxError

__all__ = ["OPTIMIZERS", "RelaxSettings", "RelaxationError", "AtomsRelaxation", "make_optimizer", "relax_atoms"]

OPTIMIZERS = ("FIRE", "BFGS")
"""The ASE optimisers a relaxation may use."""


class RelaxationError(RelaxError):
    """A relaxation cannot go on: bad settings (reason ``bad_input``), a collapsed or exploded cell, non-finite
    numbers, or a calculator error (reason ``potential_failed``)."""


@dataclass(frozen=True)
class RelaxSettings:
    """How to relax. The defaults are the reconstruction's, chosen on the MP-20 dev set (``docs/reconstruction.md``:
    FIRE at fmax 0.1 gave 97.2% / 95.0% loose / strict matches; BFGS at fmax 0.05 and 300 steps 96.2% / 93.4%,
    polishing the winner to 0.05 gained nothing). Use :func:`dataclasses.replace` for a variant.

    ``fmax`` (eV/A, cell forces too) ends the run as converged; ``steps`` bounds the optimiser steps;
    ``relax_cell`` relaxes the lattice with the atoms; a run that used up its steps with the largest force still
    above ``accept_fmax`` has status ``not_converged``. ``alpha`` is BFGS's initial Hessian (eV/A^2; ASE's
    ``alpha`` and its default; FIRE ignores it). The reconstruction's fast route sets its own (:mod:`relax.routes`).
    """

    optimizer: str = "FIRE"
    fmax: float = 0.1
    steps: int = 150
    relax_cell: bool = True
    accept_fmax: float = 0.5
    alpha: float = 70.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise RelaxationError("bad_input", f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("fmax", "accept_fmax", "alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise RelaxationError("bad_input", f"{name} must be a positive number, got {value!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise RelaxationError("bad_input", f"steps must be a non-negative integer, got {self.steps!r}")
        if not isinstance(self.relax_cell, bool):
            raise RelaxationError("bad_input", f"relax_cell must be True or False, got {self.relax_cell!r}")


@dataclass(frozen=True)
class AtomsRelaxation:
    """What :func:`relax_atoms` did (the atoms themselves were moved in place).

    ``status``: ``"ok"`` (converged to ``fmax``, or stopped by ``steps`` with the largest force at most
    ``accept_fmax``), ``"not_converged"`` or ``"timeout"``.
    """

    energy: float
    max_force: float
    converged: bool
    steps: int
    status: str


def check_volume(atoms) -> None:
    """Raise :class:`RelaxationError` when the cell has collapsed or blown up (volume per atom outside the limits)."""
    volume = abs(float(atoms.get_volume())) / len(atoms)
    if not MIN_VOLUME_PER_ATOM <= volume <= MAX_VOLUME_PER_ATOM:
        state = "collapsed" if volume < MIN_VOLUME_PER_ATOM else "blew up"
        raise RelaxationError("potential_failed", f"the cell {state} during the relaxation ({volume:.3g} A^3 per atom)")


def _guarded_cell_filter(atoms):
    """``FrechetCellFilter`` whose forces are computed once per geometry, and only after the guards pass.

    ASE optimisers ask for the forces two or three times per step; the answer depends only on positions and cell,
    so it is cached on those (same numbers as the plain filter, ~25% less time: the filter's forces use a matrix
    logarithm).
    """
    from ase.filters import FrechetCellFilter

    class GuardedFrechetCellFilter(FrechetCellFilter):
        _key = None
        _cached: tuple[np.ndarray, np.ndarray] | None = None

        def get_forces(self, **kwargs):
            key = (self.atoms.positions.tobytes(), self.atoms.cell.array.tobytes())
            if self._cached is None or key != self._key:
                check_volume(self.atoms)
                forces = super().get_forces(**kwargs)
                if not np.all(np.isfinite(forces)):
                    raise RelaxationError("potential_failed", "the calculator returned non-finite forces or stress")
                self._cached = (forces, self.stress)
                self._key = key
            self.stress = self._cached[1]
            return self._cached[0].copy()

    from relax.cellmath import speed_up

    cell_filter = GuardedFrechetCellFilter(atoms)
    speed_up(cell_filter)
    return cell_filter


def make_optimizer(target, settings: RelaxSettings):
    """The ASE optimiser ``settings`` names, on ``target`` (atoms or a cell filter), without a log."""
    from ase.optimize import BFGS, FIRE

    if settings.optimizer == "BFGS":
        return BFGS(target, logfile=None, alpha=settings.alpha)
    return FIRE(target, logfile=None)


def relax_atoms(atoms, settings: RelaxSettings = RelaxSettings(), *, deadline: float | None = None) -> AtomsRelaxation:
    """Relax ``atoms`` (with a calculator attached) in place under ``settings``.

    ``deadline`` is a ``time.monotonic()`` value checked after every step. Raises :class:`RelaxationError` when a
    guard trips (collapsed or exploded cell, non-finite numbers); errors of the calculator itself propagate.
    """
    if not isinstance(settings, RelaxSettings):
        raise RelaxationError("bad_input", f"settings must be a RelaxSettings, got {type(settings).__name__}")
    if len(atoms) == 0:
        raise RelaxationError("bad_input", "there are no atoms to relax")
    target = _guarded_cell_filter(atoms) if settings.relax_cell else atoms
    optimizer = make_optimizer(target, settings)
    converged, timed_out = False, False
    for converged in optimizer.irun(fmax=settings.fmax, steps=settings.steps):
        if converged:
            break
        if not np.all(np.isfinite(atoms.positions)):
            raise RelaxationError("potential_failed", "the relaxation diverged (non-finite positions)")
        if deadline is not None and time.monotonic() > deadline:
            timed_out = True
            break
    energy = float(atoms.get_potential_energy())
    max_force = float(np.sqrt((target.get_forces() ** 2).sum(axis=1).max()))
    if not math.isfinite(energy) or not np.all(np.isfinite(atoms.positions)):
        raise RelaxationError("potential_failed", "the relaxation diverged (non-finite energy or positions)")
    if timed_out:
        status = "timeout"
    elif converged or max_force <= settings.accept_fmax:
        status = "ok"
    else:
        status = "not_converged"
    return AtomsRelaxation(energy=energy, max_force=max_force, converged=bool(converged),
                           steps=int(optimizer.nsteps), status=status)
