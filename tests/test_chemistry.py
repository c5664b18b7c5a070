"""The project's one SMACT test (periodicnet.chemistry): known verdicts, the oxidation-state set it uses, its errors."""

from __future__ import annotations

import pytest
from pymatgen.core import Composition

from periodicnet.chemistry import OXIDATION_STATE_SET, CompositionError, is_all_metal, smact_valid
from periodicnet.errors import SlicesError


@pytest.mark.parametrize(
    "composition, valid",
    [
        ({"Na": 1, "Cl": 1}, True),  # Na+ Cl-
        ({"Fe": 2, "O": 3}, True),  # Fe3+ O2-
        ({"Ba": 1, "Ti": 1, "O": 3}, True),  # perovskite
        ({"Na": 1, "Cl": 2}, False),  # no neutral assignment with the cation less electronegative
        ({"He": 1, "O": 1}, False),  # helium has no oxidation state
        ({"Cu": 3, "Au": 1}, True),  # all metals: an alloy
        ({"Si": 4}, True),  # one element
    ],
)
def test_known_verdicts(composition, valid):
    assert smact_valid(composition) is valid


def test_the_oxidation_state_set_is_smact14():
    # Al(+1) is in SMACT's 2014 list and not in the ICSD-2024 default; B(-3) with Al(+3) the other way round,
    # so these two verdicts pin the set
    assert OXIDATION_STATE_SET == "smact14"
    assert smact_valid({"Al": 1, "Cl": 1}) is True
    assert smact_valid({"Al": 1, "B": 1}) is False


def test_inputs_composition_mapping_and_site_list_agree():
    as_list = ["Fe", "O", "Fe", "O", "O"]
    assert smact_valid(Composition("Fe2O3")) == smact_valid(as_list) == smact_valid({"Fe": 2, "O": 3}) is True
    assert smact_valid(Composition({"Na": 2, "Cl": 4})) is False  # Cl- Na+ in a 1:2 ratio, whatever the cell


def test_metrics_and_pipeline_use_the_same_test():
    from generative.metrics import composition_valid as metric
    from screening.checks import composition_valid as check

    assert metric is smact_valid and check is smact_valid


@pytest.mark.parametrize(
    "composition, named",
    [(["Xx", "O"], "Xx"), ({"Na": 0.5, "Cl": 1}, "0.5"), ([], "no atoms"), ("NaCl", "string"), ({"D": 1}, "'D'")],
)
def test_what_cannot_be_judged_is_an_error_naming_it(composition, named):
    with pytest.raises(CompositionError, match=named) as info:
        smact_valid(composition)
    assert isinstance(info.value, SlicesError)


def test_all_metal():
    assert is_all_metal(["Cu", "Cu", "Au"])
    assert not is_all_metal({"Na": 1, "Cl": 1})
