"""Stage 3: refinement with a universal interatomic potential (matgl), positions and cell relaxed together.

The model is found and loaded by :mod:`relax.models` / :mod:`relax.potential` (which also repair matgl 4.1.2's
loading of the published weights); this module adds what reconstruction needs on top of
:func:`relax.potential.relax_structure`: a deadline checked at every optimiser step and a status instead of an
exception for a run that did not finish. ASE FIRE (or BFGS) on a ``FrechetCellFilter``.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import numpy as np

from relax.errors import RelaxError

from relax.potential import DEFAULT_POTENTIAL as DEFAULT_MODEL  # one default for the whole project
DEFAULT_FMAX = 0.1  # eV/A
DEFAULT_STEPS = 150
DEFAULT_OPTIMIZER = "FIRE"  # BFGS: half the steps, but 1 point fewer matches on MP-20 (docs/reconstruction.md)
ACCEPT_FMAX = 0.5  # eV/A: a relaxation that ran out of steps above this is reported as not_converged


@lru_cache(maxsize=4)
def _calculator(model: str):
    import torch

    from relax.potential import new_calculator

    torch.set_num_threads(1)
    return new_calculator(model)


def calculator(model: str | os.PathLike = DEFAULT_MODEL):
    """The (cached) ASE calculator of a matgl potential; raises ``RelaxError('model_missing')`` if not found."""
    return _calculator(str(model))


def refine(
    numbers,
    cell: np.ndarray,
    frac: np.ndarray,
    *,
    model: str | os.PathLike = DEFAULT_MODEL,
    fmax: float = DEFAULT_FMAX,
    steps: int = DEFAULT_STEPS,
    deadline: float | None = None,
    optimizer: str = DEFAULT_OPTIMIZER,
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Relax with the potential; return ``(cell, frac, energy_per_atom, status)``.

    ``status`` is ``"ok"``, ``"timeout"`` (``deadline``, a ``time.monotonic()`` value, passed) or
    ``"not_converged"`` (steps ran out with the largest force still above :data:`ACCEPT_FMAX`); the geometry
    reached so far is returned either way. Raises :class:`RelaxError` ``potential_failed`` when the potential
    errors, gives non-finite numbers or blows the cell up, ``model_missing`` when the model cannot be found.
    """
    from ase import Atoms
    from ase.data import chemical_symbols

    from relax.potential import cell_filter, check_optimizer, make_optimizer, missing_elements

    check_optimizer(optimizer)
    calc = calculator(model)
    missing = missing_elements(model, (chemical_symbols[z] for z in numbers))
    if missing:
        raise RelaxError("potential_failed", f"potential {model!r} has no parameters for {', '.join(missing)}")
    atoms = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True)
    atoms.calc = calc
    filtered = cell_filter(atoms)  # refuses a collapsed or exploded cell before the potential evaluates it
    opt = make_optimizer(optimizer, filtered)
    status = "ok"
    try:
        for converged in opt.irun(fmax=fmax, steps=steps):
            if converged:
                break
            if deadline is not None and time.monotonic() > deadline:
                status = "timeout"
                break
        energy = float(atoms.get_potential_energy()) / len(atoms)
        final_fmax = float(np.sqrt((filtered.get_forces() ** 2).sum(axis=1).max()))
    except RelaxError:
        raise
    except Exception as exc:
        raise RelaxError("potential_failed", f"the potential failed: {type(exc).__name__}: {exc}") from exc
    if not np.isfinite(energy) or not np.all(np.isfinite(atoms.positions)):
        raise RelaxError("potential_failed", "the potential returned non-finite numbers")
    if status == "ok" and final_fmax > ACCEPT_FMAX:
        status = "not_converged"
    return np.asarray(atoms.cell), atoms.get_scaled_positions(wrap=True), energy, status
