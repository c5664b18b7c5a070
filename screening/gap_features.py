"""Composition features for the composition band-gap model (:mod:`screening.gap_model`).

A composition becomes one row: the atomic fraction of each element of the model's element list, then, for each
element property of :data:`PROPERTIES`, four statistics over the elements present (fraction-weighted mean, weighted
mean absolute deviation, minimum, maximum), then the number of elements. The property table is computed once from
pymatgen at training time and shipped with the weights, so a later pymatgen cannot change a trained model's inputs.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["PROPERTIES", "STATISTICS", "element_property_table", "feature_names", "featurize", "fraction_rows"]

PROPERTIES = (
    "Z", "row", "group", "X", "atomic_radius", "mendeleev_no", "ionization_energy", "electron_affinity",
    "melting_point", "molar_volume", "valence_s", "valence_p", "valence_d", "valence_f",
)
"""Element properties (pymatgen ``Element`` attributes; ``valence_*``: electrons outside the noble-gas core by
orbital type, read from ``Element.electronic_structure``)."""

STATISTICS = ("mean", "deviation", "min", "max")

_CHUNK = 8192
_ORBITAL = re.compile(r"^\d+([spdf])(\d+)$")


def _valence_counts(electronic_structure: str) -> dict[str, float]:
    counts = dict.fromkeys("spdf", 0.0)
    for part in electronic_structure.split("."):
        found = _ORBITAL.match(part)
        if found:
            counts[found.group(1)] += float(found.group(2))
    return counts


def _raw_property(element, name: str) -> float:
    if name.startswith("valence_"):
        return _valence_counts(element.electronic_structure)[name[-1]]
    value = getattr(element, name)
    return math.nan if value is None else float(value)


def element_property_table(symbols: Sequence[str]) -> np.ndarray:
    """The ``len(symbols) x len(PROPERTIES)`` table of element properties from pymatgen; a value pymatgen lacks
    (e.g. the electronegativity of a noble gas) is filled with the property's mean over ``symbols``."""
    from pymatgen.core import Element

    table = np.empty((len(symbols), len(PROPERTIES)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns when it sets a missing value to NaN; filled below
        for i, symbol in enumerate(symbols):
            element = Element(symbol)
            table[i] = [_raw_property(element, name) for name in PROPERTIES]
    missing = ~np.isfinite(table)
    table[missing] = np.take(np.nanmean(np.where(missing, np.nan, table), axis=0), np.nonzero(missing)[1])
    return table


def feature_names(symbols: Sequence[str]) -> list[str]:
    """Names of the columns :func:`featurize` returns."""
    stats = [f"{stat}_{prop}" for prop in PROPERTIES for stat in STATISTICS]
    return [f"frac_{s}" for s in symbols] + stats + ["n_elements"]


def featurize(fractions: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Feature rows for atomic-fraction rows ``fractions`` (``n x n_elements``, each row summing to 1) given the
    element property ``table`` (``n_elements x n_properties``); float32, ``n x (n_elements + 4 n_properties + 1)``."""
    n = fractions.shape[0]
    n_props = table.shape[1]
    out = np.empty((n, fractions.shape[1] + len(STATISTICS) * n_props + 1), dtype=np.float32)
    out[:, : fractions.shape[1]] = fractions
    for start in range(0, n, _CHUNK):
        f = fractions[start : start + _CHUNK]
        present = f > 0
        mean = f @ table
        deviation = np.einsum("ne,nep->np", f, np.abs(table[None, :, :] - mean[:, None, :]))
        low = np.where(present[:, :, None], table[None], np.inf).min(axis=1)
        high = np.where(present[:, :, None], table[None], -np.inf).max(axis=1)
        stats = np.stack([mean, deviation, low, high], axis=2).reshape(len(f), -1)  # property-major, as named
        out[start : start + len(f), fractions.shape[1] : -1] = stats
        out[start : start + len(f), -1] = present.sum(axis=1)
    return out


def fraction_rows(compositions: Sequence, index: dict[str, int]) -> np.ndarray:
    """Atomic-fraction rows (``len(compositions) x len(index)``) of pymatgen element Compositions; ``index`` maps
    an element symbol to its column and must hold every element of every composition."""
    out = np.zeros((len(compositions), len(index)))
    for k, composition in enumerate(compositions):
        total = composition.num_atoms
        for element, amount in composition.items():
            out[k, index[element.symbol]] += amount / total
    return out
