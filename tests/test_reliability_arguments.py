"""Seeds, time limits and counts: one set of rules (``periodicnet.arguments``), the same answer from the API and the
command line, before any work starts. Also the codec commands' bad ``--out`` and multi-block CIF files."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

import generative
import slices
from periodicnet.arguments import ArgumentError, check_count, check_seed, check_time_limit
from periodicnet.limits import MAX_SEED
from pipeline.cli import main
from pipeline_support import run_generate

NACL = "Na Cl 0 1 --- 0 1 o-- 0 1 o-o 0 1 oo- 0 1 ooo 0 1 +oo"
BAD_SEEDS = ["x", -5, 2**70, 1180591620717411303424, 1.5, float("nan"), None, True]
BAD_TIME_LIMITS = [float("nan"), float("inf"), -float("inf"), -1, 0, 0.0, None, "10", True]


def test_checks_accept_good_values_in_their_normal_type():
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.int64(7))) is int
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED
    assert check_time_limit(np.float32(0.5)) == pytest.approx(0.5) and check_time_limit(3) == 3.0
    assert check_count(np.int32(4), "n") == 4


@pytest.mark.parametrize("seed", BAD_SEEDS, ids=repr)
def test_bad_seeds_are_refused_everywhere(seed, tmp_path):
    with pytest.raises(ArgumentError, match="seed must be"):
        check_seed(seed)
    with pytest.raises(ArgumentError, match="seed must be"):
        slices.decode(NACL, seed=seed)
    with pytest.raises(ArgumentError, match="seed must be"):
        slices.decode_report(NACL, seed=seed)
    with pytest.raises(ArgumentError, match="seed must be"):
        generative.sample(1, seed=seed)
    with pytest.raises(ArgumentError, match="seed must be"):
        run_generate(2, seed=seed, out=tmp_path / "o", train_data=None, known_materials=False, progress=False)
    assert not (tmp_path / "o").exists()  # refused before the folder is made


@pytest.mark.parametrize("limit", BAD_TIME_LIMITS, ids=repr)
def test_bad_time_limits_are_refused_everywhere(limit, tmp_path):
    with pytest.raises(ArgumentError, match="time_limit must be"):
        check_time_limit(limit)
    with pytest.raises(ArgumentError, match="time_limit must be"):
        slices.decode(NACL, time_limit=limit)
    with pytest.raises(ArgumentError, match="time_limit must be"):
        slices.decode_report(NACL, time_limit=limit)
    with pytest.raises(ArgumentError, match="time_limit must be"):
        run_generate(strings=[NACL], time_limit=limit, out=tmp_path / "o", train_data=None, known_materials=False,
                 progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", [0, -3, 2.0, "4", None, False])
def test_bad_counts_are_refused(value):
    with pytest.raises(ArgumentError, match="n must be"):
        check_count(value, "n")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["generate", "--seed", "1180591620717411303424"], "argument --seed: the seed must be from 0 to"),
        (["generate", "--seed", "-5"], "argument --seed: the seed must be from 0 to"),
        (["generate", "--seed", "x"], "argument --seed: expected a whole number, got 'x'"),
        (["generate", "--seed", "١"], "argument --seed: expected a whole number"),
        (["generate", "--time-limit", "nan"], "argument --time-limit: the time limit must be a finite number"),
        (["generate", "--time-limit", "inf"], "argument --time-limit: the time limit must be a finite number"),
        (["generate", "--time-limit", "-1"], "argument --time-limit: the time limit must be a finite number"),
        (["generate", "--n", "²"], "argument --n: expected a whole number"),
        (["decode", NACL, "--seed", "-1"], "argument --seed: the seed must be from 0 to"),
        (["sample", "--n", "1", "--seed", "-5"], "argument --seed: the seed must be from 0 to"),
        (["train", "--data", "x.csv", "--out", "m", "--seed", str(2**64)], "argument --seed: the seed must be from 0"),
        (["decode", NACL, "--time-limit", "nan"], "argument --time-limit: the time limit must be a finite number"),
    ],
)
def test_command_line_refuses_bad_values_with_the_same_rules(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_decode_out_that_is_a_file_or_below_one(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(["decode", NACL, "--out", str(afile)]) == 1
    assert f"--out {afile} exists and is not a folder" in capsys.readouterr().err
    assert main(["decode", NACL, "--out", str(afile / "sub")]) == 1
    assert "a parent of it is a file" in capsys.readouterr().err
    assert main(["decode", NACL, "--out", "/proc/self/no_such_dir/out"]) == 1
    assert "cannot create the folder" in capsys.readouterr().err
    assert afile.read_text() == "keep me"


def test_encode_reads_every_data_block_of_a_cif(tmp_path, capsys):
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    copper = Structure(Lattice.cubic(2.55), ["Cu"], [[0, 0, 0]])
    path = tmp_path / "two.cif"
    path.write_text(rocksalt.to(fmt="cif") + "\n" + copper.to(fmt="cif").replace("data_Cu", "data_copper"))
    assert main(["encode", str(path), "--with-name"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{path}#NaCl\t{slices.encode(rocksalt)}", f"{path}#copper\t{slices.encode(copper)}"]


def test_encode_names_the_block_that_fails(tmp_path, capsys):
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    squeezed = Structure(Lattice.cubic(0.3), ["Cu"], [[0, 0, 0]])  # an atom 0.3 A from its own images
    path = tmp_path / "two.cif"
    path.write_text(rocksalt.to(fmt="cif") + "\n" + squeezed.to(fmt="cif").replace("data_Cu", "data_tiny"))
    assert main(["encode", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [slices.encode(rocksalt)]
    assert f"{path}#tiny: error: atom 0 and its own periodic image are 0.300 A apart" in captured.err


def test_single_atom_in_a_tiny_cube_is_refused():
    tiny = Structure(Lattice.cubic(0.3), ["Cu"], [[0, 0, 0]])
    with pytest.raises(slices.StructureInputError, match="its own periodic image"):
        slices.encode(tiny)
    assert not slices.check(tiny).ok
