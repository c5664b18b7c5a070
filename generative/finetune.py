"""Fine-tune a trained generator on a few chosen crystals (the design loop's hits), without collapsing onto them.

Three things keep a few dozen strings from taking the model over: every step starts from the given weights with a
small learning rate and few steps; each composition contributes at most ``per_composition`` crystals (so one
formula found many times does not dominate); and each batch mixes the chosen crystals with ``replay`` times as
many training crystals (replay), drawn from the shipped training strings, preferring those whose band gap lies in
``replay_gap`` (so the model keeps its general chemistry and is nudged, not rewritten).

The model is called directly (forward, cross-entropy, AdamW): this is not :func:`generative.train`'s schedule but
a short, deterministic continuation of it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from generative.errors import GenerativeError

TRAIN_STRINGS = "model/train_strings.csv.gz"
"""The shipped training strings (``slices``, ``band_gap``, ``formation_energy_per_atom``) used for replay."""


@dataclass(frozen=True)
class Example:
    """One crystal to learn: its SLICES string and the property values it is conditioned on (None: unknown)."""

    string: str
    band_gap: float | None = None
    formation_energy: float | None = None


def cap_per_composition(examples: Sequence[Example], per_composition: int) -> list[Example]:
    """The examples with at most ``per_composition`` per element multiset (first ones kept, order preserved)."""
    from slices.graph import parse

    seen: dict[tuple, int] = {}
    kept = []
    for ex in examples:
        species = parse(ex.string).species
        counts = {s: species.count(s) for s in set(species)}
        divisor = np.gcd.reduce(list(counts.values()))
        key = tuple(sorted((s, c // divisor) for s, c in counts.items()))
        if seen.get(key, 0) < per_composition:
            seen[key] = seen.get(key, 0) + 1
            kept.append(ex)
    return kept


def replay_examples(n: int, rng: np.random.Generator, gap_range: tuple[float, float] | None = None) -> list[Example]:
    """``n`` training crystals from the shipped training strings: half (all, if fewer qualify) with a band gap in
    ``gap_range`` when given, the rest drawn from the whole set."""
    from periodicnet.resources import shipped_data_path

    if n <= 0:
        return []
    frame = _train_strings(str(shipped_data_path(TRAIN_STRINGS)))
    pool = np.arange(len(frame))
    chosen: list[int] = []
    if gap_range is not None:
        gaps = frame["band_gap"].to_numpy(dtype=float)
        near = pool[(gaps >= gap_range[0]) & (gaps <= gap_range[1])]
        if len(near):
            chosen += list(rng.choice(near, size=min(len(near), (n + 1) // 2), replace=False))
    rest = rng.choice(pool, size=n - len(chosen), replace=False)
    chosen += list(rest)
    out = []
    for i in chosen:
        row = frame.iloc[int(i)]
        out.append(Example(row["slices"], _number(row["band_gap"]), _number(row["formation_energy_per_atom"])))
    return out


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


_TRAIN_CACHE: dict = {}


def _train_strings(path: str):
    import pandas as pd

    if path not in _TRAIN_CACHE:
        frame = pd.read_csv(path, keep_default_na=False, usecols=["slices", "band_gap", "formation_energy_per_atom"])
        for column in ("band_gap", "formation_energy_per_atom"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")  # a blank cell is an unknown value
        _TRAIN_CACHE[path] = frame
    return _TRAIN_CACHE[path]


def finetune(model, examples: Sequence[Example], *, steps: int = 30, batch_size: int = 16, lr: float = 2e-4,
             replay: int = 3, replay_gap: tuple[float, float] | None = None, per_composition: int = 2,
             seed: int = 0, out: str | Path | None = None):
    """A copy of ``model`` (a loaded bundle, a checkpoint path or None for the shipped model) trained ``steps``
    AdamW steps on ``examples`` (capped per composition) mixed with ``replay`` training crystals per example;
    each example appears as random atom re-orderings. Written to ``out`` when given. Deterministic for a seed."""
    import torch
    import torch.nn.functional as F

    from generative.checkpoint import Bundle, load_model, save
    from generative.data import reorderings

    if not examples:
        raise GenerativeError("finetune needs at least one example")
    base = model if isinstance(model, Bundle) else load_model(model)
    bundle = Bundle(copy.deepcopy(base.model), base.tokenizer, list(base.properties), dict(base.scaling),
                    dict(base.info))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    chosen = cap_per_composition(examples, per_composition)
    pool = chosen + replay_examples(replay * len(chosen), rng, replay_gap)
    tok = bundle.tokenizer
    encoded = []
    for ex in pool:
        ids = [tok.encode(s) for s in reorderings(ex.string, 4, rng)]
        ids = [i for i in ids if len(i) + 1 <= bundle.max_len]
        if ids:
            values, present = bundle.condition({"band_gap": ex.band_gap, "formation_energy": ex.formation_energy}, 1)
            encoded.append((ids, values[0], present[0]))
    if not encoded:
        raise GenerativeError("no example fits the model's vocabulary and length limit")
    net = bundle.model
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.95))
    for _ in range(steps):
        rows = rng.integers(0, len(encoded), size=min(batch_size, max(len(encoded), 1)))
        seqs = [encoded[r][0][rng.integers(len(encoded[r][0]))] for r in rows]
        width = max(len(s) for s in seqs) + 1
        x = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
        y = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
        for k, s in enumerate(seqs):
            x[k, 0] = tok.bos_id
            x[k, 1:len(s) + 1] = torch.as_tensor(s)
            y[k, :len(s)] = torch.as_tensor(s)
            y[k, len(s)] = tok.eos_id
        values = torch.stack([encoded[r][1] for r in rows])
        present = torch.stack([encoded[r][2] for r in rows])
        logits = net(x, values, present)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=tok.pad_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    net.eval()
    bundle.info = dict(base.info, finetune={"examples": len(chosen), "replay": len(pool) - len(chosen),
                                            "steps": steps, "lr": lr, "seed": seed, "last_loss": round(loss.item(), 4)})
    if out is not None:
        save(bundle, out)
    return bundle
