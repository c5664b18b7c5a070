"""`slices train` and `slices sample`: the command-line face of the generative model (torch imported lazily)."""

from __future__ import annotations

import argparse
import sys

from periodicnet.arguments import check_seed, cli_type

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

# model, data and schedule options: fixed for a run, so they are refused together with --resume
RUN_OPTIONS = {
    "data": None, "epochs": 20, "max_steps": None, "patience": 3, "eval_every": None, "val_fraction": 0.1,
    "augment": 4, "val_augment": None, "wide_gap": None, "n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.1,
    "prop_dropout": 0.3, "batch_size": 32, "lr": 1e-3, "max_atoms": 20, "seed": 0, "init_from": None,
}

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


def register(subparsers) -> None:
    """Add the ``train`` and ``sample`` subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    t = subparsers.add_parser("train", help="train the generative model", description=TRAIN_HELP,
                              formatter_class=fmt)
    t.add_argument("--data", default=None,
                   help="CSV with a cif (or slices) column and property columns (default: mp20/train_pool.csv.gz in "
                        "the shared data folder, $SLICES_SHARED_DATA or ../shared/data)")
    t.add_argument("--out", default=None,
                   help="weights file to write (one file, e.g. model.pt); required unless --resume")
    t.add_argument("--resume", default=None, metavar="STATE",
                   help="continue the run saved in this training-state file (.resume.pt)")
    t.add_argument("--state", default=None, help="training-state file to write (default: --out, suffix .resume.pt)")
    t.add_argument("--epochs", type=int, default=None, help="length of the schedule in passes over the (augmented) "
                   "training set (default 20)")
    t.add_argument("--max-steps", type=int, default=None, help="length of the schedule in optimiser steps, if shorter")
    t.add_argument("--time-limit", type=float, default=None, metavar="MIN",
                   help="end this session after MIN minutes of training (resumable; the schedule is unchanged)")
    t.add_argument("--run-steps", type=int, default=None,
                   help="end this session after this many steps (resumable; the schedule is unchanged)")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                   help="write the training state every STEPS steps (default: at each evaluation)")
    t.add_argument("--patience", type=int, default=None,
                   help="early stopping: evaluations without a better validation loss (default 3)")
    t.add_argument("--eval-every", type=int, default=None, metavar="STEPS",
                   help="evaluate the validation loss every STEPS steps (default once per epoch)")
    t.add_argument("--val-fraction", type=float, default=None, help="share of crystals held out when the data has "
                   "no split column (default 0.1)")
    t.add_argument("--augment", type=int, default=None,
                   help="atom orderings per crystal, the canonical string included (default 4)")
    t.add_argument("--val-augment", type=int, default=None,
                   help="atom orderings per validation crystal (default: as --augment)")
    t.add_argument("--wide-gap", type=float, nargs=2, default=None, metavar=("EV", "FACTOR"),
                   help="crystals with a band gap >= EV get FACTOR times as many orderings (oversampling)")
    t.add_argument("--n-layer", type=int, default=None, help="transformer blocks (default 4)")
    t.add_argument("--n-head", type=int, default=None, help="attention heads (default 4)")
    t.add_argument("--n-embd", type=int, default=None, help="model width (default 128)")
    t.add_argument("--dropout", type=float, default=None, help="dropout (default 0.1)")
    t.add_argument("--prop-dropout", type=float, default=None,
                   help="chance to hide each property in training, teaching unconditioned sampling (default 0.3)")
    t.add_argument("--batch-size", type=int, default=None, help="sequences per step (default 32)")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-3, cosine decay)")
    t.add_argument("--max-atoms", type=int, default=None, help="largest cell the vocabulary can write (default 20)")
    t.add_argument("--seed", type=_seed, default=None, help="random seed (default 0)")
    t.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from this trained model's weights (continued training; its architecture and "
                        "property scaling are kept)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    t.add_argument("--workers", type=int, default=1, help="processes for encoding CIFs (at most 2; default 1)")
    t.add_argument("--cache-dir", default=None,
                   help="where encoded strings are cached (default $SLICES_CACHE_DIR or ~/.cache/crystal-slices)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(handler=_train)

    s = subparsers.add_parser("sample", help="sample new SLICES strings", description=SAMPLE_HELP,
                              formatter_class=fmt)
    s.add_argument("--n", type=int, default=10, help="number of strings (default 10)")
    s.add_argument("--band-gap", type=float, default=None, metavar="EV", help="target band gap in eV")
    s.add_argument("--formation-energy", type=float, default=None, metavar="EV_PER_ATOM",
                   help="target formation energy in eV/atom")
    s.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    s.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance for the targets: 1 = "
                   "plain conditioning (default), 2-3 pushes harder toward them (twice the sampling time)")
    s.add_argument("--top-k", type=int, default=None, help="sample only among the k likeliest valid tokens")
    s.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold in (0, 1]")
    s.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    s.add_argument("--canonical", action="store_true",
                   help="write canonical strings; samples whose net has no canonical form are drawn again")
    s.add_argument("--elements", nargs="+", default=None, metavar="SYMBOL",
                   help="write only these elements, e.g. --elements Li Fe P O (default: any)")
    s.add_argument("--max-atoms", type=int, default=None, metavar="N",
                   help="at most N atoms per cell (default: the model's limit, 20 for the shipped model)")
    s.add_argument("--valid-composition", action=argparse.BooleanOptionalAction, default=False,
                   help="redraw element blocks that fail the SMACT test (default: off, the model's own "
                   "distribution)")
    s.add_argument("--model", default=None, help="checkpoint file (default: the shipped model in data/model/)")
    s.add_argument("--out", default=None, help="file to write (default: stdout)")
    s.set_defaults(handler=_sample)


def _train(args) -> int:
    from generative.errors import GenerativeError
    from generative.train import resume_training, train

    session = dict(time_limit=args.time_limit, run_steps=args.run_steps, checkpoint_every=args.checkpoint_every,
                   threads=args.threads, workers=args.workers, cache_dir=args.cache_dir, progress=not args.quiet)
    if args.resume:
        given = [name for name in RUN_OPTIONS if name != "data" and getattr(args, name) is not None]
        if given:
            options = ", ".join("--" + g.replace("_", "-") for g in given)
            raise GenerativeError(f"{options}: fixed by the run being resumed (they come from its state file)")
        bundle = resume_training(args.resume, args.out, data=args.data, **session)
    else:
        if args.out is None:
            raise GenerativeError("--out is required (or --resume STATE to continue a run)")
        run = {name: getattr(args, name) if getattr(args, name) is not None else default
               for name, default in RUN_OPTIONS.items()}
        if run["wide_gap"] is not None:
            run["wide_gap"] = (run["wide_gap"][0], int(run["wide_gap"][1]))
        bundle = train(run.pop("data"), args.out, state=args.state, **run, **session)
    info = bundle.info
    print(f"wrote {args.out or 'the weights file'}: {info['n_params']} parameters, {info['steps']} steps in "
          f"{info['train_minutes']} min, best validation loss {info['best_val_loss']} ({info['stop_reason']})",
          file=sys.stderr)
    return 0


def _sample(args) -> int:
    import torch

    from generative.sampling import sample

    torch.set_num_threads(1)
    strings = sample(args.n, band_gap=args.band_gap, formation_energy=args.formation_energy,
                     temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                     model=args.model, canonical=args.canonical, guidance=args.guidance, elements=args.elements,
                     max_atoms=args.max_atoms, valid_composition=args.valid_composition)
    text = "".join(s + "\n" for s in strings)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
