"""End-to-end runs of the generator through the real engines (sampler, GFN-FF + M3GNet reconstruction, matgl
property models), on a few candidates: outputs, resume, recorded failures, Dask vs the local process pool."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition
import pytest
from shared_paths import SHARED_DATA

from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.report import COLUMNS
from pipeline_support import run_generate

ROOT = Path(__file__).resolve().parents[1]

# small real crystals from the reference implementation's MP-20 strings (fast to reconstruct), and bad strings
SRCDP = "Sr Cd Cd P P 0 3 -o- 0 3 oo- 0 3 --- 0 4 o-o 0 4 --o 0 4 ooo 1 3 ooo 1 3 -oo 1 3 o+o 1 4 ooo 2 4 ooo " \
        "2 4 +oo 2 4 o-o 2 3 ooo"
NACL = "Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o- 0 1 o--"
BAD = {
    "Qq Cl 0 1 ooo": "unknown_element_error",  # not an element
    "Na Cl 0 1 ooo": "low_dimensional",  # a molecule, not a 3D crystal
    "Na Cl 0 1": "parse_error",  # truncated edge
}
GIVEN = [SRCDP, *BAD]
STATUSES_BEFORE_SCREENING = {"ok", "duplicate", "known", "off_target_band_gap", "off_target_formation_energy",
                             "above_hull", "no_prediction", "topology_changed", "too_close", "not_charge_balanced"}


@pytest.fixture(scope="module")
def sampled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "candidates"
    code = main(["generate", "--n", "4", "--out", str(out), "--workers", "2", "--no-progress"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def given_pool_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("given") / "pool"
    return run_generate(strings=GIVEN, out=out, workers=2, known_materials=False, progress=False)


def test_sampled_run_writes_table_cifs_and_report(sampled_run):
    out = sampled_run
    strings = json.loads((out / "samples.json").read_text())["strings"]
    assert len(strings) == 4
    table = pd.read_csv(out / "candidates.csv")
    assert list(table.columns) == COLUMNS
    assert table["index"].tolist() == [0, 1, 2, 3]
    assert table["string"].tolist() == strings
    assert table["status"].notna().all()
    assert len(json.loads((out / "candidates.json").read_text())) == 4
    decoded = table[table["energy_per_atom"].notna()]
    assert len(decoded) >= 1, f"no candidate of four was reconstructed: {table[['status', 'message']]}"
    assert (decoded["energy_per_atom"] < 0).all() and (decoded["energy_per_atom"] > -15).all()
    from pymatgen.core import Structure

    for _, row in table[table["status"] == "ok"].iterrows():
        structure = Structure.from_file(out / row["cif"])
        assert structure.composition.reduced_formula == row["formula"]
        assert row["novelty"] in ("new", "known_composition")  # a kept candidate is never a known structure
        assert not math.isnan(row["band_gap"]) and row["band_gap"] >= 0
        composition_gap = row["band_gap_composition"]  # missing only for an element the model lacks
        assert composition_gap >= 0 or "composition band gap" in str(row["reason"])
    assert len(list((out / "cif").glob("*.cif"))) == (table["status"] == "ok").sum()
    report = (out / "report.md").read_text()
    assert "![" in report and (out / "plots" / "status.png").stat().st_size > 1000
    assert "report-data" in (out / "report.html").read_text()  # the interactive page (tests/test_report_html.py)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampled"] == 4 and sum(summary["status_counts"].values()) == 4


def test_rerun_with_same_out_does_no_decode_work(sampled_run, capsys):
    before = (sampled_run / "decoded.jsonl").read_bytes()
    result = run_generate(4, out=sampled_run, workers=2, progress=False)
    assert result.decoded_now == 0
    assert (sampled_run / "decoded.jsonl").read_bytes() == before
    assert [r["string"] for r in result.rows] == json.loads((sampled_run / "samples.json").read_text())["strings"]


def test_rerun_with_other_settings_is_refused_clearly(sampled_run, capsys):
    code = main(["generate", "--n", "5", "--out", str(sampled_run), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "n: 4 in the folder vs 5 now" in err and "new --out" in err


def test_failing_candidates_are_recorded_with_their_reason(given_pool_run):
    rows = {r["string"]: r for r in given_pool_run.rows}
    assert len(given_pool_run.rows) == len(GIVEN)
    for string, reason in BAD.items():
        assert rows[string]["status"] == reason, rows[string]
        assert rows[string]["message"]
    good = rows[SRCDP]
    assert good["status"] in STATUSES_BEFORE_SCREENING, good
    assert Composition(good["formula"]) == Composition("SrCd2P2") and good["energy_per_atom"] < 0


def test_interrupted_run_resumes_only_the_missing_candidates(given_pool_run, tmp_path):
    """A run killed while writing (a torn last line) after the real crystal finished: the rerun decodes only the
    candidates with no complete record, and keeps the finished record as it was."""
    src = given_pool_run.out
    out = tmp_path / "resumed"
    out.mkdir()
    for name in ("run.json", "samples.json"):
        (out / name).write_bytes((src / name).read_bytes())
    lines = (src / "decoded.jsonl").read_text().splitlines(keepends=True)
    finished = [line for line in lines if json.loads(line)["string"] == SRCDP]
    torn = next(line for line in lines if json.loads(line)["string"] != SRCDP)
    (out / "decoded.jsonl").write_text(finished[0] + torn[: len(torn) // 2])
    result = run_generate(strings=GIVEN, out=out, workers=2, known_materials=False, progress=False)
    assert result.decoded_now == len(GIVEN) - 1
    assert [r["status"] for r in result.rows] == [r["status"] for r in given_pool_run.rows]
    new_lines = (out / "decoded.jsonl").read_text().splitlines(keepends=True)
    assert new_lines[0] == finished[0]  # finished work untouched, the torn line dropped
    assert sorted(json.loads(line)["index"] for line in new_lines) == list(range(len(GIVEN)))


def test_dask_local_cluster_gives_the_same_results_as_the_process_pool(given_pool_run, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    # non-daemonic workers: the GFN-FF stage runs in a child process of the worker (docs/pipeline.md)
    with dask.config.set({"distributed.worker.daemon": False}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as cluster, Client(cluster) as client:
        result = run_generate(strings=GIVEN, out=tmp_path / "dask", client=client, known_materials=False, progress=False)
    assert result.decoded_now == len(GIVEN)
    keys = ("status", "formula", "space_group", "canonical", "novelty", "duplicate_of", "topology_ok")
    for pool_row, dask_row in zip(given_pool_run.rows, result.rows):
        assert {k: pool_row.get(k) for k in keys} == {k: dask_row.get(k) for k in keys}
        if pool_row.get("energy_per_atom") is not None:
            assert dask_row["energy_per_atom"] == pytest.approx(pool_row["energy_per_atom"], abs=1e-4)


def test_daemonic_dask_workers_are_refused_before_any_work(tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with pytest.raises(PipelineError, match="DASK_DISTRIBUTED__WORKER__DAEMON=False"):
            run_generate(strings=[NACL], out=tmp_path / "daemon", client=client, train_data=None, known_materials=False,
                     progress=False)
    assert not (tmp_path / "daemon" / "decoded.jsonl").exists()


def test_ctrl_c_keeps_finished_candidates_and_the_rerun_completes(tmp_path):
    """A real interrupt (SIGINT to `slices generate`) mid-run: exit code 130, finished records kept, the rerun
    decodes only what was missing.

    Nothing here depends on speed: the interrupt is sent as soon as the first record appears, however long that
    takes (the 30-minute guard only stops a hung run), and five candidates leave work to interrupt on any machine."""
    import signal
    import subprocess
    import sys
    import time

    reference = pd.read_csv(SHARED_DATA / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz")
    strings = reference["SLICES"].iloc[1:6].tolist()  # SrCd2P2, Rb3ScV2O8, SnO2, ...: a few seconds each
    (tmp_path / "strings.txt").write_text("\n".join(strings) + "\n")
    out = tmp_path / "run"
    args = ["--strings", str(tmp_path / "strings.txt"), "--out", str(out), "--workers", "1", "--train-data", "none",
            "--no-known-materials", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "generate", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "decoded.jsonl"
    hang_guard = time.monotonic() + 1800
    while proc.poll() is None and not (log.exists() and log.read_text().strip()):
        if time.monotonic() > hang_guard:
            proc.kill()
            pytest.fail(f"no candidate finished in 30 minutes: {proc.communicate()}")
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=1800)
    assert proc.returncode == 130 and "interrupted" in err
    done = log.read_text().splitlines(keepends=True)
    assert 1 <= len(done) < len(strings)
    result = run_generate(strings=strings, out=out, workers=1, train_data=None, known_materials=False, progress=False)
    assert result.decoded_now == len(strings) - len(done)
    assert log.read_text().splitlines(keepends=True)[: len(done)] == done
    assert sorted(r["index"] for r in result.rows) == list(range(len(strings)))
