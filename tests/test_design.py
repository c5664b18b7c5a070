"""The design loop (``slices design``, :func:`pipeline.design.design`).

Fast tier: the parameter objects, proposal ranking and choice, the judge/filter separation, the per-composition
cap of fine-tuning, the report. Integration tier (marked): a real fine-tune, impossible targets ending in a zero-hit
report within budget, a round without hits, resume after an interruption mid-round, the command line end to end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from periodicnet.errors import ArgumentError
from pipeline.criteria import screen
from pipeline.design_target import DesignBudget, DesignTarget, LoopSettings
from pipeline.proposals import choose, rank

ROOT = Path(__file__).resolve().parents[1]

# three real strings (from the shipped training strings): LuFeC2, LiZrSe2 and a second LuFeC2 ordering
LUFEC2 = ("Lu Fe C C 0 1 --o 0 1 -o- 0 1 -oo 0 1 o-o 0 1 oo- 0 1 ooo 0 2 --- 0 2 -o- 0 2 o-- 0 2 oo- 0 3 --- 0 3 --o "
          "0 3 o-- 0 3 o-o 1 2 oo- 1 2 ooo 1 3 o-o 1 3 ooo 2 3 ooo")
LIZRSE2 = ("Li Zr Se Se 0 2 -oo 0 2 o-o 0 2 ooo 0 3 --- 0 3 -o- 0 3 o-- 1 2 -oo 1 2 o-o 1 2 ooo 1 3 --o 1 3 -oo "
           "1 3 o-o")
LUFEC2_B = ("Fe Lu C C 0 1 --o 0 1 -o- 0 1 -oo 0 1 o-o 0 1 oo- 0 1 ooo 0 2 --- 0 2 -o- 0 2 o-- 0 2 oo- 0 3 --- "
            "0 3 --o 0 3 o-- 0 3 o-o 1 2 oo- 1 2 ooo 1 3 o-o 1 3 ooo 2 3 ooo")


# ---------------------------------------------------------------- parameter objects

def test_target_window_and_distance():
    t = DesignTarget(band_gap=2.0)
    assert t.window == (1.5, 2.5) and t.gap_condition == 2.0
    assert t.gap_distance(2.4) == 0 and t.gap_distance(1.0) == pytest.approx(0.5)
    w = DesignTarget(gap_window=(0.5, 1.0))
    assert w.window == (0.5, 1.0) and w.gap_condition == pytest.approx(0.75)
    assert w.gap_distance(1.3) == pytest.approx(0.3)
    assert DesignTarget(band_gap=0.2).window == (0.0, 0.7)  # a gap is never negative
    assert DesignTarget(formation_energy=-1.0).window is None


@pytest.mark.parametrize("kwargs, words", [
    ({}, "needs a band gap"),
    ({"band_gap": 2.0, "gap_window": (0.5, 1.0)}, "not both"),
    ({"gap_window": (1.0, 0.5)}, "lo < hi"),
    ({"gap_window": (0.5,)}, "two numbers"),
    ({"band_gap": -1.0}, ">= 0"),
    ({"band_gap": float("nan")}, "finite"),
    ({"band_gap": 2.0, "gap_tolerance": 0}, "> 0"),
    ({"band_gap": 2.0, "elements": "LiO"}, "the string"),
    ({"band_gap": 2.0, "elements": ["Li", "Xx"]}, "Xx"),
    ({"band_gap": 2.0, "max_atoms": 0}, "max_atoms"),
])
def test_target_refuses_bad_values(kwargs, words):
    with pytest.raises(ArgumentError, match=words):
        DesignTarget(**kwargs)


def test_budget_validation_and_stop_reasons():
    with pytest.raises(ArgumentError, match="at least one"):
        DesignBudget()
    with pytest.raises(ArgumentError):
        DesignBudget(cpu_minutes=0)
    with pytest.raises(ArgumentError):
        DesignBudget(rounds=-1)
    b = DesignBudget(cpu_minutes=10, hits=5)
    assert b.spent(0, 0, 0, 0) is None
    assert "hit" in b.spent(100, 10, 5, 2)
    assert "CPU" in b.spent(600, 10, 0, 3)
    assert b.spent(500, 10, 0, 3, next_round_cpu=150) is not None  # another round would pass the budget
    assert b.spent(400, 10, 0, 3, next_round_cpu=100) is None
    assert "round" in DesignBudget(rounds=2).spent(0, 0, 0, 2)
    assert "decoded" in DesignBudget(candidates=20).spent(0, 20, 0, 1)


def test_loop_settings_validation():
    LoopSettings(proposals=10, decodes=2)
    for bad in ({"proposals": 0}, {"decodes": 1.5}, {"guidance": -1}, {"replay": -1}, {"learn": "yes"},
                {"seed": -3}):
        with pytest.raises(ArgumentError):
            LoopSettings(**bad)


# ---------------------------------------------------------------- judge and filter

def test_judge_is_megnet_not_the_composition_filter():
    """The loop ranks proposals with the composition model but judges hits with MEGNet on the relaxed crystal: a
    crystal whose composition gap is on target and whose MEGNet gap is not is no hit, and the other way round."""
    criteria = DesignTarget(band_gap=2.0).criteria()
    assert criteria.gap_column == "band_gap" and criteria.max_e_hull == 0.1
    row = {"band_gap": 0.1, "band_gap_composition": 2.0, "e_above_hull": 0.0}
    assert screen(row, criteria)[0] == "off_target_band_gap"
    row = {"band_gap": 2.1, "band_gap_composition": 0.0, "e_above_hull": 0.0}
    assert screen(row, criteria) is None
    assert screen(dict(row, e_above_hull=0.2), criteria)[0] == "above_hull"
    window = DesignTarget(gap_window=(0.5, 1.0)).criteria()
    assert screen({"band_gap": 0.55, "e_above_hull": 0.0}, window) is None
    assert screen({"band_gap": 1.1, "e_above_hull": 0.0}, window)[0] == "off_target_band_gap"


def _described(strings):
    from pipeline.proposals import describe

    return describe(strings)


def test_rank_orders_by_string_only_predictions():
    strings = [LUFEC2, LIZRSE2, LUFEC2_B, "not a slices string"]
    described = _described(strings)
    assert [d["formula"] for d in described] == ["LuFeC2", "LiZrSe2", "LuFeC2", None]
    target = DesignTarget(band_gap=2.0)
    gaps = [0.0, 1.9, 2.2, None]
    ranked = rank(strings, described, gaps, target, known_compositions=set(), found_before=set(),
                  smact=lambda species: True)
    assert [p.index for p in ranked if p.passes] == [1, 2]  # in the window, smaller distance / size first
    reasons = {p.index: p.reason for p in ranked}
    assert reasons[0] == "composition gap off target" and reasons[3] == "unparsable"
    # a known composition ranks before a new one; a formula an earlier round already hit ranks last
    ranked = rank(strings[:3], described[:3], [2.0, 2.0, 2.0], target, known_compositions={"LuFeC2", "LiZrSe2"},
                  found_before={"LiZrSe2"}, smact=lambda species: True)
    assert [p.index for p in ranked] == [0, 2, 1]
    assert ranked[0].known_composition and ranked[2].found_before
    ranked = rank(strings[:2], described[:2], [2.0, 2.0], target, known_compositions={"LuFeC2"},
                  found_before=set(), smact=lambda species: True)
    assert [p.index for p in ranked] == [0, 1] and not ranked[1].known_composition


def test_rank_applies_smact_elements_and_size():
    strings = [LUFEC2, LIZRSE2]
    described = _described(strings)
    target = DesignTarget(band_gap=2.0, elements=("Li", "Zr", "Se"), max_atoms=3)
    ranked = rank(strings, described, [2.0, 2.0], target, known_compositions=set(), found_before=set(),
                  smact=lambda species: "Lu" not in species)
    by_index = {p.index: p for p in ranked}
    assert by_index[0].reason == "fails SMACT"
    assert by_index[1].reason == "too many atoms"
    ranked = rank(strings, described, [2.0, 2.0], DesignTarget(band_gap=2.0, elements=("Lu", "Fe", "C")),
                  known_compositions=set(), found_before=set(), smact=lambda species: True)
    assert {p.index: p.reason for p in ranked}[1] == "element outside the allowed ones"


def test_choose_caps_per_composition_and_count():
    strings = [LUFEC2, LUFEC2_B, LIZRSE2]
    described = _described(strings)
    ranked = rank(strings, described, [2.0, 2.0, 2.1], DesignTarget(band_gap=2.0), known_compositions=set(),
                  found_before=set(), smact=lambda species: True)
    chosen = choose(ranked, decodes=10, per_composition=1)
    assert sorted(p.formula for p in chosen) == ["LiZrSe2", "LuFeC2"]
    assert len(choose(ranked, decodes=10, per_composition=2)) == 3
    assert len(choose(ranked, decodes=1, per_composition=2)) == 1
    failing = rank(strings, described, [0.0, 0.0, 0.0], DesignTarget(band_gap=2.0), known_compositions=set(),
                   found_before=set(), smact=lambda species: True)
    assert choose(failing, decodes=10, per_composition=1) == []  # nothing off target is decoded


def test_finetune_caps_examples_per_composition():
    from generative.finetune import Example, cap_per_composition

    examples = [Example(LUFEC2), Example(LUFEC2_B), Example(LIZRSE2), Example(LUFEC2)]
    assert cap_per_composition(examples, 1) == [examples[0], examples[2]]
    assert cap_per_composition(examples, 2) == examples[:3]


# ---------------------------------------------------------------- report

def _round(number, decoded, hits, note=""):
    return {"round": number, "proposed": 50, "passing": 20, "chosen": decoded, "decoded": decoded, "valid": decoded,
            "novel": decoded, "on_target_judge": len(hits), "judged": decoded, "hits": len(hits),
            "hit_compositions": len({h["formula"] for h in hits}), "status_counts": {}, "model_sampled": "shipped",
            "model_after": "shipped", "note": note, "cpu_seconds": 30.0, "hit_list": hits}


def test_report_ranks_hits_and_writes_tables(tmp_path):
    from pipeline import design_report

    hits = [{"formula": "A", "e_above_hull": 0.05, "band_gap": 2.0, "round": 0, "index": 1, "cif": "cif/a.cif"},
            {"formula": "B", "e_above_hull": -0.01, "band_gap": 1.6, "round": 1, "index": 0, "cif": "cif/b.cif"},
            {"formula": "C", "e_above_hull": 0.05, "band_gap": 2.3, "round": 1, "index": 2, "cif": "cif/c.cif"}]
    target = DesignTarget(band_gap=2.0)
    rounds = [_round(0, 4, hits[:1]), _round(1, 5, hits[1:]), _round(2, 0, [], note="no proposal passed")]
    summary = design_report.write(tmp_path, target, rounds, hits, stop_reason="3 round(s) done")
    table = pd.read_csv(tmp_path / "hits.csv")
    assert list(table["formula"]) == ["B", "A", "C"] and list(table["rank"]) == [1, 2, 3]
    assert list(table.columns[:5]) == ["rank", "formula", "e_above_hull", "band_gap", "band_gap_composition"]
    per_round = pd.read_csv(tmp_path / "rounds.csv")
    assert list(per_round["hits"]) == [1, 2, 0] and list(per_round["hit_rate"]) == [0.25, 0.4, 0.0]
    assert summary["hits"] == 3 and summary["hits_per_decoded"] == pytest.approx(3 / 9, abs=1e-4)
    assert summary["hits_per_cpu_hour"] == pytest.approx(3 * 3600 / 90, abs=0.1)
    report = (tmp_path / "report.md").read_text()
    assert "no proposal passed" in report and "plots/hit_rate.png" in report
    assert (tmp_path / "plots" / "hit_rate.png").stat().st_size > 0
    page = (tmp_path / "report.html").read_text()  # the page holds the hits, best first, the rank as index
    data = json.loads(page.split('id="report-data">')[1].split("</script>")[0])
    assert data["title"].startswith("SLICES design report")
    assert [(r["index"], r["formula"]) for r in data["rows"]] == [(1, "B"), (2, "A"), (3, "C")]


def test_report_of_no_hits_says_so(tmp_path):
    from pipeline import design_report

    summary = design_report.write(tmp_path, DesignTarget(band_gap=12.0), [_round(0, 0, [])], [], stop_reason="x")
    assert summary["hits"] == 0 and pd.read_csv(tmp_path / "hits.csv").empty
    assert "None: no decoded crystal" in (tmp_path / "report.md").read_text()


def test_design_checks_its_arguments_before_any_folder(tmp_path):
    from pipeline.design import design

    with pytest.raises(ArgumentError, match="budget"):
        design(DesignTarget(band_gap=2.0), "10 minutes", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- integration: the real loop

@pytest.mark.integration
def test_finetune_moves_the_model_toward_the_examples(one_torch_thread):
    import torch

    from generative.checkpoint import load_model
    from generative.finetune import Example, finetune

    base = load_model()
    tuned = finetune(base, [Example(LIZRSE2, 2.0, -1.5)], steps=8, batch_size=4, replay=1, seed=3)
    again = finetune(base, [Example(LIZRSE2, 2.0, -1.5)], steps=8, batch_size=4, replay=1, seed=3)
    assert tuned.model is not base.model
    changed = [not torch.equal(a, b) for a, b in zip(tuned.model.state_dict().values(),
                                                     base.model.state_dict().values())]
    assert any(changed)
    assert all(torch.equal(a, b) for a, b in zip(tuned.model.state_dict().values(),
                                                 again.model.state_dict().values()))  # deterministic
    assert tuned.info["finetune"]["examples"] == 1 and tuned.info["finetune"]["replay"] == 1


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    from shared_paths import MODEL_DIR

    env.setdefault("SLICES_MODEL_DIR", str(MODEL_DIR))
    return env


SMALL = dict(proposals=40, decodes=2, finetune_steps=4, finetune_batch=4)


@pytest.mark.integration
def test_impossible_gap_ends_with_zero_hits_within_budget(tmp_path, one_torch_thread, shared_models):
    from pipeline.design import design
    from pipeline.options import Runner

    result = design(DesignTarget(band_gap=12.0), DesignBudget(cpu_minutes=1.0), out=tmp_path / "d",
                    loop=LoopSettings(**SMALL), runner=Runner(workers=1, progress=False))
    assert result.hits == [] and result.summary["decoded"] == 0
    assert all(r["passing"] == 0 for r in result.rounds)  # no composition is predicted near 12 eV
    assert result.summary["cpu_seconds"] <= 60.0 and len(result.rounds) <= 2
    assert "out of reach" in result.stop_reason and "composition gap off target" in result.stop_reason
    assert pd.read_csv(tmp_path / "d" / "hits.csv").empty
    assert "None: no decoded crystal" in (tmp_path / "d" / "report.md").read_text()


@pytest.mark.integration
def test_elements_that_cannot_balance_end_with_a_clear_report(tmp_path, one_torch_thread, shared_models):
    from pipeline.design import design
    from pipeline.options import Runner

    # He and Ne form no compound: the sampler redraws every mixed element block (SMACT) and can only write cells of
    # one noble gas, which the composition model cannot judge; nothing is decoded and the loop gives up early
    result = design(DesignTarget(band_gap=1.0, elements=("He", "Ne")), DesignBudget(rounds=5), out=tmp_path / "d",
                    loop=LoopSettings(proposals=5, decodes=2), runner=Runner(workers=1, progress=False))
    assert len(result.rounds) <= 2 and result.hits == [] and result.summary["decoded"] == 0
    assert "could sample no proposal" in result.stop_reason or "out of reach" in result.stop_reason
    report = (tmp_path / "d" / "report.md").read_text()
    assert "None: no decoded crystal" in report and "no proposal" in report


@pytest.mark.integration
def test_only_metals_for_a_gap_end_as_out_of_reach(tmp_path, one_torch_thread, shared_models):
    """Two alkali metals form only alloys (SMACT lets them pass): every proposal is a metal, none passes the gap
    filter, nothing is decoded and the loop stops after two barren rounds."""
    from pipeline.design import design
    from pipeline.options import Runner

    result = design(DesignTarget(band_gap=2.0, elements=("Na", "K")), DesignBudget(rounds=5), out=tmp_path / "d",
                    loop=LoopSettings(proposals=10, decodes=2), runner=Runner(workers=1, progress=False))
    assert len(result.rounds) == 2 and result.summary["decoded"] == 0 and result.hits == []
    assert "out of reach" in result.stop_reason


@pytest.mark.integration
def test_round_without_hits_keeps_the_model_and_goes_on(tmp_path, one_torch_thread, shared_models):
    """A formation energy of +3 eV/atom is never met: the rounds decode, judge, find nothing, learn nothing."""
    from pipeline.design import design
    from pipeline.options import Runner

    result = design(DesignTarget(formation_energy=3.0, eform_tolerance=0.1), DesignBudget(rounds=2),
                    out=tmp_path / "d", loop=LoopSettings(**SMALL), runner=Runner(workers=1, progress=False))
    assert [r["hits"] for r in result.rounds] == [0, 0]
    assert sum(r["decoded"] for r in result.rounds) >= 2
    assert all(r["model_after"] == "shipped" for r in result.rounds)
    assert not list((tmp_path / "d" / "rounds").glob("*/model.pt"))
    assert list(pd.read_csv(tmp_path / "d" / "rounds.csv")["hits"]) == [0, 0]


@pytest.mark.integration
def test_resume_after_interruption_mid_round(tmp_path, shared_models):
    """Kill a run while its first round is decoding; the rerun reuses the proposals and the decoded candidates."""
    out = tmp_path / "d"
    args = [sys.executable, "-m", "pipeline", "design", "--band-gap", "2.0", "--rounds", "1", "--proposals", "40",
            "--decodes", "3", "--workers", "1", "--seed", "5", "--no-progress", "--out", str(out)]
    decoded = out / "rounds" / "000" / "decode" / "decoded.jsonl"
    child = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 1500  # a hang guard, not a timing assertion
        while time.monotonic() < deadline and child.poll() is None:
            if decoded.is_file() and decoded.read_text().count("\n") >= 1:
                break
            time.sleep(0.5)
        assert child.poll() is None, "the run ended before it could be interrupted"
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert not (out / "rounds" / "000" / "round.json").exists()
    proposals = (out / "rounds" / "000" / "proposals.json").read_text()
    first = [json.loads(line)["index"] for line in decoded.read_text().splitlines()]
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "rounds" / "000" / "proposals.json").read_text() == proposals  # not sampled again
    lines = [json.loads(line)["index"] for line in decoded.read_text().splitlines()]
    assert lines[: len(first)] == first and sorted(lines) == [0, 1, 2]  # nothing decoded twice
    record = json.loads((out / "rounds" / "000" / "round.json").read_text())
    assert record["decoded"] + record["status_counts"].get("decode_failed", 0) <= 3 and record["chosen"] == 3


@pytest.mark.integration
def test_cli_end_to_end(tmp_path, shared_models):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "pipeline", "design", "--band-gap", "2.0", "--rounds", "1",
                           "--proposals", "40", "--decodes", "2", "--workers", "1", "--no-progress", "--out", str(out)],
                          env=_env(), capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "slices design:" in done.stdout and "stopped: 1 round(s) done" in done.stdout
    rounds = pd.read_csv(out / "rounds.csv")
    assert list(rounds.columns[:4]) == ["round", "proposed", "passing", "decoded"] and len(rounds) == 1
    assert rounds["proposed"][0] == 40 and "cpu_seconds" in rounds.columns and rounds["cpu_seconds"][0] > 0
    hits = pd.read_csv(out / "hits.csv")
    assert list(hits.columns[:4]) == ["rank", "formula", "e_above_hull", "band_gap"]
    for cif in hits["cif"]:
        assert (out / cif).is_file()  # relative to the run folder
    assert (out / "report.md").is_file() and (out / "rounds" / "000" / "decode" / "candidates.csv").is_file()
    assert (out / "report.html").is_file() and (out / "rounds" / "000" / "decode" / "report.html").is_file()
    again = subprocess.run([sys.executable, "-m", "pipeline", "design", "--band-gap", "3.0", "--rounds", "1",
                            "--out", str(out)], env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and "other settings" in again.stderr


def test_rank_uses_known_gap_and_known_hull():
    """What the known tables say about a composition: a known gap outside the window refuses the proposal, a
    composition whose known entry lies above the known hull ranks after one on it, and with no known gap the
    composition model's distance from the target's centre decides."""
    strings = [LUFEC2, LIZRSE2, LUFEC2_B]
    described = _described(strings)
    target = DesignTarget(band_gap=2.0)
    priors = [{"known_gap": 0.1, "known_e_above_hull": 0.0}, {"known_gap": 2.0, "known_e_above_hull": 0.0},
              {"known_gap": 0.1, "known_e_above_hull": 0.0}]
    ranked = rank(strings, described, [2.0, 2.0, 2.0], target, known_compositions=set(), found_before=set(),
                  priors=priors, smact=lambda species: True)
    assert [p.index for p in ranked if p.passes] == [1]
    assert {p.index: p.reason for p in ranked}[0] == "known gap of the composition off target"
    priors = [{"known_gap": 2.0, "known_e_above_hull": 0.2}, {"known_gap": 2.0, "known_e_above_hull": 0.0}]
    ranked = rank(strings[:2], described[:2], [2.0, 2.0], target, known_compositions=set(), found_before=set(),
                  priors=priors, smact=lambda species: True)
    assert [p.index for p in ranked] == [1, 0] and ranked[1].known_e_above_hull == 0.2
    ranked = rank(strings[:2], described[:2], [2.4, 2.05], target, known_compositions={"LuFeC2", "LiZrSe2"},
                  found_before=set(), smact=lambda species: True)
    assert [p.index for p in ranked] == [1, 0]  # both in the window: the one nearer 2.0 eV first


def test_decoded_before_reads_the_earlier_rounds_choices(tmp_path):
    """A formula chosen for decoding in an earlier round is penalised when proposed again (hit or not)."""
    from pipeline.design_rounds import decoded_before, round_dir
    from pipeline.rundir import dumps

    for number, (formulas, chosen) in enumerate([(["A", "B", "C"], [0, 2]), (["D", "E"], [1])]):
        folder = round_dir(tmp_path, number)
        folder.mkdir(parents=True)
        record = {"proposals": [{"index": i, "formula": f} for i, f in enumerate(formulas)], "chosen": chosen}
        (folder / "proposals.json").write_text(dumps(record))
    assert decoded_before(tmp_path, 0) == set()
    assert decoded_before(tmp_path, 1) == {"A", "C"}
    assert decoded_before(tmp_path, 2) == {"A", "C", "E"}


def test_rank_penalises_rare_oxidation_states():
    """A composition that balances only with rare oxidation states (SMACT's set) ranks after one that balances
    with common ones; both still pass."""
    from periodicnet.chemistry import balanced_in_common_states

    assert balanced_in_common_states({"Ga": 2, "O": 3}) and not balanced_in_common_states(["Na", "Na", "O", "O"])
    strings = [LUFEC2, LIZRSE2]
    priors = [{"common_states": False}, {"common_states": True}]
    ranked = rank(strings, _described(strings), [2.0, 2.0], DesignTarget(band_gap=2.0), known_compositions=set(),
                  found_before=set(), priors=priors, smact=lambda species: True)
    assert [p.index for p in ranked if p.passes] == [1, 0] and ranked[1].common_states is False
