"""relax.cellmath: the 3x3 matrix functions of the cell filter agree with scipy's, and a relaxation with them
takes the same steps as one with scipy's."""

import numpy as np
import pytest
import scipy.linalg as sl

from relax import cellmath


def _matrices():
    rng = np.random.default_rng(0)
    out = [np.eye(3), 1.07 * np.eye(3), np.diag([0.9, 1.0, 1.2])]
    for scale in (1e-4, 0.01, 0.1, 0.3):
        out += [np.eye(3) + rng.normal(scale=scale, size=(3, 3)) for _ in range(20)]
    return out


@pytest.mark.parametrize("k", range(83))
def test_functions_agree_with_scipy(k):
    a = _matrices()[k]
    log = cellmath.logm(a)
    assert np.allclose(log, sl.logm(a), rtol=0, atol=1e-12)
    assert np.allclose(cellmath.expm(log), sl.expm(log), rtol=0, atol=1e-12)
    for mu, nu in [(0, 0), (0, 1), (2, 1)]:
        direction = np.zeros((3, 3))
        direction[mu, nu] = 1.0
        ours = cellmath.expm_frechet(log, direction, compute_expm=False)
        assert np.allclose(ours, sl.expm_frechet(log, direction, compute_expm=False), rtol=0, atol=1e-10)
    value, derivative = cellmath.expm_frechet(log, direction)
    assert np.allclose(value, sl.expm(log), atol=1e-12) and np.allclose(derivative, ours)


def test_defective_and_negative_matrices_use_scipy():
    shear = np.eye(3)
    shear[0, 1] = 0.2  # a Jordan block: no basis of eigenvectors
    assert np.allclose(cellmath.logm(shear), sl.logm(shear), atol=1e-12)
    flipped = np.diag([1.0, 1.0, -1.0])  # an eigenvalue on the negative real axis
    assert np.allclose(cellmath.logm(flipped), sl.logm(flipped), atol=1e-12)


def test_relaxation_takes_the_same_steps_as_with_scipy():
    """A strained, rattled Cu cell relaxed with EMT on the project's filter, once with these functions and once with
    scipy's: same steps, same final cell to 1e-8."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.optimize import FIRE

    from relax.driver import _guarded_cell_filter

    def run(fast: bool):
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True).repeat(2)
        atoms.rattle(0.05, seed=1)
        atoms.set_cell(atoms.cell.array @ np.array([[1.02, 0.03, 0], [0, 0.97, 0.01], [0, 0, 1.01]]),
                       scale_atoms=True)
        atoms.calc = EMT()
        target = _guarded_cell_filter(atoms)
        if not fast:
            target.logm, target.expm, target.expm_frechet = sl.logm, sl.expm, sl.expm_frechet
            target._utility.logm, target._utility.expm = sl.logm, sl.expm
            target._utility.expm_frechet = sl.expm_frechet
        optimizer = FIRE(target, logfile=None)
        optimizer.run(fmax=0.01, steps=300)
        return optimizer.nsteps, atoms.cell.array.copy(), atoms.positions.copy()

    fast, slow = run(True), run(False)
    assert fast[0] == slow[0] and fast[0] > 5
    assert np.allclose(fast[1], slow[1], atol=1e-8) and np.allclose(fast[2], slow[2], atol=1e-8)
