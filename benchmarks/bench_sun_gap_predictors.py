"""Band-gap conditioning of decoded samples, scored by both gap predictors, from committed S.U.N. candidate files.

    python benchmarks/bench_sun_gap_predictors.py v2_route2 v3_route2

Reads ``benchmarks/results/generative_sun_<label>_candidates.jsonl.gz`` (written by ``bench_generative_sun.py``:
every sampled candidate, its decode status and its assessment), takes the decoded candidates (status ``ok``) of
each band-gap condition, and compares their predicted gap with the target twice: MEGNet's structure prediction (the
``band_gap`` the assessment holds) and the composition model (:func:`screening.gap_model.predict_band_gap_composition`,
better on held-out MP crystals: ``benchmarks/results/band_gap_predictors.json``). Prints a table and writes
``benchmarks/results/generative_sun_gap_predictors.json``. Nothing is decoded again.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def candidates(label: str) -> list[dict]:
    path = RESULTS / f"generative_sun_{label}_candidates.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def target_of(condition: str) -> float | None:
    for part in condition.split("+"):
        if part.startswith("band_gap="):
            return float(part.split("=")[1])
    return None


def score(label: str) -> dict:
    from screening.gap_model import GapModelError, predict_band_gap_composition

    by_condition: dict[str, list[tuple[float, float]]] = {}
    skipped = 0
    for row in candidates(label):
        target = target_of(row["condition"])
        assessment = row["assessment"]  # None where the candidate was not screened
        if target is None or row["status"] != "ok" or assessment is None:
            continue
        megnet = assessment.get("band_gap")
        if megnet is None:
            continue
        try:
            composition = float(predict_band_gap_composition(assessment["formula"])[0])
        except GapModelError:  # an element the composition model was not trained on (noble gases)
            skipped += 1
            continue
        by_condition.setdefault(row["condition"], []).append((float(megnet), composition))
    out = {"label": label, "skipped_unknown_elements": skipped, "conditions": {}}
    for condition, pairs in by_condition.items():
        target = target_of(condition)
        values = np.array(pairs)
        entry = {"target": target, "n": len(values)}
        for k, name in enumerate(("megnet", "composition")):
            error = np.abs(values[:, k] - target)
            entry[name] = {"mean_gap": float(values[:, k].mean()), "mae": float(error.mean()),
                           "within_0.5_eV": float((error <= 0.5).mean())}
        out["conditions"][condition] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    labels = (argv if argv is not None else sys.argv[1:]) or ["v2_route2"]
    results = [score(label) for label in labels]
    print(f"{'model':<11}{'condition':<26}{'n':>4}  {'MEGNet mean / MAE / within 0.5':>32}  "
          f"{'composition mean / MAE / within 0.5':>37}")
    for result in results:
        for condition, e in sorted(result["conditions"].items()):
            m, c = e["megnet"], e["composition"]
            print(f"{result['label']:<11}{condition:<26}{e['n']:>4}  {m['mean_gap']:>12.2f} {m['mae']:>7.2f} "
                  f"{m['within_0.5_eV']:>10.2f}  {c['mean_gap']:>17.2f} {c['mae']:>7.2f} {c['within_0.5_eV']:>10.2f}")
    out = RESULTS / "generative_sun_gap_predictors.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
