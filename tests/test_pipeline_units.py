"""The generator's bookkeeping pieces on their own: run folder, validity checks, duplicates, novelty, screening."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from screening import checks
from pipeline.errors import PipelineError, RunMismatchError
from screening.errors import ScreeningError
from screening.known import KnownIndex, default_train_data
from screening.matching import find_duplicates
from pipeline.rundir import RunDir
from pipeline.criteria import Criteria, screen

ROCKSALT = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_records_survive_a_torn_last_line(tmp_path):
    run = RunDir(tmp_path)
    run.add_decoded({"index": 0, "status": "ok"})
    run.add_decoded({"index": 1, "status": "timeout"})
    with open(run.decoded_jsonl, "a") as fh:
        fh.write('{"index": 2, "sta')  # the process was killed mid-write
    assert sorted(RunDir(tmp_path).decoded()) == [0, 1]  # reading skips the torn line
    with RunDir(tmp_path) as again:  # a run taking the folder cuts it off before appending
        again.add_decoded({"index": 2, "status": "ok"})
    assert sorted(RunDir(tmp_path).decoded()) == [0, 1, 2]
    assert all(json.loads(line) for line in run.decoded_jsonl.read_text().splitlines())


def test_settings_mismatch_names_each_difference(tmp_path):
    RunDir(tmp_path).check_settings({"n": 4, "seed": 0, "band_gap": None})
    RunDir(tmp_path).check_settings({"n": 4, "seed": 0, "band_gap": None})  # same: fine
    with pytest.raises(RunMismatchError, match=r"band_gap: None in the folder vs 1.5 now, seed: 0 in the folder vs 1"):
        RunDir(tmp_path).check_settings({"n": 4, "seed": 1, "band_gap": 1.5})


def test_out_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(PipelineError, match="not a folder"):
        RunDir(tmp_path / "file")


def test_distance_and_composition_checks():
    assert checks.structure_valid(ROCKSALT)
    assert checks.min_distance(ROCKSALT) == pytest.approx(5.64 / 2)
    squeezed = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.1, 0, 0]])
    assert not checks.structure_valid(squeezed)  # 0.4 A apart
    tiny = Structure(Lattice.cubic(0.45), ["Cu"], [[0, 0, 0]])
    assert not checks.structure_valid(tiny)  # an atom 0.45 A from its own periodic image
    assert checks.composition_valid(ROCKSALT.composition)
    assert not checks.composition_valid(Structure(Lattice.cubic(6), ["Na", "Cl", "Cl"],
                                                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]]).composition)


def test_duplicates_by_structure_and_by_string():
    rotated = ROCKSALT.copy()
    rotated.make_supercell([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    other = Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert find_duplicates([(0, None, ROCKSALT), (1, None, rotated), (2, None, other)]) == {1: 0}
    assert find_duplicates([(0, "s", ROCKSALT), (1, "s", other.copy())]) == {}  # different formula: never equal


def test_a_users_training_set_joins_the_known_index(tmp_path):
    """A training CSV given by the user is one more structure set of the one index: one verdict, one column."""
    train = pd.read_csv(default_train_data()).head(50)
    own = tmp_path / "own_train.csv"
    train.to_csv(own, index=False)
    row = train.iloc[0]
    known = Structure.from_str(row["cif"], fmt="cif")
    known.perturb(0.01, min_distance=0.0)
    index = KnownIndex.build(structure_sets=(), composition_tables=(), extra_sets=[own], progress=False)
    match = index.lookup(known)
    assert match.novelty == "known" and match.known_id == row["material_id"] and match.matched_by == "structure"
    novel = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.1), ["Xe", "Rn"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert index.lookup(novel).novelty == "new"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ScreeningError, match="no 'cif' column"):
        KnownIndex.build(structure_sets=(), composition_tables=(), extra_sets=[bad], progress=False)
    with pytest.raises(ScreeningError, match="not found"):
        KnownIndex.build(structure_sets=(), composition_tables=(), extra_sets=[tmp_path / "missing.csv"],
                         progress=False)


def test_screen_applies_targets_and_hull_limit():
    c = Criteria(band_gap=0.75, gap_tolerance=0.25, max_e_hull=0.1, gap_predictor="megnet")
    assert screen({"band_gap": 0.9, "e_above_hull": 0.05}, c) is None
    assert screen({"band_gap": 1.2, "e_above_hull": 0.05}, c)[0] == "off_target_band_gap"
    assert screen({"band_gap": 0.7, "e_above_hull": 0.3}, c)[0] == "above_hull"
    assert screen({"band_gap": None, "e_above_hull": 0.0}, c)[0] == "no_prediction"
    assert screen({"band_gap": 5.0}, Criteria()) is None  # no target, no limit: nothing screened
    assert screen({"formation_energy_per_atom": -0.2}, Criteria(formation_energy=-1.0, eform_tolerance=0.5))[0] == \
        "off_target_formation_energy"


def test_gap_target_is_checked_against_the_chosen_predictor():
    """The composition model's column by default (docs/models.md), MEGNet's on request; the other one is ignored."""
    row = {"band_gap": 0.2, "band_gap_composition": 2.1}
    assert Criteria().gap_predictor == "composition"
    assert screen(row, Criteria(band_gap=2.0)) is None
    assert screen(row, Criteria(band_gap=2.0, gap_predictor="megnet"))[0] == "off_target_band_gap"
    assert screen({"band_gap": 2.0}, Criteria(band_gap=2.0))[0] == "no_prediction"


def test_decode_tasks_go_largest_cell_first_and_unparsable_last():
    from pipeline.generate import _largest_first

    tasks = [(0, "Na Cl 0 1 ooo 0 1 +oo 0 1 o+o 0 1 oo+"), (1, "not a string"),
             (2, "Na Na Cl Cl 0 2 ooo 0 3 ooo 1 2 ooo 1 3 ooo 0 2 +oo 1 3 o+o"), (3, "Na Cl 0 1 ooo")]
    assert [i for i, _ in sorted(tasks, key=_largest_first)] == [2, 0, 3, 1]
