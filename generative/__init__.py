"""Generative model for SLICES strings: tokenizer, a compact transformer, training and grammar-aware sampling.

Public face: :func:`sample`, :func:`train`, :func:`load_model`, :class:`GenerativeError`. Torch is imported only
when a function is first called, so importing this package (e.g. for ``slices --help``) stays fast.
"""

from __future__ import annotations

from generative.errors import GenerativeError
from generative.train import train  # light: torch is imported when training starts

__all__ = ["sample", "train", "load_model", "GenerativeError"]


def sample(n: int, band_gap: float | None = None, formation_energy: float | None = None, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, seed: int = 0, model=None, *,
           guidance: float = 1.0, elements=None, max_atoms: int | None = None, valid_composition: bool = False,
           canonical: bool = False, **kwargs) -> list[str]:
    """Sample ``n`` valid SLICES strings; see :func:`generative.sampling.sample` (chemistry options ``elements``,
    ``max_atoms`` and ``valid_composition`` are off by default: the model's own distribution)."""
    from generative.sampling import sample as _sample

    return _sample(n, band_gap=band_gap, formation_energy=formation_energy, temperature=temperature, top_k=top_k,
                   top_p=top_p, seed=seed, model=model, guidance=guidance, elements=elements, max_atoms=max_atoms,
                   valid_composition=valid_composition, canonical=canonical, **kwargs)


def load_model(path=None):
    """Load a checkpoint (default: the shipped model in ``data/model/``); see :func:`generative.checkpoint.load_model`.
    """
    from generative.checkpoint import load_model as _load

    return _load(path)
