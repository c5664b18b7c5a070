"""``slices design``: the closed design loop from the command line (registered by ``pipeline.cli``)."""

from __future__ import annotations

import argparse
import sys

from periodicnet.arguments import check_count, check_seed, check_time_limit, cli_type
from pipeline.cli.generate import _non_negative, _number, _positive
from pipeline.design_target import DesignBudget, DesignTarget, LoopSettings
from pipeline.options import Runner, default_of

HELP = """\
Design new crystals with a property: rounds of propose -> decode and judge -> learn until the budget is spent.

  1. propose   sample --proposals strings from the generator, conditioned on the target (classifier-free
               --guidance), and rank them by what the string alone predicts: the composition band-gap model
               (the filter: in the window, nearest its centre first), SMACT, --elements, what the known tables
               say of the composition (its known gap, how far its known entry lies above the known hull),
               whether it balances with common oxidation states, whether an earlier round decoded it, the
               cell size. Only the best --decodes (one per formula) are decoded.
  2. judge     decode, relax and assess the chosen strings exactly as `slices generate` does: energy above the
               hull of known materials, novelty against every known crystal, symmetry, and the band gap of the
               relaxed crystal by MEGNet (the judge: not the model that filtered). A hit is stable (<= 0.1
               eV/atom above the hull), unique (across rounds too), new and on target.
  3. learn     fine-tune the shipped generator on every hit so far, mixed with training crystals and capped per
               composition (so it does not collapse onto a few formulas); the next round samples from it.

The loop stops when --cpu-minutes (the CPU time of every process of the run, workers included: on 2 cores,
30 CPU-minutes take about 15 minutes), --max-candidates, --max-hits or --rounds is reached; a round starts only if
one more round's CPU time still fits. Every round is on disk before the next starts: rerunning with the same --out
resumes (inside a round too), and a larger budget continues a finished run. Output:

  OUT/hits.csv           one row per hit, best first: formula, e_above_hull, band_gap (MEGNet, judge),
                         band_gap_composition (filter), novelty, round, cif (path relative to OUT)
  OUT/rounds.csv         one row per round: proposed, passing, decoded, hits, hit rate, cpu_seconds
  OUT/cif/*.cif          the hits in their refined space group
  OUT/report.md          summary, rounds table, hit rate per round (plots/hit_rate.png), hits
  OUT/rounds/NNN/        each round's proposals, its generate run (decode/) and fine-tuned model (model.pt)

examples:
  slices design --band-gap 2.0 --cpu-minutes 30 --seed 0 --out gap2/
  slices design --gap-window 0.5 1.0 --cpu-minutes 20 --out narrow_gap/
  slices design --band-gap 3.0 --elements Li Mg Al Si O F --cpu-minutes 30 --out wide/
"""

_positive_int = cli_type(check_count, whole=True, name="the value")
_seed = cli_type(check_seed, whole=True, name="the seed")
_time_limit = cli_type(check_time_limit, whole=False, name="the time limit")


def register(subparsers) -> None:
    """Add the ``design`` subcommand."""
    p = subparsers.add_parser("design", help="closed-loop inverse design: propose, judge, learn, until a budget",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_argument_group("target (what a hit is)")
    gap = target.add_mutually_exclusive_group()
    gap.add_argument("--band-gap", type=_non_negative, metavar="EV", help="target band gap (eV)")
    gap.add_argument("--gap-window", type=_non_negative, nargs=2, metavar=("LO", "HI"),
                     help="target band-gap window (eV), e.g. --gap-window 0.5 1.0")
    target.add_argument("--gap-tolerance", type=_positive, default=default_of(DesignTarget, "gap_tolerance"),
                        metavar="EV", help="a hit's gap is within this of --band-gap (default %(default)s)")
    target.add_argument("--formation-energy", type=_number, metavar="EV_PER_ATOM", help="target formation energy")
    target.add_argument("--eform-tolerance", type=_positive, default=default_of(DesignTarget, "eform_tolerance"),
                        metavar="EV_PER_ATOM", help="within this of --formation-energy (default %(default)s)")
    target.add_argument("--elements", nargs="+", metavar="SYMBOL", help="only these elements, e.g. Li Fe P O")
    target.add_argument("--max-atoms", type=_positive_int, metavar="N", help="at most N atoms per cell")
    budget = p.add_argument_group("budget (the loop stops at the first one reached)")
    budget.add_argument("--cpu-minutes", type=_positive, metavar="M", help="CPU minutes of all processes")
    budget.add_argument("--max-candidates", type=_positive_int, metavar="N", help="decoded crystals")
    budget.add_argument("--max-hits", type=_positive_int, metavar="N", help="hits")
    budget.add_argument("--rounds", type=_positive_int, metavar="N", help="rounds")
    loop = p.add_argument_group("each round")
    loop.add_argument("--proposals", type=_positive_int, default=default_of(LoopSettings, "proposals"),
                      help="strings sampled per round (default %(default)s)")
    loop.add_argument("--decodes", type=_positive_int, default=default_of(LoopSettings, "decodes"),
                      help="best proposals decoded per round (default %(default)s)")
    loop.add_argument("--guidance", type=_non_negative, default=default_of(LoopSettings, "guidance"),
                      help="classifier-free guidance toward the target (default %(default)s)")
    loop.add_argument("--no-learn", action="store_true", help="do not fine-tune the generator between rounds")
    loop.add_argument("--seed", type=_seed, default=default_of(LoopSettings, "seed"),
                      help="random seed (default %(default)s)")
    where = p.add_argument_group("output and compute")
    where.add_argument("--out", default="design", metavar="DIR", help="output folder (default design/); rerunning "
                       "with the same folder resumes")
    where.add_argument("--workers", type=_positive_int, metavar="N", help="local decode workers (default: all cores)")
    where.add_argument("--time-limit", type=_time_limit, default=default_of(Runner, "time_limit"), metavar="SECONDS",
                       help="reconstruction time limit per candidate (default %(default)s)")
    where.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``slices design``."""
    from pipeline.design import design

    target = DesignTarget(band_gap=args.band_gap, gap_tolerance=args.gap_tolerance,
                          gap_window=tuple(args.gap_window) if args.gap_window else None,
                          formation_energy=args.formation_energy, eform_tolerance=args.eform_tolerance,
                          elements=tuple(args.elements) if args.elements else None, max_atoms=args.max_atoms)
    budget = DesignBudget(cpu_minutes=args.cpu_minutes, candidates=args.max_candidates, hits=args.max_hits,
                          rounds=args.rounds)
    loop = LoopSettings(proposals=args.proposals, decodes=args.decodes, guidance=args.guidance,
                        learn=not args.no_learn, seed=args.seed)
    runner = Runner(workers=args.workers, time_limit=args.time_limit, progress=not args.no_progress)
    result = design(target, budget, out=args.out, loop=loop, runner=runner)
    s = result.summary
    print(f"\nslices design: {s['hits']} hits ({s['hit_compositions']} compositions) of {s['decoded']} decoded in "
          f"{s['rounds']} rounds, {s['cpu_seconds'] / 60:.1f} CPU-minutes -> {result.out}", file=sys.stdout)
    print(f"  stopped: {result.stop_reason}", file=sys.stdout)
    print(f"  hits: {result.out}/hits.csv  rounds: {result.out}/rounds.csv  report: {result.out}/report.md",
          file=sys.stdout)
    return 0
