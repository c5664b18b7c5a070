"""`slices train` and `slices sample`: the command-line face of the generative model (torch imported lazily)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from generative import Session, TrainConfig, sample
from periodicnet.arguments import check_seed, cli_type
from pipeline.options import default_of

_seed = cli_type(check_seed, whole=True, name="the seed")

TRAIN_HELP = """\
Train the property-conditioned SLICES transformer on a CSV of crystals.

The CSV needs a `cif` column (each crystal is encoded with slices.encode; the strings are cached, see
--cache-dir) or a `slices` column. Property columns are found by name: band_gap (band_gap, bandgap) and
formation_energy (formation_energy_per_atom, formation_energy, eform); a property whose column is missing is left
out of the model. A `split` column (train/val) fixes the validation crystals; otherwise a random --val-fraction is
held out. The checkpoint with the best validation loss (weights, configuration, vocabulary and property scaling in
one file) is written to --out.

Training is resumable: the full state (weights, optimiser, step, schedule position, random states) is written to
--state (default: --out with suffix .resume.pt) at every evaluation and when the session stops. --time-limit and
--run-steps end a session without changing the learning-rate schedule; `--resume STATE` continues it exactly
(model, data and schedule settings come from the state file).

examples:
  slices train --out model.pt                                  # MP-20 train pool, default settings
  slices train --data my.csv --out model.pt --epochs 10 --time-limit 30 --n-embd 192
  slices train --resume model.resume.pt --time-limit 60        # continue a run, one more hour
"""

SAMPLE_HELP = """\
Sample new SLICES strings from the generative model, one per line. Every string parses and describes a
connected, 3D-periodic bond network (the sampler masks every token that would break that).

By default the strings follow the model's own distribution. --elements limits the elements that may be written,
--max-atoms the atoms per cell, and --valid-composition redraws every element block whose composition fails the
SMACT charge-neutrality test (off by default here; `slices generate` turns it on).

examples:
  slices sample --n 100                                # unconditioned, shipped model, to stdout
  slices sample --n 50 --band-gap 2.0 --out gap2.txt   # aim for a 2 eV band gap
  slices sample --n 20 --elements Li Fe P O --max-atoms 12 --valid-composition
"""


def _run_default(name: str) -> str:
    """``(default X)`` for a :class:`~generative.config.TrainConfig` field, as the help shows it."""
    return f"(default {default_of(TrainConfig, name)})"


def register(subparsers) -> None:
    """Add the ``train`` and ``sample`` subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    t = subparsers.add_parser("train", help="train the generative model", description=TRAIN_HELP,
                              formatter_class=fmt)
    files = t.add_argument_group("files")
    files.add_argument("--data", default=None,
                       help="CSV with a cif (or slices) column and property columns (default: mp20/train_pool.csv.gz "
                            "in the shared data folder, $SLICES_SHARED_DATA or ../shared/data)")
    files.add_argument("--out", default=None,
                       help="weights file to write (one file, e.g. model.pt); required unless --resume")
    files.add_argument("--resume", default=None, metavar="STATE",
                       help="continue the run saved in this training-state file (.resume.pt)")
    files.add_argument("--state", default=None,
                       help="training-state file to write (default: --out, suffix .resume.pt)")
    files.add_argument("--init-from", default=None, metavar="MODEL",
                       help="start from this trained model's weights (continued training; its architecture and "
                            "property scaling are kept)")
    # the run: TrainConfig fields. Their parser default is None, so that a value given with --resume is noticed;
    # the real defaults are the fields' own (shown in the help).
    run = t.add_argument_group("the run (fixed for a run: taken from the state file on --resume)")
    run.add_argument("--epochs", type=int, help="length of the schedule in passes over the (augmented) training "
                     f"set {_run_default('epochs')}")
    run.add_argument("--max-steps", type=int, help="length of the schedule in optimiser steps, if shorter")
    run.add_argument("--patience", type=int, help="early stopping: evaluations without a better validation loss "
                     f"{_run_default('patience')}")
    run.add_argument("--eval-every", type=int, metavar="STEPS",
                     help="evaluate the validation loss every STEPS steps (default once per epoch)")
    run.add_argument("--val-fraction", type=float, help="share of crystals held out when the data has no split "
                     f"column {_run_default('val_fraction')}")
    run.add_argument("--max-rows", type=int, help="use only the first rows of the data")
    run.add_argument("--augment", type=int,
                     help=f"atom orderings per crystal, the canonical string included {_run_default('augment')}")
    run.add_argument("--val-augment", type=int, help="atom orderings per validation crystal (default: as --augment)")
    run.add_argument("--wide-gap", type=float, nargs=2, metavar=("EV", "FACTOR"),
                     help="crystals with a band gap >= EV get FACTOR times as many orderings (oversampling)")
    run.add_argument("--n-layer", type=int, help=f"transformer blocks {_run_default('n_layer')}")
    run.add_argument("--n-head", type=int, help=f"attention heads {_run_default('n_head')}")
    run.add_argument("--n-embd", type=int, help=f"model width {_run_default('n_embd')}")
    run.add_argument("--block-size", type=int, help="positions: property prefix + BOS + tokens "
                     f"{_run_default('block_size')}")
    run.add_argument("--dropout", type=float, help=f"dropout {_run_default('dropout')}")
    run.add_argument("--prop-dropout", type=float, help="chance to hide each property in training, teaching "
                     f"unconditioned sampling {_run_default('prop_dropout')}")
    run.add_argument("--batch-size", type=int, help=f"sequences per step {_run_default('batch_size')}")
    run.add_argument("--lr", type=float, help=f"peak learning rate, cosine decay {_run_default('lr')}")
    run.add_argument("--weight-decay", type=float, help=f"AdamW weight decay {_run_default('weight_decay')}")
    run.add_argument("--max-atoms", type=int,
                     help=f"largest cell the vocabulary can write {_run_default('max_atoms')}")
    run.add_argument("--seed", type=_seed, help=f"random seed {_run_default('seed')}")
    # this session: Session fields, with their own defaults
    here = t.add_argument_group("this session (does not change the result)")
    here.add_argument("--time-limit", type=float, default=default_of(Session, "time_limit"), metavar="MIN",
                      help="end this session after MIN minutes of training (resumable; the schedule is unchanged)")
    here.add_argument("--run-steps", type=int, default=default_of(Session, "run_steps"),
                      help="end this session after this many steps (resumable; the schedule is unchanged)")
    here.add_argument("--checkpoint-every", type=int, default=default_of(Session, "checkpoint_every"),
                      metavar="STEPS", help="write the training state every STEPS steps (default: at each evaluation)")
    here.add_argument("--threads", type=int, default=default_of(Session, "threads"),
                      help=f"torch threads (default {default_of(Session, 'threads')}: the machine is shared)")
    here.add_argument("--workers", type=int, default=default_of(Session, "workers"),
                      help=f"processes for encoding CIFs (default {default_of(Session, 'workers')})")
    here.add_argument("--cache-dir", default=default_of(Session, "cache_dir"),
                      help="where encoded strings are cached (default $SLICES_CACHE_DIR or ~/.cache/crystal-slices)")
    here.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(handler=_train)

    s = subparsers.add_parser("sample", help="sample new SLICES strings", description=SAMPLE_HELP,
                              formatter_class=fmt)
    s.add_argument("--n", type=int, default=10, help="number of strings (default 10)")
    s.add_argument("--band-gap", type=float, default=None, metavar="EV", help="target band gap in eV")
    s.add_argument("--formation-energy", type=float, default=None, metavar="EV_PER_ATOM",
                   help="target formation energy in eV/atom")
    s.add_argument("--temperature", type=float, default=default_of(sample, "temperature"),
                   help=f"sampling temperature (default {default_of(sample, 'temperature')})")
    s.add_argument("--guidance", type=float, default=default_of(sample, "guidance"),
                   help="classifier-free guidance for the targets: 1 = plain conditioning (default "
                   f"{default_of(sample, 'guidance')}), 2-3 pushes harder toward them (twice the sampling time)")
    s.add_argument("--top-k", type=int, default=None, help="sample only among the k likeliest valid tokens")
    s.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold in (0, 1]")
    s.add_argument("--seed", type=_seed, default=default_of(sample, "seed"),
                   help=f"random seed (default {default_of(sample, 'seed')})")
    s.add_argument("--canonical", action="store_true",
                   help="write canonical strings; samples whose net has no canonical form are drawn again")
    s.add_argument("--elements", nargs="+", default=None, metavar="SYMBOL",
                   help="write only these elements, e.g. --elements Li Fe P O (default: any)")
    s.add_argument("--max-atoms", type=int, default=None, metavar="N",
                   help="at most N atoms per cell (default: the model's limit, 20 for the shipped model)")
    s.add_argument("--valid-composition", action=argparse.BooleanOptionalAction,
                   default=default_of(sample, "valid_composition"),
                   help="redraw element blocks that fail the SMACT test (default: off, the model's own "
                   "distribution)")
    s.add_argument("--model", default=None, help="checkpoint file (default: the shipped model in data/model/)")
    s.add_argument("--out", default=None, help="file to write (default: stdout)")
    s.set_defaults(handler=_sample)


def _run_options(args) -> dict:
    """The TrainConfig fields given on the command line (the others keep the fields' defaults)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    if "wide_gap" in given:
        threshold, factor = given["wide_gap"]
        given["wide_gap"] = (threshold, int(factor) if float(factor).is_integer() else factor)
    return given


def _train(args) -> int:
    from generative.errors import GenerativeError
    from generative.train import resume_training, train

    session = Session(threads=args.threads, time_limit=args.time_limit, run_steps=args.run_steps,
                      checkpoint_every=args.checkpoint_every, workers=args.workers, cache_dir=args.cache_dir,
                      progress=not args.quiet)
    run = _run_options(args)
    if args.resume:
        if run or args.state:
            options = ", ".join("--" + g.replace("_", "-") for g in [*run, *(["state"] if args.state else [])])
            raise GenerativeError(f"{options}: fixed by the run being resumed (they come from its state file)")
        bundle = resume_training(args.resume, session, data=args.data, out=args.out)
    else:
        if args.out is None:
            raise GenerativeError("--out is required (or --resume STATE to continue a run)")
        bundle = train(TrainConfig(**run), session, data=args.data, out=args.out, state=args.state)
    info = bundle.info
    print(f"wrote {args.out or 'the weights file'}: {info['n_params']} parameters, {info['steps']} steps in "
          f"{info['train_minutes']} min, best validation loss {info['best_val_loss']} ({info['stop_reason']})",
          file=sys.stderr)
    return 0


def _sample(args) -> int:
    import torch

    torch.set_num_threads(1)
    strings = sample(args.n, model=args.model, band_gap=args.band_gap, formation_energy=args.formation_energy,
                     temperature=args.temperature, guidance=args.guidance, top_k=args.top_k, top_p=args.top_p,
                     elements=args.elements, max_atoms=args.max_atoms, valid_composition=args.valid_composition,
                     canonical=args.canonical, seed=args.seed)
    text = "".join(s + "\n" for s in strings)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
