"""Compositional validity: the one SMACT test the project uses (generated samples, pipeline candidates, benchmarks).

The test is SMACT's ``smact_validity`` (charge neutrality for some choice of oxidation states, cations less
electronegative than anions; one-element cells and all-metal alloys count as valid) with SMACT's 2014
oxidation-state set, ``"smact14"`` (:data:`OXIDATION_STATE_SET`): the set of the CDVAE-era benchmarks that the
published SMACT-validity figures (and so this project's) are measured with. SMACT 4's own default, the ICSD-2024
set, gives a different verdict on about 7% of random binaries and ternaries (``docs/architecture.md``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from periodicnet.elements import is_element
from periodicnet.errors import SlicesError

OXIDATION_STATE_SET = "smact14"
"""SMACT's name of the oxidation-state set the test uses (SMACT's 2014 list)."""


class CompositionError(SlicesError):
    """A composition cannot be judged: an unknown element, a non-integer or non-positive amount, or no atoms."""


def _counts(composition: Mapping[str, float] | Iterable[str]) -> dict[str, int]:
    """Element symbol -> positive integer count, from a mapping (a pymatgen ``Composition`` included) or from a
    sequence of site symbols; :class:`CompositionError` for anything else."""
    if isinstance(composition, str):
        raise CompositionError(f"expected element counts or a list of site symbols, not the string {composition!r}")
    if isinstance(composition, Mapping):
        # pymatgen's keys are Element or Species objects: their .symbol is the element
        items = [(str(getattr(key, "symbol", key)), amount) for key, amount in composition.items()]
    else:
        items = list(Counter(str(symbol) for symbol in composition).items())
    if not items:
        raise CompositionError("the composition has no atoms")
    counts = {}
    for symbol, amount in items:
        if not is_element(symbol):
            raise CompositionError(f"{symbol!r} is not a chemical element symbol (H to Lr)")
        if not float(amount).is_integer() or amount <= 0:
            raise CompositionError(f"{symbol} has amount {amount}: a cell's counts are positive integers")
        counts[symbol] = int(amount)
    return counts


def smact_valid(composition: Mapping[str, float] | Iterable[str]) -> bool:
    """SMACT validity of a cell (SMACT's ``smact_validity`` with the ``smact14`` oxidation states, the Pauling test,
    alloys counted as valid).

    ``composition`` is a pymatgen ``Composition``, a mapping of element symbol to count, or the list of the cell's
    site symbols. Raises :class:`CompositionError` when it names something that is not an element (H to Lr) or has
    a non-integer count.
    """
    from pymatgen.core import Composition
    from smact.screening import smact_validity

    counts = _counts(composition)
    return bool(
        smact_validity(
            Composition(counts), use_pauling_test=True, include_alloys=True, oxidation_states_set=OXIDATION_STATE_SET
        )
    )


def balanced_in_common_states(composition: Mapping[str, float] | Iterable[str]) -> bool:
    """True when the cell balances with each element in one of its common oxidation states (pymatgen's
    ``oxi_state_guesses``; stricter than :func:`smact_valid`, which admits rare states such as O-1 in Na2O2)."""
    from pymatgen.core import Composition

    comp = Composition(_counts(composition)).reduced_composition
    try:
        return bool(comp.oxi_state_guesses(max_sites=-50))
    except ValueError:  # too many sites to enumerate
        return False


def is_all_metal(composition: Mapping[str, float] | Iterable[str]) -> bool:
    """True when every element of the cell is a metal by SMACT's list (the alloys :func:`smact_valid` accepts)."""
    from smact import metals

    return all(symbol in metals for symbol in _counts(composition))
