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
out of the model. A random --val-fraction of the crystals is held out for the validation loss; the checkpoint with
the best validation loss (weights, configuration, vocabulary and property scaling in one file) is written to --out.

examples:
  slices train --out model.pt                                  # MP-20 train pool, default settings
  slices train --data my.csv --out model.pt --epochs 10 --time-limit 30 --n-embd 192
"""

SAMPLE_HELP = """\
Sample new SLICES strings from the generative model, one per line. Every string parses and describes a
connected, 3D-periodic bond network (the sampler masks every token that would break that).

examples:
  slices sample --n 100                                # unconditioned, shipped model, to stdout
  slices sample --n 50 --band-gap 2.0 --out gap2.txt   # aim for a 2 eV band gap
"""


def register(subparsers) -> None:
    """Add the ``train`` and ``sample`` subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    t = subparsers.add_parser("train", help="train the generative model", description=TRAIN_HELP,
                              formatter_class=fmt)
    t.add_argument("--data", default=None,
                   help="CSV with a cif (or slices) column and property columns (default: the MP-20 train pool in "
                        "../shared/data/mp20/train_pool.csv.gz)")
    t.add_argument("--out", required=True, help="checkpoint file to write (one file, e.g. model.pt)")
    t.add_argument("--epochs", type=int, default=20, help="passes over the (augmented) training set (default 20)")
    t.add_argument("--time-limit", type=float, default=None, metavar="MIN",
                   help="stop after this many minutes of training, keeping the best checkpoint")
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    t.add_argument("--patience", type=int, default=3,
                   help="early stopping: evaluations without a better validation loss (default 3)")
    t.add_argument("--eval-every", type=int, default=None, metavar="STEPS",
                   help="evaluate the validation loss every STEPS steps (default once per epoch)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share of crystals held out (default 0.1)")
    t.add_argument("--augment", type=int, default=4,
                   help="atom orderings per crystal, the canonical string included (default 4)")
    t.add_argument("--n-layer", type=int, default=4, help="transformer blocks (default 4)")
    t.add_argument("--n-head", type=int, default=4, help="attention heads (default 4)")
    t.add_argument("--n-embd", type=int, default=128, help="model width (default 128)")
    t.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    t.add_argument("--prop-dropout", type=float, default=0.3,
                   help="chance to hide each property in training, teaching unconditioned sampling (default 0.3)")
    t.add_argument("--batch-size", type=int, default=32, help="sequences per step (default 32)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3, cosine decay)")
    t.add_argument("--max-atoms", type=int, default=20, help="largest cell the vocabulary can write (default 20)")
    t.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
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
    s.add_argument("--model", default=None, help="checkpoint file (default: the shipped model in data/model/)")
    s.add_argument("--out", default=None, help="file to write (default: stdout)")
    s.set_defaults(handler=_sample)


def _train(args) -> int:
    from generative.train import DEFAULT_DATA, train

    bundle = train(
        args.data or DEFAULT_DATA, args.out, epochs=args.epochs, time_limit=args.time_limit,
        max_steps=args.max_steps, patience=args.patience, eval_every=args.eval_every,
        val_fraction=args.val_fraction, augment=args.augment, n_layer=args.n_layer, n_head=args.n_head,
        n_embd=args.n_embd, dropout=args.dropout, prop_dropout=args.prop_dropout, batch_size=args.batch_size,
        lr=args.lr, max_atoms=args.max_atoms, seed=args.seed, threads=args.threads, workers=args.workers,
        cache_dir=args.cache_dir, progress=not args.quiet,
    )
    info = bundle.info
    print(f"wrote {args.out}: {info['n_params']} parameters, {info['steps']} steps in {info['train_minutes']} min, "
          f"best validation loss {info['best_val_loss']} ({info['stop_reason']})", file=sys.stderr)
    return 0


def _sample(args) -> int:
    import torch

    from generative.sampling import sample

    torch.set_num_threads(1)
    strings = sample(args.n, band_gap=args.band_gap, formation_energy=args.formation_energy,
                     temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                     model=args.model, canonical=args.canonical, guidance=args.guidance)
    text = "".join(s + "\n" for s in strings)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
