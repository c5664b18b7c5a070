"""Grammar-aware batched sampling: at each step only tokens that keep the string a valid 3D net can be drawn."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from generative.checkpoint import Bundle, load_model
from generative.errors import GenerativeError
from generative.grammar import GrammarState
from periodicnet.arguments import check_seed

_DEFAULT: Bundle | None = None


def _resolve(model: Bundle | str | Path | None) -> Bundle:
    global _DEFAULT
    if isinstance(model, Bundle):
        return model
    if model is not None:
        return load_model(model)
    if _DEFAULT is None:
        _DEFAULT = load_model()
    return _DEFAULT


def _check_args(n, temperature, top_k, top_p, conditions, guidance=1.0) -> None:
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not math.isfinite(guidance) \
            or guidance < 0:
        raise GenerativeError(f"guidance must be a non-negative number, got {guidance!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise GenerativeError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise GenerativeError(f"temperature must be a positive number, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise GenerativeError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise GenerativeError(f"top_p must be in (0, 1] or None, got {top_p!r}")
    for name, value in conditions.items():
        if value is not None and (not isinstance(value, (int, float, np.floating)) or not math.isfinite(value)):
            raise GenerativeError(f"{name} must be a finite number or None, got {value!r}")


def _filter(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Apply top-k then nucleus (top-p) filtering to already masked logits (-inf = not allowed)."""
    if top_k is not None and top_k < logits.shape[1]:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=1, descending=True)
        probs = torch.softmax(sorted_logits, dim=1)
        before = torch.cumsum(probs, dim=1) - probs  # mass of strictly better tokens
        drop_sorted = before >= top_p  # the first token always stays
        drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, -math.inf)
    return logits


def sample(
    n: int,
    band_gap: float | None = None,
    formation_energy: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    model: Bundle | str | Path | None = None,
    batch_size: int = 250,
    max_atoms: int | None = None,
    canonical: bool = False,
    guidance: float = 1.0,
) -> list[str]:
    """Sample ``n`` SLICES strings; every one parses and describes a connected 3D net.

    ``band_gap`` (eV) and ``formation_energy`` (eV/atom) condition the model; None means unconditioned.
    ``model`` is a loaded bundle, a checkpoint path, or None for the shipped model. With ``canonical`` every
    string is returned in canonical form (:func:`slices.canonical`) and samples whose net has no canonical form
    (e.g. a bond longer than one cell in the reduced basis) are drawn again. ``guidance`` is classifier-free
    guidance: with a condition given, the next-token log-probabilities are ``u + guidance * (c - u)`` from the
    conditioned (c) and the property-free (u) predictions of the same model (1 = plain conditioned sampling, > 1
    pushes harder toward the target, at twice the cost per step). The same seed (with the same ``n``,
    ``batch_size`` and options) gives the same strings on CPU.
    """
    conditions = {"band_gap": band_gap, "formation_energy": formation_energy}
    _check_args(n, temperature, top_k, top_p, conditions, guidance)
    seed = check_seed(seed, error=GenerativeError)
    bundle = _resolve(model)
    for name, value in conditions.items():
        if value is not None and name not in bundle.properties:
            raise GenerativeError(f"this model is not conditioned on {name}; it knows: {bundle.properties or 'none'}")
    if max_atoms is not None and (not isinstance(max_atoms, int) or max_atoms < 1):
        raise GenerativeError(f"max_atoms must be a positive integer, got {max_atoms!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise GenerativeError(f"batch_size must be a positive integer, got {batch_size!r}")
    gen = torch.Generator().manual_seed(seed)
    out: list[str] = []
    drawn, max_draws = 0, 20 * n + 200
    while len(out) < n:
        b = min(batch_size, n - len(out))
        strings = _sample_batch(bundle, b, conditions, temperature, top_k, top_p, gen, max_atoms, guidance)
        drawn += b
        if canonical:
            strings = [c for c in map(_canonical_or_none, strings) if c is not None]
            if drawn >= max_draws and len(out) + len(strings) < n:
                raise GenerativeError(f"only {len(out) + len(strings)} of {n} samples had a canonical form after "
                                      f"{drawn} draws; try a lower temperature or canonical=False")
        out.extend(strings[: n - len(out)])
    return out


def _canonical_or_none(string: str) -> str | None:
    from slices import canonical
    from slices.errors import SlicesError

    try:
        return canonical(string)
    except SlicesError:
        return None


@torch.no_grad()
def _sample_batch(bundle, b, conditions, temperature, top_k, top_p, gen, max_atoms, guidance=1.0) -> list[str]:
    model, tok = bundle.model, bundle.tokenizer
    was_training = model.training
    model.eval()
    values, present = bundle.condition(conditions, b)
    guided = guidance != 1.0 and bool(present.any())
    if guided:  # a second, property-free copy of every row, fed the same tokens
        free_values, free_present = bundle.condition({}, b)
        values, present = torch.cat([values, free_values]), torch.cat([present, free_present])
    states = [GrammarState(tok, bundle.max_len, max_atoms) for _ in range(b)]
    tokens: list[list[int]] = [[] for _ in range(b)]
    active = list(range(b))  # rows of the cache still being written
    bos = torch.full((len(values), 1), tok.bos_id, dtype=torch.long)
    logits, cache = model.start(bos, values, present)
    position = model.cfg.n_props + 1
    while active:
        if guided:
            n_active = len(active)
            cond = torch.log_softmax(logits[:n_active].float(), 1)
            free = torch.log_softmax(logits[n_active:].float(), 1)
            logits = free + guidance * (cond - free)
        mask = torch.from_numpy(np.stack([states[r].allowed() for r in active]))
        scores = (logits.float() / temperature).masked_fill(~mask, -math.inf)
        scores = _filter(scores, top_k, top_p)
        chosen = torch.multinomial(torch.softmax(scores, dim=1), 1, generator=gen)[:, 0]
        keep = []
        for row, (r, t) in enumerate(zip(active, chosen.tolist())):
            states[r].push(t)
            if t != tok.eos_id:
                tokens[r].append(t)
            if not states[r].done:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(active):
            rows = torch.tensor(keep)
            chosen = chosen[rows]
            if guided:
                rows = torch.cat([rows, rows + len(active)])
            cache = [(k[rows], v[rows]) for k, v in cache]
            active = [active[row] for row in keep]
        logits, cache = model.step(torch.cat([chosen, chosen]) if guided else chosen, position, cache)
        position += 1
    model.train(was_training)
    return [tok.decode(t) for t in tokens]
