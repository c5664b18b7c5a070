"""Generative training: resumable state (exact continuation), fixed splits, wide-gap oversampling, the training-set
builder's pieces, and bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

import generative  # noqa: E402
from generative import GenerativeError, Session, TrainConfig  # noqa: E402
from generative.checkpoint import load_model, load_training_state  # noqa: E402
from generative.data import encode_cifs, load_strings  # noqa: E402
from generative.dataset import Source, source_properties, dev_structure_matches, n_atoms_of  # noqa: E402
from generative.train import resume_training  # noqa: E402

from shared_paths import SHARED_DATA as SHARED  # noqa: E402
REFERENCE = SHARED / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz"
TINY = TrainConfig(n_layer=1, n_head=2, n_embd=32, batch_size=4, augment=2, val_fraction=0.25, seed=3, patience=10,
                   eval_every=4, lr=3e-3)
QUIET = Session(progress=False)


def fit(data: Path, out: Path | None = None, session: Session = QUIET, **changes):
    """Train :data:`TINY` with ``changes`` on ``data``."""
    return generative.train(dataclasses.replace(TINY, **changes), session, data=data, out=out)


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    strings = pd.read_csv(REFERENCE)["SLICES"].tolist()[:16]
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    n = len(strings)
    pd.DataFrame({"slices": strings, "band_gap": np.linspace(0, 3, n), "eform": -np.linspace(0.5, 2, n)}).to_csv(
        path, index=False)
    return path


def _same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----- resumable training -----
@pytest.mark.parametrize("first_session", [5, 6])  # 6 steps = one epoch here: stop mid-epoch and at its end
def test_resumed_run_equals_an_uninterrupted_one(tmp_path, tiny_csv, first_session):
    whole = fit(tiny_csv, tmp_path / "whole.pt", max_steps=14)
    part = fit(tiny_csv, tmp_path / "cut.pt", Session(progress=False, run_steps=first_session), max_steps=14)
    assert part.info["steps"] == first_session and "resumable" in part.info["stop_reason"]
    assert not _same_weights(whole, part)  # the cut run really stopped early
    state = load_training_state(tmp_path / "cut.resume.pt")
    assert state["run"]["step"] == first_session and not state["finished"]
    assert state["optimizer"]["state"], "optimiser moments are saved"
    resumed = resume_training(tmp_path / "cut.resume.pt", QUIET)
    assert resumed.info["steps"] == 14 and resumed.info["sessions"] == 2
    losses = [[(h["step"], h["train_loss"], h["val_loss"]) for h in b.info["history"]] for b in (whole, resumed)]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    assert _same_weights(whole, resumed)
    assert _same_weights(whole, load_model(tmp_path / "cut.pt"))  # the weights file holds the final best model


def test_optimiser_state_is_restored_not_reinitialised(tmp_path, tiny_csv):
    fit(tiny_csv, tmp_path / "m.pt", Session(progress=False, run_steps=4), max_steps=10)
    saved = load_training_state(tmp_path / "m.resume.pt")
    moments = {k: v["exp_avg"].clone() for k, v in saved["optimizer"]["state"].items()}
    assert all(float(m.abs().sum()) > 0 for m in moments.values())
    assert saved["optimizer"]["state"][0]["step"] == 4


def test_finished_run_cannot_be_resumed(tmp_path, tiny_csv):
    fit(tiny_csv, tmp_path / "m.pt", max_steps=4)
    assert load_training_state(tmp_path / "m.resume.pt")["finished"]
    with pytest.raises(GenerativeError, match="already finished"):
        resume_training(tmp_path / "m.resume.pt", QUIET)


def test_resume_refuses_different_data(tmp_path, tiny_csv):
    fit(tiny_csv, tmp_path / "m.pt", Session(progress=False, run_steps=3), max_steps=10)
    frame = pd.read_csv(tiny_csv)
    frame.loc[0, "band_gap"] = 9.0
    other = tmp_path / "other.csv"
    frame.to_csv(other, index=False)
    with pytest.raises(GenerativeError, match="data differ"):
        resume_training(tmp_path / "m.resume.pt", QUIET, data=other)


def test_weights_file_is_not_a_training_state(tmp_path, tiny_csv):
    fit(tiny_csv, tmp_path / "m.pt", max_steps=4)
    with pytest.raises(GenerativeError, match="weights-only"):
        resume_training(tmp_path / "m.pt", QUIET)
    with pytest.raises(GenerativeError, match="does not exist"):
        resume_training(tmp_path / "missing.resume.pt", QUIET)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GenerativeError, match="not readable"):
        resume_training(tmp_path / "junk.pt", QUIET)


def test_split_column_fixes_the_validation_crystals(tmp_path, tiny_csv):
    frame = pd.read_csv(tiny_csv)
    frame["split"] = ["val" if k < 3 else "train" for k in range(len(frame))]
    path = tmp_path / "split.csv"
    frame.to_csv(path, index=False)
    bundle = fit(path, max_steps=2, augment=1)
    assert bundle.info["n_val_crystals"] == 3 and bundle.info["n_train_crystals"] == len(frame) - 3
    frame["split"] = "test"
    frame.to_csv(path, index=False)
    with pytest.raises(GenerativeError, match="split column"):
        fit(path, max_steps=2)


def test_wide_gap_crystals_get_more_orderings(tmp_path, tiny_csv):
    plain = fit(tiny_csv, max_steps=1, augment=2, val_fraction=0.0)
    boosted = fit(tiny_csv, max_steps=1, augment=2, val_fraction=0.0, wide_gap=(2.0, 3))
    gaps = pd.read_csv(tiny_csv)["band_gap"]
    n_wide = int((gaps >= 2.0).sum())
    assert n_wide > 0
    # wide-gap crystals get 6 orderings instead of 2 (fewer only when a small cell has fewer distinct orderings)
    extra = boosted.info["n_train_sequences"] - plain.info["n_train_sequences"]
    assert 0 < extra <= 4 * n_wide


def test_bad_training_options(tiny_csv):
    with pytest.raises(GenerativeError, match="val_augment"):
        fit(tiny_csv, val_augment=0)
    with pytest.raises(GenerativeError, match="wide_gap"):
        fit(tiny_csv, wide_gap=(float("nan"), 2))


# ----- data loading and the training-set builder -----
def test_encode_cifs_reports_reasons_without_hiding_bugs():
    dev = pd.read_csv(SHARED / "mp20" / "dev_1000.csv.gz", keep_default_na=False)
    strings, reasons = encode_cifs([dev["cif"].iat[0], "data_x\n_cell_length_a 3\n"], progress=False)
    assert strings[0] and reasons[0] == ""
    assert strings[1] is None and reasons[1] == "cif_unreadable"


def test_a_layered_crystal_is_dropped_not_written_with_contacts():
    """The vocabulary has no contact token: a crystal that is not a 3D net is left out of training (counted)."""
    from pymatgen.core import Lattice, Structure

    graphite = Structure(Lattice.hexagonal(2.46, 6.70), ["C"] * 4,
                         [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    strings, reasons = encode_cifs([graphite.to(fmt="cif")], progress=False)
    assert strings == [None] and reasons == ["low_dimensional"]


def test_load_strings_keeps_split_and_source(tmp_path, tiny_csv):
    frame = pd.read_csv(tiny_csv)
    frame["split"] = "train"
    frame["source"] = "reference"
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    out = load_strings(path)
    assert set(out["split"]) == {"train"} and set(out["source"]) == {"reference"}


def test_n_atoms_of():
    assert n_atoms_of("Na Cl 0 1 --- 0 1 o--") == 2
    assert n_atoms_of("C 0 0 oo+ 0 0 o+o 0 0 +oo") == 1


def test_mp20_frame_properties_override_a_source_s_own():
    frame = pd.DataFrame({"material_id": ["mp-1", "mp-2", "x-3", 4], "bg": [1.0, np.nan, 2.0, np.nan]})
    reference = {"mp-1": {"band_gap": 1.5, "formation_energy_per_atom": -1.0},
                 "mp-4": {"band_gap": 0.0, "formation_energy_per_atom": -0.5}}
    out = source_properties(frame, Source("s", "p", band_gap="bg", id_prefix="mp-"), reference)
    assert out["band_gap"].tolist()[:1] == [1.5] and np.isnan(out["band_gap"].iat[1])
    assert out["band_gap"].iat[2] == 2.0 and out["band_gap"].iat[3] == 0.0
    assert out["formation_energy_per_atom"].iat[0] == -1.0 and np.isnan(out["formation_energy_per_atom"].iat[2])


def test_dev_structure_match_finds_a_copied_crystal_and_not_another():
    from pymatgen.core import Lattice, Structure

    dev = pd.read_csv(SHARED / "mp20" / "dev_1000.csv.gz", keep_default_na=False).iloc[:5]
    s = Structure.from_str(dev["cif"].iat[2], fmt="cif")
    moved = s.copy()
    moved.translate_sites(list(range(len(moved))), [0.11, 0.23, 0.37])
    moved.make_supercell([1, 1, 2])
    # same atoms, one cell vector 1.8x longer: a different crystal even after the matcher's volume scaling
    other = Structure(Lattice(s.lattice.matrix * np.array([[1.0], [1.0], [1.8]])), s.species, s.frac_coords)
    train = pd.DataFrame({"cif": [moved.to(fmt="cif"), other.to(fmt="cif")],
                          "reduced_formula": [s.composition.reduced_formula] * 2})
    assert dev_structure_matches(train, dev, progress=False).tolist() == [True, False]


def test_init_from_continues_a_trained_model(tmp_path, tiny_csv):
    first = fit(tiny_csv, tmp_path / "first.pt", max_steps=6)
    # architecture options are taken from the model being continued, whatever is passed
    second = fit(tiny_csv, max_steps=1, init_from=tmp_path / "first.pt", n_layer=3, n_embd=64, lr=1e-9)
    assert second.model.cfg == first.model.cfg and second.scaling == first.scaling
    a, b = first.model.state_dict(), second.model.state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4  # started from first's weights (tiny lr)
    fresh = fit(tiny_csv, max_steps=1, lr=1e-9)
    assert max(float((a[k] - fresh.model.state_dict()[k]).abs().max()) for k in a) > 1e-3


def test_init_from_refuses_a_model_with_other_properties(tmp_path, tiny_csv):
    frame = pd.read_csv(tiny_csv).drop(columns=["eform"])
    path = tmp_path / "gap_only.csv"
    frame.to_csv(path, index=False)
    fit(tiny_csv, tmp_path / "both.pt", max_steps=2)
    with pytest.raises(GenerativeError, match="cannot continue"):
        fit(path, max_steps=1, init_from=tmp_path / "both.pt")


def test_build_deduplicates_excludes_dev_and_fills_properties(tmp_path):
    from generative.dataset import DEV_SET, MP20_PROPERTIES, build

    pool = pd.read_csv(SHARED / "mp20" / "train_pool.csv.gz", keep_default_na=False).iloc[:8]
    dev = pd.read_csv(SHARED / "mp20" / "dev_1000.csv.gz", keep_default_na=False).iloc[:3]
    for rel, frame in (
        (DEV_SET, dev[["material_id", "cif"]]),
        (MP20_PROPERTIES, pd.DataFrame({"material_id": ["mp-77"], "band_gap": [2.5],
                                        "formation_energy_per_atom": [-1.5]})),
        # source a: six train crystals (one without a band gap) + a copy of dev crystal 0 under another id
        ("a.csv", pd.concat([pool.iloc[:6][["material_id", "cif", "band_gap", "formation_energy_per_atom"]],
                             pd.DataFrame({"material_id": ["copy"], "cif": [dev["cif"].iat[0]], "band_gap": [""],
                                           "formation_energy_per_atom": [""]})]).assign(
            band_gap=lambda f: ["" if k == 1 else v for k, v in enumerate(f["band_gap"])])),
        # source b: crystal 1 of a again (id mp-77: gets the MP-20-frame values), dev crystal 1, one new crystal
        ("b.csv", pd.DataFrame({"material_id": ["mp-77", "d1", "new"],
                                "cif": [pool["cif"].iat[1], dev["cif"].iat[1], pool["cif"].iat[7]]})),
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(tmp_path / rel, index=False)
    sources = (Source("mp20_train_pool", "a.csv", "band_gap", "formation_energy_per_atom"), Source("b", "b.csv"))
    data, counts = build(tmp_path, cache_dir=tmp_path / "cache", progress=False, sources=sources)
    a, b = counts["sources"]["mp20_train_pool"], counts["sources"]["b"]
    assert a["rows"] == 7 and b["rows"] == 3
    assert a["dev_same_string"] == 1 and b["dev_same_string"] == 1
    assert b["duplicates"] == 1 and a["duplicates"] == 0
    assert len(data) == a["kept"] + b["kept"] == len(set(data["slices"]))
    assert "copy" not in set(data["material_id"]) and "d1" not in set(data["material_id"])
    # crystal 1 of source a had no band gap; its duplicate in b (mp-77) brought the MP-20-frame value
    row = data[data["material_id"] == pool["material_id"].iat[1]]
    assert row["band_gap"].iat[0] == 2.5 and row["formation_energy_per_atom"].iat[0] == pytest.approx(
        float(pool["formation_energy_per_atom"].iat[1]))
    assert set(data["split"]) <= {"train", "val"}
    new = data[data["material_id"] == "new"]
    assert len(new) == 1 and np.isnan(new["band_gap"].iat[0])
