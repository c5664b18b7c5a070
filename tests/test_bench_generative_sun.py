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


def test_results_of_another_route_or_checkpoint_are_not_extended(bench, tmp_path):
    route = {"stages": ["placement", "potential"], "potential_fmax": 0.2}
    old = {"model_sha256": "abc",
           "decode_route": {"stages": ["placement", "gfnff", "potential"], "potential_fmax": 0.1}}
    with pytest.raises(SystemExit, match="another route"):
        bench.check_same_setup(old, "abc", route, tmp_path / "r.json")
    with pytest.raises(SystemExit, match="another checkpoint"):
        bench.check_same_setup({**old, "decode_route": route}, "def", route, tmp_path / "r.json")
    bench.check_same_setup({"model_sha256": "abc", "decode_route": route}, "abc", route, tmp_path / "r.json")
    bench.check_same_setup({}, "abc", route, tmp_path / "r.json")


def test_exported_candidates_carry_the_crystal_and_the_screening(bench, tmp_path):
    import gzip
    import json

    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    run = tmp_path / "band_gap=2"
    run.mkdir()
    for i in range(3):  # candidate 1 repeats 0; candidate 2 lies beyond n and is left out
        bench.append_jsonl(run / "decoded.jsonl", {"index": i, "string": f"s{i}", "status": "ok",
                                                   "structure": nacl.as_dict(), "energy_per_atom": -3.4})
    bench.append_jsonl(run / "assessed.jsonl", {"index": 0, **_assessed("NaCl", 0.0, "known", 5.0)})
    path = tmp_path / "candidates.jsonl.gz"
    bench.export_candidates(path, ["band_gap=2"], [run], n=2)
    records = [json.loads(line) for line in gzip.open(path, "rt")]
    assert [(r["condition"], r["index"], r["string"]) for r in records] == [("band_gap=2", 0, "s0"),
                                                                            ("band_gap=2", 1, "s1")]
    assert Structure.from_dict(records[0]["structure"]).composition.reduced_formula == "NaCl"
    assert records[0]["assessment"]["band_gap"] == 5.0 and records[1]["assessment"] is None
    assert records[0]["duplicate_of"] is None and records[1]["duplicate_of"] == 0
