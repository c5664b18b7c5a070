"""pipeline.metrics on hand-made candidate rows (the candidate table's columns): S.U.N., S.U.N.T., the Wilson interval,
band-gap accuracy and the funnel, with the figures computed by hand. No model, decoder or potential involved."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from periodicnet.errors import ArgumentError
from pipeline import metrics
from pipeline.report import COLUMNS


def row(status="ok", formula="A", e_hull=None, novelty=None, duplicate_of=None, gap=None, gap_comp=None):
    values = {c: None for c in COLUMNS}
    values.update(status=status, formula=formula, e_above_hull=e_hull, novelty=novelty, duplicate_of=duplicate_of,
                  band_gap=gap, band_gap_composition=gap_comp)
    return values


ROWS = [
    row(e_hull=0.05, novelty="new", gap=1.0, gap_comp=2.2),                                   # S.U.N., on target
    row(status="off_target_band_gap", formula="B", e_hull=0.1, novelty="known_composition",
        gap=2.5, gap_comp=3.0),                                                              # S.U.N. (edge 0.1)
    row(status="duplicate", duplicate_of=0),                                                 # not assessed
    row(status="above_hull", formula="C", e_hull=0.3, novelty="new", gap=0.0, gap_comp=1.9),  # unstable
    row(status="known", formula="D", e_hull=0.0, novelty="known", gap=3.0, gap_comp=2.0),    # a known crystal
    row(status="no_prediction", formula="E", e_hull=None, novelty="new"),                    # no hull data
    row(status="placement_failed", formula=None),                                            # no crystal
    row(status="not_charge_balanced", formula="F"),                                          # invalid
]


def test_sun_rate_counts_stable_unique_new_over_all_rows():
    rate = metrics.sun_rate(ROWS)
    assert (rate.count, rate.n) == (2, 8)
    assert rate.value == pytest.approx(0.25)
    assert metrics.sun_rate(ROWS, e_hull_max=0.05).count == 1  # the 0.1 eV/atom candidate drops out
    assert metrics.sun_rate(ROWS, e_hull_max=0.3).count == 3  # now the unstable one counts


def test_a_duplicate_is_not_sun_even_with_assessed_values():
    twin = row(status="duplicate", e_hull=0.0, novelty="new", duplicate_of=0)
    assert not metrics.is_sun(twin)
    assert metrics.is_sun({**twin, "duplicate_of": None})


def test_sunt_needs_the_judged_property_within_tolerance():
    comp = metrics.sunt_rate(ROWS, "band_gap_composition", target=2.0, tolerance=0.5)
    assert (comp.count, comp.n) == (1, 8)  # 2.2 is within 0.5 of 2; 3.0 is not
    megnet = metrics.sunt_rate(ROWS, "band_gap", target=2.0, tolerance=0.5)
    assert megnet.count == 1  # 2.5 within 0.5 (the edge counts); 1.0 is not
    assert metrics.sunt_rate(ROWS, "band_gap", target=2.0, tolerance=1.0).count == 2  # both, edges included


def test_sunt_refuses_an_unknown_column_and_bad_targets():
    with pytest.raises(ArgumentError, match="no column 'gap'"):
        metrics.sunt_rate(ROWS, "gap", target=2.0)
    with pytest.raises(ArgumentError, match="tolerance"):
        metrics.sunt_rate(ROWS, "band_gap", target=2.0, tolerance=-1)
    with pytest.raises(ArgumentError, match="target"):
        metrics.sunt_rate(ROWS, "band_gap", target=math.nan)


def test_the_same_figures_from_a_dataframe_with_nan_cells():
    frame = pd.DataFrame(ROWS, columns=COLUMNS)  # empty float cells become NaN
    assert frame["e_above_hull"].isna().sum() > 0
    assert metrics.sun_rate(frame) == metrics.sun_rate(ROWS)
    assert metrics.sunt_rate(frame, "band_gap_composition", 2.0) == metrics.sunt_rate(ROWS, "band_gap_composition",
                                                                                       2.0)
    assert metrics.gap_accuracy(frame, 2.0) == metrics.gap_accuracy(ROWS, 2.0)


def test_gap_accuracy_over_the_rows_with_a_prediction():
    acc = metrics.gap_accuracy(ROWS, 2.0)  # composition model: 2.2, 3.0, 1.9, 2.0
    assert acc["n"] == 4
    assert acc["mean"] == pytest.approx((2.2 + 3.0 + 1.9 + 2.0) / 4)
    assert acc["mae"] == pytest.approx((0.2 + 1.0 + 0.1 + 0.0) / 4)
    assert acc["within"] == pytest.approx(3 / 4)
    megnet = metrics.gap_accuracy(ROWS, 2.0, judge="band_gap")  # 1.0, 2.5, 0.0, 3.0
    assert megnet["mae"] == pytest.approx((1.0 + 0.5 + 2.0 + 1.0) / 4)
    assert megnet["within"] == pytest.approx(1 / 4)


def test_empty_rows_give_no_rate_and_the_widest_interval():
    assert metrics.sun_rate([]) == metrics.Rate(0, 0)
    assert metrics.sun_rate([]).value is None
    assert metrics.sun_rate([]).interval == (0.0, 1.0)
    assert metrics.gap_accuracy([], 2.0) == {"n": 0, "mean": None, "mae": None, "within": None, "tolerance": 0.5}
    no_gap = [row(e_hull=0.0, novelty="new")]
    assert metrics.gap_accuracy(no_gap, 2.0)["n"] == 0


def test_wilson_interval_by_hand():
    low, high = metrics.wilson_interval(8, 20)
    assert low == pytest.approx(0.2188, abs=1e-4) and high == pytest.approx(0.6134, abs=1e-4)
    # k = 0: the lower end is 0 and the upper z^2 / (n + z^2)
    assert metrics.wilson_interval(0, 20) == (0.0, pytest.approx(1.96 ** 2 / (20 + 1.96 ** 2)))
    # k = n: the upper end is 1 and the lower n / (n + z^2)
    assert metrics.wilson_interval(10, 10) == (pytest.approx(10 / (10 + 1.96 ** 2)), 1.0)
    assert metrics.wilson_interval(0, 0) == (0.0, 1.0)
    wide, narrow = metrics.wilson_interval(29, 100), metrics.wilson_interval(290, 1000)
    assert narrow[0] > wide[0] and narrow[1] < wide[1]


@pytest.mark.parametrize("k, n, z", [(3, 2, 1.96), (-1, 5, 1.96), (1, 5, 0.0), (1.5, 5, 1.96), (True, 5, 1.96)])
def test_wilson_interval_refuses_impossible_counts(k, n, z):
    with pytest.raises(ArgumentError):
        metrics.wilson_interval(k, n, z)


def test_rate_as_dict_for_a_results_file():
    assert metrics.Rate(1, 4).as_dict() == {"count": 1, "n": 4, "rate": 0.25,
                                            "ci95": list(metrics.wilson_interval(1, 4))}


def test_funnel_steps_toward_sun():
    steps = {k: v.count for k, v in metrics.funnel(ROWS).items()}
    # crystals: all but the placement failure; assessed: A, B, C, D, E; not known: A, B, C, E; stable: A, B, D
    assert steps == {"decoded": 7, "valid_unique": 5, "not_known": 4, "stable": 3, "sun": 2}
    assert all(v.n == 8 for v in metrics.funnel(ROWS).values())


def test_rows_must_be_rows():
    with pytest.raises(ArgumentError, match="sequence of candidate rows"):
        metrics.sun_rate({"status": "ok"})
    with pytest.raises(ArgumentError, match="each row"):
        metrics.sun_rate(["ok"])
