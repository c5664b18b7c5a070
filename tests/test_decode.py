"""slices.decode / decode_report: the real string round trip, structure -> encode -> string -> decode."""

from __future__ import annotations

import pytest

import slices
from relax import DEFAULT_STAGES
from slices.decode import DecodeResult, decode, decode_report
from tests.relax_support import CRYSTALS, LOOSE, LOOSE_NOSCALE, STRICT, dev_rows, require_model

DEV_IDS = ["mp-1018157", "mp-1025252", "mp-10281"]  # CrN, Cs2MnCl4, ZnS


@pytest.fixture(scope="module", autouse=True)
def _model():
    require_model()


@pytest.mark.parametrize("name", sorted(CRYSTALS))
def test_round_trip_simple_crystals(name):
    original = CRYSTALS[name]()
    string = slices.encode(original)
    report = decode_report(string)
    assert isinstance(report, DecodeResult)
    assert report.status == "ok", report.message
    assert report.topology_ok is True
    assert report.energy_per_atom is not None and report.energy_per_atom < 0
    assert set(report.timings) == set(DEFAULT_STAGES)
    assert STRICT.fit(original, report.structure), f"{name}: no strict match"
    assert LOOSE_NOSCALE.fit(original, report.structure), f"{name}: volume off"


def test_round_trip_dev_rows():
    rows = dev_rows(DEV_IDS)
    assert len(rows) == len(DEV_IDS)
    for mid, original in rows.items():
        structure = decode(slices.encode(original))
        assert LOOSE.fit(original, structure), mid
        assert LOOSE_NOSCALE.fit(original, structure), f"{mid}: volume off"


def test_decode_malformed_string_raises_parse_error():
    with pytest.raises(slices.ParseError):
        decode("Na Cl 0 1")
    with pytest.raises(slices.UnknownElementError):
        decode("Na Qq 0 1 ooo")


def test_decode_non_3d_string_raises_decode_error():
    with pytest.raises(slices.DecodeError) as info:
        decode("C C 0 1 ooo 0 1 +oo 1 0 +oo")  # a chain
    assert info.value.reason == "not_embeddable"
    report = decode_report("C C 0 1 ooo 0 1 +oo 1 0 +oo")
    assert report.status == "not_embeddable" and report.structure is None


def test_decode_failure_raises_decode_error_with_reason():
    string = slices.encode(CRYSTALS["rock_salt"]())
    with pytest.raises(slices.DecodeError) as info:
        decode(string, time_limit=1e-6)  # over before the first stage ends, however fast the machine
    assert info.value.reason == "timeout"
    with pytest.raises(slices.DecodeError) as info:
        decode(string, stages=("placement", "potential"), potential="No-Such-Model-PES")
    assert info.value.reason == "model_missing"
