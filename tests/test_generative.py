"""Generative model: tokenizer, grammar-masked sampling, determinism, training, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

import generative  # noqa: E402
from generative import GenerativeError, Session, TrainConfig  # noqa: E402
from generative.checkpoint import DEFAULT_MODEL, load_model, new_bundle, save  # noqa: E402
from generative.data import reorderings  # noqa: E402
from generative.sampling import sample  # noqa: E402
from generative.tokenizer import Tokenizer  # noqa: E402
from slices.errors import SlicesError  # noqa: E402
from slices.graph import parse  # noqa: E402

from shared_paths import SHARED_DATA as SHARED  # noqa: E402
REFERENCE = SHARED / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz"
SCALING = {"band_gap": (0.8, 1.5), "formation_energy": (-1.2, 1.0)}
QUIET = Session(progress=False)


@pytest.fixture(scope="module")
def reference_strings() -> list[str]:
    return pd.read_csv(REFERENCE)["SLICES"].tolist()


@pytest.fixture(scope="module")
def random_model():
    """Untrained weights: near-uniform over the vocabulary, so only the mask keeps the strings valid."""
    torch.manual_seed(0)
    return new_bundle(["band_gap", "formation_energy"], SCALING, n_layer=1, n_head=2, n_embd=32, dropout=0.0)


def assert_valid(strings: list[str], max_len: int) -> None:
    """Every string parses, is a connected 3D net, has no duplicate bond and fits the length cap."""
    for s in strings:
        g = parse(s)
        g.check_embeddable()
        words = s.split()
        assert len(words) + 1 <= max_len  # + EOS
        assert (len(words) - g.n_atoms) == 3 * g.n_edges, f"duplicate bond in {s}"


# ----- tokenizer -----
def test_tokenizer_round_trip_on_reference_strings(reference_strings):
    tok = Tokenizer(20)
    for s in reference_strings:
        ids = tok.encode(s)
        assert len(ids) == len(s.split())
        assert tok.decode(ids) == " ".join(s.split())


def test_tokenizer_vocabulary_survives_checkpoint_form():
    tok = Tokenizer(12)
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.tokens == tok.tokens and len(again) == 3 + 103 + 12 + 27


@pytest.mark.parametrize("bad", ["", "Xx 0 0 +oo", "Na Cl 0 1", "Na Cl 0 2 ooo", "Na Cl 0 1 oox"])
def test_tokenizer_rejects_bad_strings(bad):
    with pytest.raises(GenerativeError):
        Tokenizer(20).encode(bad)


def test_tokenizer_rejects_too_many_atoms():
    with pytest.raises(GenerativeError, match="exceeds"):
        Tokenizer(2).encode("Na Cl Cl 0 1 ooo")


# ----- augmentation -----
def test_reorderings_describe_the_same_crystal(reference_strings):
    from slices import canonical

    rng = np.random.default_rng(0)
    for s in reference_strings[:15]:
        variants = reorderings(s, 4, rng)
        assert variants[0] == s and len(set(variants)) == len(variants)
        assert len({canonical(v) for v in variants}) == 1


# ----- grammar mask -----
def test_random_model_samples_are_all_valid(random_model):
    strings = sample(1000, model=random_model, seed=0, batch_size=500)
    assert len(strings) == 1000
    assert_valid(strings, random_model.max_len)


def test_length_cap_forces_completion():
    """A tiny cap: the mask must still finish every sample with a valid net (no restarts)."""
    torch.manual_seed(1)
    bundle = new_bundle([], {}, n_layer=1, n_head=2, n_embd=32, dropout=0.0, block_size=30)
    strings = sample(300, model=bundle, seed=2)
    assert_valid(strings, bundle.max_len)
    assert max(len(s.split()) for s in strings) >= bundle.max_len - 4  # the cap was actually reached


def test_random_model_with_filters_and_conditions(random_model):
    strings = sample(200, model=random_model, seed=4, temperature=0.7, top_k=5, top_p=0.9, band_gap=1.5,
                     formation_energy=-2.0, max_atoms=6)
    assert_valid(strings, random_model.max_len)
    assert max(parse(s).n_atoms for s in strings) <= 6


def test_sampling_is_deterministic(random_model):
    a = sample(40, model=random_model, seed=7, band_gap=2.0)
    assert a == sample(40, model=random_model, seed=7, band_gap=2.0)
    assert a != sample(40, model=random_model, seed=8, band_gap=2.0)


# ----- the shipped model -----
@pytest.fixture(scope="module")
def shipped():
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"the shipped model {DEFAULT_MODEL} is missing")
    return load_model()


def test_shipped_model_samples_are_all_valid(shipped):
    strings = generative.sample(1000, seed=0)
    assert_valid(strings, shipped.max_len)
    assert len(set(strings)) > 900


def test_shipped_model_conditioned_samples_are_valid_and_deterministic(shipped):
    a = generative.sample(100, band_gap=2.0, formation_energy=-2.0, seed=1)
    assert_valid(a, shipped.max_len)
    assert a == generative.sample(100, band_gap=2.0, formation_energy=-2.0, seed=1)


def test_guidance_is_valid_deterministic_and_steers(shipped):
    from generative.metrics import is_all_metal

    plain = generative.sample(150, band_gap=4.0, seed=3)
    assert plain == generative.sample(150, band_gap=4.0, seed=3, guidance=1.0)  # 1 = plain conditioned sampling
    guided = generative.sample(150, band_gap=4.0, seed=3, guidance=3.0)
    assert_valid(guided, shipped.max_len)
    assert guided == generative.sample(150, band_gap=4.0, seed=3, guidance=3.0)
    assert guided != plain
    # pushing harder toward a wide gap leaves fewer all-metal cells
    metal = [sum(is_all_metal(parse(x).species) for x in strings) for strings in (plain, guided)]
    assert metal[1] < metal[0], metal


def test_canonical_option_returns_canonical_strings(shipped):
    from slices import canonical

    strings = generative.sample(20, seed=2, canonical=True)
    assert len(strings) == 20
    assert_valid(strings, shipped.max_len)
    assert all(canonical(s) == s for s in strings)


# ----- training -----
def _tiny_csv(tmp_path, strings, n=8):
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"slices": strings[:n], "band_gap": np.linspace(0, 3, n), "eform": -np.linspace(0.5, 2, n)}).to_csv(
        path, index=False)
    return path


def test_tiny_training_lowers_the_loss_and_writes_a_usable_checkpoint(tmp_path, reference_strings):
    path = _tiny_csv(tmp_path, reference_strings)
    out = tmp_path / "m.pt"
    config = TrainConfig(max_steps=40, eval_every=10, n_layer=1, n_head=2, n_embd=32, batch_size=8, augment=2,
                         val_fraction=0.25, lr=3e-3, patience=10)
    bundle = generative.train(config, QUIET, data=path, out=out)
    history = bundle.info["history"]
    initial = math.log(len(bundle.tokenizer))  # a near-uniform model's per-token loss
    assert history[0]["val_loss"] < initial
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    loaded = load_model(out)
    assert loaded.properties == ["band_gap", "formation_energy"]
    assert_valid(sample(50, model=loaded, seed=0, band_gap=1.0), loaded.max_len)


def test_training_is_deterministic(tmp_path, reference_strings):
    path = _tiny_csv(tmp_path, reference_strings, 6)
    config = TrainConfig(max_steps=6, n_layer=1, n_head=2, n_embd=32, batch_size=4, augment=2, seed=3)
    a = generative.train(config, QUIET, data=path).model.state_dict()
    b = generative.train(config, QUIET, data=path).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ----- bad input -----
def test_errors_are_generative_errors():
    assert issubclass(GenerativeError, SlicesError)


@pytest.mark.parametrize("kwargs", [dict(n=-1), dict(n=2.5), dict(n=3, temperature=0), dict(n=3, top_k=0),
                                    dict(n=3, top_p=1.5), dict(n=3, band_gap=float("nan")),
                                    dict(n=3, band_gap="wide"), dict(n=3, guidance=-1.0),
                                    dict(n=3, guidance=float("inf"))])
def test_bad_sampling_arguments(random_model, kwargs):
    with pytest.raises(GenerativeError):
        sample(model=random_model, **kwargs)


def test_property_the_model_does_not_know():
    bundle = new_bundle(["band_gap"], {"band_gap": (0.0, 1.0)}, n_layer=1, n_head=2, n_embd=32)
    with pytest.raises(GenerativeError, match="formation_energy"):
        sample(3, formation_energy=-1.0, model=bundle)


def test_unknown_property_name_in_training(tmp_path, reference_strings):
    path = _tiny_csv(tmp_path, reference_strings)
    with pytest.raises(GenerativeError, match="unknown property 'density'"):
        generative.train(TrainConfig(properties={"density": "band_gap"}, max_steps=1), QUIET, data=path)
    with pytest.raises(GenerativeError, match="column 'gap'"):
        generative.train(TrainConfig(properties={"band_gap": "gap"}, max_steps=1), QUIET, data=path)


def test_bad_training_data(tmp_path):
    with pytest.raises(GenerativeError, match="does not exist"):
        generative.train(TrainConfig(), QUIET, data=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"formula": ["NaCl"]}).to_csv(bad, index=False)
    with pytest.raises(GenerativeError, match="neither a 'cif' nor a 'slices' column"):
        generative.train(TrainConfig(), QUIET, data=bad)


def test_corrupt_and_missing_checkpoints(tmp_path, random_model):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a checkpoint" * 50)
    with pytest.raises(GenerativeError, match="not a readable checkpoint"):
        load_model(junk)
    good = tmp_path / "good.pt"
    save(random_model, good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(GenerativeError):
        load_model(truncated)
    with pytest.raises(GenerativeError, match="does not exist"):
        load_model(tmp_path / "nowhere.pt")
    with pytest.raises(GenerativeError):
        sample(2, model=tmp_path / "nowhere.pt")


# ----- command line -----
def test_cli_sample_writes_valid_lines(tmp_path, random_model):
    from pipeline.cli import main

    ckpt = tmp_path / "m.pt"
    save(random_model, ckpt)
    out = tmp_path / "s.txt"
    assert main(["sample", "--n", "5", "--seed", "3", "--band-gap", "1.0", "--model", str(ckpt), "--out",
                 str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    assert_valid(lines, random_model.max_len)
    assert main(["sample", "--n", "-2", "--model", str(ckpt)]) == 1


def test_cli_help_mentions_options(capsys):
    from pipeline.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--data" in text and "--time-limit" in text and "--out" in text
