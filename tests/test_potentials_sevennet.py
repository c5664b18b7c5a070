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
