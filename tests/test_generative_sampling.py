"""Sampling: the key/value cache against the full forward pass, chemistry options (elements, max_atoms,
valid_composition), determinism, bad options and the command-line flags."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

import generative  # noqa: E402
import generative.sampling as sampling  # noqa: E402
from generative.checkpoint import DEFAULT_MODEL, load_model, new_bundle  # noqa: E402
from generative.errors import (CompositionSearchError, GenerativeError, SamplingOptionError,  # noqa: E402
                               UnknownElementsError)
from generative.metrics import composition_valid  # noqa: E402
from generative.model import KVCache  # noqa: E402
from slices.graph import parse  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"the shipped model {DEFAULT_MODEL} is missing")
    return load_model()


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return new_bundle(["band_gap", "formation_energy"], {"band_gap": (0.8, 1.5), "formation_energy": (-1.2, 1.0)},
                      n_layer=1, n_head=2, n_embd=32, dropout=0.0)


def assert_valid(strings: list[str], max_len: int) -> None:
    for s in strings:
        g = parse(s)
        g.check_embeddable()
        assert len(s.split()) + 1 <= max_len
        assert len(s.split()) - g.n_atoms == 3 * g.n_edges, f"duplicate bond in {s}"


def _token_rows(bundle, strings: list[str], length: int) -> torch.Tensor:
    tok = bundle.tokenizer
    rows = [[tok.bos_id] + tok.encode(s) for s in strings]
    assert all(len(r) >= length for r in rows)
    return torch.tensor([r[:length] for r in rows])


# ----- the key/value cache -----
def test_cached_logits_equal_the_full_forward_pass(shipped):
    model, n_props = shipped.model, shipped.model.cfg.n_props
    strings = sorted(generative.sample(40, seed=11, band_gap=1.5), key=lambda s: len(s.split()))[-5:]
    length = min(81, len(strings[0].split()) + 1)
    assert n_props + length > n_props + 1 + 2 * KVCache.GROW  # so the cache grows twice on the way
    idx = _token_rows(shipped, strings, length)
    values, present = shipped.condition({"band_gap": 1.5}, len(strings))
    with torch.no_grad():
        full = model(idx, values, present)
        logits, cache = model.start(values, present, shipped.tokenizer.bos_id)
        worst = (logits - full[:, 0]).abs().max()
        for t in range(1, idx.shape[1]):
            logits = model.step(idx[:, t], torch.full((len(strings),), n_props + t), cache)
            worst = max(worst, (logits - full[:, t]).abs().max())
    assert full.abs().max() > 5  # real logits, not a degenerate model
    assert worst < 1e-3, worst


def test_restarted_and_kept_rows_see_only_their_own_tokens(shipped):
    """A row restarted mid-batch, and rows kept after dropping others, give the logits of a fresh full forward."""
    model, n_props, bos = shipped.model, shipped.model.cfg.n_props, shipped.tokenizer.bos_id
    strings = [s for s in generative.sample(30, seed=5) if len(s.split()) >= 40][:3]
    idx = _token_rows(shipped, strings, 41)
    values, present = shipped.condition({}, 3)
    with torch.no_grad():
        full = model(idx, values, present)
        start, cache = model.start(values, present, bos)
        for t in range(1, 21):  # every row writes its first 20 tokens
            model.step(idx[:, t], torch.full((3,), n_props + t), cache)
        cache.restart(torch.tensor([0]), n_props + 1)  # row 0 starts again from BOS ...
        cache.keep(torch.tensor([0, 2]))  # ... and row 1 is dropped
        rows = idx[[0, 2]]
        for k in range(1, 21):  # row 0 rewrites its tokens 1..20 while row 2 goes on with 21..40
            tokens = torch.stack([rows[0, k], rows[1, 20 + k]])
            positions = torch.tensor([n_props + k, n_props + 20 + k])
            logits = model.step(tokens, positions, cache)
            assert (logits[0] - full[0, k]).abs().max() < 1e-3
            assert (logits[1] - full[2, 20 + k]).abs().max() < 1e-3


# ----- chemistry options -----
def test_elements_and_max_atoms_are_obeyed(shipped):
    strings = generative.sample(60, seed=4, elements=["Li", "Fe", "P", "O"], max_atoms=8)
    assert_valid(strings, shipped.max_len)
    species = [parse(s).species for s in strings]
    assert set().union(*map(set, species)) <= {"Li", "Fe", "P", "O"}
    assert max(map(len, species)) <= 8
    assert len({frozenset(s) for s in species}) > 3  # not one system over and over


def test_valid_composition_samples_all_pass_smact(shipped):
    raw = generative.sample(120, seed=6)
    strict = generative.sample(120, seed=6, valid_composition=True)
    assert_valid(strict, shipped.max_len)
    assert all(composition_valid(parse(s).species) for s in strict)
    assert sum(not composition_valid(parse(s).species) for s in raw) >= 10  # the raw model does fail, so the
    assert len(set(strict)) > 110  # option had work to do; and it keeps the samples diverse


def test_options_combine_with_guidance_and_restart_the_twin_rows(shipped):
    kw = dict(seed=8, band_gap=3.0, guidance=2.0, elements=["Na", "K", "Mg", "Al", "Si", "O", "S", "Cl"],
              max_atoms=10, valid_composition=True)
    strings = generative.sample(40, **kw)
    assert_valid(strings, shipped.max_len)
    for s in strings:
        g = parse(s)
        assert set(g.species) <= set(kw["elements"]) and g.n_atoms <= 10 and composition_valid(g.species)
    assert strings == generative.sample(40, **kw)


def test_random_weights_with_restarts_stay_valid(random_model):
    """Near-uniform weights: many rejected element blocks, restarts all over the batch, every string still valid."""
    strings = sampling.sample(300, model=random_model, seed=1, elements=["Na", "Cl", "Fe"], max_atoms=4,
                              valid_composition=True, batch_size=100)
    assert_valid(strings, random_model.max_len)
    assert all(composition_valid(parse(s).species) and parse(s).n_atoms <= 4 for s in strings)


def test_sampling_with_options_is_deterministic(shipped):
    kw = dict(elements=["Li", "Mn", "O"], max_atoms=12, valid_composition=True)
    a = generative.sample(30, seed=2, **kw)
    assert a == generative.sample(30, seed=2, **kw)
    assert a != generative.sample(30, seed=3, **kw)


def test_giving_up_is_a_clear_error(random_model, monkeypatch):
    monkeypatch.setattr(sampling, "passes_smact", lambda species: False)  # the give-up path, not the SMACT test
    sampling._composition_ok.cache_clear()
    try:
        with pytest.raises(CompositionSearchError, match="rejected by the SMACT test"):
            sampling.sample(2, model=random_model, seed=0, valid_composition=True, elements=["Na", "Cl"])
    finally:
        sampling._composition_ok.cache_clear()


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(elements="LiFePO4"), SamplingOptionError, "list of element symbols"),
    (dict(elements=[]), SamplingOptionError, "empty"),
    (dict(elements=["Li", "Xx", "fe"]), UnknownElementsError, "'Xx', 'fe'"),
    (dict(elements=["Li", 3]), SamplingOptionError, "symbols"),
    (dict(max_atoms=0), SamplingOptionError, "max_atoms"),
    (dict(max_atoms=2.5), SamplingOptionError, "max_atoms"),
    (dict(valid_composition="yes"), SamplingOptionError, "valid_composition"),
    (dict(batch_size=0), SamplingOptionError, "batch_size"),
])
def test_bad_options_raise_named_errors(random_model, kwargs, error, words):
    with pytest.raises(error, match=words) as info:
        sampling.sample(3, model=random_model, **kwargs)
    assert isinstance(info.value, GenerativeError)


# ----- command line and pipeline -----
def test_cli_sample_with_chemistry_flags(tmp_path, capsys):
    from pipeline.cli import main

    out = tmp_path / "s.txt"
    assert main(["sample", "--n", "12", "--seed", "1", "--elements", "Ba", "Ti", "O", "--max-atoms", "10",
                 "--valid-composition", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 12
    for s in lines:
        g = parse(s)
        assert set(g.species) <= {"Ba", "Ti", "O"} and g.n_atoms <= 10 and composition_valid(g.species)
    assert main(["sample", "--n", "2", "--elements", "Qq"]) == 1
    assert "'Qq'" in capsys.readouterr().err


def test_generate_help_says_valid_composition_is_on(capsys):
    from pipeline.cli import main

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--elements" in text and "--max-atoms" in text and "--no-valid-composition" in text
    assert "ON by default" in text


def test_generate_refuses_bad_chemistry_before_making_a_folder(tmp_path):
    from pipeline_support import run_generate

    out = tmp_path / "run"
    with pytest.raises(UnknownElementsError, match="'Xx'"):
        run_generate(4, out=out, elements=["Li", "Xx"], train_data=None, known_materials=False, progress=False)
    assert not out.exists()


def test_valid_composition_is_the_conditional_distribution(random_model):
    """Rejecting element blocks samples the model's distribution conditioned on a SMACT-valid composition: the
    composition frequencies match those of raw samples filtered afterwards (chi-square test, fixed seeds)."""
    from collections import Counter

    from scipy.stats import chi2_contingency

    kw = dict(model=random_model, elements=["Na", "Cl", "O"], max_atoms=3)
    raw = [tuple(sorted(parse(s).species)) for s in sampling.sample(6000, seed=1, **kw)]
    kept = Counter(c for c in raw if composition_valid(c))
    assert sum(kept.values()) < len(raw)  # some compositions do fail
    redrawn = Counter(tuple(sorted(parse(s).species)) for s in sampling.sample(3000, seed=2, valid_composition=True,
                                                                                **kw))
    keys = sorted(set(kept) | set(redrawn))
    assert chi2_contingency([[kept[k] for k in keys], [redrawn[k] for k in keys]])[1] > 0.01
