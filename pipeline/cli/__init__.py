"""The ``slices`` command line. Each group of subcommands lives in a module of this package that exposes
``register(subparsers)``; heavy imports (torch, matgl, pymatgen) happen inside the handlers, so ``slices --help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from periodicnet.errors import SlicesError
from pipeline.cli import assess, codec, design, generate, model, report

COMMAND_MODULES = (codec, model, generate, design, assess, report)
"""The modules that add subcommands, in the order ``slices --help`` lists them."""

DESCRIPTION = """\
Crystal inverse design with SLICES strings.

  slices encode FILE...          crystal files (CIF, POSCAR, ...) -> one canonical SLICES string per structure
  slices canonical STRING...     any valid SLICES string -> its canonical form
  slices decode STRING...        SLICES string -> relaxed crystal (CIF)
  slices train / sample          train the generative model / sample new strings from it
  slices generate --n 100        the whole pipeline: sample, reconstruct, screen, write CIFs and a table
  slices design --band-gap 2.0   closed loop: propose, judge, fine-tune, until a CPU budget; ranked hits
  slices assess FILE...          screen crystals of your own (CIF, POSCAR, ...): the same table and report
  slices report RUN_DIR          rebuild a run's interactive report.html

Run `slices COMMAND --help` for the options of one command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slices", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``slices`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except SlicesError as exc:
        print(f"slices {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"slices {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``slices canonical - | head``): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush cannot fail again
        return 141  # 128 + SIGPIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
