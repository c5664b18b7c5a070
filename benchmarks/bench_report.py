"""report.html of a run folder: its size and the time ``slices report`` takes to rebuild it, and (``--screenshot``)
a picture of the page in headless Chromium for the README.

    python benchmarks/bench_report.py RUN_DIR [--screenshot docs/report.png]

RUN_DIR is a finished run; when it does not exist it is made first with ``slices generate --n 24 --seed 3
--max-e-hull 0.3 --workers 1`` (resumable: rerunning finishes an interrupted run). Writes
``benchmarks/results/report_html.json``. The rebuild time is the median of ``--repeats`` rebuilds in this process
(the known-materials tables warm after the first); the machine may be shared, so read it as an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "report_html.json"
GENERATE = ["generate", "--n", "24", "--seed", "3", "--max-e-hull", "0.3", "--workers", "1", "--no-progress"]


def screenshot(page: Path, out: Path) -> list[str]:
    """A 1400 px wide picture of the page's top (header, plots, a few table rows, the first candidate cards) with
    the first viewer in its 2x2x2 supercell; returns the page's console errors."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import Browser

    with Browser(width=1400, height=1480) as browser:
        browser.open(page)
        browser.evaluate("document.querySelector('.table-wrap').style.maxHeight = '250px'")  # room for the cards
        browser.evaluate("window.scrollTo(0, 0); new Promise(r => requestAnimationFrame(() => "
                         "requestAnimationFrame(r)))")
        browser.screenshot(out)
        return browser.errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()

    from pipeline.cli import main as slices
    from pipeline.html_report import rebuild_html_report

    if not (args.run_dir / "candidates.json").is_file():
        assert slices([*GENERATE, "--out", str(args.run_dir)]) == 0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        page = rebuild_html_report(args.run_dir)
        times.append(time.perf_counter() - t0)
    rows = json.loads((args.run_dir / "candidates.json").read_text())
    html = page.read_text(encoding="utf-8")
    data = json.loads(html.split('id="report-data">', 1)[1].split("</script>", 1)[0].replace("<\\/", "</"))
    result = {
        "run_dir": args.run_dir.name,
        "candidates": len(rows),
        "kept": sum(r["status"] == "ok" for r in rows),
        "viewers": len(data["cards"]),
        "phase_diagrams": len(data["systems"]),
        "size_mb": round(page.stat().st_size / 1e6, 3),
        "data_mb": round(len(html.split('id="report-data">', 1)[1].split("</script>", 1)[0]) / 1e6, 3),
        "rebuild_s_first": round(times[0], 3),
        "rebuild_s_median": round(statistics.median(times), 3),
        "repeats": args.repeats,
        "note": "2-core machine shared with other jobs; median of the rebuilds in one process (tables warm)",
    }
    if args.screenshot is not None:
        errors = screenshot(page, args.screenshot)
        result["screenshot"] = str(args.screenshot)
        result["console_errors"] = len(errors)
    print(f"{'candidates':>10} {'viewers':>8} {'diagrams':>9} {'size MB':>8} {'rebuild s (median)':>19}")
    print(f"{result['candidates']:>10} {result['viewers']:>8} {result['phase_diagrams']:>9} {result['size_mb']:>8} "
          f"{result['rebuild_s_median']:>19}")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
