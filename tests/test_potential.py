"""The matgl stage with the real models: model lookup, physical sanity of the default potential, bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from relax.errors import RelaxError
from relax.models import MODEL_DIR_ENV, ModelNotFoundError, find_model
from slices.errors import SlicesError, StructureInputError


pytestmark = pytest.mark.usefixtures("shared_models")


def rocksalt(a: str, b: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


def diamond(el: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(lattice), [el], [[0, 0, 0]])


def perovskite(a: str, b: str, x: str, lattice: float) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(lattice), [a, b, x], coords)


def zincblende(a: str, b: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("F-43m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.25, 0.25, 0.25]])


# Start from experimental lattice constants; compare with the PBE (Materials Project) volume per atom, A^3.
# PBE references: NaCl a = 5.69, MgO 4.26, Si 5.47, SrTiO3 3.945, GaAs 5.75 (MP mp-22862, -1265, -149, -5229, -2534).
CRYSTALS = {
    "NaCl": (rocksalt("Na", "Cl", 5.64).get_primitive_structure(), 5.69**3 / 8),
    "MgO": (rocksalt("Mg", "O", 4.21).get_primitive_structure(), 4.26**3 / 8),
    "Si": (diamond("Si", 5.43).get_primitive_structure(), 5.47**3 / 8),
    "SrTiO3": (perovskite("Sr", "Ti", "O", 3.905), 3.945**3 / 5),
    "GaAs": (zincblende("Ga", "As", 5.65).get_primitive_structure(), 5.75**3 / 8),
}


@pytest.mark.parametrize("name", sorted(CRYSTALS))
def test_default_potential_gives_pbe_volumes(name):
    """Catches the matgl 4.1 aggregation bug (NaCl came out at 25-46 A^3/atom) and any unit slip in the stress."""
    from relax import RelaxSettings, relax_structure

    start, reference = CRYSTALS[name]
    run = relax_structure(start, settings=RelaxSettings(fmax=0.02, steps=300))
    relaxed, energy, converged, n_steps = run.structure, run.energy_per_atom, run.converged, run.steps
    volume = relaxed.volume / len(relaxed)
    assert converged, f"{name} did not converge in {n_steps} steps"
    assert abs(volume / reference - 1) < 0.03, f"{name}: {volume:.2f} A^3/atom vs PBE {reference:.2f}"
    assert -12 < energy < -1, f"{name}: implausible energy {energy:.3f} eV/atom"


@pytest.mark.parametrize(
    "model",
    [
        "M3GNet-MP-2021.2.8-PES",
        "TensorNet-MatPES-PBE-v2025.1-PES",
        pytest.param("M3GNet-MatPES-PBE-v2025.1-PES", marks=pytest.mark.slow),  # same classes, 10 s to load
    ],
)
def test_compound_energies_of_every_potential(model):
    """Without the aggregation fix every compound is off by 0.5-4 eV/atom (NaCl -2.5, MgO -2.1, while elements
    stay right); with it NaCl and MgO match their PBE energies per atom (MP: -3.36 and -5.96 eV/atom)."""
    from relax.potential import energy_per_atom

    nacl = energy_per_atom(rocksalt("Na", "Cl", 5.69).get_primitive_structure(), model)
    mgo = energy_per_atom(rocksalt("Mg", "O", 4.26).get_primitive_structure(), model)
    assert nacl == pytest.approx(-3.36, abs=0.15)
    assert mgo == pytest.approx(-5.96, abs=0.2)


def test_relaxation_is_deterministic_and_consistent_with_single_point():
    from relax import relax_structure
    from relax.potential import energy_per_atom

    start = CRYSTALS["SrTiO3"][0].copy()
    start.translate_sites([1], [0.08, 0.04, 0.0], frac_coords=False)  # Ti off-centre: something to relax
    first = relax_structure(start)
    second = relax_structure(start)
    assert first.converged and first.steps > 0 and first.status == "ok"
    assert first.energy_per_atom == second.energy_per_atom and first.steps == second.steps
    assert np.allclose(first.structure.lattice.matrix, second.structure.lattice.matrix)
    assert np.allclose(first.structure.frac_coords, second.structure.frac_coords)
    assert energy_per_atom(first.structure) == pytest.approx(first.energy_per_atom, abs=1e-5)
    assert energy_per_atom(start) > first.energy_per_atom  # relaxing lowered the energy


def test_fixed_cell_keeps_the_lattice():
    from relax import RelaxSettings, relax_structure

    start = CRYSTALS["NaCl"][0]
    run = relax_structure(start, settings=RelaxSettings(relax_cell=False, fmax=0.02))
    assert run.converged
    assert np.allclose(run.structure.lattice.matrix, start.lattice.matrix)


def _record_hub_attempts(monkeypatch) -> list[float]:
    """Make the hub unreachable and record the timeout of every connection attempt (what "at once" rests on)."""
    import relax.models

    attempts: list[float] = []

    def unreachable(address, timeout=None, *args, **kwargs):
        attempts.append(timeout)
        raise OSError("network unreachable (test)")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(relax.models.socket, "create_connection", unreachable)
    return attempts


def test_missing_model_fails_at_once_naming_the_variable(monkeypatch, tmp_path):
    import relax.models

    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    attempts = _record_hub_attempts(monkeypatch)
    with pytest.raises(ModelNotFoundError) as info:
        find_model("No-Such-Model-v0")
    assert attempts and all(t is not None and t <= relax.models._HUB_TIMEOUT_S for t in attempts)
    message = str(info.value)
    assert MODEL_DIR_ENV in message and str(tmp_path) in message
    assert info.value.reason == "model_missing"
    assert isinstance(info.value, SlicesError) and isinstance(info.value, RelaxError)


def test_missing_model_through_the_potential_api(monkeypatch, tmp_path):
    from relax.potential import energy_per_atom

    import relax.models

    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    attempts = _record_hub_attempts(monkeypatch)
    with pytest.raises(ModelNotFoundError, match=MODEL_DIR_ENV):
        energy_per_atom(CRYSTALS["NaCl"][0], model="Another-Missing-Model")
    assert attempts and all(t is not None and t <= relax.models._HUB_TIMEOUT_S for t in attempts)


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a matgl model folder"):
        find_model(tmp_path)


def test_bad_inputs_raise_project_errors():
    from relax import RelaxSettings, relax_structure
    from relax.driver import RelaxationError
    from relax.potential import PotentialError, energy_per_atom

    with pytest.raises(StructureInputError):
        relax_structure("NaCl")
    overlapping = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    with pytest.raises(StructureInputError, match="overlap"):
        energy_per_atom(overlapping)
    with pytest.raises(RelaxationError, match="fmax"):
        relax_structure(CRYSTALS["NaCl"][0], settings=RelaxSettings(fmax=-1))
    with pytest.raises(RelaxationError, match="RelaxSettings"):
        relax_structure(CRYSTALS["NaCl"][0], settings={"fmax": 0.1})
    with pytest.raises(PotentialError, match="not an interatomic potential"):
        energy_per_atom(CRYSTALS["NaCl"][0], model="M3GNet-MP-2018.6.1-Eform")
    with pytest.raises(PotentialError, match="no parameters for element.*Rn"):
        energy_per_atom(Structure(Lattice.cubic(4.0), ["Rn"], [[0, 0, 0]]))  # an element the potential lacks
    with pytest.raises(StructureInputError, match="'Og' is not a chemical element"):
        energy_per_atom(Structure(Lattice.cubic(4.0), ["Og"], [[0, 0, 0]]))  # outside the project's table


def test_relax_structure_reports_timeout_and_not_converged():
    from relax import RelaxSettings, relax_structure

    start = CRYSTALS["SrTiO3"][0].copy()
    start.translate_sites([1], [0.08, 0.04, 0.0], frac_coords=False)
    late = relax_structure(start, deadline=time.monotonic() - 1)
    assert late.status == "timeout" and late.steps == 0 and not late.converged
    short = relax_structure(start, settings=RelaxSettings(steps=1, accept_fmax=0.01))
    assert short.status == "not_converged" and short.steps == 1 and not short.converged
    frac = short.structure.frac_coords
    assert len(frac) == len(start) and np.all((frac > -1e-8) & (frac < 1 + 1e-8))  # wrapped (ASE's tolerance)
