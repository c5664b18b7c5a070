"""``report.html`` of a real run, opened in a real headless Chromium (``tests/browser.py``): the scripts run without
console errors, every candidate's 3D viewer draws, sorting and filtering change the table, the phase diagram answers
a hover; and ``slices report RUN_DIR`` rebuilds it. Integration tier: a small ``generate`` run (real reconstruction
and screening) over crystals built here with pymatgen."""

from __future__ import annotations

import re

import pytest
from pymatgen.core import Lattice, Structure

from browser import Browser, find_chromium
from pipeline.cli import main
from pipeline_support import run_generate
from shared_paths import SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "known_materials").is_dir(),
                                reason="shared data (known_materials/) not available")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no chromium on the PATH: apt-get install -y "
                                    "chromium fonts-dejavu-core (.ci/run installs it)")
BACKGROUND = (0xFB, 0xFC, 0xFE)  # the viewer's canvas background (report.css / report.js)


def _crystals() -> list[Structure]:
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cscl_type = Structure(Lattice.cubic(3.3), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    perovskite = Structure(Lattice.cubic(3.905), ["Sr", "Ti", "O", "O", "O"],
                           [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    return [rocksalt, cscl_type, perovskite]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    from slices import encode

    strings = [encode(s) for s in _crystals()] + ["Na Cl 0 1"]  # the last one fails to parse: a row, no crystal
    out = tmp_path_factory.mktemp("html") / "run"
    result = run_generate(strings=strings, out=out, workers=1, train_data=None, progress=False)
    assert len(result.rows) == 4
    return out


def test_generate_writes_a_self_contained_report_html(run_folder):
    html = (run_folder / "report.html").read_text(encoding="utf-8")
    assert (run_folder / "report.md").is_file()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)  # nothing loaded from elsewhere
    assert "cdn" not in html.lower()
    assert '"criteria"' in html and '"max_e_hull"' in html  # the run's criteria travel with the page
    assert '"systems"' in html and '"Sr-Ti-O"' not in html and '"O-Sr-Ti"' in html  # sorted element key


@needs_chromium
def test_report_opens_in_chromium_and_every_part_works(run_folder, tmp_path):
    with Browser() as browser:
        browser.open(run_folder / "report.html")
        assert browser.evaluate("window.slicesReport && window.slicesReport.ready") is True
        n_rows = browser.evaluate("document.querySelectorAll('#candidates tbody tr').length")
        assert n_rows == 4

        # every candidate with a crystal has a viewer, and each draws (pixels other than the background)
        n_canvases = browser.evaluate("document.querySelectorAll('canvas.crystal').length")
        assert n_canvases == 3  # the unparsable string has a row but no crystal
        painted = browser.evaluate(f"""(async () => {{
            const out = [];
            for (const c of document.querySelectorAll('canvas.crystal')) {{
                c.scrollIntoView({{block: 'center'}});
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let other = 0;
                for (let k = 0; k < px.length; k += 4)
                    if (Math.abs(px[k] - {BACKGROUND[0]}) + Math.abs(px[k + 1] - {BACKGROUND[1]})
                        + Math.abs(px[k + 2] - {BACKGROUND[2]}) > 30) other++;
                out.push(other);
            }}
            return out;
        }})()""")
        assert len(painted) == 3 and min(painted) > 500, painted

        # the supercell toggle redraws with more atoms
        changed = browser.evaluate("""(() => {
            const c = document.querySelector('canvas.crystal');
            const before = c.toDataURL();
            c.parentElement.querySelector('button.supercell').click();
            return before !== c.toDataURL();
        })()""")
        assert changed

        # sorting: a header click orders the rows, a second click reverses them
        order = "Array.from(document.querySelectorAll('#candidates tbody tr')).map(r => r.dataset.index)"
        before = browser.evaluate(order)
        browser.evaluate("document.querySelector('th[data-key=formula]').click()")
        ascending = browser.evaluate(order)
        formulas = browser.evaluate("Array.from(document.querySelectorAll('#candidates tbody td.formula'))"
                                    ".map(td => td.textContent)")
        assert formulas[-1] == "-"  # the row without a formula (unparsable string) sorts last
        assert formulas[:-1] == sorted(formulas[:-1], key=str.lower) and ascending != before
        browser.evaluate("document.querySelector('th[data-key=formula]').click()")
        descending = browser.evaluate("Array.from(document.querySelectorAll('#candidates tbody td.formula'))"
                                      ".map(td => td.textContent)")
        assert descending == formulas[:-1][::-1] + ["-"]  # reversed; a missing value stays last

        # filtering: text and status narrow the table
        browser.evaluate("{ const f = document.getElementById('filter'); f.value = 'SrTiO3';"
                         "f.dispatchEvent(new Event('input')); }")
        assert browser.evaluate("Array.from(document.querySelectorAll('#candidates tbody td.formula'))"
                                ".map(td => td.textContent)") == ["SrTiO3"]
        browser.evaluate("{ const f = document.getElementById('filter'); f.value = '';"
                         "f.dispatchEvent(new Event('input'));"
                         "const s = document.getElementById('status-filter'); s.value = 'parse_error';"
                         "s.dispatchEvent(new Event('change')); }")
        assert browser.evaluate(order) == ["3"]

        # the phase diagram of a candidate answers a hover with the known phase's values
        tip = browser.evaluate("""(() => {
            const dot = document.querySelector('svg.phase-diagram circle.phase');
            dot.dispatchEvent(new MouseEvent('mouseover', {bubbles: true, clientX: 10, clientY: 10}));
            const t = document.getElementById('tip');
            return [t.style.display, t.textContent];
        })()""")
        assert tip[0] == "block" and "formation energy" in tip[1] and "e_above_hull" in tip[1]
        assert browser.evaluate("document.querySelectorAll('svg.phase-diagram').length") >= 2
        assert browser.evaluate("document.querySelectorAll('svg.histogram').length") >= 2
        browser.screenshot(tmp_path / "page.png")
        assert (tmp_path / "page.png").stat().st_size > 20_000
        assert browser.errors == []


def test_slices_report_rebuilds_the_page(run_folder, capsys):
    page = run_folder / "report.html"
    first = page.read_text(encoding="utf-8")
    page.unlink()
    assert main(["report", str(run_folder)]) == 0
    assert "report.html" in capsys.readouterr().out
    rebuilt = page.read_text(encoding="utf-8")
    assert rebuilt == first  # the same page from the folder's files as generate wrote from memory


def test_slices_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not a finished run folder" in err and "candidates.json" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
