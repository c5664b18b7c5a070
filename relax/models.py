"""Find and load matgl models (potentials and property regressors) without surprises.

Lookup order for a model name (see ``docs/architecture.md`` and ``docs/models.md``):

1. the argument itself, when it is an existing folder;
2. ``$SLICES_MODEL_DIR/<name>``;
3. matgl's own hub (Hugging Face, ``materialyze/<name>``), only when a quick check shows it is reachable.

Anything else raises :class:`ModelNotFoundError` at once, naming what was tried and what to set.

Before building a model, loading applies :func:`relax.matgl_fix.apply_matgl_fix` (the message direction of
matgl 4.1.2's PyG port: wrong energies for every compound, right ones for elements) and lets
``torch.load(weights_only=True)`` read models that carry a target ``Normalizer`` (``docs/models.md``). The stored
weights must fit the model exactly: a missing or an unexpected parameter name is a :class:`ModelLoadError`.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import warnings
from pathlib import Path

from relax.errors import ModelLoadError, ModelNotFoundError

__all__ = [
    "MODEL_DIR_ENV",
    "ModelLoadError",
    "ModelNotFoundError",
    "find_model",
    "load_model",
]

MODEL_DIR_ENV = "SLICES_MODEL_DIR"
_MODEL_FILES = ("model.json", "model.pt", "state.pt")
_HUB_HOST = "huggingface.co"
_HUB_ORG = "materialyze"
_HUB_TIMEOUT_S = 0.5


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in _MODEL_FILES)


def _hub_reachable(timeout: float = _HUB_TIMEOUT_S) -> bool:
    """True when a TCP connection to the hub opens within ``timeout`` seconds (name lookup included)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((_HUB_HOST, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout + 0.1)  # bounds the DNS lookup too, which create_connection's timeout does not
    return bool(result and result[0])


def _from_hub(name: str) -> Path:
    """Download ``name`` from matgl's hub (one attempt, no retries) and return its cache folder."""
    from huggingface_hub import hf_hub_download

    paths = [Path(hf_hub_download(repo_id=f"{_HUB_ORG}/{name}", filename=f)) for f in _MODEL_FILES]
    return paths[0].parent


def find_model(name_or_path: str | os.PathLike) -> Path:
    """Return the folder holding a matgl model (``model.json``, ``model.pt``, ``state.pt``).

    Raises :class:`ModelNotFoundError` at once when no location has it; the message lists what was tried.
    """
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ModelNotFoundError(f"a model must be given as a name or a folder path, got {name_or_path!r}")
    given = Path(name_or_path).expanduser()
    tried: list[str] = []
    if given.exists():
        if _is_model_dir(given):
            return given.resolve()
        missing = [f for f in _MODEL_FILES if not (given / f).is_file()]
        raise ModelNotFoundError(
            f"{given} exists but is not a matgl model folder (missing {', '.join(missing)}); "
            f"a model folder holds {', '.join(_MODEL_FILES)}"
        )
    tried.append(f"folder {given} (does not exist)")
    name = given.name
    env_dir = os.environ.get(MODEL_DIR_ENV, "").strip()
    candidates = []
    if env_dir:
        candidates.append((Path(env_dir).expanduser() / name, f"${MODEL_DIR_ENV}/{name}"))
    else:
        tried.append(f"${MODEL_DIR_ENV} (not set)")
    for path, label in candidates:
        if _is_model_dir(path):
            return path.resolve()
        tried.append(f"{label} = {path} (not found)")
    if "/" not in str(name_or_path) and _hub_reachable():
        try:
            return _from_hub(name)
        except (OSError, ValueError) as exc:  # hub errors (HfHubHTTPError, cut connections) are OSErrors; a bad
            # repository id is a ValueError (HFValidationError): either way the model was not found there
            tried.append(f"matgl hub {_HUB_ORG}/{name} ({type(exc).__name__}: {str(exc)[:120]})")
    else:
        tried.append(f"matgl hub ({_HUB_HOST} not reachable within {_HUB_TIMEOUT_S} s, or a path was given)")
    raise ModelNotFoundError(
        f"model {str(name_or_path)!r} not found. Set {MODEL_DIR_ENV} to a folder that holds a '{name}' folder "
        f"(for example the shared models folder) or pass the model folder's path; "
        f"matgl models are published at https://github.com/materialyzeai/matgl (pretrained_models/) and "
        f"on Hugging Face as {_HUB_ORG}/{name}. Tried: " + "; ".join(tried)
    )


def _allow_normalizer() -> None:
    """Let ``torch.load(weights_only=True)`` read models whose ``model.pt`` stores a target ``Normalizer``."""
    import torch
    from matgl.data.transformer import Normalizer

    torch.serialization.add_safe_globals([Normalizer])


# Parameter names that changed between the matgl version that saved the published weights and matgl 4.1.
_KEY_RENAMES = ((".readout.set2set.lstm.", ".readout.lstm."),)


_ONE_HOT_SUFFIX = "element_refs.onehot"
"""Stored by the matgl that saved the potentials, dropped by matgl 4.1: an identity matrix over the element list."""
_DERIVED_BUFFER_SUFFIX = ".cutoff"
"""Buffers matgl 4.1 sets from ``model.json``'s cutoff and older checkpoints do not store (basis expansions)."""


def _align_layout(state: dict, fresh: dict) -> dict:
    """Map the two known layout differences between the checkpoints and matgl 4.1, and nothing else.

    An ``element_refs.onehot`` entry the model does not have is dropped only when it is an identity matrix (so no
    information is lost); a missing ``*.cutoff`` buffer is taken from the freshly built model (it was set from the
    same ``model.json``). Any other difference is left for :func:`_build` to refuse.
    """
    import torch

    state = dict(state)
    for key in [k for k in state if k.endswith(_ONE_HOT_SUFFIX) and k not in fresh]:
        value = state[key]
        if value.ndim == 2 and value.shape[0] == value.shape[1] and torch.equal(value, torch.eye(len(value))):
            del state[key]
    for key in fresh:
        if key.endswith(_DERIVED_BUFFER_SUFFIX) and key not in state:
            state[key] = fresh[key]
    return state


def _build(folder: Path):
    """Rebuild a serialized matgl model from ``folder`` (as ``IOMixIn.load`` does) with renamed keys mapped."""
    import importlib
    import json

    import torch

    def make(spec: dict, init_args: dict):
        module = spec["@module"]  # private module names of older matgl map to the public packages
        if module.startswith("matgl.models._"):
            module = "matgl.models"
        elif module.startswith("matgl.apps._pes"):
            module = "matgl.apps.pes"
        cls = getattr(importlib.import_module(module), spec["@class"])
        return cls(**init_args)

    spec = json.loads((folder / "model.json").read_text())
    args = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    for key, value in list(args.items()):
        if isinstance(value, dict) and "@class" in value and "@module" in value:
            args[key] = make(value, value["init_args"])
    model = make(spec, {k: v for k, v in args.items() if not k.startswith("@")})
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    for old, new in _KEY_RENAMES:
        state = {k.replace(old, new): v for k, v in state.items()}
    state = _align_layout(state, model.state_dict())
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ModelLoadError(
            f"{folder}: the stored weights do not fit the model ({len(missing)} missing, e.g. {missing[:3]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:3]})"
        )
    model.load_state_dict(state, strict=True)
    return model


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str):
    from relax.matgl_fix import apply_matgl_fix
    from relax.matgl_import import import_matgl

    import_matgl()  # before anything imports matgl: without its training stack (2.6 s per process)
    apply_matgl_fix()
    _allow_normalizer()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # version notices that say nothing about these weights
            model = _build(Path(folder))
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"could not load the model in {folder}: {type(exc).__name__}: {exc}") from exc
    model.eval()
    return model


def load_model(name_or_path: str | os.PathLike):
    """Load a matgl model by name or folder (see :func:`find_model`); cached per process."""
    return _load_cached(str(find_model(name_or_path)))
