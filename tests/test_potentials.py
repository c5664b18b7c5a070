"""The potential interface without a model: any ASE calculator behind it (ASE's EMT), the registry's errors."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from periodicnet.errors import ArgumentError
from relax.errors import RelaxError
from relax.potentials import CalculatorPotential, Evaluation, Potential, get_potential


def copper(a: float = 3.7) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Cu"], [[0, 0, 0]])


def test_an_ase_calculator_is_a_potential():
    potential = get_potential(EMT())
    assert isinstance(potential, Potential)
    assert potential.frame == "mp_raw" and potential.elements() is None
    assert potential.calculator() is potential.calculator()


def test_evaluate_gives_energy_forces_stress_per_structure_in_order():
    potential = CalculatorPotential(EMT, name="emt", frame="own", elements=["Cu", "Al"])  # a factory is accepted
    small, large = copper(3.6), copper(3.6).copy()
    large.make_supercell([2, 1, 1])
    large.perturb(0.05, min_distance=0.01)
    out = potential.evaluate([small, bulk("Cu", "fcc", a=3.6, cubic=True), large])
    assert [len(e.forces) for e in out] == [4, 4, 8]
    assert all(isinstance(e, Evaluation) and e.stress.shape == (6,) for e in out)
    assert out[0].energy == pytest.approx(out[1].energy, abs=1e-8)  # the same crystal from pymatgen and from ASE
    assert np.abs(out[2].forces).max() > 1e-3  # the perturbed one feels forces
    assert potential.elements() == frozenset({"Cu", "Al"})


def test_relax_structure_runs_any_calculator():
    """EMT's copper relaxes to its own lattice constant (3.59 A) from 3.7 A through the project's one driver."""
    from relax import RelaxSettings, relax_structure

    run = relax_structure(copper(3.7), CalculatorPotential(EMT(), name="emt", frame="own"),
                          RelaxSettings(fmax=0.01, steps=200))
    assert run.converged
    assert run.structure.lattice.a == pytest.approx(3.59, abs=0.02)


def test_a_potential_that_lacks_an_element_is_refused():
    from relax.potential import PotentialError, energy_per_atom

    potential = CalculatorPotential(EMT(), name="emt", frame="own", elements=["Cu"])
    with pytest.raises(PotentialError, match="no parameters for element"):
        energy_per_atom(Structure(Lattice.cubic(3), ["Cu", "Zr"], [[0, 0, 0], [0.5, 0.5, 0.5]]), potential)


@pytest.mark.parametrize("bad", [42, "", "   ", object()])
def test_bad_potential_specs_raise_the_projects_error(bad):
    with pytest.raises(RelaxError):
        get_potential(bad)


def test_bad_frame_is_refused():
    with pytest.raises(RelaxError, match="frame"):
        CalculatorPotential(EMT(), frame="pbe")


@pytest.mark.parametrize("field", ["potential", "score_with"])
def test_runner_refuses_a_potential_that_is_not_a_name(field):
    from pipeline.options import Runner

    with pytest.raises(ArgumentError, match=field):
        Runner(**{field: 3})


def test_a_registered_potential_is_named_without_loading_it():
    from relax.potentials import M3GNET, _named, potential_name

    loaded = _named.cache_info().currsize
    assert potential_name("m3gnet") == M3GNET
    assert potential_name(M3GNET) == M3GNET
    assert potential_name("7net-0") == "SevenNet:7net-0"
    assert potential_name("7net-l3i5") == "SevenNet:7net-l3i5"
    assert _named.cache_info().currsize == loaded
