"""Train the property-conditioned SLICES transformer on a CSV of crystals (``cif`` or ``slices`` column)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from generative.errors import GenerativeError

if TYPE_CHECKING:  # pragma: no cover
    from generative.checkpoint import Bundle

# torch is imported inside the functions: `generative.train` is also the package's public function, imported
# eagerly by generative/__init__.py, and the command line must not pay for torch before it needs it.

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mp20" / "train_pool.csv.gz"


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length sequences (sorted within chunks of 50 batches) to limit padding."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    return [batches[k] for k in rng.permutation(len(batches))]


def _collate(seqs, rows, values, present, tok):
    """Input ids [BOS, t...], targets [t..., EOS] padded with PAD, and the property tensors for ``rows``."""
    import torch

    width = max(len(seqs[r]) for r in rows) + 1
    x = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    y = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    for k, r in enumerate(rows):
        s = torch.as_tensor(seqs[r], dtype=torch.long)
        x[k, 0] = tok.bos_id
        x[k, 1 : len(s) + 1] = s
        y[k, : len(s)] = s
        y[k, len(s)] = tok.eos_id
    return x, y, values[rows], present[rows]


def _loss(model, x, y, v, p, pad_id):
    import torch.nn.functional as F

    logits = model(x, v, p)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=pad_id)


def _evaluate(model, seqs, values, present, tok, batch_size) -> float:
    """Mean per-token cross-entropy over a data set (properties as given, no dropout)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    order = np.argsort([len(s) for s in seqs], kind="stable")
    for k in range(0, len(order), batch_size):
        rows = order[k : k + batch_size]
        x, y, v, p = _collate(seqs, rows, values, present, tok)
        n = int((y != tok.pad_id).sum())
        with torch.no_grad():
            total += float(_loss(model, x, y, v, p, tok.pad_id)) * n
        count += n
    model.train()
    return total / max(count, 1)


def train(
    data: str | Path = DEFAULT_DATA,
    out: str | Path | None = None,
    *,
    properties: dict[str, str | None] | None = None,
    val_fraction: float = 0.1,
    augment: int = 4,
    max_atoms: int = 20,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd: int = 128,
    block_size: int = 512,
    dropout: float = 0.1,
    prop_dropout: float = 0.3,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    epochs: int = 20,
    patience: int = 3,
    eval_every: int | None = None,
    time_limit: float | None = None,
    max_steps: int | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> "Bundle":
    """Train a model and return it; with ``out`` the best checkpoint (by validation loss) is written there.

    ``data`` is a CSV with a ``cif`` column (encoded with :func:`slices.encode`, cached) or a ``slices`` column.
    ``properties`` maps property names (``band_gap``, ``formation_energy``) to columns; None finds them by the usual
    column names. Each crystal appears as ``augment`` atom orderings (its canonical string first). Training stops
    after ``epochs``, ``max_steps`` steps, ``time_limit`` minutes, or ``patience`` evaluations without a better
    validation loss, whichever comes first. Deterministic for a seed unless the time limit cuts it.
    """
    for name, value, lo in (("augment", augment, 1), ("epochs", epochs, 1), ("batch_size", batch_size, 1),
                            ("patience", patience, 1), ("max_atoms", max_atoms, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise GenerativeError(f"{name} must be an integer >= {lo}, got {value!r}")
    if not 0 <= val_fraction < 1:
        raise GenerativeError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if not 0 <= prop_dropout <= 1:
        raise GenerativeError(f"prop_dropout must be in [0, 1], got {prop_dropout!r}")
    import torch

    from generative.checkpoint import new_bundle, save
    from generative.data import load_strings, reorderings

    if threads:
        torch.set_num_threads(threads)
    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    frame = load_strings(data, properties, cache_dir=cache_dir, workers=workers, progress=progress)
    t_data = time.time() - t_start
    if max_rows is not None:
        frame = frame.iloc[:max_rows]
    prop_names = list(frame.attrs["properties"])
    n_crystals = len(frame)
    if n_crystals < 2:
        raise GenerativeError(f"{data}: only {n_crystals} usable crystal(s); need at least 2")
    n_val = int(round(n_crystals * val_fraction)) if val_fraction > 0 else 0
    perm = rng.permutation(n_crystals)
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    scaling = {}
    for name in prop_names:
        col = frame[name].to_numpy(dtype=float)[train_idx]
        col = col[np.isfinite(col)]
        if len(col) == 0:
            raise GenerativeError(f"property {name!r} has no values in the training split")
        scaling[name] = (float(col.mean()), float(max(col.std(), 1e-6)))
    bundle = new_bundle(prop_names, scaling, max_atoms=max_atoms, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                        block_size=block_size, dropout=dropout)
    model, tok = bundle.model, bundle.tokenizer

    def build(indices, k_aug):
        seqs, rows, skipped = [], [], 0
        for r in indices:
            for text in reorderings(frame["slices"].iat[r], k_aug, rng):
                try:
                    ids = tok.encode(text)
                except GenerativeError:
                    skipped += 1
                    continue
                if len(ids) + 1 > bundle.max_len:
                    skipped += 1
                    continue
                seqs.append(np.asarray(ids, dtype=np.int16))
                rows.append(r)
        raw = frame[prop_names].to_numpy(dtype=float)[rows] if prop_names else np.zeros((len(rows), 0))
        vals = np.zeros_like(raw)
        for p, name in enumerate(prop_names):
            vals[:, p] = (raw[:, p] - scaling[name][0]) / scaling[name][1]
        present = np.isfinite(vals)
        return seqs, torch.tensor(np.nan_to_num(vals), dtype=torch.float32), torch.tensor(present), skipped

    tr_seqs, tr_vals, tr_present, tr_skip = build(train_idx, augment)
    va_seqs, va_vals, va_present, va_skip = build(val_idx, augment)
    if not tr_seqs:
        raise GenerativeError("no training string fits the vocabulary and length limit")
    lengths = np.array([len(s) for s in tr_seqs])
    steps_per_epoch = math.ceil(len(tr_seqs) / batch_size)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    eval_every = eval_every or steps_per_epoch
    warmup = min(200, max(1, total_steps // 10))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "pos_emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "pos_emb" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, total_steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    def make_info(stop_reason: str = "") -> dict:
        return {
            "data": str(data), "n_crystals": n_crystals, "n_train_crystals": len(train_idx),
            "n_val_crystals": len(val_idx), "n_train_sequences": len(tr_seqs), "n_val_sequences": len(va_seqs),
            "skipped_sequences": tr_skip + va_skip,
            "encode_failures": {str(k): int(v) for k, v in frame.attrs.get("failures", {}).items()},
            "hyperparameters": {
                "augment": augment, "n_layer": n_layer, "n_head": n_head, "n_embd": n_embd,
                "block_size": block_size, "dropout": dropout, "prop_dropout": prop_dropout,
                "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "epochs": epochs,
                "patience": patience, "eval_every": eval_every, "seed": seed, "val_fraction": val_fraction,
                "max_atoms": max_atoms, "time_limit_min": time_limit, "max_steps": max_steps,
            },
            "n_params": model.n_params(), "steps": step, "history": list(history),
            "best_val_loss": None if best == math.inf else round(best, 4),
            "data_seconds": round(t_data, 1), "train_minutes": round((time.time() - t_train) / 60, 2),
            "torch_threads": torch.get_num_threads(), "stop_reason": stop_reason,
        }

    from tqdm import tqdm

    history, best, best_state, bad_evals, step, stop = [], math.inf, None, 0, 0, ""
    train_loss_ema = None
    bar = tqdm(total=total_steps, disable=not progress, desc="train", dynamic_ncols=True)
    model.train()
    t_train = time.time()
    while not stop:
        for rows in _batches(lengths, batch_size, rng):
            x, y, v, p = _collate(tr_seqs, rows, tr_vals, tr_present, tok)
            if prop_dropout > 0 and p.numel():
                p = p & (torch.rand(p.shape) >= prop_dropout)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            loss = _loss(model, x, y, v, p, tok.pad_id)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            lv = loss.item()
            train_loss_ema = lv if train_loss_ema is None else 0.95 * train_loss_ema + 0.05 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{train_loss_ema:.3f}", val=f"{best:.3f}")
            if step % eval_every == 0 or step == total_steps:
                val = _evaluate(model, va_seqs, va_vals, va_present, tok, 64) if va_seqs else train_loss_ema
                history.append({"step": step, "train_loss": round(train_loss_ema, 4), "val_loss": round(val, 4),
                                "minutes": round((time.time() - t_train) / 60, 2)})
                if val < best - 1e-4:
                    best, bad_evals = val, 0
                    best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
                    if out is not None:
                        bundle.info = make_info("in progress")
                        save(bundle, out)
                else:
                    bad_evals += 1
                    if bad_evals >= patience:
                        stop = f"early stop: no better validation loss in {patience} evaluations"
            if step >= total_steps and not stop:
                stop = "step budget reached"
            if time_limit is not None and time.time() - t_train > time_limit * 60 and not stop:
                stop = f"time limit of {time_limit} min reached"
            if stop:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    bundle.info = make_info(stop)
    if out is not None:
        save(bundle, out)
    return bundle
