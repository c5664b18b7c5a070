"""`slices encode` / `slices canonical` from the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from codec_support import perovskite, rock_salt

import slices
from pipeline.cli import main


def test_encode_files_prints_one_string_each(tmp_path, capsys):
    rock_salt().to(filename=str(tmp_path / "NaCl.cif"))
    perovskite().to(filename=str(tmp_path / "POSCAR"), fmt="poscar")
    assert main(["encode", str(tmp_path / "NaCl.cif"), str(tmp_path / "POSCAR")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [slices.encode(rock_salt()), slices.encode(perovskite())]


def test_encode_reports_bad_files_and_goes_on(tmp_path, capsys):
    rock_salt().to(filename=str(tmp_path / "NaCl.cif"))
    (tmp_path / "junk.cif").write_text("this is not a crystal\n")
    code = main(["encode", str(tmp_path / "missing.cif"), str(tmp_path / "junk.cif"), str(tmp_path / "NaCl.cif")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.strip() == slices.encode(rock_salt())
    assert "missing.cif: error: no such file" in err
    assert "junk.cif: error" in err


def test_canonical_command_and_bad_string(capsys):
    string = "Cl Na 1 0 ooo 0 1 +oo 0 1 o+o 0 1 oo+ 1 0 ++o 1 0 +o+"
    assert main(["canonical", string]) == 0
    assert capsys.readouterr().out.strip() == slices.canonical(string)
    assert main(["canonical", "Na Cl 0 7 ooo"]) == 1
    assert "out of range" in capsys.readouterr().err


def test_help_is_fast_and_explains():
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "slices encode FILE" in result.stdout and "slices generate" in result.stdout


@pytest.mark.integration
def test_decode_route_full_runs_gfnff_and_fast_does_not(tmp_path):
    """`slices decode --route full` is the design card's three-stage route, one flag away from the fast default."""
    from slices.decode import decode_report

    nacl = "Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o- 0 1 o--"
    generous = {"time_limit": 3600.0, "gfnff_time_limit": 3600.0}  # hang guards only: a loaded machine is slow
    full = decode_report(nacl, **generous, route="full")
    fast = decode_report(nacl, **generous, route="fast")
    assert full.status == "ok" and "gfnff" in full.timings, (full.status, full.message)
    assert fast.status == "ok" and "gfnff" not in fast.timings
    assert main(["decode", nacl, "--route", "full", "--time-limit", "3600", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "crystal_0.cif").stat().st_size > 100
