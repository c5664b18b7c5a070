"""``slices report RUN_DIR``: rebuild a finished run's ``report.html`` (:mod:`pipeline.html_report`)."""

from __future__ import annotations

import argparse

REPORT_HELP = """\
Rebuild report.html of a finished run folder from its files (candidates.json, summary.json, run.json, the decoded
crystals or the CIFs): one self-contained page that opens offline in any browser, with a sortable, filterable
candidate table, a 3D view of each candidate's relaxed cell (drag to turn, supercell toggle), the phase diagram of
its chemical system with the known phases, its decomposition, predicted band gaps and CIF link, and the funnel and
property distributions. slices generate writes the same page at the end of every run; use this command after
upgrading, or on a folder copied from elsewhere. Nothing is recomputed: no model is loaded.

examples:
  slices report candidates/
  slices report narrow_gap/ && xdg-open narrow_gap/report.html"""


def run_report(args: argparse.Namespace) -> int:
    from pipeline.html_report import rebuild_html_report

    path = rebuild_html_report(args.run_dir)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def register(subparsers) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser("report", help="rebuild report.html of a finished run folder", description=REPORT_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="the folder of a finished run (the --out of slices generate)")
    p.set_defaults(handler=run_report)
