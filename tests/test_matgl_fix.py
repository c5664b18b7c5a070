"""relax.matgl_fix: the weight-free self-check decides; buggy layers are patched on the verified matgl only,
correct ones are left alone; relax.models refuses weights with missing or unexpected entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

matgl = pytest.importorskip("matgl")

from relax import matgl_fix  # noqa: E402
from relax.matgl_fix import (  # noqa: E402
    DESTINATION,
    LAYER_FIXES,
    SOURCE,
    UNKNOWN,
    MatglFixError,
    apply_matgl_fix,
    convention,
    fix_layer,
    original_method,
)
from relax.models import ModelLoadError, load_model  # noqa: E402

from shared_paths import MODEL_DIR as SHARED_MODELS  # noqa: E402
ON_VERIFIED = pytest.mark.skipif(matgl.__version__ not in matgl_fix.VERIFIED_MATGL_VERSIONS,
                                 reason=f"matgl {matgl.__version__} is not the verified version")
LAYERS = pytest.mark.parametrize("fix", LAYER_FIXES, ids=[f.name for f in LAYER_FIXES])


def fresh_owner(fix, method):
    """A throwaway subclass of matgl's layer holding ``method``, so a test never touches matgl's own class."""
    return type(f"Fresh{fix.name}", (fix.owner(),), {fix.attribute: method})


@ON_VERIFIED
@LAYERS
def test_matgl_412_sums_into_the_source_and_the_layer_gets_patched(fix):
    original = original_method(fix)  # matgl 4.1.2's own method, whether or not the fix ran already
    assert convention(fix, original) == SOURCE
    owner = fresh_owner(fix, original)
    assert fix_layer(fix, owner) == "patched"
    assert getattr(owner, fix.attribute) is fix.destination
    assert convention(fix, getattr(owner, fix.attribute)) == DESTINATION


@LAYERS
def test_a_correct_layer_is_left_alone_on_any_version(fix, monkeypatch):
    monkeypatch.setattr(matgl_fix, "_matgl_version", lambda: "9.9.9")
    owner = fresh_owner(fix, fix.destination)
    assert fix_layer(fix, owner) == "already correct"
    assert owner.__dict__[fix.attribute] is fix.destination


@ON_VERIFIED
@LAYERS
def test_the_bug_on_an_unverified_version_is_refused_not_patched(fix, monkeypatch):
    monkeypatch.setattr(matgl_fix, "_matgl_version", lambda: "4.1.3")
    original = original_method(fix)
    owner = fresh_owner(fix, original)
    with pytest.raises(MatglFixError, match="verified only on matgl 4.1.2") as info:
        fix_layer(fix, owner)
    assert info.value.reason == "model_missing"
    assert owner.__dict__[fix.attribute] is original  # untouched


@LAYERS
def test_a_layer_that_matches_neither_direction_is_refused(fix):
    def doubled(self, *args, **kwargs):
        out = fix.destination(self, *args, **kwargs)
        return tuple(2 * x for x in out) if isinstance(out, tuple) else 2 * out

    assert convention(fix, doubled) == UNKNOWN
    owner = fresh_owner(fix, doubled)
    with pytest.raises(MatglFixError, match="neither message direction"):
        fix_layer(fix, owner)
    assert owner.__dict__[fix.attribute] is doubled


@ON_VERIFIED
def test_loading_leaves_matgl_summing_into_the_destination():
    done = apply_matgl_fix()
    assert set(done) == {f.name for f in LAYER_FIXES}
    for fix in LAYER_FIXES:
        assert convention(fix) == DESTINATION


def test_the_self_check_leaves_the_random_state_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    convention(LAYER_FIXES[0], LAYER_FIXES[0].destination)
    assert torch.equal(torch.rand(3), expected)


@pytest.fixture
def model_copy(tmp_path):
    source = SHARED_MODELS / "MEGNet-MP-2018.6.1-Eform"
    if not source.is_dir():
        pytest.skip(f"no matgl models at {SHARED_MODELS}")
    target = tmp_path / "MEGNet-copy"
    shutil.copytree(source, target)
    return target


def _edit_state(folder: Path, edit) -> None:
    import torch

    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    edit(state)
    torch.save(state, folder / "state.pt")


def test_the_unchanged_copy_loads(model_copy):
    assert type(load_model(model_copy)).__name__ == "TransformedTargetModel"  # MEGNet with its target scaling


def test_weights_with_a_missing_entry_are_refused(model_copy):
    _edit_state(model_copy, lambda state: state.pop(sorted(state)[0]))
    with pytest.raises(ModelLoadError, match="1 missing"):
        load_model(model_copy)


def test_weights_with_an_unexpected_entry_are_refused(model_copy):
    import torch

    _edit_state(model_copy, lambda state: state.update({"extra.weight": torch.zeros(2)}))
    with pytest.raises(ModelLoadError, match="1 unexpected.*extra.weight"):
        load_model(model_copy)


def test_an_identity_one_hot_table_from_older_matgl_is_dropped(model_copy):
    import torch

    _edit_state(model_copy, lambda state: state.update({"element_refs.onehot": torch.eye(3)}))
    assert type(load_model(model_copy)).__name__ == "TransformedTargetModel"


def test_a_one_hot_table_that_is_not_the_identity_is_refused(model_copy):
    import torch

    _edit_state(model_copy, lambda state: state.update({"element_refs.onehot": torch.ones(3, 3)}))
    with pytest.raises(ModelLoadError, match="unexpected.*element_refs.onehot"):
        load_model(model_copy)
