"""The same sampled strings decoded on two routes, candidate by candidate (from two runs of bench_generative_sun.py).

    python benchmarks/compare_sun_routes.py OLD_RUN NEW_RUN --n 60 --out generative_sun_route_pairs.json

OLD_RUN and NEW_RUN are the per-label run directories (``<run-dir>/sun_<label>_<sha8>``) of two runs of the same
checkpoint and seed. Only conditions and candidates whose strings agree are paired. Per condition it reports the
decoder's energy per atom (new minus old), how many candidates are within 0.1 eV/atom of our hull on each route
and on both, the change of the predicted band gap and the median decode seconds. It reads the JSONL records only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generative_sun import E_HULL_MAX, RESULTS, read_jsonl  # noqa: E402

SAME = 0.005  # eV/atom: energy differences smaller than this count as equal


def stages_run(decoded: dict[int, dict]) -> list[str]:
    """The decoder stages the records show (e.g. whether GFN-FF ran), in their order."""
    seen = {stage for record in decoded.values() for stage in record.get("stage_status") or {}}
    return [s for s in ("placement", "gfnff", "potential") if s in seen]


def paired_condition(old: Path, new: Path, n: int) -> dict | None:
    """The paired comparison of one condition's first ``n`` candidates (None when the strings differ)."""
    old_strings = json.loads((old / "strings.json").read_text())["strings"][:n]
    new_strings = json.loads((new / "strings.json").read_text())["strings"][:n]
    if old_strings != new_strings:
        return None
    old_d, new_d = read_jsonl(old / "decoded.jsonl"), read_jsonl(new / "decoded.jsonl")
    old_a, new_a = read_jsonl(old / "assessed.jsonl"), read_jsonl(new / "assessed.jsonl")
    both = [i for i in range(n) if old_a.get(i, {}).get("e_above_hull") is not None
            and new_a.get(i, {}).get("e_above_hull") is not None]
    energy = [new_d[i]["energy_per_atom"] - old_d[i]["energy_per_atom"] for i in both]
    gap = [abs(new_a[i]["band_gap"] - old_a[i]["band_gap"]) for i in both
           if new_a[i].get("band_gap") is not None and old_a[i].get("band_gap") is not None]
    stable_old = {i for i in both if old_a[i]["e_above_hull"] <= E_HULL_MAX}
    stable_new = {i for i in both if new_a[i]["e_above_hull"] <= E_HULL_MAX}
    return {
        "n": n, "paired": len(both), "stages_old": stages_run(old_d), "stages_new": stages_run(new_d),
        "energy_new_minus_old_median": statistics.median(energy) if energy else None,
        "energy_new_lower": sum(e < -SAME for e in energy), "energy_new_higher": sum(e > SAME for e in energy),
        "stable_old": len(stable_old), "stable_new": len(stable_new), "stable_both": len(stable_old & stable_new),
        "band_gap_abs_change_median": statistics.median(gap) if gap else None,
        "decode_seconds_median_old": statistics.median(old_d[i]["elapsed"] for i in range(n) if i in old_d),
        "decode_seconds_median_new": statistics.median(new_d[i]["elapsed"] for i in range(n) if i in new_d),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old_run", type=Path)
    parser.add_argument("new_run", type=Path)
    parser.add_argument("--n", type=int, default=60, help="candidates per condition to pair (default 60)")
    parser.add_argument("--out", default=None, help="results file name under benchmarks/results (default: print)")
    args = parser.parse_args(argv)
    rows = {}
    for old in sorted(p for p in args.old_run.iterdir() if (p / "strings.json").exists()):
        new = args.new_run / old.name
        if (new / "strings.json").exists():
            row = paired_condition(old, new, args.n)
            if row is not None:
                rows[old.name] = row
    result = {"old_run": str(args.old_run), "new_run": str(args.new_run), "e_hull_max": E_HULL_MAX,
              "conditions": rows}
    for name, r in rows.items():
        print(f"{name:15s} paired {r['paired']:3d}  energy new-old median {r['energy_new_minus_old_median']:+.3f} "
              f"eV/atom (lower {r['energy_new_lower']}, higher {r['energy_new_higher']})  stable old/new/both "
              f"{r['stable_old']}/{r['stable_new']}/{r['stable_both']}  |gap change| median "
              f"{r['band_gap_abs_change_median']:.2f} eV  decode s {r['decode_seconds_median_old']:.1f} -> "
              f"{r['decode_seconds_median_new']:.1f}")
    if args.out:
        (RESULTS / args.out).write_text(json.dumps(result, indent=1))
        print(f"wrote {RESULTS / args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
