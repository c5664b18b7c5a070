"""The parameter objects of a training run: what the run is (:class:`TrainConfig`) and how this process runs it
(:class:`Session`).

A :class:`TrainConfig` holds everything that decides the trained weights (model shape, use of the data, optimiser,
schedule, seed); it is stored in the training-state file, so a resumed run continues with the very same object, and
in the weights file's ``info``. A :class:`Session` holds what does not change the result (threads, time and step
limits of this session, caching, progress bar). Each option is defined once, here, with its default and its check;
the command line (``slices train``) builds these objects and reads its defaults from the fields. A bad value raises
:class:`generative.errors.TrainingOptionError` (an :class:`periodicnet.errors.ArgumentError`) when the object is
made, before any data is read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generative.errors import TrainingOptionError
from periodicnet.arguments import check_count, check_number, check_seed
from periodicnet.errors import ArgumentError

@contextmanager
def _as_training_error():
    """Raise the shared checks' ArgumentError as the generative package's TrainingOptionError (same message)."""
    try:
        yield
    except TrainingOptionError:
        raise
    except ArgumentError as exc:
        raise TrainingOptionError(str(exc)) from None


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (the same config, data and seed give the same weights on the CPU).

    Model shape: ``n_layer`` transformer blocks of width ``n_embd`` with ``n_head`` heads, ``block_size`` positions,
    ``dropout``, a vocabulary for cells of up to ``max_atoms`` atoms.

    Data use: ``properties`` maps property names (``band_gap``, ``formation_energy``) to CSV columns (None: found by
    the usual column names); ``max_rows`` uses only the first rows. Without a ``split`` column a random
    ``val_fraction`` of the crystals is held out. Each crystal appears as ``augment`` atom orderings (its canonical
    string first; validation crystals as ``val_augment``, default ``augment``); ``wide_gap=(threshold_eV, factor)``
    gives crystals with a band gap >= threshold ``factor`` times as many orderings. ``prop_dropout`` hides each
    property with this chance in training, which teaches unconditioned sampling.

    Optimiser and schedule: AdamW (``lr`` peak, ``weight_decay``), ``batch_size`` sequences per step, a warm-up then
    cosine decay over ``epochs`` passes (or ``max_steps`` steps, if fewer); the validation loss is measured every
    ``eval_every`` steps (default: once per epoch) and training stops after ``patience`` evaluations without a better
    one. ``seed`` seeds the split, the orderings, the batches and the weights. ``init_from`` starts from a trained
    model's weights (its architecture and property scaling are kept: :func:`generative.train` takes the shape from it).
    """

    # model shape
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 512
    dropout: float = 0.1
    max_atoms: int = 20
    # use of the data
    properties: Mapping[str, str | None] | None = None
    max_rows: int | None = None
    val_fraction: float = 0.1
    augment: int = 4
    val_augment: int | None = None
    wide_gap: tuple[float, int] | None = None
    prop_dropout: float = 0.3
    # optimiser and schedule
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    epochs: int = 20
    max_steps: int | None = None
    eval_every: int | None = None
    patience: int = 3
    seed: int = 0
    init_from: str | None = None

    def __post_init__(self) -> None:
        with _as_training_error():
            self._check()

    def _check(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen: normalise in place
        for name in ("n_layer", "n_head", "n_embd", "block_size", "max_atoms", "augment", "batch_size", "epochs",
                     "patience"):
            put(name, check_count(getattr(self, name), name))
        for name in ("max_rows", "val_augment", "max_steps", "eval_every"):
            if getattr(self, name) is not None:
                put(name, check_count(getattr(self, name), name))
        if self.n_embd % self.n_head:
            raise TrainingOptionError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        put("dropout", check_number(self.dropout, "dropout", minimum=0, below=1))
        put("val_fraction", check_number(self.val_fraction, "val_fraction", minimum=0, below=1))
        put("prop_dropout", check_number(self.prop_dropout, "prop_dropout", minimum=0, maximum=1))
        put("lr", check_number(self.lr, "lr", above=0))
        put("weight_decay", check_number(self.weight_decay, "weight_decay", minimum=0))
        put("seed", check_seed(self.seed))
        put("properties", _check_properties(self.properties))
        put("wide_gap", _check_wide_gap(self.wide_gap))
        if self.init_from is not None:
            if not isinstance(self.init_from, (str, os.PathLike)):
                raise TrainingOptionError(f"init_from must be a model file path or None, got {self.init_from!r}")
            put("init_from", str(self.init_from))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, dicts, strings, numbers) for a checkpoint; :meth:`from_dict` reads them back."""
        out = dataclasses.asdict(self)
        out["properties"] = None if self.properties is None else dict(self.properties)
        out["wide_gap"] = None if self.wide_gap is None else list(self.wide_gap)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainConfig":
        """The config stored by :meth:`to_dict` (unknown keys raise TrainingOptionError: a damaged or foreign file)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TrainingOptionError(f"unknown training options {unknown}")
        return cls(**values)


def _check_properties(properties: object) -> dict[str, str | None] | None:
    if properties is None:
        return None
    if not isinstance(properties, Mapping):
        raise TrainingOptionError(f"properties must map property names to CSV columns (or None), got {properties!r}")
    for name, column in properties.items():
        if not isinstance(name, str) or not (column is None or isinstance(column, str)):
            raise TrainingOptionError(f"properties must map names to column names or None, got {name!r}: {column!r}")
    return dict(properties)


def _check_wide_gap(wide_gap: object) -> tuple[float, int] | None:
    if wide_gap is None:
        return None
    try:
        threshold, factor = wide_gap
        return (check_number(threshold, "wide_gap threshold"), check_count(factor, "wide_gap factor"))
    except (TypeError, ValueError) as exc:  # ArgumentError is a ValueError; so is unpacking the wrong length
        raise TrainingOptionError(f"wide_gap must be (finite threshold in eV, integer factor >= 1), got {wide_gap!r}"
                                  f" ({exc})") from None


@dataclass(frozen=True)
class Session:
    """How this process runs the training; nothing here changes the trained weights.

    ``threads`` torch threads (None: leave torch's setting); ``time_limit`` (minutes) and ``run_steps`` end this
    session early without changing the schedule (the run stays resumable); the training state is written every
    ``checkpoint_every`` steps (default: at each evaluation) and at the end. CIF encoding runs in ``workers``
    processes and is cached in ``cache_dir`` (default ``$SLICES_CACHE_DIR`` or ``~/.cache/crystal-slices``);
    ``progress`` shows progress bars.
    """

    threads: int | None = 1
    time_limit: float | None = None
    run_steps: int | None = None
    checkpoint_every: int | None = None
    workers: int = 1
    cache_dir: str | os.PathLike | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        with _as_training_error():
            for name in ("threads", "run_steps", "checkpoint_every"):
                if getattr(self, name) is not None:
                    object.__setattr__(self, name, check_count(getattr(self, name), name))
            object.__setattr__(self, "workers", check_count(self.workers, "workers"))
            if self.time_limit is not None:
                object.__setattr__(self, "time_limit",
                                   check_number(self.time_limit, "time_limit (minutes)", above=0))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if not isinstance(self.progress, bool):
            raise TrainingOptionError(f"progress must be True or False, got {self.progress!r}")
