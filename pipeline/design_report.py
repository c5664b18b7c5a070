"""The outputs of a design run: ``hits.csv`` (best first), ``rounds.csv``, ``summary.json``, a hit-rate plot,
``report.md`` and ``report.html`` (the hits in the interactive page of :mod:`pipeline.html_report`). The hits'
symmetrised CIFs are copied into ``cif/`` by the round that found them."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.design_target import DesignTarget
from pipeline.rundir import write_atomic

HIT_COLUMNS = ["rank", "formula", "e_above_hull", "band_gap", "band_gap_composition", "formation_energy_per_atom",
               "novelty", "space_group", "n_atoms", "round", "cif", "string"]
"""``hits.csv``: ``band_gap`` is the judge (MEGNet on the relaxed crystal), ``band_gap_composition`` the filter."""
ROUND_COLUMNS = ["round", "proposed", "passing", "decoded", "on_target_judge", "hits", "hit_rate",
                 "hit_compositions", "cpu_seconds", "model_sampled", "note"]


def ranked(hits: list[dict], target: DesignTarget) -> list[dict]:
    """The hits best first: lowest energy above the hull, then closest to the target gap (or formation energy)."""
    centre = target.gap_condition

    def key(h: dict):
        miss = abs(h["band_gap"] - centre) if centre is not None and h.get("band_gap") is not None else 0.0
        if target.formation_energy is not None and h.get("formation_energy_per_atom") is not None:
            miss += abs(h["formation_energy_per_atom"] - target.formation_energy)
        return (h.get("e_above_hull") if h.get("e_above_hull") is not None else 1e9, miss, h["round"], h["index"])

    return [dict(h, rank=k + 1) for k, h in enumerate(sorted(hits, key=key))]


def _round_rows(rounds: list[dict]) -> list[dict]:
    return [dict(r, hit_rate=round(r["hits"] / r["decoded"], 4) if r["decoded"] else 0.0) for r in rounds]


def summarise(rounds: list[dict], hits: list[dict], stop_reason: str) -> dict:
    decoded = sum(r["decoded"] for r in rounds)
    cpu = sum(r["cpu_seconds"] for r in rounds)
    return {
        "rounds": len(rounds), "proposed": sum(r["proposed"] for r in rounds), "decoded": decoded,
        "on_target_judge": sum(r["on_target_judge"] for r in rounds), "hits": len(hits),
        "hit_compositions": len({h["formula"] for h in hits}),
        "hits_per_decoded": round(len(hits) / decoded, 4) if decoded else 0.0,
        "on_target_share": round(sum(r["on_target_judge"] for r in rounds) / decoded, 4) if decoded else 0.0,
        "cpu_seconds": round(cpu, 1), "hits_per_cpu_hour": round(3600 * len(hits) / cpu, 1) if cpu else 0.0,
        "stop_reason": stop_reason,
    }


def _plot(root: Path, rows: list[dict]) -> str | None:
    if not rows:
        return None
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend (a notebook's) alone

    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.subplots()
    x = [r["round"] for r in rows]
    ax.plot(x, [100 * r["hit_rate"] for r in rows], "o-", label="hits / decoded")
    ax.plot(x, [100 * r["on_target_judge"] / r["decoded"] if r["decoded"] else 0 for r in rows], "s--",
            label="on target (judge) / decoded")
    ax.set_xlabel("round")
    ax.set_ylabel("% of decoded crystals")
    ax.set_xticks(x)
    ax.legend()
    fig.tight_layout()
    (root / "plots").mkdir(exist_ok=True)
    fig.savefig(root / "plots" / "hit_rate.png", dpi=110)
    return "plots/hit_rate.png"


def write(root: Path, target: DesignTarget, rounds: list[dict], hits: list[dict], stop_reason: str) -> dict:
    """Write every output file of the run folder ``root``; returns the summary."""
    import pandas as pd

    rows = _round_rows(rounds)
    best = ranked(hits, target)
    write_atomic(root / "hits.csv", pd.DataFrame([{c: h.get(c) for c in HIT_COLUMNS} for h in best],
                                                 columns=HIT_COLUMNS).to_csv(index=False))
    write_atomic(root / "rounds.csv", pd.DataFrame([{c: r.get(c) for c in ROUND_COLUMNS} for r in rows],
                                                   columns=ROUND_COLUMNS).to_csv(index=False))
    summary = summarise(rounds, hits, stop_reason)
    write_atomic(root / "summary.json", json.dumps(summary, indent=2) + "\n")
    figure = _plot(root, rows)
    lines = ["# SLICES design report", "", f"Target: {json.dumps(target.as_dict())}", "",
             f"Stopped: {stop_reason}", "",
             f"{summary['hits']} hits (stable within {target.max_e_hull} eV/atom of the known hull, unique, new, on "
             f"target by MEGNet on the relaxed crystal) of {summary['decoded']} decoded crystals in "
             f"{summary['rounds']} rounds, {summary['hit_compositions']} distinct compositions, "
             f"{summary['cpu_seconds'] / 60:.1f} CPU-minutes ({summary['hits_per_cpu_hour']} hits per CPU-hour).", "",
             "## Rounds", "", "| " + " | ".join(ROUND_COLUMNS[:9]) + " |", "|" + "---|" * 9]
    lines += ["| " + " | ".join(str(r[c]) for c in ROUND_COLUMNS[:9]) + " |" for r in rows]
    notes = [f"- round {r['round']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        lines += ["", *notes]
    if figure:
        lines += ["", f"![hit rate per round]({figure})"]
    lines += ["", "## Hits, best first", ""]
    if best:
        lines += ["| # | formula | E_hull (eV/atom) | gap, MEGNet (judge) | gap, composition (filter) | novelty | "
                  "space group | round | CIF |", "|---|---|---|---|---|---|---|---|---|"]
        for h in best[:50]:
            lines.append(f"| {h['rank']} | {h['formula']} | {_fmt(h.get('e_above_hull'))} | {_fmt(h.get('band_gap'))} "
                         f"| {_fmt(h.get('band_gap_composition'))} | {h.get('novelty')} | {h.get('space_group')} "
                         f"| {h['round']} | [{h['cif']}]({h['cif']}) |")
    else:
        lines.append("None: no decoded crystal was stable, unique, new and on target within the budget.")
    lines += ["", "Each round's own files (proposals, decoded candidates, its generate report, the fine-tuned "
              "model) are in `rounds/NNN/`."]
    write_atomic(root / "report.md", "\n".join(lines) + "\n")
    _write_html(root, target, best, summary)
    return summary


def _write_html(root: Path, target: DesignTarget, best: list[dict], summary: dict) -> None:
    """``report.html``: the hits, best first (``index`` is the rank), with their crystals from ``cif/``."""
    from pipeline.html_report import ReportMeta, run_structures, write_html_report

    rows = [dict(h, index=h["rank"], status="ok") for h in best]
    meta = ReportMeta(title=f"SLICES design report: {root.resolve().name}", settings=target.as_dict(),
                      summary={**summary, "kept": len(best)}, structures=run_structures(root, rows))
    write_html_report(root / "report.html", rows, meta)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
