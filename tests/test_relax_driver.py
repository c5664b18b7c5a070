"""relax.driver: one settings dataclass, ASE optimisers on a cell filter, guards inside the loop; relax.springs."""

from __future__ import annotations

import time

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from periodicnet.limits import MIN_VOLUME_PER_ATOM
from relax import RelaxError, RelaxSettings
from relax.driver import RelaxationError, relax_atoms
from relax.restraint import GraphRestraint
from relax.springs import gather_to_atoms, spring_energy


def strained_copper(scale: float = 1.04):
    """fcc Cu (EMT: ASE's own effective-medium calculator) with a strained, sheared cell and one atom moved."""
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.set_cell(atoms.cell @ np.array([[scale, 0.02, 0], [0, scale, 0], [0, 0, 1 / scale]]), scale_atoms=True)
    atoms.positions[1] += [0.05, -0.03, 0.02]
    atoms.calc = EMT()
    return atoms


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"optimizer": "SGD"}, "optimizer must be one of"),
        ({"fmax": -0.1}, "fmax must be a positive"),
        ({"fmax": float("nan")}, "fmax must be a positive"),
        ({"accept_fmax": 0}, "accept_fmax must be a positive"),
        ({"steps": 1.5}, "steps must be a non-negative integer"),
        ({"steps": -1}, "steps must be a non-negative integer"),
        ({"relax_cell": "yes"}, "relax_cell must be True or False"),
        ({"alpha": 0}, "alpha must be a positive"),
    ],
)
def test_bad_settings_are_refused_with_the_projects_error(kwargs, needle):
    with pytest.raises(RelaxationError, match=needle) as info:
        RelaxSettings(**kwargs)
    assert info.value.reason == "bad_input" and isinstance(info.value, RelaxError)


def test_defaults_are_the_reconstructions_evidence_based_settings():
    s = RelaxSettings()
    assert (s.optimizer, s.fmax, s.steps, s.relax_cell, s.accept_fmax, s.alpha) == ("FIRE", 0.1, 150, True, 0.5, 70.0)
    with pytest.raises(AttributeError):
        s.fmax = 0.05  # frozen: one place for the defaults


@pytest.mark.parametrize("optimizer", ["FIRE", "BFGS"])
def test_relaxes_cell_and_positions_to_the_force_threshold(optimizer):
    atoms = strained_copper()
    start_energy = atoms.get_potential_energy()
    start_cell = atoms.cell.array.copy()
    run = relax_atoms(atoms, RelaxSettings(optimizer=optimizer, fmax=0.01, steps=400))
    assert run.converged and run.status == "ok" and 0 < run.steps <= 400
    assert run.max_force < 0.01
    assert run.energy < start_energy
    assert not np.allclose(atoms.cell.array, start_cell, atol=1e-3)  # the cell moved too
    # EMT's fcc Cu minimum is at a = 3.59 A: 11.6 A^3 per atom
    assert atoms.get_volume() / len(atoms) == pytest.approx(3.59**3 / 4, rel=0.02)


def test_fixed_cell_moves_only_the_atoms():
    atoms = strained_copper()
    cell = atoms.cell.array.copy()
    run = relax_atoms(atoms, RelaxSettings(fmax=0.01, steps=300, relax_cell=False))
    assert run.converged
    assert np.array_equal(atoms.cell.array, cell)


def test_same_start_same_result():
    a, b = strained_copper(), strained_copper()
    ra, rb = relax_atoms(a), relax_atoms(b)
    assert ra == rb
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell.array, b.cell.array)


def test_out_of_steps_with_large_forces_is_not_converged():
    atoms = strained_copper(1.15)
    run = relax_atoms(atoms, RelaxSettings(steps=1, accept_fmax=0.01))
    assert run.steps == 1 and not run.converged and run.status == "not_converged" and run.max_force > 0.01


def test_out_of_steps_below_accept_fmax_is_ok():
    atoms = strained_copper(1.01)
    run = relax_atoms(atoms, RelaxSettings(fmax=1e-6, steps=3, accept_fmax=5.0))
    assert not run.converged and run.status == "ok"


def test_a_passed_deadline_stops_before_the_next_step():
    atoms = strained_copper(1.15)
    run = relax_atoms(atoms, RelaxSettings(fmax=1e-4, steps=500), deadline=time.monotonic() - 1)
    assert run.status == "timeout" and run.steps == 0 and not run.converged


def test_a_collapsed_cell_is_refused_before_it_is_evaluated():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.set_cell(atoms.cell * 0.5, scale_atoms=True)
    atoms.calc = EMT()
    assert atoms.get_volume() / len(atoms) < MIN_VOLUME_PER_ATOM
    with pytest.raises(RelaxationError, match="collapsed") as info:
        relax_atoms(atoms)
    assert info.value.reason == "potential_failed"
    assert atoms.calc.results == {}  # the calculator never ran on that cell


def test_an_exploded_cell_is_refused():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.set_cell(atoms.cell * 9, scale_atoms=True)
    atoms.calc = EMT()
    with pytest.raises(RelaxationError, match="blew up"):
        relax_atoms(atoms)


class NonFiniteCalculator(Calculator):
    """A calculator whose forces turn NaN: what a broken potential does (the driver's guard is under test)."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {"energy": 0.0, "forces": np.full((n, 3), np.nan), "stress": np.zeros(6)}


def test_non_finite_forces_stop_the_relaxation():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.calc = NonFiniteCalculator()
    with pytest.raises(RelaxationError, match="non-finite"):
        relax_atoms(atoms)


def test_empty_atoms_and_wrong_settings_type_are_bad_input():
    from ase import Atoms

    with pytest.raises(RelaxationError, match="no atoms"):
        relax_atoms(Atoms(cell=np.eye(3), pbc=True))
    with pytest.raises(RelaxationError, match="RelaxSettings"):
        relax_atoms(strained_copper(), {"fmax": 0.1})


# --- springs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["both", "stretch", "compress"])
def test_spring_gradient_matches_finite_differences(side):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(6, 3)) * 2
    rest = np.linalg.norm(vectors, axis=1) * rng.uniform(0.7, 1.3, size=6)
    stiffness = rng.uniform(0.5, 2.0, size=6)
    energy, gradient = spring_energy(vectors, rest, stiffness, side)
    assert energy > 0
    h = 1e-6
    numeric = np.zeros_like(vectors)
    for k in range(6):
        for c in range(3):
            step = np.zeros_like(vectors)
            step[k, c] = h
            numeric[k, c] = (spring_energy(vectors + step, rest, stiffness, side)[0]
                             - spring_energy(vectors - step, rest, stiffness, side)[0]) / (2 * h)
    assert np.allclose(gradient, numeric, atol=1e-6)


def test_one_sided_springs_ignore_the_other_side():
    vectors = np.array([[2.0, 0, 0], [0, 1.0, 0]])
    rest = np.array([1.5, 1.5])
    assert spring_energy(vectors, rest, 1.0, "stretch")[0] == pytest.approx(0.25)
    assert spring_energy(vectors, rest, 1.0, "compress")[0] == pytest.approx(0.25)
    assert spring_energy(vectors, rest, 1.0, "both")[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="side"):
        spring_energy(vectors, rest, 1.0, "sideways")


def test_gather_to_atoms_sums_each_bond_into_both_ends():
    out = gather_to_atoms(np.array([[1.0, 0, 0], [0, 2.0, 0]]), np.array([0, 1]), np.array([1, 1]), 3)
    assert np.allclose(out, [[-1, 0, 0], [1, 0, 0], [0, 0, 0]])  # a self-loop pulls an atom both ways


def test_graph_restraint_forces_are_minus_the_energy_gradient():
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    edges = np.array([[0, 1], [0, 1], [0, 1]])
    images = np.array([[0, 0, 0], [-1, 0, 0], [0, -1, 0]])
    atoms.positions[1] += [0.4, 0.3, -0.2]
    calc = GraphRestraint(edges, images, np.full(3, 2.0), k=5.0, stretch=1.2)
    atoms.calc = calc
    forces = atoms.get_forces()
    assert atoms.get_potential_energy() > 0 and np.abs(forces).max() > 0
    h = 1e-6
    for a in range(len(atoms)):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, c] += h
            minus.positions[a, c] -= h
            plus.calc = minus.calc = GraphRestraint(edges, images, np.full(3, 2.0), k=5.0, stretch=1.2)
            numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
            assert forces[a, c] == pytest.approx(numeric, abs=1e-5)
