"""One-file checkpoints (weights + config + vocabulary + property scaling) and the default model's location."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from periodicnet.resources import shipped_data_path

from generative.errors import GenerativeError
from generative.model import GPT, GPTConfig
from generative.tokenizer import Tokenizer

FORMAT = "slices-gpt/1"
DEFAULT_MODEL = shipped_data_path("model/slices_gpt.pt")


@dataclass
class Bundle:
    """A ready-to-sample model: network, tokenizer, property names and their (mean, std) scaling."""

    model: GPT
    tokenizer: Tokenizer
    properties: list[str]
    scaling: dict[str, tuple[float, float]]
    info: dict = field(default_factory=dict)

    @property
    def max_len(self) -> int:
        """Most tokens a sample may have after BOS (EOS included)."""
        return self.model.cfg.block_size - self.model.cfg.n_props - 1

    def condition(self, values: dict[str, float | None], batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised property tensors (batch, P) and presence flags for a dict of raw property values."""
        vals = torch.zeros(batch, len(self.properties))
        present = torch.zeros(batch, len(self.properties), dtype=torch.bool)
        for p, name in enumerate(self.properties):
            x = values.get(name)
            if x is not None:
                mean, std = self.scaling[name]
                vals[:, p] = (float(x) - mean) / std
                present[:, p] = True
        return vals, present


def save(bundle: Bundle, path: str | Path) -> None:
    """Write the bundle to one file (written to a temporary name first, so a crash leaves no half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": bundle.model.cfg.to_dict(),
        "tokenizer": bundle.tokenizer.to_dict(),
        "properties": list(bundle.properties),
        "scaling": {k: [float(v[0]), float(v[1])] for k, v in bundle.scaling.items()},
        "info": bundle.info,
        "state_dict": bundle.model.state_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_model(path: str | Path | None = None) -> Bundle:
    """Load a checkpoint written by :func:`generative.train` (default: the shipped model in ``data/model/``)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        hint = " (the shipped default model is missing; train one with `slices train`)" if path == DEFAULT_MODEL else ""
        raise GenerativeError(f"model file {str(path)!r} does not exist{hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GenerativeError(f"model file {str(path)!r} is not a readable checkpoint: {type(exc).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GenerativeError(f"model file {str(path)!r} is not a {FORMAT} checkpoint")
    try:
        tokenizer = Tokenizer.from_dict(payload["tokenizer"])
        cfg = GPTConfig(**payload["config"])
        model = GPT(cfg)
        model.load_state_dict(payload["state_dict"])
        properties = list(payload["properties"])
        scaling = {k: (float(v[0]), float(v[1])) for k, v in payload["scaling"].items()}
    except GenerativeError:
        raise
    except Exception as exc:
        raise GenerativeError(f"model file {str(path)!r} is damaged: {type(exc).__name__}: {exc}") from None
    if cfg.vocab_size != len(tokenizer) or cfg.n_props != len(properties) or set(scaling) != set(properties):
        raise GenerativeError(f"model file {str(path)!r} is inconsistent (vocabulary or property sizes differ)")
    model.eval()
    return Bundle(model, tokenizer, properties, scaling, dict(payload.get("info") or {}))


def new_bundle(properties: list[str], scaling: dict, max_atoms: int = 20, **cfg_kwargs) -> Bundle:
    """A randomly initialised model (for training, and as the harsh test of the grammar mask)."""
    tok = Tokenizer(max_atoms)
    cfg = GPTConfig(vocab_size=len(tok), n_props=len(properties), **cfg_kwargs)
    return Bundle(GPT(cfg), tok, list(properties), dict(scaling))


STATE_FORMAT = "slices-gpt-train/2"
OLD_STATE_FORMAT = "slices-gpt-train/1"  # the run's options as one "hyperparameters" dict that included the data path
STATE_KEYS = ("config", "data", "scaling", "out", "fingerprint", "model", "optimizer", "best_model", "run",
              "torch_rng", "finished", "stop_reason", "info")


def save_training_state(path: str | Path, state: dict) -> None:
    """Write a resumable training state (the run's config as a dict, the data path, weights, optimiser, step,
    schedule position, random states) to one file, through a temporary name so a crash mid-write leaves the previous
    state intact."""
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise GenerativeError(f"training state lacks {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": STATE_FORMAT, **state}, tmp)
    tmp.replace(path)


def load_training_state(path: str | Path) -> dict:
    """Read a file written by :func:`save_training_state` (or by the first format, whose options are converted);
    a missing or foreign file raises GenerativeError."""
    path = Path(path)
    if not path.is_file():
        raise GenerativeError(f"training state {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:  # truncated/foreign files
        raise GenerativeError(f"training state {str(path)!r} is not readable: {type(exc).__name__}") from None
    if isinstance(payload, dict) and payload.get("format") == OLD_STATE_FORMAT and "hyperparameters" in payload:
        options = dict(payload.pop("hyperparameters"))
        payload.update(format=STATE_FORMAT, data=options.pop("data", None), config=options)
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        hint = " (this is a weights-only model file; resume from the .resume.pt file)" if isinstance(
            payload, dict) and payload.get("format") == FORMAT else ""
        raise GenerativeError(f"{str(path)!r} is not a {STATE_FORMAT} training state{hint}")
    missing = [k for k in STATE_KEYS if k not in payload]
    if missing:
        raise GenerativeError(f"training state {str(path)!r} is incomplete (missing {missing})")
    return payload
