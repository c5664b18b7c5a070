"""Generative model for SLICES strings: tokenizer, a compact transformer, training and grammar-aware sampling.

Public face: :func:`sample`, :func:`train` (from a :class:`TrainConfig`, run in a :class:`Session`),
:func:`resume_training`, :func:`load_model`, :class:`GenerativeError`. Torch is imported only when a function is
first called, so importing this package (e.g. for ``slices --help``) stays fast.
"""

from __future__ import annotations

from generative.config import Session, TrainConfig
from generative.errors import GenerativeError
from generative.sampling import sample  # light: torch is imported when sampling starts
from generative.train import resume_training, train  # light: torch is imported when training starts

__all__ = ["sample", "train", "resume_training", "TrainConfig", "Session", "load_model", "GenerativeError"]


def load_model(path=None):
    """Load a checkpoint (default: the shipped model in ``data/model/``); see :func:`generative.checkpoint.load_model`.
    """
    from generative.checkpoint import load_model as _load

    return _load(path)
