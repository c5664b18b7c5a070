"""``slices assess`` end to end through the real engines (potential, hull, known index, gap models): on the CIFs a
tiny ``generate`` run wrote, on a multi-block CIF with a broken block, resume after an interruption, ``--potential``
honoured, unreadable files refused before any work."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from shared_paths import SHARED_DATA

from pipeline.assess_run import COLUMNS, assess_files
from pipeline.cli import main
from pipeline.errors import PipelineError, RunMismatchError
from pipeline.options import AssessOptions
from pipeline.rundir import dumps
from pipeline_support import run_generate

SRCDP = "Sr Cd Cd P P 0 3 -o- 0 3 oo- 0 3 --- 0 4 o-o 0 4 --o 0 4 ooo 1 3 ooo 1 3 -oo 1 3 o+o 1 4 ooo 2 4 ooo " \
        "2 4 +oo 2 4 o-o 2 3 ooo"
NACL = "Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o- 0 1 o--"
QUICK = AssessOptions(progress=False)


def mp20_crystals(n: int) -> list[tuple[str, Structure]]:
    table = pd.read_csv(SHARED_DATA / "mp20" / "train_pool.csv.gz", nrows=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(mid, Structure.from_str(cif, fmt="cif")) for mid, cif in zip(table.material_id, table.cif)]


@pytest.fixture(scope="module")
def multi_block_cif(tmp_path_factory):
    """Three MP-20 crystals (one decorated with oxidation states, as ICSD-derived CIFs are), a block whose species is
    no element and a block without a cell, in one CIF."""
    crystals = mp20_crystals(3)
    crystals[1][1].add_oxidation_state_by_guess()
    blocks = [str(CifWriter(s)).replace("data_", f"data_{mid}_", 1) for mid, s in crystals]
    atom_loop = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n" \
                "_atom_site_fract_z\n"
    blocks.append("data_qq\n_cell_length_a 4.0\n_cell_length_b 4.0\n_cell_length_c 4.0\n_cell_angle_alpha 90\n"
                  "_cell_angle_beta 90\n_cell_angle_gamma 90\n" + atom_loop + "Qq1 Qq 0 0 0\n")  # no element
    blocks.append("data_nolattice\n" + atom_loop + "Na1 Na 0 0 0\n")  # no cell: pymatgen reads no structure
    path = tmp_path_factory.mktemp("multi") / "several.cif"
    path.write_text("\n".join(blocks))
    return path, [mid for mid, _ in crystals], [s.composition.reduced_formula for _, s in crystals]


@pytest.fixture(scope="module")
def multi_run(multi_block_cif, tmp_path_factory):
    path, _, _ = multi_block_cif
    out = tmp_path_factory.mktemp("assess") / "multi"
    return assess_files([path], AssessOptions(batch=2, progress=False), out=out)


def test_multi_block_cif_gives_one_assessed_row_per_block(multi_run, multi_block_cif):
    path, ids, formulas = multi_block_cif
    table = pd.read_csv(multi_run.out / "candidates.csv")
    assert list(table.columns) == COLUMNS
    assert table["source"].tolist() == [f"{path}#{mid}_{f}" for mid, f in zip(ids, formulas)] + [
        f"{path}#qq", f"{path}#nolattice"]
    assert table["status"].tolist() == ["ok", "ok", "ok", "unusable", "unreadable"]
    ok = table[table.status == "ok"]
    assert ok["formula"].tolist() == formulas
    for column in ("formation_energy_per_atom", "e_above_hull", "decomposition", "band_gap", "band_gap_composition",
                   "space_group", "canonical"):
        assert ok[column].notna().all(), column
    assert (ok["e_above_hull"].abs() < 0.3).all()  # MP-20 crystals sit on or near the known hull
    assert set(ok["novelty"]) == {"known"}  # they are in the known index
    assert ok["relaxed"].all()
    assert ok["cif"].tolist() == [f"cif/{k:05d}_{f}.cif" for k, f in zip(range(3), formulas)]
    for cif in ok["cif"]:
        assert (multi_run.out / cif).is_file()
    assert "not a chemical element" in table.loc[3, "message"] and "no structures" in table.loc[4, "message"]
    report = (multi_run.out / "report.md").read_text()
    assert report.startswith("# SLICES assessment report") and f"{path}#{ids[0]}" in report
    summary = json.loads((multi_run.out / "summary.json").read_text())
    assert summary["crystals"] == 5 and summary["readable"] == 4 and summary["assessed"] == 3


def test_resume_redoes_only_what_was_lost_and_refuses_other_inputs(multi_run, multi_block_cif):
    path, _, _ = multi_block_cif
    out = multi_run.out
    again = assess_files([path], AssessOptions(batch=2, progress=False), out=out)
    assert again.assessed_now == 0 and dumps(again.rows) == dumps(multi_run.rows)
    lines = (out / "properties.jsonl").read_text().splitlines(keepends=True)
    (out / "properties.jsonl").write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # killed mid-write
    resumed = assess_files([path], AssessOptions(batch=2, progress=False), out=out)
    assert resumed.assessed_now == 3  # the torn third record and the two after it
    keys = ("source", "status", "formula", "space_group", "novelty", "canonical")
    assert [{k: r.get(k) for k in keys} for r in resumed.rows] == [{k: r.get(k) for k in keys} for r in multi_run.rows]
    for before, after in zip(multi_run.rows, resumed.rows):
        if before.get("e_above_hull") is not None:
            assert after["e_above_hull"] == pytest.approx(before["e_above_hull"], abs=1e-4)
    with pytest.raises(RunMismatchError, match="relax"):
        assess_files([path], AssessOptions(relax=False, progress=False), out=out)


def test_assess_on_the_cifs_a_tiny_generate_run_wrote(tmp_path):
    run = run_generate(strings=[SRCDP, NACL], out=tmp_path / "gen", workers=1, train_data=None,
                       known_materials=False, progress=False)
    cifs = sorted((tmp_path / "gen" / "cif").glob("*.cif"))
    assert cifs, [r["status"] for r in run.rows]
    code = main(["assess", *map(str, cifs), "--out", str(tmp_path / "assessed"), "--no-progress"])
    assert code == 0
    table = pd.read_csv(tmp_path / "assessed" / "candidates.csv")
    assert table["source"].tolist() == [str(p) for p in cifs]
    generated = {r["formula"]: r for r in run.rows if r["status"] == "ok"}
    for row in table.itertuples():  # relaxed again from the CIF: a distorted cell may relax to higher symmetry
        assert row.status == "ok" and row.formula in generated and row.space_group
        assert row.e_above_hull is not None and row.decomposition and row.novelty in ("known", "known_composition",
                                                                                      "new")
    code = main(["assess", *map(str, cifs), "--out", str(tmp_path / "as_is"), "--no-relax", "--no-known-materials",
                 "--no-progress"])
    assert code == 0
    for row in pd.read_csv(tmp_path / "as_is" / "candidates.csv").itertuples():
        assert not row.relaxed and pd.isna(row.e_above_hull)  # --no-known-materials: no hull
        # the CIF (written in its refined space group) keeps the relaxed crystal's energy under the same potential
        assert row.energy_per_atom == pytest.approx(generated[row.formula]["energy_per_atom"], abs=0.02)
    assert (tmp_path / "assessed" / "report.md").is_file()


def test_potential_and_score_with_are_honoured(multi_block_cif, tmp_path):
    """``--potential m3gnet --score-with m3gnet --no-relax``: the energies are M3GNet's single points on the crystals
    as given, and run.json names both models."""
    from relax.potentials import get_potential

    path, ids, _ = multi_block_cif
    code = main(["assess", str(path), "--out", str(tmp_path / "m3gnet"), "--potential", "m3gnet", "--score-with",
                 "m3gnet", "--no-relax", "--no-known-materials", "--no-progress"])
    assert code == 0
    settings = json.loads((tmp_path / "m3gnet" / "run.json").read_text())
    assert settings["potential"] == "m3gnet" and settings["score_with"] == "m3gnet"
    table = pd.read_csv(tmp_path / "m3gnet" / "candidates.csv")
    assessed = table[table.status == "ok"]
    crystals = [s for _, s in mp20_crystals(3)]
    expected = [e.energy / len(s) for e, s in zip(get_potential("m3gnet").evaluate(crystals), crystals)]
    assert len(assessed) == 3
    assert list(assessed["energy_per_atom"]) == pytest.approx(expected, abs=1e-3)


def test_missing_potential_and_unreadable_files_are_refused_before_any_work(multi_block_cif, tmp_path, capsys):
    path, _, _ = multi_block_cif
    missing_model = tmp_path / "no-such-potential"
    code = main(["assess", str(path), "--out", str(tmp_path / "other"), "--potential", str(missing_model),
                 "--no-known-materials", "--no-progress"])
    assert code == 1  # a potential that cannot be loaded stops the run at once, saying what to set
    err = capsys.readouterr().err
    assert str(missing_model) in err and "SLICES_MODEL_DIR" in err and "Traceback" not in err
    assert not (tmp_path / "other" / "candidates.csv").exists()
    junk = tmp_path / "junk.cif"
    junk.write_bytes(b"\x00\xff not a crystal")
    with pytest.raises(PipelineError, match="junk.cif"):
        assess_files([path, junk], QUICK, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()
    assert main(["assess", str(tmp_path / "absent.cif"), "--out", str(tmp_path / "never")]) == 1
    assert "absent.cif: no such file" in capsys.readouterr().err
