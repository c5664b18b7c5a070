"""Relax many crystals together: one ASE optimiser and guarded cell filter per crystal (as :mod:`relax.driver`),
driven in lockstep so that each step's energies, forces and stresses come from one batched call of the potential
(:meth:`relax.potentials.Potential.evaluate`: one batched graph for SevenNet, one at a time for any other).

Per crystal: its own convergence (``fmax``), step budget, guards (the volume per atom is checked before each
evaluation, forces must be finite, positions after each step) and outcome; a member that trips a guard or that the
potential cannot evaluate leaves the batch with its error and the others go on. When a batched call fails, that
step is evaluated one crystal at a time, so only the crystal that fails is lost. The potential's ``device`` decides
where the batch runs (a GPU when the potential was made with one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from periodicnet.structure import validate_structure
from relax.driver import RelaxationError, RelaxSettings, _guarded_cell_filter, check_volume, make_optimizer
from relax.errors import RelaxError
from relax.outcome import MODEL_ERRORS, PotentialError, RelaxResult
from relax.potentials import Evaluation, get_potential, missing_from

__all__ = ["relax_batch"]


@dataclass
class _Member:
    """One crystal's relaxation inside a batch."""

    atoms: object
    target: object
    optimizer: object
    steps: int = 0
    energy: float = math.nan
    max_force: float = math.inf
    outcome: RelaxResult | RelaxError | None = None


def _start(structure, potential, settings: RelaxSettings) -> _Member:
    from pymatgen.io.ase import AseAtomsAdaptor

    validate_structure(structure)
    unknown = missing_from(potential, (el.symbol for el in structure.composition))
    if unknown:
        raise PotentialError("bad_input", f"potential {potential.name!r} has no parameters for element(s) "
                                          f"{', '.join(unknown)}")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    target = _guarded_cell_filter(atoms) if settings.relax_cell else atoms
    optimizer = make_optimizer(target, settings)
    return _Member(atoms=atoms, target=target, optimizer=optimizer)


def _evaluate(potential, members: list[_Member]) -> list[Evaluation | RelaxError]:
    """One batched call; when it fails, one call per crystal (the failing ones get a ``PotentialError``)."""
    try:
        values = potential.evaluate([m.atoms for m in members])
    except MODEL_ERRORS:
        values = None
    if values is not None and len(values) == len(members):
        return list(values)
    out: list[Evaluation | RelaxError] = []
    for member in members:
        try:
            out.append(potential.evaluate([member.atoms])[0])
        except MODEL_ERRORS as exc:
            formula = member.atoms.get_chemical_formula(mode="reduce")
            out.append(PotentialError("potential_failed", f"relaxation of {formula} failed: "
                                                          f"{type(exc).__name__}: {exc}"))
    return out


def _finish(member: _Member, settings: RelaxSettings, status: str | None = None) -> RelaxResult:
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.core import Structure

    converged = member.max_force < settings.fmax
    if status is None:
        status = "ok" if converged or member.max_force <= settings.accept_fmax else "not_converged"
    member.atoms.wrap()
    relaxed = AseAtomsAdaptor.get_structure(member.atoms)
    relaxed = Structure(relaxed.lattice, relaxed.species, relaxed.frac_coords)  # no calculator results attached
    return RelaxResult(structure=relaxed, energy_per_atom=member.energy / len(member.atoms), converged=converged,
                       steps=member.steps, status=status)


def relax_batch(
    structures: Sequence,
    potential=None,
    settings: RelaxSettings = RelaxSettings(),
    *,
    deadline: float | None = None,
) -> list[RelaxResult | RelaxError]:
    """Relax pymatgen ``Structure``\\ s together with one potential (as :func:`relax.potentials.get_potential`
    accepts it) under ``settings``; one :class:`~relax.potential.RelaxResult` per crystal, in order, or the
    :class:`~relax.errors.RelaxError` that stopped that crystal (bad input, an element the potential lacks, a
    tripped guard, a failure of the potential). ``deadline`` (``time.monotonic()``) ends the unfinished ones with
    status ``timeout``. The steps, convergence test and guards are those of :func:`relax.driver.relax_atoms`.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    if not isinstance(settings, RelaxSettings):
        raise RelaxationError("bad_input", f"settings must be a RelaxSettings, got {type(settings).__name__}")
    potential = get_potential(potential)
    members: list[_Member | None] = []
    outcomes: list[RelaxResult | RelaxError | None] = [None] * len(structures)
    for k, structure in enumerate(structures):
        try:
            members.append(_start(structure, potential, settings))
        except RelaxError as exc:
            members.append(None)
            outcomes[k] = exc
    active = [k for k, m in enumerate(members) if m is not None]
    while active:
        ready = []
        for k in active:  # guard before evaluation: a collapsed cell is never evaluated
            try:
                if settings.relax_cell:
                    check_volume(members[k].atoms)
                ready.append(k)
            except RelaxError as exc:
                outcomes[k] = exc
        values = _evaluate(potential, [members[k] for k in ready]) if ready else []
        still = []
        for k, value in zip(ready, values):
            member = members[k]
            if isinstance(value, RelaxError):
                outcomes[k] = value
                continue
            member.atoms.calc = SinglePointCalculator(member.atoms, energy=value.energy, forces=value.forces,
                                                      stress=value.stress)
            try:
                forces = member.target.get_forces()
                member.energy = float(value.energy)
                member.max_force = float(np.sqrt((forces ** 2).sum(axis=1).max()))
                if not math.isfinite(member.energy):
                    raise RelaxationError("potential_failed", "the relaxation diverged (non-finite energy)")
                if member.max_force < settings.fmax or member.steps >= settings.steps:
                    outcomes[k] = _finish(member, settings)
                    continue
                if deadline is not None and time.monotonic() > deadline:
                    outcomes[k] = _finish(member, settings, "timeout")
                    continue
                member.optimizer.step()
                member.steps += 1
                if not np.all(np.isfinite(member.atoms.positions)):
                    raise RelaxationError("potential_failed", "the relaxation diverged (non-finite positions)")
            except RelaxError as exc:
                outcomes[k] = exc
                continue
            still.append(k)
        active = still
    return outcomes
