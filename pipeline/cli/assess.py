"""``slices assess``: screen crystals of one's own from the command line (registered by ``pipeline.cli``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from periodicnet.arguments import check_count, cli_type
from pipeline.options import AssessOptions, default_of

HELP = """\
Screen the crystals in structure files against known materials, as `slices generate` screens its candidates: each
crystal is relaxed with the interatomic potential (--no-relax takes them as relaxed), then its formation energy,
energy above the convex hull of known materials (Materials Project) and decomposition, known or new against every
crystal and composition of the shared data, band gaps (MEGNet on the structure, the composition model) and space
group are computed. Files: CIF (every data block of a multi-block CIF is a crystal), POSCAR/CONTCAR, and anything
pymatgen or ASE reads (extended XYZ, ...); oxidation states and magnetic moments are ignored. Writes:

  OUT/candidates.csv, candidates.json   one row per crystal: source (FILE or FILE#BLOCK), formula, canonical SLICES
                                        string, space group, energies, e_above_hull, decomposition, novelty, gaps,
                                        status (ok = assessed; unusable / unreadable with the reason in message)
  OUT/cif/*.cif                         each assessed crystal (relaxed), in its refined space group
  OUT/report.md, OUT/plots/*.png        report: crystals ranked by energy above the hull, phase diagrams

Rerunning with the same --out resumes (crystals already assessed are not redone); the files and options must be the
same. A file that cannot be read at all stops the command before any work, naming it.

examples:
  slices assess my_crystals.cif --out screened/
  slices assess POSCAR_* --potential /models/MyPotential --out screened_mine/
  slices assess relaxed/*.cif --no-relax --out quick/
"""


def register(subparsers) -> None:
    """Add the ``assess`` subcommand."""
    p = subparsers.add_parser("assess", help="screen crystals of your own (CIF, POSCAR, ...) against known materials",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="structure files (CIF, POSCAR, ...)")
    p.add_argument("--out", default="assessed", metavar="DIR", help="output folder (default assessed/); rerunning "
                   "with the same folder resumes")
    p.add_argument("--potential", metavar="NAME_OR_PATH", help="interatomic potential that relaxes each crystal "
                   "(default: 7net-0; m3gnet, 7net-l3i5, a matgl model folder or a SevenNet checkpoint; another one "
                   "computes its elemental references once, a few minutes)")
    p.add_argument("--score-with", metavar="NAME_OR_PATH", help="potential whose single point on the relaxed crystal "
                   "gives the energy it is judged by (default: 7net-l3i5; the same as --potential: no second model)")
    p.add_argument("--no-relax", action="store_true", help="take the crystals as relaxed with the potential (single "
                   "points only)")
    p.add_argument("--no-known-materials", action="store_true", help="skip the energy above the known hull and the "
                   "known/new verdict (no shared data needed)")
    p.add_argument("--batch", type=cli_type(check_count, whole=True, name="the batch"),
                   default=default_of(AssessOptions, "batch"), metavar="N",
                   help="crystals assessed between two writes to disk (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``slices assess``."""
    from pipeline.assess_run import FUNNEL, assess_files

    options = AssessOptions(relax=not args.no_relax, potential=args.potential, score_with=args.score_with,
                            known_materials=not args.no_known_materials, batch=args.batch,
                            progress=not args.no_progress)
    result = assess_files(args.files, options, out=args.out)
    s = result.summary
    print(f"\nslices assess: {s['assessed']} of {s['crystals']} crystals assessed -> {result.out}", file=sys.stdout)
    print("  " + "  ".join(f"{k} {s[k]}" for k in FUNNEL), file=sys.stdout)
    for status, count in s["status_counts"].items():
        print(f"  {status:<10}  {count}", file=sys.stdout)
    print(f"  table: {result.out}/candidates.csv  report: {result.out}/report.md", file=sys.stdout)
    return 0
