"""The composition band-gap model (screening.gap_model) with the shipped weights: loading, value shapes,
determinism, bad input, and accuracy on well-known crystals (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Composition, Lattice, Structure

from screening import gap_model
from screening.gap_model import GapModelError, load_gap_model, predict_band_gap_composition
from screening.properties import PropertyError
from slices.errors import SlicesError


def rocksalt(a: str, b: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5] * 3])


def test_shipped_model_loads_and_is_small():
    model = load_gap_model()
    assert {"Mg", "O", "Cu", "Si", "U"} <= set(model.elements)
    assert 0.0 < model.threshold < 1.0
    assert model.source.endswith(gap_model.MODEL_FILE)
    assert model.training_info["rows_train"] > 90_000
    assert model.training_info["rows_excluded_as_evaluation_formulas"] > 0  # dev formulas kept out


def test_value_shapes_and_ranges():
    model = load_gap_model()
    prediction = model.predict(["MgO", "Cu", "GaAs", "LiFePO4"])
    assert prediction.band_gap.shape == (4,) and prediction.band_gap.dtype == np.float64
    assert prediction.metal_probability.shape == (4,)
    assert np.all(prediction.band_gap >= 0) and np.all(np.isfinite(prediction.band_gap))
    assert np.all((prediction.metal_probability >= 0) & (prediction.metal_probability <= 1))
    called_metal = prediction.metal_probability >= model.threshold
    assert np.all(prediction.band_gap[called_metal] == 0.0) and np.all(prediction.band_gap[~called_metal] > 0)
    single = predict_band_gap_composition("MgO")
    assert single.shape == (1,)
    assert single[0] == pytest.approx(prediction.band_gap[0], abs=1e-5)  # float32: batching moves the last digits


def test_formula_composition_and_structure_give_the_same_value():
    """Only the composition counts: a formula, its Composition, a structure and a supercell agree."""
    nacl = rocksalt("Na", "Cl", 5.69)
    oxidised = Composition({"Na+": 1, "Cl-": 1})  # species with oxidation states count as their elements
    values = predict_band_gap_composition(["NaCl", Composition("Na2Cl2"), nacl, nacl * (2, 1, 1), oxidised])
    assert values[0] > 3.5
    assert values == pytest.approx(np.full(5, values[0]), abs=1e-5)  # float32 rounding of the fractions' sums


def test_deterministic_across_calls_and_fresh_loads():
    formulas = ["MgO", "Fe2O3", "CsPbI3", "Al", "SiC", "LaNiO3"]
    first = predict_band_gap_composition(formulas)
    assert np.array_equal(first, predict_band_gap_composition(formulas))
    gap_model._load_cached.cache_clear()
    assert np.array_equal(first, predict_band_gap_composition(formulas))


def test_known_crystals():
    """Wide-gap insulators wide, metals 0, semiconductors in between (MP PBE: MgO 4.45, LiF 8.7, NaCl 5.0,
    Al2O3 5.9, Si 0.6, GaN 1.7; Cu, Fe, Al, Ni3Al metals)."""
    gaps = dict(zip(["MgO", "LiF", "NaCl", "Al2O3"], predict_band_gap_composition(["MgO", "LiF", "NaCl", "Al2O3"])))
    assert gaps["MgO"] > 3.0 and gaps["NaCl"] > 3.5 and gaps["Al2O3"] > 4.0 and gaps["LiF"] > 6.0, gaps
    metals = predict_band_gap_composition(["Cu", "Fe", "Al", "Ni3Al"])
    assert np.all(metals < 0.1), metals
    semiconductors = predict_band_gap_composition(["Si", "GaN"])
    assert 0.2 < semiconductors[0] < 1.5 and 0.8 < semiconductors[1] < 3.0, semiconductors


@pytest.mark.parametrize("item, match", [
    ("Mg(O", "not a chemical formula"),
    ("", "not a chemical formula"),
    ("Xx2O", "not chemical elements"),
    (42, "not a formula, Composition or Structure"),
    ("XeF2", "not trained on: \\['Xe'\\]"),
    (Structure(Lattice.cubic(3.0), [], []), "no atoms"),
])
def test_bad_input_names_the_problem(item, match):
    with pytest.raises(GapModelError, match=match):
        predict_band_gap_composition(["MgO", item])


def test_errors_are_the_projects_own():
    assert issubclass(GapModelError, PropertyError) and issubclass(GapModelError, SlicesError)
    assert issubclass(GapModelError, ValueError)


def test_unloadable_model_files(tmp_path):
    with pytest.raises(GapModelError, match="no composition band-gap model"):
        load_gap_model(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(GapModelError, match="not a readable model file"):
        load_gap_model(garbage)
    incomplete = tmp_path / "incomplete.pt"
    torch.save({"format": gap_model.FORMAT_VERSION, "elements": ["Mg", "O"]}, incomplete)
    with pytest.raises(GapModelError, match="lacks the entries"):
        load_gap_model(incomplete)
    payload = torch.load(load_gap_model().source, weights_only=True)
    payload["hidden"] = [8]
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    with pytest.raises(GapModelError, match="do not fit the network"):
        load_gap_model(mismatched)


@pytest.mark.slow
def test_training_is_deterministic(tmp_path, one_torch_thread):
    """Two one-epoch trainings on the real data give bit-identical weights (about a minute)."""
    from screening.gap_training import train

    records = [train(tmp_path / f"run{k}.pt", epochs=1, progress=False) for k in range(2)]
    first, second = (torch.load(tmp_path / f"run{k}.pt", weights_only=True) for k in range(2))
    assert first["state_dict"].keys() == second["state_dict"].keys()
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])
    assert records[0]["validation"] == records[1]["validation"]
    assert records[0]["rows_excluded_as_evaluation_formulas"] > 0
