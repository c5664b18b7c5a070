"""``slices encode``, ``slices canonical`` and ``slices decode``: the codec from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from periodicnet.arguments import check_seed, check_time_limit, cli_type
from periodicnet.limits import RECONSTRUCTION_TIME_LIMIT


def register(subparsers: argparse._SubParsersAction) -> None:
    enc = subparsers.add_parser(
        "encode",
        help="crystal files -> canonical SLICES strings",
        description="Read crystal structures (CIF, POSCAR, or anything pymatgen or ASE reads) and print one canonical SLICES "
        "string per structure. A CIF with several data blocks gives one line per block, in file order "
        "(--with-name labels them FILE#BLOCK). A file or block that cannot be encoded prints an error line on "
        "stderr and the command goes on; the exit status is 1 if any failed.",
    )
    enc.add_argument("files", nargs="+", type=Path, help="structure files")
    enc.add_argument("--bonds", choices=("econ_covalent", "econ", "crystalnn"), default="econ_covalent",
                     help="bond finder (default: econ_covalent, ECoN plus covalent non-metal pairs; econ: ECoN alone)")
    enc.add_argument("--with-name", action="store_true", help="prefix each line with the file name (FILE#BLOCK for "
                     "a CIF with several data blocks) and a tab")
    enc.set_defaults(handler=_encode)

    can = subparsers.add_parser(
        "canonical",
        help="SLICES strings -> canonical form",
        description="Print the canonical form of each SLICES string (give them quoted, or '-' to read one per line "
        "from standard input).",
    )
    can.add_argument("strings", nargs="+", help="SLICES strings, or '-' for standard input")
    can.set_defaults(handler=_canonical)

    dec = subparsers.add_parser(
        "decode",
        help="SLICES strings -> relaxed crystals (CIF)",
        description="Rebuild the crystal of each SLICES string and write it as CIF: to --out DIR as crystal_<k>.cif "
        "(replacing an older file of that name), or to standard output. The default route, 'auto', picks by cell size and chemistry (relax.routes): "
        "'fast' up to 20 atoms and for inorganic cells: placement from the labelled quotient graph, then relaxation "
        "with the universal potential (BFGS to fmax 0.2 eV/A); 'large' for cells over 20 atoms with carbon (FIRE to fmax 0.1). '--route full' "
        "adds GFN-FF with the graph's bonds held between the two and relaxes to fmax 0.1: slower (about 6x on MP-20), "
        "a few points more strict matches (docs/reconstruction.md).",
    )
    dec.add_argument("strings", nargs="+", help="SLICES strings, or '-' for standard input")
    dec.add_argument("--out", type=Path, help="folder for the CIF files (default: print to stdout)")
    dec.add_argument("--route", choices=ROUTES, default="auto",
                     help="auto: by size and chemistry (default: large for cells over 20 atoms with carbon, else fast); fast: placement -> "
                     "potential (BFGS, fmax 0.2); large: the same with FIRE at fmax 0.1; full: placement -> GFN-FF -> potential")
    dec.add_argument("--model", default=None, help="potential name or folder (default: the project's default)")
    dec.add_argument("--seed", type=cli_type(check_seed, whole=True, name="the seed"), default=0,
                     help="seed of the placement's tie-breaking perturbation (default 0)")
    dec.add_argument("--time-limit", type=cli_type(check_time_limit, whole=False, name="the time limit"),
                     default=RECONSTRUCTION_TIME_LIMIT, metavar="SECONDS",
                     help=f"time limit per string (default {RECONSTRUCTION_TIME_LIMIT:.0f})")
    dec.set_defaults(handler=_decode)


ROUTES = ("auto", "fast", "large", "full")
"""``slices decode --route``: the names of :mod:`relax.routes` (``relax.routes.ROUTE_NAMES``; written out here so
the parser is built without importing the reconstruction)."""


def _strings(values: list[str]) -> list[str]:
    if values == ["-"]:
        return [line.strip() for line in sys.stdin if line.strip()]
    return values


def _encode(args: argparse.Namespace) -> int:
    import slices
    from periodicnet.crystal_files import CrystalFileError, read_crystals

    failed = 0
    for path in args.files:
        try:
            entries = read_crystals(path)
        except CrystalFileError as exc:
            print(f"{exc.label}: error: {exc.detail}", file=sys.stderr)
            failed += 1
            continue
        for entry in entries:
            if entry.error is not None:
                print(f"{entry.label}: error: {entry.error.detail}", file=sys.stderr)
                failed += 1
                continue
            try:
                string = slices.encode(entry.structure, bonds=args.bonds)
            except slices.SlicesError as exc:
                print(f"{entry.label}: error: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(f"{entry.label}\t{string}" if args.with_name else string)
    return 1 if failed else 0


def _canonical(args: argparse.Namespace) -> int:
    import slices

    failed = 0
    for string in _strings(args.strings):
        try:
            print(slices.canonical(string))
        except slices.SlicesError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _decode(args: argparse.Namespace) -> int:
    import slices

    from pipeline.rundir import ensure_folder, write_atomic

    kwargs = {"seed": args.seed, "time_limit": args.time_limit, "route": args.route}
    if args.model:
        kwargs["potential"] = args.model
    if args.out:
        ensure_folder(args.out)
    failed = 0
    for k, string in enumerate(_strings(args.strings)):
        try:
            structure = slices.decode(string, **kwargs)
        except slices.SlicesError as exc:
            print(f"string {k}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.out:
            path = args.out / f"crystal_{k}.cif"
            write_atomic(path, structure.to(fmt="cif"))
            print(f"{path}\t{structure.composition.reduced_formula}")
        else:
            print(structure.to(fmt="cif"))
    return 1 if failed else 0
