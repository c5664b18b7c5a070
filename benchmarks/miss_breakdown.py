"""The misses of a side-by-side reconstruction run, by cause, from its per-crystal records (no hand analysis).

Reads the result files of ``bench_reconstruction_vs_reference.py`` (their ``records.ours``) and puts every crystal
without a strict match in exactly one cause, the first that applies:

- ``encode_failed`` / ``decode_failed:<status>``: no structure came out;
- ``loose_only``: the final structure matches loosely but not strictly (a distortion the potential did not remove);
- ``lost_after_placement``: the placement matched (loosely) and the potential relaxed it away;
- ``net_changed``: no match, and the relaxed crystal re-encodes to another string (the potential broke or made
  bonds: often the placement was too far off for the potential to find the right basin);
- ``same_net_other_geometry``: no match although the relaxed crystal keeps the string's net (another embedding
  of the same net, or a string that does not pin down the crystal).

Each cause is cross-counted by what may explain it: the string has contacts (layers, chains, molecules), the
placement's volume per atom is off by more than :data:`VOLUME_OFF` of the crystal's, the cell has more than 20
atoms, and (where the file has the reference's records) the reference matched it strictly. Prints a table and
writes ``benchmarks/results/miss_breakdown.json``.

    python benchmarks/miss_breakdown.py benchmarks/results/reconstruction_vs_reference_{mp20,mp21_40,qmof}.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLUME_OFF = 0.15
CAUSES = ("encode_failed", "decode_failed", "loose_only", "lost_after_placement", "net_changed",
          "same_net_other_geometry")


def cause(record: dict) -> str | None:
    """The cause of a miss (module doc), or None for a strict match."""
    match = record.get("match") or {}
    if match.get("strict"):
        return None
    if not record.get("encoded", True) or str(record.get("failure", "")).startswith("encode"):
        return "encode_failed"
    if "match" not in record:
        return f"decode_failed:{record.get('status', 'unknown')}"
    if match.get("loose"):
        return "loose_only"
    if (record.get("stage_match") or {}).get("placement", {}).get("loose"):
        return "lost_after_placement"
    return "net_changed" if record.get("topology_ok") is False else "same_net_other_geometry"


def traits(record: dict, reference: dict | None) -> list[str]:
    """What may explain a miss (module doc)."""
    out = []
    if record.get("contacts"):
        out.append("has_contacts")
    ratio = (record.get("volume_ratio") or {}).get("placement")
    if ratio is not None and abs(ratio - 1) > VOLUME_OFF:
        out.append("placement_volume_off")
    if record.get("natoms", 0) > 20:
        out.append("over_20_atoms")
    if reference is not None and (reference.get("match") or {}).get("strict"):
        out.append("reference_strict")
    return out


def breakdown(result: dict) -> dict:
    """Counts by cause (with traits) of one result file's records."""
    ours = result["records"]["ours"]
    ref = {r["id"]: r for r in result["records"].get("reference", [])}
    causes: Counter = Counter()
    by_trait: dict[str, Counter] = {}
    examples: dict[str, list] = {}
    ratios = [r["volume_ratio"]["placement"] for r in ours if (r.get("volume_ratio") or {}).get("placement")]
    for record in ours:
        c = cause(record)
        if c is None:
            continue
        key = c.split(":")[0] if c.startswith("decode_failed") else c
        causes[c] += 1
        by_trait.setdefault(key, Counter()).update(traits(record, ref.get(record["id"])))
        examples.setdefault(key, []).append(f"{record['id']} {record.get('formula', '')}")
    n = len(ours)
    strict = sum(bool((r.get("match") or {}).get("strict")) for r in ours)
    loose = sum(bool((r.get("match") or {}).get("loose")) for r in ours)
    out = {"set": result["config"]["set"], "n": n, "loose": loose, "strict": strict, "misses": n - strict,
           "causes": dict(causes.most_common()), "traits_by_cause": {k: dict(v) for k, v in by_trait.items()},
           "examples": {k: v[:8] for k, v in examples.items()}}
    if ratios:
        ratios.sort()
        out["placement_volume_ratio"] = {"median": ratios[len(ratios) // 2], "q25": ratios[len(ratios) // 4],
                                         "q75": ratios[3 * len(ratios) // 4],
                                         "off_by_more_than": VOLUME_OFF,
                                         "off": sum(abs(x - 1) > VOLUME_OFF for x in ratios)}
    if ref:
        both = [r for r in ours if r["id"] in ref]
        out["paired"] = {
            "n": len(both),
            "reference_strict_ours_not": sorted(r["id"] for r in both if (ref[r["id"]].get("match") or {}).get("strict")
                                                and not (r.get("match") or {}).get("strict")),
            "ours_strict_reference_not": sorted(r["id"] for r in both if (r.get("match") or {}).get("strict")
                                                and not (ref[r["id"]].get("match") or {}).get("strict")),
        }
    return out


def print_table(rows: list[dict]) -> None:
    for row in rows:
        print(f"\n{row['set']}: {row['n']} crystals, {row['loose']} loose / {row['strict']} strict, "
              f"{row['misses']} strict misses")
        for c, k in row["causes"].items():
            key = c.split(":")[0] if c.startswith("decode_failed") else c
            print(f"  {c:<28}{k:>5}  {row['traits_by_cause'].get(key, {})}")
        if "placement_volume_ratio" in row:
            v = row["placement_volume_ratio"]
            print(f"  placement volume / crystal's: median {v['median']:.3f} (q25 {v['q25']:.3f}, q75 {v['q75']:.3f}); "
                  f"off by > {100 * v['off_by_more_than']:.0f}%: {v['off']}")
        if "paired" in row:
            p = row["paired"]
            print(f"  on the {p['n']} the reference ran: it strict, ours not: {len(p['reference_strict_ours_not'])}; "
                  f"ours strict, it not: {len(p['ours_strict_reference_not'])}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="result files of bench_reconstruction_vs_reference.py")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "miss_breakdown.json")
    args = parser.parse_args(argv)
    rows = []
    for path in args.files:
        row = breakdown(json.loads(path.read_text()))
        row["file"] = path.name
        rows.append(row)
    print_table(rows)
    args.out.write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
