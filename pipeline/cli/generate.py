"""``slices generate``: the end-to-end pipeline from the command line (registered by ``pipeline.cli``)."""

from __future__ import annotations

import argparse
import sys

from periodicnet.arguments import check_count, check_seed, check_time_limit, cli_type
from pipeline.criteria import GAP_PREDICTORS, Criteria
from pipeline.options import Runner, Sampling, as_path_or_none, default_of

HELP = """\
Sample candidate SLICES strings from the shipped model (compositions that fail the SMACT test are redrawn while
sampling; --no-valid-composition turns that off), rebuild and relax each crystal in parallel, drop invalid
ones (atoms closer than 0.5 A, no SMACT charge-neutral assignment, and, with --require-topology, bond topology lost in relaxation), duplicates and
crystals already known (training data, and every crystal of the shared data sets), predict band gap, formation
energy and energy above the hull of known materials (Materials Project), and write:

  OUT/candidates.csv, candidates.json   one row per candidate: string, formula, space group, energies,
                                        predictions, novelty, status (ok = kept, else the reason it was dropped)
  OUT/cif/*.cif                         one CIF per kept candidate, in its refined space group
  OUT/report.md, OUT/plots/*.png        summary report with property distributions and target vs predicted
  OUT/report.html                       the same run as one interactive page (opens offline; slices report
                                        rebuilds it): sortable table, 3D views, phase diagrams

Rerunning with the same --out resumes: finished candidates are not decoded again, and failures are final unless
--retry-failed is given (it retries the ones whose worker crashed or timed out). Only one run at a time may write
to a folder: a second run into the same --out stops with a message.

examples:
  slices generate --n 100 --out candidates/
  slices generate --n 200 --band-gap 0.75 --max-e-hull 0.1 --out narrow_gap/
  slices generate --n 100 --elements Li Fe P O --max-atoms 16 --out lifepo/
  slices generate --n 1000 --scheduler tcp://10.0.0.5:8786 --out big_run/
"""


_positive_int = cli_type(check_count, whole=True, name="the value")
_seed = cli_type(check_seed, whole=True, name="the seed")
_time_limit = cli_type(check_time_limit, whole=False, name="the time limit")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _scheduler(text: str) -> str:
    if "://" not in text:
        raise argparse.ArgumentTypeError(f"expected a scheduler address like tcp://host:8786, got {text!r}")
    return text


def register(subparsers) -> None:
    """Add the ``generate`` subcommand."""
    p = subparsers.add_parser(
        "generate", help="sample, reconstruct, screen and write new candidate crystals", description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("what to generate")
    what.add_argument("--n", type=_positive_int, default=default_of(Sampling, "n"),
                      help="candidate strings to sample (default %(default)s)")
    what.add_argument("--band-gap", type=_non_negative, metavar="EV", help="target band gap in eV (conditions the "
                      "model and keeps candidates within --gap-tolerance)")
    what.add_argument("--formation-energy", type=_number, metavar="EV_PER_ATOM",
                      help="target formation energy in eV/atom (conditions the model; --eform-tolerance)")
    what.add_argument("--temperature", type=_positive, default=default_of(Sampling, "temperature"),
                      help="sampling temperature (default %(default)s)")
    what.add_argument("--guidance", type=_non_negative, default=default_of(Sampling, "guidance"), help="classifier-free guidance toward the "
                      "targets: 1 = plain conditioning (default), 2-3 pushes harder (see docs/generative.md)")
    what.add_argument("--elements", nargs="+", metavar="SYMBOL", help="sample only these elements, e.g. "
                      "--elements Li Fe P O (default: any)")
    what.add_argument("--max-atoms", type=_positive_int, metavar="N", help="at most N atoms per cell (default: the "
                      "model's limit, 20 for the shipped model)")
    what.add_argument("--valid-composition", action=argparse.BooleanOptionalAction,
                      default=default_of(Sampling, "valid_composition"),
                      help="ON by default: element blocks whose composition fails the SMACT charge-neutrality test "
                      "are redrawn while sampling (the model's distribution conditioned on a valid composition); "
                      "--no-valid-composition samples the model's own distribution")
    what.add_argument("--seed", type=_seed, default=default_of(Sampling, "seed"),
                      help="random seed for sampling and reconstruction (default %(default)s)")
    what.add_argument("--model", metavar="PATH", help="a trained model folder instead of the shipped one")
    what.add_argument("--strings", metavar="FILE", help="screen the SLICES strings in FILE (one per line) instead "
                      "of sampling")
    where = p.add_argument_group("output and compute")
    where.add_argument("--out", default="candidates", metavar="DIR", help="output folder (default candidates/); "
                       "rerunning with the same folder resumes")
    compute = where.add_mutually_exclusive_group()
    compute.add_argument("--workers", type=_positive_int, metavar="N", help="local worker processes for "
                       "reconstruction (default: all cores)")
    compute.add_argument("--scheduler", type=_scheduler, metavar="ADDRESS", help="run reconstruction on a Dask "
                       "cluster, e.g. tcp://host:8786 (instead of local workers)")
    where.add_argument("--time-limit", type=_time_limit, default=default_of(Runner, "time_limit"), metavar="SECONDS",
                       help="reconstruction time limit per candidate (default %(default)s)")
    where.add_argument("--potential", metavar="NAME_OR_PATH", help="interatomic potential that relaxes the "
                       "candidates: m3gnet, 7net-0, 7net-l3i5, a matgl model name or folder, a SevenNet checkpoint "
                       "(default: relax's default, m3gnet)")
    where.add_argument("--score-with", metavar="NAME_OR_PATH", help="potential whose single point on the relaxed "
                       "crystal gives its formation energy and e_above_hull (default: the measured best, "
                       "docs/models.md; another one computes the elemental references it needs once)")
    where.add_argument("--no-progress", action="store_true", help="no progress bars")
    where.add_argument("--retry-failed", action="store_true", help="on resume, decode again the candidates "
                       "recorded as worker_crashed or timeout (default: every recorded failure is final)")
    screen = p.add_argument_group("screening")
    screen.add_argument("--train-data", default=default_of(Criteria, "train_data"), metavar="CSV",
                        help="a training set of your own that candidates must not repeat, a CSV with a 'cif' column "
                        "(default: $SLICES_TRAIN_DATA or the MP-20 train pool, already among the known materials; "
                        "'none' for none)")
    screen.add_argument("--no-known-materials", action="store_true",
                        help="skip the screening against known materials (energy above the hull of Materials "
                        "Project formation energies, decomposition, known/new against the shared data)")
    screen.add_argument("--gap-tolerance", type=_non_negative, default=default_of(Criteria, "gap_tolerance"),
                        metavar="EV", help="keep candidates whose predicted gap is within this of --band-gap "
                        "(default %(default)s)")
    screen.add_argument("--gap-predictor", choices=sorted(GAP_PREDICTORS), default=default_of(Criteria, "gap_predictor"),
                        help="which predicted gap --band-gap is checked against: 'composition' (the composition "
                        "model, screening.gap_model; default, the more accurate on held-out MP crystals, see "
                        "docs/models.md) or 'megnet' (matgl's MEGNet on the relaxed structure); both are in the table")
    screen.add_argument("--eform-tolerance", type=_non_negative, default=default_of(Criteria, "eform_tolerance"),
                        metavar="EV_PER_ATOM", help="same for --formation-energy (default %(default)s)")
    screen.add_argument("--max-e-hull", type=_non_negative, metavar="EV_PER_ATOM",
                        help="drop candidates more than this above the convex hull (default: no limit)")
    screen.add_argument("--require-topology", action="store_true",
                        help="drop candidates whose relaxed crystal no longer has the string's bond graph (default: "
                        "keep them, flagged in the topology_ok column)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``slices generate``."""
    from pipeline.errors import PipelineError
    from pipeline.generate import generate

    strings = None
    if args.strings:
        try:
            with open(args.strings, encoding="utf-8") as fh:
                strings = [line.strip() for line in fh if line.strip()]
        except OSError as exc:
            raise PipelineError(f"cannot read --strings {args.strings}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise PipelineError(f"--strings {args.strings} is not UTF-8 text (byte {exc.start}); give a text file "
                                f"with one SLICES string per line") from None
        if not strings:
            raise PipelineError(f"--strings {args.strings} holds no strings")
    result = generate(sampling_of(args, strings), criteria_of(args), out=args.out, runner=runner_of(args))
    print_summary(result.summary, result.out, file=sys.stdout)
    return 0


def sampling_of(args: argparse.Namespace, strings: list[str] | None = None) -> Sampling:
    """The :class:`Sampling` the arguments describe."""
    return Sampling(n=args.n, band_gap=args.band_gap, formation_energy=args.formation_energy,
                    temperature=args.temperature, guidance=args.guidance,
                    elements=tuple(args.elements) if args.elements else None, max_atoms=args.max_atoms,
                    valid_composition=args.valid_composition, seed=args.seed, model=args.model,
                    strings=tuple(strings) if strings else None)


def criteria_of(args: argparse.Namespace) -> Criteria:
    """The :class:`Criteria` the arguments describe."""
    train_data = args.train_data if args.train_data == "default" else as_path_or_none(args.train_data)
    return Criteria(band_gap=args.band_gap, gap_tolerance=args.gap_tolerance, formation_energy=args.formation_energy,
                    eform_tolerance=args.eform_tolerance, max_e_hull=args.max_e_hull,
                    require_topology=args.require_topology, gap_predictor=args.gap_predictor,
                    known_materials=not args.no_known_materials, train_data=train_data)


def runner_of(args: argparse.Namespace) -> Runner:
    """The :class:`Runner` the arguments describe."""
    return Runner(workers=args.workers, scheduler=args.scheduler, time_limit=args.time_limit,
                  potential=args.potential, score_with=args.score_with, retry_failed=args.retry_failed, progress=not args.no_progress)


def print_summary(summary: dict, out, file=sys.stdout) -> None:
    """A short plain-text summary of a run."""
    print(f"\nslices generate: {summary['kept']} of {summary['sampled']} candidates kept -> {out}", file=file)
    funnel = "  ".join(f"{k} {summary[k]}" for k in ("sampled", "decoded", "valid", "unique", "novel", "kept"))
    print(f"  funnel: {funnel}", file=file)
    width = max((len(k) for k in summary["status_counts"]), default=6)
    for status, count in summary["status_counts"].items():
        print(f"  {status:<{width}}  {count}", file=file)
    t = summary.get("timings_s", {})
    print("  time (s): " + "  ".join(f"{k} {v:.1f}" for k, v in t.items()), file=file)
    print(f"  table: {out}/candidates.csv  report: {out}/report.md, {out}/report.html", file=file)
