"""SMACT validity of the generative training set by source, and what the left-out LeMat "AFLOW" sample holds.

    python benchmarks/bench_training_set_chemistry.py [--model OLD.pt ...]

Scores every string of ``data/model/train_strings.csv.gz`` with the project's SMACT test
(:func:`generative.metrics.composition_valid`), per source and overall; reads the AFLOW sample that
``generative.dataset`` leaves out (its element shares and SMACT rate, from the formulas of the shared file); and, for
each ``--model``, samples 1,000 unconditioned strings (seed 0) and counts those with hydrogen and how many of them
fail SMACT. Prints a table and writes ``benchmarks/results/training_set_chemistry.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
AFLOW = "structures/lemat_sample_aflow_2203.csv.gz"


def species_of(string: str) -> list[str]:
    import slices

    return list(slices.parse(string).species)


def training_set() -> dict:
    import pandas as pd

    from generative.metrics import composition_valid

    frame = pd.read_csv(ROOT / "data" / "model" / "train_strings.csv.gz", keep_default_na=False)
    valid = [composition_valid(species_of(s)) for s in frame["slices"]]
    frame["valid"] = valid
    by_source = {name: {"n": len(rows), "smact": float(rows["valid"].mean())}
                 for name, rows in frame.groupby("source", sort=False)}
    return {"n": len(frame), "smact": float(sum(valid) / len(valid)), "by_source": by_source}


def aflow_sample() -> dict:
    import pandas as pd
    from pymatgen.core import Composition

    from generative.metrics import composition_valid
    from periodicnet.resources import shared_data_path

    frame = pd.read_csv(shared_data_path(AFLOW), keep_default_na=False)
    compositions = [Composition(f) for f in frame["formula"]]
    holding = Counter(str(e) for c in compositions for e in c.elements)
    n = len(compositions)
    valid = sum(composition_valid([str(e) for e in c.elements for _ in range(int(c[e]))]) for c in compositions)
    return {"n": n, "share_holding": {el: k / n for el, k in holding.most_common(6)}, "smact": valid / n}


def model_hydrogen(path: str) -> dict:
    import generative
    from generative.metrics import composition_valid

    strings = generative.sample(1000, model=path, seed=0)
    with_h = [s for s in strings if "H" in species_of(s)]
    failing = sum(not composition_valid(species_of(s)) for s in strings)
    failing_h = sum(not composition_valid(species_of(s)) for s in with_h)
    return {"n": len(strings), "smact_failures": failing, "with_hydrogen": len(with_h),
            "with_hydrogen_failing": failing_h}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="also sample 1,000 strings from this checkpoint and count hydrogen compounds")
    args = parser.parse_args(argv)
    result = {"training_set": training_set(), "left_out_aflow_sample": aflow_sample(), "models": {}}
    for item in args.model:
        name, _, path = item.partition("=")
        result["models"][name] = model_hydrogen(path)
    t = result["training_set"]
    print(f"training set: {t['n']} crystals, SMACT {t['smact']:.3f}")
    for name, s in t["by_source"].items():
        print(f"  {name:<22}{s['n']:>7}  SMACT {s['smact']:.3f}")
    a = result["left_out_aflow_sample"]
    shares = ", ".join(f"{el} {share:.2f}" for el, share in a["share_holding"].items())
    print(f"left-out AFLOW sample: {a['n']} crystals, SMACT {a['smact']:.3f}; share holding {shares}")
    for name, m in result["models"].items():
        print(f"model {name}: {m['smact_failures']} of {m['n']} samples fail SMACT; {m['with_hydrogen']} hold H, "
              f"{m['with_hydrogen_failing']} of those fail")
    out = ROOT / "benchmarks" / "results" / "training_set_chemistry.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
