"""``slices generate`` argument handling: bad values are refused with a message naming the argument."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from periodicnet.errors import ArgumentError
from pipeline.errors import PipelineError
from pipeline_support import run_generate


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--n", "0"], "argument --n: the value must be at least 1, got 0"),
        (["--n", "ten"], "argument --n: expected a whole number, got 'ten'"),
        (["--band-gap", "-1"], "argument --band-gap: must be >= 0"),
        (["--band-gap", "nan"], "argument --band-gap: expected a finite number"),
        (["--workers", "0"], "argument --workers: the value must be at least 1"),
        (["--time-limit", "0"], "argument --time-limit: the time limit must be a finite number of seconds > 0"),
        (["--scheduler", "localhost"], "argument --scheduler: expected a scheduler address like tcp://host:8786"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", *argv])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_help_lists_outputs_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = capsys.readouterr().out
    for word in ("--band-gap", "--formation-energy", "--out", "--workers", "--scheduler", "--train-data",
                 "candidates.csv", "resumes"):
        assert word in text


def test_missing_inputs_give_project_errors(tmp_path, capsys):
    assert main(["generate", "--strings", str(tmp_path / "absent.txt"), "--out", str(tmp_path / "o")]) == 1
    assert "cannot read --strings" in capsys.readouterr().err
    code = main(["generate", "--n", "2", "--train-data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o2")])
    assert code == 1
    err = capsys.readouterr().err
    assert "training data" in err and "nope.csv" in err


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"n": 0}, r"n \(candidates to sample\) must be at least 1, got 0"),
        ({"n": 2, "workers": 0}, "workers must be at least 1, got 0"),
        ({"n": 2, "temperature": -1.0}, "temperature must be > 0"),
        ({"n": 2, "guidance": -0.5}, "guidance must be >= 0"),
        ({"strings": "Na Cl 0 1 ooo"}, "strings must be a non-empty sequence"),
        ({"n": 2, "scheduler": "nowhere"}, "scheduler must be an address"),
        ({"n": 2, "gap_predictor": "hse"}, r"gap_predictor must be one of \['composition', 'megnet'\], got 'hse'"),
    ],
)
def test_api_rejects_bad_arguments(kwargs, expected, tmp_path):
    with pytest.raises(ArgumentError, match=expected):
        run_generate(out=tmp_path / "o", **kwargs)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.generate.SCHEDULER_CONNECT_TIMEOUT", 2.0)  # fail fast in the test
    with pytest.raises(PipelineError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_generate(strings=["Na Cl 0 1 ooo"], out=tmp_path / "o", scheduler="tcp://127.0.0.1:9", train_data=None,
                 known_materials=False, progress=False)
