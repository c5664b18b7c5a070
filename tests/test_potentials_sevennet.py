"""SevenNet behind the potential interface, run for real (integration tier): energies, a relaxation, screening."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

pytest.importorskip("sevenn")
pytestmark = pytest.mark.usefixtures("shared_models")


def rocksalt(a: str, b: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.mark.parametrize("name", ["7net-0", "7net-l3i5"])
def test_sevennet_energies_match_pbe(name):
    """MPtrj-trained: NaCl and MgO at their PBE geometry give MP's raw energies per atom (-3.36, -5.96 eV)."""
    from relax.potential import energy_per_atom
    from relax.potentials import get_potential

    potential = get_potential(name)
    assert potential.frame == "mp_raw" and {"Na", "Cl", "Mg", "O", "Yb"} <= potential.elements()
    assert energy_per_atom(rocksalt("Na", "Cl", 5.69).get_primitive_structure(), name) == pytest.approx(-3.36, abs=0.1)
    assert energy_per_atom(rocksalt("Mg", "O", 4.26).get_primitive_structure(), name) == pytest.approx(-5.96, abs=0.1)


def test_sevennet_relaxes_to_the_pbe_volume():
    from relax import RelaxSettings, relax_structure

    run = relax_structure(rocksalt("Mg", "O", 4.10).get_primitive_structure(), "7net-0",
                          RelaxSettings(fmax=0.02, steps=300))
    assert run.converged
    assert run.structure.volume / len(run.structure) == pytest.approx(4.26**3 / 8, rel=0.03)


def test_assess_relaxes_with_one_potential_and_scores_with_another():
    """``score_with`` changes the energy, not the relaxed crystal; MgO lies on the known hull either way."""
    from screening import assess

    start = rocksalt("Mg", "O", 4.20).get_primitive_structure()
    alone, scored = (assess([start], potential="m3gnet", score_with=s, novelty=False, band_gap=False)[0]
                     for s in ("m3gnet", "7net-0"))
    assert alone.reason is None and scored.reason is None
    assert scored.structure.volume == pytest.approx(alone.structure.volume, rel=1e-6)
    assert scored.energy_per_atom != pytest.approx(alone.energy_per_atom, abs=1e-4)
    assert abs(scored.e_above_hull) < 0.05 and abs(alone.e_above_hull) < 0.05


def test_given_scores_spare_the_scoring_single_points():
    """``scores`` (the scoring potential's single points, as ``slices generate`` computes them during decoding) are
    taken as the energies; without them the same single points are computed, to the same numbers."""
    from screening import assess
    from screening.errors import ScreeningError

    crystal = rocksalt("Mg", "O", 4.26).get_primitive_structure()
    options = dict(relax=False, potential="m3gnet", score_with="7net-0", novelty=False, band_gap=False)
    computed = assess([crystal], **options)[0]
    same = assess([crystal], scores=[computed.energy_per_atom], **options)[0]
    shifted = assess([crystal], scores=[computed.energy_per_atom + 0.1], **options)[0]
    missing = assess([crystal], scores=[None], **options)[0]
    assert same.energy_per_atom == computed.energy_per_atom and same.e_above_hull == computed.e_above_hull
    assert missing.energy_per_atom == computed.energy_per_atom
    assert shifted.energy_per_atom == pytest.approx(computed.energy_per_atom + 0.1, abs=1e-12)
    assert shifted.formation_energy_per_atom == pytest.approx(computed.formation_energy_per_atom + 0.1, abs=1e-9)
    with pytest.raises(ScreeningError, match="scores has 2 items"):
        assess([crystal], scores=[0.0, 0.0], **options)


def _binaries(n: int):
    import pandas as pd

    from periodicnet.resources import shared_data_dir

    frame = pd.read_csv(shared_data_dir() / "structures" / "mp_binaries_2025_10k.csv.gz", keep_default_na=False)
    crystals = (Structure.from_str(c, fmt="cif") for c in frame["cif"])
    return [s for s, _ in zip((s for s in crystals if len(s) <= 12), range(n))]


def test_batched_evaluation_equals_one_calculator_call_per_crystal():
    import numpy as np

    from relax.potentials import get_potential

    potential = get_potential("7net-0")
    crystals = _binaries(4) + [rocksalt("Na", "Cl", 5.6)]
    batched = potential.evaluate(crystals)
    for crystal, value in zip(crystals, batched):
        alone = super(type(potential), potential).evaluate([crystal])[0]  # the ASE calculator path
        assert value.energy == pytest.approx(alone.energy, abs=1e-4)
        assert np.abs(value.forces - alone.forces).max() < 1e-4
        assert np.abs(value.stress - alone.stress).max() < 1e-5


@pytest.mark.parametrize("name", ["7net-0", "7net-l3i5"])
def test_energies_without_forces_are_the_calculators_energies(name):
    """The energy-only path of scoring (no force-and-stress head, no gradients) gives the ASE calculator's energy,
    and leaves the calculator's own model whole (forces still come out)."""
    import numpy as np

    from relax.potentials import get_potential

    potential = get_potential(name)
    crystals = _binaries(3) + [rocksalt("Na", "Cl", 5.6)]
    fast = potential.energies(crystals)
    for crystal, energy in zip(crystals, fast):
        full = super(type(potential), potential).evaluate([crystal])[0]  # the ASE calculator path
        assert energy == pytest.approx(full.energy, abs=1e-5)
        assert full.forces.shape == (len(crystal), 3) and np.all(np.isfinite(full.forces))


def test_sevennet_batch_relaxation_matches_one_at_a_time():
    from relax import RelaxSettings, relax_structure
    from relax.batch import relax_batch

    settings = RelaxSettings(fmax=0.05, steps=100)
    crystals = _binaries(3)
    together = relax_batch(crystals, "7net-0", settings)
    for crystal, batched in zip(crystals, together):
        alone = relax_structure(crystal, "7net-0", settings)
        assert batched.energy_per_atom == pytest.approx(alone.energy_per_atom, abs=2e-4)
        assert batched.structure.volume == pytest.approx(alone.structure.volume, rel=1e-3)
