"""Train the property-conditioned SLICES transformer on a CSV of crystals (``cif`` or ``slices`` column)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from generative.config import Session, TrainConfig
from generative.errors import GenerativeError, TrainingOptionError
from periodicnet.resources import shared_data_path

if TYPE_CHECKING:  # pragma: no cover
    from generative.checkpoint import Bundle

# torch is imported inside the functions: `generative.train` is also the package's public function, imported
# eagerly by generative/__init__.py, and the command line must not pay for torch before it needs it.

DEFAULT_DATA = "mp20/train_pool.csv.gz"
"""The training data when none is given: the MP-20 train pool of the shared data folder."""


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


def train(config: TrainConfig = TrainConfig(), session: Session = Session(), *, data: str | Path | None = None,
          out: str | Path | None = None, state: str | Path | None = None) -> "Bundle":
    """Train a model as ``config`` defines it and return it; with ``out`` the best checkpoint (by validation loss) is
    written there.

    ``data`` (default: :data:`DEFAULT_DATA` in the shared data folder) is a CSV with a ``cif`` column (encoded with
    :func:`slices.encode`, cached) or a ``slices`` column, property columns, and optionally a ``split`` column
    (``train``/``val``) that fixes the validation crystals. Training ends when the schedule does or early
    (``config.patience``); ``session`` can end it sooner without changing the schedule. The full training state
    (weights, optimiser, step, schedule position, random states, and ``config`` itself) is written to ``state``
    (default: ``out`` with suffix ``.resume.pt``), and :func:`resume_training` continues from it exactly.
    Deterministic for a config and data: a run cut into sessions gives the same weights as an uninterrupted one.
    """
    if not isinstance(config, TrainConfig):
        raise TrainingOptionError(f"train() takes a TrainConfig as its first argument (the data file goes in "
                                  f"data=...), got {config!r}")
    if not isinstance(session, Session):
        raise TrainingOptionError(f"session must be a Session, got {session!r}")
    if data is None:
        data = shared_data_path(DEFAULT_DATA)
    if config.init_from is not None:
        from generative.checkpoint import load_model

        shape = load_model(config.init_from).model.cfg  # continued training keeps the model's architecture
        config = dataclasses.replace(config, n_layer=shape.n_layer, n_head=shape.n_head, n_embd=shape.n_embd,
                                     block_size=shape.block_size)
    return _run(config, session, data, out, state, resume=None)


def resume_training(state: str | Path, session: Session = Session(), *, data: str | Path | None = None,
                    out: str | Path | None = None) -> "Bundle":
    """Continue the run saved in the training-state file ``state`` exactly where it stopped.

    The run's :class:`TrainConfig` comes from the state file (``data`` only points to the same data at a new path;
    different content raises :class:`GenerativeError`); ``session`` says how to run this part. ``out`` defaults to
    the run's own weights file; the state file is updated in place. Returns the best model so far, as :func:`train`.
    """
    from generative.checkpoint import load_training_state

    if not isinstance(session, Session):
        raise TrainingOptionError(f"session must be a Session, got {session!r}")
    payload = load_training_state(state)
    if payload["finished"]:
        raise GenerativeError(f"the run in {str(state)!r} has already finished ({payload['stop_reason']})")
    config = TrainConfig.from_dict(payload["config"])
    return _run(config, session, data if data is not None else payload["data"],
                out if out is not None else payload["out"], state, resume=payload)


def _split(frame, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, training rows): from a ``split`` column when the data has one, else a random share."""
    n = len(frame)
    if "split" in frame.columns:
        labels = frame["split"].astype(str).str.strip().str.lower().to_numpy()
        bad = sorted(set(labels) - {"train", "val"})
        if bad:
            raise GenerativeError(f"the split column may only hold 'train' or 'val', found {bad[:5]}")
        return np.flatnonzero(labels == "val"), np.flatnonzero(labels == "train")
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    perm = rng.permutation(n)
    return np.sort(perm[:n_val]), np.sort(perm[n_val:])


def _fingerprint(seqs: list[np.ndarray], values, present) -> str:
    """Hash of the tokenised data (sequences and property tensors): a resumed run must see the same data."""
    h = hashlib.sha256()
    for s in seqs:
        h.update(len(s).to_bytes(4, "little"))
        h.update(s.tobytes())
    h.update(values.numpy().tobytes())
    h.update(present.numpy().tobytes())
    return h.hexdigest()[:24]


def _run(config: TrainConfig, session: Session, data: str | Path, out, state_path,
         resume: dict | None) -> "Bundle":
    import torch

    from generative.checkpoint import new_bundle, save, save_training_state
    from generative.data import load_strings, reorderings

    if session.threads:
        torch.set_num_threads(session.threads)
    progress = session.progress
    if state_path is None and out is not None:
        state_path = Path(out).with_suffix(".resume.pt")
    t_start = time.time()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    data = str(data)
    frame = load_strings(data, config.properties, cache_dir=session.cache_dir, workers=session.workers,
                         progress=progress)
    t_data = time.time() - t_start
    if config.max_rows is not None:
        frame = frame.iloc[: config.max_rows]
    prop_names = list(frame.attrs["properties"])
    n_crystals = len(frame)
    if n_crystals < 2:
        raise GenerativeError(f"{data}: only {n_crystals} usable crystal(s); need at least 2")
    val_idx, train_idx = _split(frame, config.val_fraction, rng)
    if len(train_idx) == 0:
        raise GenerativeError(f"{data}: no crystal is in the training split")

    init = None
    if resume is None and config.init_from:
        from generative.checkpoint import load_model

        init = load_model(config.init_from)
        if init.properties != prop_names or init.tokenizer.max_atoms != config.max_atoms:
            raise GenerativeError(f"cannot continue {config.init_from!r}: it has properties {init.properties} and "
                                  f"{init.tokenizer.max_atoms} atoms at most, the data {prop_names} and "
                                  f"{config.max_atoms}")
    if resume is not None:
        scaling = {k: tuple(v) for k, v in resume["scaling"].items()}
    elif init is not None:
        scaling = dict(init.scaling)  # the prefix MLPs learned this scale
    else:
        scaling = {}
        for name in prop_names:
            col = frame[name].to_numpy(dtype=float)[train_idx]
            col = col[np.isfinite(col)]
            if len(col) == 0:
                raise GenerativeError(f"property {name!r} has no values in the training split")
            scaling[name] = (float(col.mean()), float(max(col.std(), 1e-6)))
    bundle = new_bundle(prop_names, scaling, max_atoms=config.max_atoms, n_layer=config.n_layer,
                        n_head=config.n_head, n_embd=config.n_embd, block_size=config.block_size,
                        dropout=config.dropout)
    model, tok = bundle.model, bundle.tokenizer
    if init is not None:
        model.load_state_dict(init.model.state_dict())
    gaps = frame["band_gap"].to_numpy(dtype=float) if "band_gap" in frame.columns else np.full(n_crystals, np.nan)

    def orderings_of(r: int, base: int) -> int:
        if config.wide_gap is not None and gaps[r] >= config.wide_gap[0]:
            return base * config.wide_gap[1]
        return base

    def build(indices, base):
        seqs, rows, skipped = [], [], 0
        for r in indices:
            for text in reorderings(frame["slices"].iat[r], orderings_of(r, base), rng):
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

    tr_seqs, tr_vals, tr_present, tr_skip = build(train_idx, config.augment)
    va_seqs, va_vals, va_present, va_skip = build(val_idx, config.val_augment or config.augment)
    if not tr_seqs:
        raise GenerativeError("no training string fits the vocabulary and length limit")
    fingerprint = _fingerprint(tr_seqs + va_seqs, torch.cat([tr_vals, va_vals]), torch.cat([tr_present, va_present]))
    lengths = np.array([len(s) for s in tr_seqs])
    batch_size = config.batch_size
    steps_per_epoch = math.ceil(len(tr_seqs) / batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(config.max_steps, total_steps)
    eval_every = config.eval_every or steps_per_epoch
    checkpoint_every = session.checkpoint_every or eval_every
    warmup = min(200, max(1, total_steps // 10))
    lr, patience, prop_dropout = config.lr, config.patience, config.prop_dropout

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "pos_emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "pos_emb" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, total_steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    # the loop's state: everything a resumed session needs to continue as if never stopped
    run = {"step": 0, "epoch": 0, "batch_pos": 0, "epoch_rng": None, "history": [], "best": math.inf,
           "best_step": 0, "bad_evals": 0, "ema": None, "train_seconds": 0.0, "sessions": 0}
    best_state = None
    if resume is not None:
        if resume["fingerprint"] != fingerprint:
            raise GenerativeError("the training data differ from those of the run being resumed "
                                  f"(fingerprint {fingerprint} != {resume['fingerprint']})")
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        run.update(resume["run"])
        best_state = resume["best_model"] if resume["best_model"] is not None else (
            {k: t.detach().clone() for k, t in model.state_dict().items()} if run["best_step"] else None)
        torch.set_rng_state(resume["torch_rng"])
    run["sessions"] += 1

    def make_info(stop_reason: str = "") -> dict:
        return {
            "data": str(data), "n_crystals": n_crystals, "n_train_crystals": len(train_idx),
            "n_val_crystals": len(val_idx), "n_train_sequences": len(tr_seqs), "n_val_sequences": len(va_seqs),
            "skipped_sequences": tr_skip + va_skip,
            "encode_failures": {str(k): int(v) for k, v in frame.attrs.get("failures", {}).items()},
            "config": config.to_dict(), "eval_every": eval_every, "total_steps": total_steps,
            "n_params": model.n_params(), "steps": run["step"], "history": list(run["history"]),
            "best_val_loss": None if run["best"] == math.inf else round(run["best"], 4),
            "best_step": run["best_step"], "data_seconds": round(t_data, 1),
            "train_minutes": round(run["train_seconds"] / 60, 2), "sessions": run["sessions"],
            "torch_threads": torch.get_num_threads(), "stop_reason": stop_reason, "data_fingerprint": fingerprint,
        }

    def write_state(stop_reason: str = "", finished: bool = False) -> None:
        if state_path is None:
            return
        same = best_state is not None and run["best_step"] == run["step"]
        save_training_state(state_path, {
            "config": config.to_dict(), "data": data, "scaling": {k: list(v) for k, v in scaling.items()},
            "out": str(out) if out else None,
            "fingerprint": fingerprint, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "best_model": None if same or best_state is None else best_state, "run": dict(run),
            "torch_rng": torch.get_rng_state(), "finished": finished, "stop_reason": stop_reason,
            "info": make_info(stop_reason),
        })

    from tqdm import tqdm

    stop = ""
    if run["step"] >= total_steps:
        stop = "step budget reached"
    bar = tqdm(total=total_steps, initial=run["step"], disable=not progress, desc="train", dynamic_ncols=True)
    model.train()
    t_session = time.time()
    session_steps = 0
    while not stop:
        if run["batch_pos"] == 0:
            run["epoch_rng"] = rng.bit_generator.state
        else:  # resumed mid-epoch: draw the same epoch order again
            rng.bit_generator.state = run["epoch_rng"]
        batches = _batches(lengths, batch_size, rng)
        for rows in batches[run["batch_pos"] :]:
            t0 = time.time()
            x, y, v, p = _collate(tr_seqs, rows, tr_vals, tr_present, tok)
            if prop_dropout > 0 and p.numel():
                p = p & (torch.rand(p.shape) >= prop_dropout)
            for group in opt.param_groups:
                group["lr"] = lr_at(run["step"])
            loss = _loss(model, x, y, v, p, tok.pad_id)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            run["step"] += 1
            run["batch_pos"] += 1
            session_steps += 1
            lv = loss.item()
            run["ema"] = lv if run["ema"] is None else 0.95 * run["ema"] + 0.05 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{run['ema']:.3f}", val=f"{run['best']:.3f}")
            step = run["step"]
            if step % eval_every == 0 or step == total_steps:
                val = _evaluate(model, va_seqs, va_vals, va_present, tok, 64) if va_seqs else run["ema"]
                run["train_seconds"] += time.time() - t0
                t0 = time.time()
                run["history"].append({"step": step, "train_loss": round(run["ema"], 4), "val_loss": round(val, 4),
                                       "minutes": round(run["train_seconds"] / 60, 2)})
                if val < run["best"] - 1e-4:
                    run["best"], run["best_step"], run["bad_evals"] = val, step, 0
                    best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
                    if out is not None:
                        bundle.info = make_info("in progress")
                        save(bundle, out)
                else:
                    run["bad_evals"] += 1
                    if run["bad_evals"] >= patience:
                        stop = f"early stop: no better validation loss in {patience} evaluations"
            run["train_seconds"] += time.time() - t0
            if step >= total_steps and not stop:
                stop = "step budget reached"
            finished = bool(stop)
            limit = session.time_limit
            if not stop and limit is not None and time.time() - t_session > limit * 60:
                stop = f"session time limit of {limit} min reached (resumable)"
            if not stop and session.run_steps is not None and session_steps >= session.run_steps:
                stop = f"session step limit of {session.run_steps} reached (resumable)"
            if stop or step % checkpoint_every == 0:
                write_state(stop, finished)
            if stop:
                break
        else:
            run["epoch"] += 1
            run["batch_pos"] = 0
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    bundle.info = make_info(stop)
    if out is not None:
        save(bundle, out)
    return bundle
