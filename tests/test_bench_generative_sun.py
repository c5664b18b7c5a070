"""The counting rules of benchmarks/bench_generative_sun.py (S.U.N., novelty counts, band-gap accuracy) on
hand-made decode records and assessments: no model, decoder or potential involved."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_generative_sun.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generative_sun", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decoded(status="ok", valid=True):
    return {"status": status, "structure": {"stub": True} if status == "ok" else None, "structure_valid": valid,
            "composition_valid": valid, "elapsed": 1.0}


def _assessed(formula, e_hull, novelty, gap):
    return {"formula": formula, "e_above_hull": e_hull, "novelty": novelty, "band_gap": gap, "reason": None}


def test_sun_needs_decoded_stable_unique_and_not_known(bench):
    decoded = {
        0: _decoded(),                        # S.U.N., new composition
        1: _decoded(valid=False),             # S.U.N. (known composition) but fails SMACT: not in sun_valid
        2: _decoded(),                        # duplicate of 0: not unique
        3: _decoded(),                        # above the hull
        4: _decoded(),                        # a known structure
        5: _decoded(),                        # no e_above_hull (not computed)
        6: _decoded(status="placement_failed"),
    }
    assessed = {
        0: _assessed("A", 0.05, "new", 1.0),
        1: _assessed("B", 0.1, "known_composition", 2.6),
        2: _assessed("A", 0.05, "new", 1.0),
        3: _assessed("C", 0.3, "new", 0.0),
        4: _assessed("D", 0.0, "known", 3.0),
        5: {"formula": "E", "e_above_hull": None, "novelty": "new", "band_gap": None, "reason": "hull: no data"},
    }
    row = bench.summarize(8, decoded, assessed, duplicate_of={2: 0}, target=2.0)
    assert row["decoded"] == pytest.approx(6 / 8)
    assert row["valid"] == pytest.approx(5 / 8)
    assert row["unique"] == pytest.approx(5 / 8)
    assert row["sun_count"] == 2 and row["sun"] == pytest.approx(2 / 8)
    assert row["sun_new_composition"] == 1
    assert row["sun_valid"] == pytest.approx(1 / 8)
    assert row["novelty_counts"] == {"known": 1, "known_composition": 1, "new": 4, "None": 0}
    assert row["assessment_reasons"] == {"hull": 1}
    acc = row["band_gap_accuracy"]  # gaps 1.0, 2.6, 1.0, 0.0, 3.0 against 2 eV
    assert acc["n"] == 5
    assert acc["mae"] == pytest.approx((1.0 + 0.6 + 1.0 + 2.0 + 1.0) / 5)
    assert acc["within_0.5_eV"] == pytest.approx(0.0)


def test_baseline_uses_the_unconditioned_gaps(bench):
    conditions = {"unconditioned": {"band_gaps": [0.0, 0.4, 2.0]}, "band_gap=2": {"target_band_gap": 2.0}}
    bench.add_baselines(conditions)
    base = conditions["band_gap=2"]["unconditioned_accuracy"]
    assert base["n"] == 3 and base["within_0.5_eV"] == pytest.approx(1 / 3)
    assert base["mae"] == pytest.approx((2.0 + 1.6 + 0.0) / 3)


def test_torn_jsonl_line_is_skipped(bench, tmp_path):
    path = tmp_path / "decoded.jsonl"
    bench.append_jsonl(path, {"index": 0, "status": "ok"})
    with path.open("a") as fh:
        fh.write('{"index": 1, "stat')  # an interrupted write
    assert list(bench.read_jsonl(path)) == [0]


def test_wilson_interval_brackets_the_rate(bench):
    low, high = bench.wilson_interval(8, 20)
    assert low < 0.4 < high
    assert low == pytest.approx(0.219, abs=1e-3) and high == pytest.approx(0.613, abs=1e-3)
    assert bench.wilson_interval(0, 20)[0] == 0.0
