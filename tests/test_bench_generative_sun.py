"""benchmarks/bench_generative_sun.py on hand-made candidate rows (the columns ``generate`` returns): its per-condition
figures come from pipeline.metrics, with the unconditioned baseline. No model, decoder or potential involved."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pipeline.report import COLUMNS

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_generative_sun.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generative_sun", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(index, status="ok", formula="A", e_hull=None, novelty=None, duplicate_of=None, gap=None, gap_comp=None,
        seconds=1.0):
    values = {c: None for c in COLUMNS}
    values.update(index=index, status=status, formula=formula, e_above_hull=e_hull, novelty=novelty,
                  duplicate_of=duplicate_of, band_gap=gap, band_gap_composition=gap_comp, decode_seconds=seconds)
    return values


ROWS = [
    row(0, e_hull=0.05, novelty="new", gap=1.0, gap_comp=2.25),                                     # S.U.N.T.
    row(1, status="off_target_band_gap", formula="B", e_hull=0.1, novelty="known_composition",
        gap=2.5, gap_comp=3.0),                                                                     # S.U.N.
    row(2, status="duplicate", duplicate_of=0),
    row(3, status="above_hull", formula="C", e_hull=0.3, novelty="new", gap=0.0, gap_comp=1.75),
    row(4, status="known", formula="D", e_hull=0.0, novelty="known", gap=3.0, gap_comp=2.0),
    row(5, status="placement_failed", formula=None, seconds=3.0),
]


def test_condition_figures_from_the_rows(bench):
    r = bench.summarize(ROWS, target=2.0)
    assert r["n_sampled"] == 6
    assert r["sun"]["count"] == 2 and r["sun"]["rate"] == pytest.approx(2 / 6)
    assert r["sun"]["ci95"][0] < 2 / 6 < r["sun"]["ci95"][1]
    assert r["sun_new_composition"] == 1 and r["sun_formulas"] == ["A", "B"]
    assert r["sunt"]["composition"]["count"] == 1  # 2.25 within 0.5 of 2; B's 3.0 is not
    assert r["sunt"]["megnet"]["count"] == 1  # B's 2.5; A's 1.0 is not
    assert {k: v["count"] for k, v in r["funnel"].items()} == {"decoded": 5, "valid_unique": 4, "not_known": 3,
                                                               "stable": 3, "sun": 2}
    assert r["statuses"]["ok"] == 1 and r["statuses"]["placement_failed"] == 1
    assert r["kept"] == 1
    acc = r["band_gap_accuracy"]["composition"]  # 2.25, 3.0, 1.75, 2.0 against 2 eV
    assert acc["n"] == 4 and acc["mae"] == pytest.approx((0.25 + 1.0 + 0.25 + 0.0) / 4)
    assert acc["within"] == pytest.approx(3 / 4)
    assert r["median_e_above_hull"] == pytest.approx(0.075)
    assert r["median_decode_seconds"] == pytest.approx(1.0)


def test_unconditioned_has_no_target_figures(bench):
    r = bench.summarize(ROWS, target=None)
    assert "sunt" not in r and "band_gap_accuracy" not in r
    assert r["band_gap_mean"]["megnet"] == pytest.approx((1.0 + 2.5 + 0.0 + 3.0) / 4)


def test_baseline_is_the_unconditioned_rows_against_the_target(bench):
    conditions = {"unconditioned": bench.summarize(ROWS, None), "band_gap=2": bench.summarize(ROWS[:2], 2.0)}
    bench.add_baselines(conditions, {"unconditioned": ROWS, "band_gap=2": ROWS[:2]})
    base = conditions["band_gap=2"]["unconditioned_accuracy"]["composition"]
    assert base["n"] == 4 and base["within"] == pytest.approx(3 / 4)
    assert "unconditioned_accuracy" not in conditions["unconditioned"]
    text = bench.table(conditions)
    assert "0.33 (" in text and "band_gap=2" in text


def test_default_conditions_exist_and_the_results_file_is_one_name(bench):
    assert set(bench.DEFAULT_CONDITIONS) <= set(bench.CONDITIONS)
    assert bench.RESULTS.name == "generative_sun.json"


def test_one_sample_size_for_all_conditions_or_one_each(bench):
    assert bench.condition_sizes("100", 3) == [100, 100, 100]
    assert bench.condition_sizes("100,30,30", 3) == [100, 30, 30]
    for bad in ("100,30", "0", "ten", "100,-1,5"):
        with pytest.raises(ValueError, match="--n"):
            bench.condition_sizes(bad, 3)
