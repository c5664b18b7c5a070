"""Sample-quality metrics that need no structure: compositional validity (the CDVAE/SMACT protocol)."""

from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache
from math import gcd

from slices.graph import ATOMIC_NUMBER


@lru_cache(maxsize=None)
def _element_data(symbol: str) -> tuple[tuple[int, ...], float | None, bool]:
    """(oxidation states, Pauling electronegativity, is a metal) from SMACT.

    The oxidation-state list is SMACT's full 2014 set (``oxidation_states_smact14``), the one CDVAE-era papers
    used; newer SMACT versions default to a shorter list.
    """
    import smact

    element = smact.Element(symbol)
    states = getattr(element, "oxidation_states_smact14", None) or element.oxidation_states or []
    return tuple(int(s) for s in states), element.pauling_eneg, symbol in smact.metals


def composition_valid(species, use_pauling_test: bool = True, include_alloys: bool = True) -> bool:
    """SMACT compositional validity of a cell's species list (CDVAE protocol).

    Valid when: one element only; or (``include_alloys``) all elements are metals; or some assignment of one
    oxidation state per element makes the reduced formula charge-neutral and (``use_pauling_test``) puts every
    cation below every anion in Pauling electronegativity. Elements without an electronegativity pass that test.
    """
    import smact
    from smact.screening import pauling_test

    counts = Counter(species)
    symbols = tuple(counts)
    if any(s not in ATOMIC_NUMBER for s in symbols):
        raise ValueError(f"not an element among {symbols}")
    if len(symbols) == 1:
        return True
    data = [_element_data(s) for s in symbols]
    if include_alloys and all(d[2] for d in data):
        return True
    divisor = 0
    for c in counts.values():
        divisor = gcd(divisor, c)
    stoichs = [(counts[s] // divisor,) for s in symbols]
    threshold = max(c for (c,) in stoichs)
    electronegativities = [d[1] for d in data]
    for states in itertools.product(*(d[0] for d in data)):
        if not smact.neutral_ratios(states, stoichs=stoichs, threshold=threshold):
            continue
        if not use_pauling_test:
            return True
        try:
            if pauling_test(states, electronegativities):
                return True
        except TypeError:  # an element without an electronegativity: the test cannot judge it
            return True
    return False


def is_all_metal(species) -> bool:
    """True when every element of the cell is a metal (SMACT's list): a cheap marker of metallic samples."""
    return all(_element_data(s)[2] for s in set(species))
