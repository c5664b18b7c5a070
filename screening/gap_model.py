"""The composition band-gap model: PBE band gap (eV) from the chemical formula alone.

A small multilayer perceptron on composition features (:mod:`screening.gap_features`) with two heads: the
probability that the compound is a metal (gap 0) and the gap of a non-metal. The prediction is 0 where the metal
probability is at least the model's threshold, else the non-metal head clipped at 0. Trained on matbench's
``mp_gap`` (Materials Project PBE gaps) without the evaluation sets' formulas: ``python -m screening.gap_training``
rebuilds ``data/band_gap_composition.pt``; ``data/band_gap_composition.md``
records data, command, time and held-out scores.

```python
from screening.gap_model import predict_band_gap_composition
predict_band_gap_composition(["MgO", "Cu", structure])   # array of 3 gaps in eV (0.0 = called a metal)
```

It knows nothing of structure: polymorphs get the same value. ``screening.assess`` reports it as
``band_gap_composition`` next to MEGNet's structure-based ``band_gap``.
"""

from __future__ import annotations

import functools
import os
import pickle
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from screening.gap_features import featurize, fraction_rows
from screening.properties import PropertyError

__all__ = [
    "MODEL_FILE",
    "GapModel",
    "GapModelError",
    "GapPrediction",
    "load_gap_model",
    "predict_band_gap_composition",
]

MODEL_FILE = "band_gap_composition.pt"
"""The shipped weights, in the repository's ``data/`` folder."""

FORMAT_VERSION = 1
_REQUIRED_KEYS = ("format", "elements", "table", "feature_mean", "feature_std", "hidden", "threshold", "state_dict")


class GapModelError(PropertyError):
    """The composition band-gap model cannot be loaded, or an input is not a composition it can predict."""


@dataclass(frozen=True)
class GapPrediction:
    """Per input: ``band_gap`` (eV, >= 0; exactly 0 when called a metal) and ``metal_probability`` (0-1)."""

    band_gap: np.ndarray
    metal_probability: np.ndarray


def build_network(n_features: int, hidden: Sequence[int]):
    """The network: a SiLU trunk of widths ``hidden`` and a two-number output (metal logit, non-metal gap)."""
    import torch

    layers: list = []
    width = n_features
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.SiLU()]
        width = size
    layers.append(torch.nn.Linear(width, 2))
    return torch.nn.Sequential(*layers)


def _composition(item, k: int):
    """The element composition of one input (formula string, pymatgen Composition or Structure)."""
    from pymatgen.core import Composition, Element, Structure
    from pymatgen.core.composition import CompositionError

    if isinstance(item, Structure):
        if len(item) == 0:
            raise GapModelError(f"item {k} is a structure with no atoms")
        composition = item.composition
    elif isinstance(item, Composition):
        composition = item
    elif isinstance(item, str):
        try:
            composition = Composition(item)
        except (ValueError, KeyError, CompositionError) as exc:
            raise GapModelError(f"item {k} ({item!r}) is not a chemical formula: {exc}") from None
    else:
        raise GapModelError(f"item {k} is a {type(item).__name__}, not a formula, Composition or Structure")
    if not all(isinstance(getattr(sp, "element", sp), Element) for sp in composition):
        raise GapModelError(f"item {k} ({composition}) holds species that are not chemical elements")
    composition = composition.element_composition
    if composition.num_atoms <= 0 or any(amount < 0 for amount in composition.values()):
        raise GapModelError(f"item {k} ({composition.formula!r}) has no atoms or a negative amount")
    return composition


class GapModel:
    """A loaded composition band-gap model (see the module docstring); build it with :func:`load_gap_model`."""

    def __init__(self, payload: dict, source: str):
        import torch

        self.source = source
        self.elements: list[str] = list(payload["elements"])
        self.threshold = float(payload["threshold"])
        self._index = {symbol: i for i, symbol in enumerate(self.elements)}
        self._table = payload["table"].double().numpy()
        self._mean = payload["feature_mean"].float()
        self._std = payload["feature_std"].float()
        self._network = build_network(len(self._mean), [int(h) for h in payload["hidden"]])
        try:
            self._network.load_state_dict(payload["state_dict"], strict=True)
        except RuntimeError as exc:
            raise GapModelError(f"{source}: the weights do not fit the network: {exc}") from None
        self._network.eval()
        self.training_info: dict = dict(payload.get("training", {}))
        self._torch = torch

    def fractions(self, items: Iterable) -> np.ndarray:
        """Atomic-fraction rows over :attr:`elements` for formula strings, Compositions or Structures."""
        compositions = [_composition(item, k) for k, item in enumerate(items)]
        for k, composition in enumerate(compositions):
            unknown = sorted(el.symbol for el in composition if el.symbol not in self._index)
            if unknown:
                raise GapModelError(f"item {k} ({composition.reduced_formula}) has element(s) the model was not "
                                    f"trained on: {unknown}")
        return fraction_rows(compositions, self._index)

    def predict_fractions(self, fractions: np.ndarray) -> GapPrediction:
        """Predictions for atomic-fraction rows (as :meth:`fractions` makes them)."""
        torch = self._torch
        features = torch.from_numpy(featurize(fractions, self._table))
        with torch.no_grad():
            out = self._network((features - self._mean) / self._std).double().numpy()
        probability = 1.0 / (1.0 + np.exp(-out[:, 0]))
        gap = np.where(probability >= self.threshold, 0.0, np.clip(out[:, 1], 0.0, None))
        return GapPrediction(band_gap=gap, metal_probability=probability)

    def predict(self, items) -> GapPrediction:
        """Predictions for one input or a list (formula strings, Compositions, Structures)."""
        from pymatgen.core import Composition, Structure

        single = isinstance(items, (str, Composition, Structure))
        batch = [items] if single else list(items)
        return self.predict_fractions(self.fractions(batch))


def _read(path: Path) -> dict:
    import torch

    if not path.is_file():
        raise GapModelError(f"no composition band-gap model at {path}; rebuild it with "
                            f"'python -m screening.gap_training'")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise GapModelError(f"{path} is not a readable model file: {exc}") from None
    if not isinstance(payload, dict):
        raise GapModelError(f"{path} holds a {type(payload).__name__}, not a composition band-gap model")
    missing = [key for key in _REQUIRED_KEYS if key not in payload]
    if missing:
        raise GapModelError(f"{path} lacks the entries {missing}")
    if payload["format"] != FORMAT_VERSION:
        raise GapModelError(f"{path} has format {payload['format']!r}; this code reads format {FORMAT_VERSION}")
    return payload


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> GapModel:
    return GapModel(_read(Path(path)), path)


def load_gap_model(path: str | os.PathLike | None = None) -> GapModel:
    """The model at ``path`` (default: the shipped ``data/band_gap_composition.pt``), loaded once per process."""
    from periodicnet.resources import DataNotFoundError, shipped_data_path

    if path is None:
        try:
            path = shipped_data_path(MODEL_FILE)
        except DataNotFoundError as exc:
            raise GapModelError(str(exc)) from None
    return _load_cached(str(Path(path).resolve()))


def predict_band_gap_composition(items, model: str | os.PathLike | None = None) -> np.ndarray:
    """PBE band gap (eV) per input (formula string, Composition or Structure, or a list of them) from the
    composition alone: a 1-D float array, >= 0, exactly 0.0 where the model calls the compound a metal."""
    return load_gap_model(model).predict(items).band_gap

