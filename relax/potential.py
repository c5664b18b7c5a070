"""Energies and relaxations of a crystal with a universal potential (any :class:`relax.potentials.Potential`).

:func:`relax_structure` is the project's one public way to relax a structure with a potential (the hull builder,
screening and reconstruction's potential stage use it); it is :func:`relax.batch.relax_batch` on a batch of one,
under a :class:`~relax.driver.RelaxSettings`, so one crystal and many take the same steps. :func:`energy_per_atom` is a single point. A potential is named as
:func:`relax.potentials.get_potential` accepts it (a short name such as ``"m3gnet"`` or ``"7net-0"``, a matgl model
name or folder, an ASE calculator, a ``Potential``); loaded potentials and their calculators are cached per process.
"""

from __future__ import annotations

import math
import os

import numpy as np

from periodicnet.structure import into_cell, validate_structure
from relax.batch import relax_batch
from relax.driver import RelaxationError, RelaxSettings
from relax.errors import RelaxError
from relax.models import load_model
from relax.outcome import MODEL_ERRORS, PotentialError, RelaxResult
from relax.potentials import DEFAULT_POTENTIAL, Potential, get_potential, missing_from

__all__ = [
    "DEFAULT_POTENTIAL",
    "PotentialError",
    "RelaxResult",
    "calculator",
    "energy_per_atom",
    "load_potential",
    "missing_elements",
    "relax_structure",
]


def load_potential(model: str | os.PathLike = DEFAULT_POTENTIAL):
    """Load a matgl ``Potential`` by name or folder (cached); raise if the model is not a potential."""
    pot = load_model(model)
    if type(pot).__name__ != "Potential":
        raise PotentialError("bad_input", f"model {model!r} is a {type(pot).__name__}, not an interatomic potential")
    return pot


def _resolve(model) -> Potential:
    try:
        return get_potential(model)
    except RelaxError as exc:
        if isinstance(exc, PotentialError) or exc.reason != "bad_input":
            raise
        raise PotentialError("bad_input", str(exc)) from None


def calculator(model=DEFAULT_POTENTIAL):
    """The ASE calculator of a potential, one per potential and process (stress in eV/A^3 as ASE expects)."""
    return _resolve(model).calculator()


def missing_elements(model, symbols) -> list[str]:
    """The element symbols among ``symbols`` the potential has no parameters for, sorted (none when the potential
    does not say which elements it covers)."""
    return missing_from(_resolve(model), symbols)


def _checked(structure):
    """``structure`` validated, and wrapped into its cell when sites lie far outside it (the graph's neighbour search
    would otherwise span the whole offset)."""
    validate_structure(structure)
    frac = structure.frac_coords
    return into_cell(structure) if np.any((frac < -1) | (frac >= 2)) else structure


def _atoms(structure, model):
    """Validated ASE atoms of ``structure`` with the potential's calculator attached."""
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = _checked(structure)
    unknown = missing_elements(model, (el.symbol for el in structure.composition))
    if unknown:
        raise PotentialError("bad_input", f"potential {model!r} has no parameters for element(s) {', '.join(unknown)}")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator(model)
    if hasattr(atoms.calc, "reset"):
        atoms.calc.reset()  # a shared calculator: never reuse results of another crystal with equal positions
    return atoms


def energy_per_atom(structure, model: str | os.PathLike | Potential = DEFAULT_POTENTIAL) -> float:
    """Single-point energy per atom (eV/atom) of ``structure`` under the potential (its ``energies`` where it has
    them: no forces or stress computed)."""
    atoms = _atoms(structure, model)
    potential = _resolve(model)
    try:
        if hasattr(potential, "energies"):
            energy = float(potential.energies([atoms])[0]) / len(atoms)
        else:
            energy = float(atoms.get_potential_energy()) / len(atoms)
    except RelaxError:
        raise
    except MODEL_ERRORS as exc:  # raised inside the model
        formula = structure.composition.reduced_formula
        raise PotentialError("potential_failed", f"the potential failed on {formula}: {type(exc).__name__}: {exc}") from exc
    if not math.isfinite(energy):
        raise PotentialError("potential_failed", f"the potential returned a non-finite energy for {structure.composition.reduced_formula}")
    return energy


def relax_structure(
    structure,
    potential: str | os.PathLike | Potential = DEFAULT_POTENTIAL,
    settings: RelaxSettings = RelaxSettings(),
    *,
    deadline: float | None = None,
) -> RelaxResult:
    """Relax a pymatgen ``Structure`` with the potential under ``settings`` (defaults: :class:`RelaxSettings`).

    ``deadline`` is a ``time.monotonic()`` value; past it the run stops with status ``timeout``. Raises
    ``StructureInputError`` for an unusable structure, :class:`PotentialError` when the potential lacks an element
    or fails, :class:`~relax.driver.RelaxationError` when a guard of the driver trips (collapsed or exploded cell,
    non-finite numbers), :class:`~relax.models.ModelNotFoundError` when the model is not found.
    """
    if not isinstance(settings, RelaxSettings):
        raise RelaxationError("bad_input", f"settings must be a RelaxSettings, got {type(settings).__name__}")
    potential = _resolve(potential)
    outcome = relax_batch([_checked(structure)], potential, settings, deadline=deadline)[0]
    if isinstance(outcome, RelaxError):
        raise outcome
    return outcome
