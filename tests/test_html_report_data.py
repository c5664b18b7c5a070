"""What ``report.html`` embeds (:mod:`pipeline.html_report`), checked without a browser or a model: the crystals and
their bonds, the phase-diagram data, the escaping of the data block, and the refusal of a folder that is not a run.
The page itself is opened in Chromium by the integration test ``tests/test_report_html.py``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from shared_paths import SHARED_DATA

needs_known = pytest.mark.skipif(not (SHARED_DATA / "known_materials").is_dir(),
                                 reason="shared data (known_materials/) not available")
ROCKSALT = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _bond_lengths(crystal: dict) -> list[float]:
    lattice, frac = np.array(crystal["lattice"]), np.array(crystal["frac"])
    return [float(np.linalg.norm((frac[j] + np.array(t) - frac[i]) @ lattice)) for i, j, *t in crystal["bonds"]]


def test_bonds_follow_the_string_when_its_atoms_are_the_crystal():
    from pipeline.html_report import _crystal
    from slices.encode import structure_graph

    prim = ROCKSALT.get_primitive_structure()
    string = structure_graph(prim, reduce=False).to_string()  # the crystal's own atom order
    shifted = Structure(prim.lattice, prim.species, np.mod(prim.frac_coords + [0.97, 0.0, 0.0], 1.0))  # wrapped
    crystal = _crystal(shifted, string)
    assert len(crystal["bonds"]) == 6  # the six Na-Cl bonds of the string
    assert np.allclose(_bond_lengths(crystal), 5.64 / 2, atol=1e-3)  # the images follow the wrapped atoms


def test_bonds_of_a_crystal_without_a_matching_string_come_from_its_own_graph():
    from pipeline.html_report import _crystal

    crystal = _crystal(ROCKSALT, None)
    assert crystal["species"].count("Na") == 4 and len(crystal["bonds"]) == 24
    assert np.allclose(_bond_lengths(crystal), 5.64 / 2, atol=1e-3)
    assert _crystal(ROCKSALT, "Na Cl 0 1 ooo")["bonds"] == crystal["bonds"]  # a string of other atoms is not used


@needs_known
def test_report_data_holds_crystals_systems_and_escaped_text(tmp_path):
    from pipeline.html_report import ReportMeta, report_data, write_html_report

    rows = [{"index": 0, "status": "ok", "formula": "NaCl", "formation_energy_per_atom": -2.0, "e_above_hull": 0.1},
            {"index": 1, "status": "parse_error", "formula": None, "message": "</script><b>x</b>"}]
    meta = ReportMeta(title="t", structures={0: ROCKSALT})
    data = report_data(rows, meta)
    assert [c["index"] for c in data["cards"]] == [0] and data["cards"][0]["system"] == "Cl-Na"
    system = data["systems"]["Cl-Na"]
    assert {"Na", "Cl", "NaCl"} <= {p["formula"] for p in system["phases"]}
    assert data["cards"][0]["point"] == [0.5, -2.0]  # fraction of Na (second element), formation energy
    assert set(data["elements"]) == {"Na", "Cl"} and data["elements"]["Na"]["colour"].startswith("#")
    page = write_html_report(tmp_path / "report.html", rows, meta).read_text()
    block = re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(block.replace("<\\/", "</"))["rows"][1]["message"] == "</script><b>x</b>"
    assert page.count("</script>") == 2  # the data block and the script: the message did not end either


def test_rebuild_refuses_a_folder_that_is_not_a_run(tmp_path):
    from pipeline.errors import PipelineError
    from pipeline.html_report import rebuild_html_report

    with pytest.raises(PipelineError, match="not a finished run folder"):
        rebuild_html_report(tmp_path)
    (tmp_path / "candidates.json").write_text('{"rows": 1}')
    with pytest.raises(PipelineError, match="damaged"):
        rebuild_html_report(tmp_path)
    with pytest.raises(PipelineError, match="is not a folder"):
        rebuild_html_report(tmp_path / "candidates.json")
