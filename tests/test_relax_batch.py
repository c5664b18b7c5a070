"""Batched relaxation (relax.batch) with ASE's EMT behind the potential interface: no model, real numbers."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from relax import RelaxSettings, relax_structure
from relax.batch import relax_batch
from relax.errors import RelaxError
from relax.potential import RelaxResult
from relax.potentials import CalculatorPotential, Evaluation

SETTINGS = RelaxSettings(fmax=0.02, steps=200)


def fcc(element: str, a: float, supercell=(1, 1, 1), rattle: float = 0.0) -> Structure:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [element], [[0, 0, 0]])
    s.make_supercell(supercell)
    if rattle:
        rng = np.random.default_rng(0)
        s = Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, rattle, (len(s), 3)),
                      coords_are_cartesian=True)
    return s


def emt(elements=("Cu", "Ni", "Pd", "Au")) -> CalculatorPotential:
    return CalculatorPotential(EMT(), name="emt", frame="own", elements=elements)


def _plain_ase_loop(crystal: Structure, settings: RelaxSettings) -> RelaxResult:
    """The same crystal relaxed by ASE's own ``irun`` loop (:func:`relax.driver.relax_atoms`) with EMT attached."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from relax.driver import relax_atoms

    atoms = AseAtomsAdaptor.get_atoms(crystal)
    atoms.calc = EMT()
    run = relax_atoms(atoms, settings)
    atoms.wrap()
    return RelaxResult(structure=AseAtomsAdaptor.get_structure(atoms), energy_per_atom=run.energy / len(atoms),
                       converged=run.converged, steps=run.steps, status=run.status)


@pytest.mark.parametrize("optimizer", ["FIRE", "BFGS"])
def test_one_crystal_relaxes_as_a_batch_of_one_with_the_plain_loops_numbers(optimizer):
    """relax_structure (the pipeline's one-crystal door) is a batch of one; it ends where ASE's irun loop ends."""
    settings = RelaxSettings(optimizer=optimizer, fmax=0.02, steps=200)
    crystal = fcc("Ni", 3.4, (2, 1, 1), 0.05)
    alone, plain = relax_structure(crystal, emt(), settings), _plain_ase_loop(crystal, settings)
    assert alone.converged and alone.steps == plain.steps > 3
    assert alone.energy_per_atom == pytest.approx(plain.energy_per_atom, abs=1e-8)
    assert alone.structure.volume == pytest.approx(plain.structure.volume, rel=1e-8)


@pytest.mark.parametrize("optimizer", ["FIRE", "BFGS"])
def test_a_mixed_size_batch_gives_the_one_at_a_time_results(optimizer):
    """4, 8 and 32 atoms relaxed together end where each relaxed alone ends (same optimiser, same forces)."""
    settings = RelaxSettings(optimizer=optimizer, fmax=0.02, steps=200)
    crystals = [fcc("Cu", 3.7), fcc("Ni", 3.4, (2, 1, 1), 0.05), fcc("Cu", 3.5, (2, 2, 2), 0.05)]
    together = relax_batch(crystals, emt(), settings)
    for crystal, batched in zip(crystals, together):
        alone = _plain_ase_loop(crystal, settings)
        assert isinstance(batched, RelaxResult) and batched.converged
        assert batched.steps == alone.steps
        assert batched.energy_per_atom == pytest.approx(alone.energy_per_atom, abs=1e-8)
        assert batched.structure.volume == pytest.approx(alone.structure.volume, rel=1e-8)


class _BreaksOn(CalculatorPotential):
    """EMT, but the batched call and any call holding ``element`` fail after ``after`` calls (a model error)."""

    def __init__(self, element: str, after: int):
        super().__init__(EMT(), name="flaky-emt", frame="own")
        self.element, self.after, self.calls = element, after, 0

    def evaluate(self, structures):
        self.calls += 1
        if self.calls > self.after and any(self.element in a.get_chemical_symbols() for a in structures):
            raise RuntimeError(f"cannot evaluate {self.element}")
        return super().evaluate(structures)


def test_a_failing_member_leaves_the_batch_and_the_others_finish():
    crystals = [fcc("Cu", 3.7, (2, 1, 1), 0.05), fcc("Au", 4.2, (2, 1, 1), 0.05), fcc("Ni", 3.6)]
    out = relax_batch(crystals, _BreaksOn("Au", after=3), SETTINGS)
    assert isinstance(out[1], RelaxError) and out[1].reason == "potential_failed" and "Au" in str(out[1])
    for k in (0, 2):
        alone = relax_structure(crystals[k], emt(), SETTINGS)
        assert isinstance(out[k], RelaxResult) and out[k].converged
        assert out[k].energy_per_atom == pytest.approx(alone.energy_per_atom, abs=1e-8)


def test_bad_members_are_reported_per_crystal():
    lacking = Structure(Lattice.cubic(3.6), ["Cu", "Zr"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    out = relax_batch([lacking, fcc("Cu", 3.6)], emt(("Cu",)), SETTINGS)
    assert isinstance(out[0], RelaxError) and out[0].reason == "bad_input" and "Zr" in str(out[0])
    assert isinstance(out[1], RelaxResult) and out[1].converged


class _Squeeze(Calculator):
    """E = 20 eV/A^3 x V: the cell shrinks without end (a runaway potential)."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 20.0 * atoms.get_volume(), "forces": np.zeros((len(atoms), 3)),
                        "stress": np.array([20.0, 20.0, 20.0, 0.0, 0.0, 0.0])}


class _SqueezesPd(CalculatorPotential):
    """EMT for every crystal but those holding Pd, which feel :class:`_Squeeze`."""

    def __init__(self):
        super().__init__(EMT(), name="emt-squeezing-pd", frame="own")

    def evaluate(self, structures):
        out = []
        for atoms in structures:
            if "Pd" in atoms.get_chemical_symbols():
                a = atoms.copy()
                a.calc = _Squeeze()
                out.append(Evaluation(a.get_potential_energy(), a.get_forces(), a.get_stress()))
            else:
                out += super().evaluate([atoms])
        return out


def test_a_guard_tripping_mid_batch_stops_only_that_member():
    crystals = [fcc("Cu", 3.7), fcc("Pd", 3.9), fcc("Ni", 3.4, (2, 1, 1), 0.05)]
    out = relax_batch(crystals, _SqueezesPd(), RelaxSettings(fmax=0.02, steps=500))
    assert isinstance(out[1], RelaxError) and "collapsed" in str(out[1])
    assert all(isinstance(out[k], RelaxResult) and out[k].converged for k in (0, 2))


def test_a_passed_deadline_ends_every_member_with_timeout():
    out = relax_batch([fcc("Cu", 3.9), fcc("Ni", 3.8)], emt(), SETTINGS, deadline=0.0)
    assert [r.status for r in out] == ["timeout", "timeout"]
