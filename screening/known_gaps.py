"""Band gaps of known compositions: the Materials Project PBE gaps of the shared data (matbench ``mp_gap``,
``known_materials/mp_band_gap_106k.csv.gz``), one value per reduced formula (the median over its entries).

A lookup table, not a model: it answers only for compositions some known crystal has, and it says nothing about
a new polymorph's own gap. The design loop uses it to rank proposals of a known composition (a new polymorph of a
composition whose known crystals have the target gap is likelier to have it too); it is cached on disk
(:mod:`screening.cache`).
"""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path

from periodicnet.resources import shared_data_dir

KNOWN_GAPS = "known_materials/mp_band_gap_106k.csv.gz"
_CACHE_VERSION = 1


def _read(path: Path) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    from pymatgen.core import Composition

    table = pd.read_csv(path, keep_default_na=False)
    by_formula: dict[str, list[float]] = {}
    for formula, gap in zip(table["formula"], table["band_gap"]):
        try:
            gap = float(gap)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pymatgen notes missing electronegativities of noble gases
                reduced = Composition(formula).reduced_formula
        except (ValueError, KeyError, TypeError):
            continue
        if math.isfinite(gap):
            by_formula.setdefault(reduced, []).append(gap)
    return {f: float(np.median(g)) for f, g in by_formula.items()}


@functools.lru_cache(maxsize=1)
def known_band_gaps() -> dict[str, float]:
    """Reduced formula -> median known PBE band gap (eV) of its Materials Project entries; empty when the table
    is not in the shared data."""
    from screening.cache import cached

    path = shared_data_dir() / KNOWN_GAPS
    if not path.is_file():
        return {}
    return cached("known-gaps", _CACHE_VERSION, [path], functools.partial(_read, path))
