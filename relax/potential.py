"""Stage 3 of reconstruction: relax a crystal with a matgl universal potential (ASE optimiser + cell filter).

``relax_structure`` returns ``(structure, energy_per_atom, converged, n_steps)``; ``energy_per_atom`` is a
single point. Models are found with :func:`relax.models.find_model` and cached per process.
"""

from __future__ import annotations

import math
import os

import numpy as np
from pymatgen.core import Structure

from periodicnet.limits import MAX_VOLUME_PER_ATOM, MIN_VOLUME_PER_ATOM
from periodicnet.structure import validate_structure
from relax.errors import RelaxError
from relax.models import load_model

__all__ = [
    "DEFAULT_POTENTIAL",
    "PotentialError",
    "energy_per_atom",
    "load_potential",
    "OPTIMIZERS",
    "cell_filter",
    "check_cell_volume",
    "check_optimizer",
    "make_optimizer",
    "missing_elements",
    "new_calculator",
    "relax_structure",
]

DEFAULT_POTENTIAL = "M3GNet-MP-2021.2.8-PES"  # chosen on evidence: docs/models.md
DEFAULT_FMAX = 0.05  # eV/A (cell too); vs a tight relaxation: median 0.16% volume, 0.5 meV/atom (docs/models.md)
DEFAULT_STEPS = 300


class PotentialError(RelaxError):
    """The potential could not evaluate or relax a structure (reason ``potential_failed``, or ``bad_input``)."""

    def __init__(self, message: str, reason: str = "potential_failed"):
        super().__init__(reason, message)


def load_potential(model: str | os.PathLike = DEFAULT_POTENTIAL):
    """Load a matgl ``Potential`` by name or folder (cached); raise if the model is not a potential."""
    pot = load_model(model)
    if type(pot).__name__ != "Potential":
        raise PotentialError(f"model {model!r} is a {type(pot).__name__}, not an interatomic potential", "bad_input")
    return pot


def new_calculator(model: str | os.PathLike):
    """A fresh ASE calculator for the potential (stress in eV/A^3, as ASE expects; matgl defaults to GPa)."""
    from matgl.ext.ase import PESCalculator

    return PESCalculator(load_potential(model), stress_unit="eV/A3")


def missing_elements(model: str | os.PathLike, symbols) -> list[str]:
    """The element symbols among ``symbols`` the potential has no parameters for, sorted."""
    return sorted(set(symbols) - set(load_potential(model).model.element_types))


OPTIMIZERS = ("FIRE", "BFGS")  # the ASE optimisers a relaxation may use


def check_optimizer(name: str) -> None:
    """Raise ``PotentialError`` (``bad_input``) unless ``name`` is one of :data:`OPTIMIZERS`."""
    if name not in OPTIMIZERS:
        raise PotentialError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}", "bad_input")


def make_optimizer(name: str, target):
    """The ASE optimiser ``name`` (see :data:`OPTIMIZERS`) on ``target`` (atoms or a cell filter), no log."""
    from ase.optimize import BFGS, FIRE

    check_optimizer(name)
    return {"FIRE": FIRE, "BFGS": BFGS}[name](target, logfile=None)


def _check_structure(structure, model) -> None:
    validate_structure(structure)
    unknown = missing_elements(model, (el.symbol for el in structure.composition))
    if unknown:
        raise PotentialError(f"potential {model!r} has no parameters for element(s) {', '.join(unknown)}", "bad_input")


def check_cell_volume(atoms) -> None:
    """Refuse to evaluate a collapsed or exploded cell: on a cell of a few A^3 a potential's neighbour list grows
    without bound (seen: one step on CoNiPt2 at 0.12 A^3/atom took 75 s and 12 GB)."""
    volume = abs(float(atoms.get_volume())) / len(atoms)
    if not MIN_VOLUME_PER_ATOM <= volume <= MAX_VOLUME_PER_ATOM:
        raise PotentialError(f"the cell {'collapsed' if volume < MIN_VOLUME_PER_ATOM else 'blew up'} during the "
                             f"relaxation ({volume:.3g} A^3 per atom)")


def cell_filter(atoms):
    """``FrechetCellFilter`` that computes its (costly, matrix-log based) cell forces once per geometry.

    ASE optimisers ask the filter for forces two or three times per step; the answer only depends on the
    positions and the cell, so it is cached on those. Same numbers as the plain filter, ~25% less time.
    """
    from ase.filters import FrechetCellFilter

    class CachedFrechetCellFilter(FrechetCellFilter):
        _key = None
        _cached: tuple[np.ndarray, np.ndarray] | None = None

        def get_forces(self, **kwargs):
            key = (self.atoms.positions.tobytes(), self.atoms.cell.array.tobytes())
            if self._cached is None or key != self._key:
                check_cell_volume(self.atoms)
                self._cached = (super().get_forces(**kwargs), self.stress)
                self._key = key
            self.stress = self._cached[1]
            return self._cached[0].copy()

    return CachedFrechetCellFilter(atoms)


def energy_per_atom(structure: Structure, model: str | os.PathLike = DEFAULT_POTENTIAL) -> float:
    """Single-point energy per atom (eV/atom) of ``structure`` under the potential."""
    from pymatgen.io.ase import AseAtomsAdaptor

    _check_structure(structure, model)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = new_calculator(model)
    energy = float(atoms.get_potential_energy()) / len(atoms)
    if not math.isfinite(energy):
        raise PotentialError(f"the potential returned a non-finite energy for {structure.composition.reduced_formula}")
    return energy


def relax_structure(
    structure: Structure,
    model: str | os.PathLike = DEFAULT_POTENTIAL,
    fmax: float = DEFAULT_FMAX,
    steps: int = DEFAULT_STEPS,
    relax_cell: bool = True,
    optimizer: str = "BFGS",
) -> tuple[Structure, float, bool, int]:
    """Relax atoms (and the cell when ``relax_cell``) to ``fmax`` eV/A within ``steps`` optimiser steps.

    ASE ``BFGS`` (or ``FIRE``) on a ``FrechetCellFilter``. Returns ``(relaxed structure, energy per atom in eV,
    converged, steps taken)``; a run that used up ``steps`` returns its last structure with ``converged=False``.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    if not (isinstance(fmax, (int, float)) and fmax > 0):
        raise PotentialError(f"fmax must be a positive number, got {fmax!r}", "bad_input")
    if not (isinstance(steps, int) and steps >= 0):
        raise PotentialError(f"steps must be a non-negative integer, got {steps!r}", "bad_input")
    check_optimizer(optimizer)
    _check_structure(structure, model)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = new_calculator(model)
    opt = make_optimizer(optimizer, cell_filter(atoms) if relax_cell else atoms)
    try:
        converged = bool(opt.run(fmax=fmax, steps=steps))
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        raise PotentialError(f"relaxation failed: {type(exc).__name__}: {exc}") from exc
    energy = float(atoms.get_potential_energy()) / len(atoms)
    if not math.isfinite(energy) or not np.all(np.isfinite(atoms.positions)):
        raise PotentialError(f"relaxation of {structure.composition.reduced_formula} diverged (non-finite values)")
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    return relaxed, energy, converged, int(opt.nsteps)
