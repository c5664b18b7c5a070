"""Stage 3: refinement with a universal interatomic potential (matgl), positions and cell relaxed together.

ASE FIRE on a ``FrechetCellFilter``; the loaded potential is cached per process. Model folders are found by
:func:`find_model` (explicit path, ``$SLICES_MODEL_DIR/<name>``, ``data/models/<name>`` in the repository).
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from relax.errors import RelaxError

DEFAULT_MODEL = "M3GNet-MatPES-PBE-v2025.1-PES"
DEFAULT_FMAX = 0.1
DEFAULT_STEPS = 150
ACCEPT_FMAX = 0.5  # eV/A: a relaxation that ran out of steps above this is reported as not_converged


def find_model(model: str | os.PathLike) -> Path:
    """Folder of a matgl model: the path itself, ``$SLICES_MODEL_DIR/<name>`` or ``data/models/<name>``."""
    candidates = [Path(model)]
    if os.environ.get("SLICES_MODEL_DIR"):
        candidates.append(Path(os.environ["SLICES_MODEL_DIR"]) / str(model))
    candidates.append(Path(__file__).resolve().parent.parent / "data" / "models" / str(model))
    for path in candidates:
        if path.is_dir():
            return path
    raise RelaxError(
        "model_missing",
        f"matgl model {str(model)!r} not found (looked in: {', '.join(map(str, candidates))}); "
        "set SLICES_MODEL_DIR to the folder that holds the model folders or pass a path",
    )


@lru_cache(maxsize=4)
def _calculator(path: str):
    import warnings

    import torch

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matgl
        from matgl.ext.ase import PESCalculator

        try:
            potential = matgl.load_model(path)
        except Exception as exc:
            raise RelaxError("model_missing", f"matgl could not load the model at {path}: {exc}") from exc
    return PESCalculator(potential, stress_unit="eV/A3")


def calculator(model: str | os.PathLike = DEFAULT_MODEL):
    """The (cached) ASE calculator of a matgl potential."""
    return _calculator(str(find_model(model)))


def refine(
    numbers,
    cell: np.ndarray,
    frac: np.ndarray,
    *,
    model: str | os.PathLike = DEFAULT_MODEL,
    fmax: float = DEFAULT_FMAX,
    steps: int = DEFAULT_STEPS,
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Relax with the potential; return ``(cell, frac, energy_per_atom, status)``.

    ``status`` is ``"ok"``, ``"timeout"`` (``deadline``, a ``time.monotonic()`` value, passed) or
    ``"not_converged"`` (steps ran out with the largest force still above :data:`ACCEPT_FMAX`); the geometry
    reached so far is returned either way. Raises :class:`RelaxError` ``potential_failed`` when the potential
    errors, gives non-finite numbers or blows the cell up, ``model_missing`` when the model cannot be found.
    """
    from ase import Atoms
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    calc = calculator(model)
    atoms = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True)
    atoms.calc = calc
    filtered = FrechetCellFilter(atoms)
    opt = FIRE(filtered, logfile=None)
    status = "ok"
    try:
        for converged in opt.irun(fmax=fmax, steps=steps):
            if converged:
                break
            if deadline is not None and time.monotonic() > deadline:
                status = "timeout"
                break
            if abs(atoms.get_volume()) / len(atoms) > 500.0:
                raise RelaxError("potential_failed", "the cell blew up during the potential relaxation")
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
