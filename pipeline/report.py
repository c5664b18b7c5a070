"""Outputs of a run: the candidate table (CSV + JSON), one CIF per kept candidate, plots and ``report.md``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.rundir import RunDir, dumps, write_atomic
from pipeline.criteria import Criteria

COLUMNS = [
    "index", "status", "message", "string", "canonical", "formula", "space_group", "space_group_number", "symprec",
    "n_atoms", "energy_per_atom", "band_gap", "band_gap_composition", "formation_energy_per_atom", "e_above_hull",
    "decomposition", "below_known_hull", "novelty", "known_id", "matched_by",
    "duplicate_of", "min_distance", "topology_ok", "decode_seconds", "reason", "cif",
]
PHASE_DIAGRAMS = 3  # the report draws the phase diagram of this many best-ranked kept candidates


@dataclass(frozen=True)
class ReportLayout:
    """What differs between the reports of ``slices generate`` (the default) and ``slices assess``: the title, the
    funnel's stages (keys of the summary), the heading of the ranked table, the column that names a row there and
    whether the settings list the keep criteria (``generate`` filters by them; ``assess`` keeps every crystal)."""

    title: str = "SLICES generation report"
    funnel: tuple[str, ...] = ("sampled", "decoded", "valid", "unique", "novel", "kept")
    kept_heading: str = "Kept candidates (by energy above the hull of known materials)"
    name_column: str = "index"
    show_criteria: bool = True


def write_cifs(run: RunDir, rows: list[dict], structures: dict[int, object]) -> None:
    """One CIF per kept candidate (status ``ok``) in ``cif/``, in its refined space group at the row's ``symprec``
    (P1 when that is None); CIFs of candidates no longer kept are removed."""
    from screening.symmetry import write_cif

    run.cif_dir.mkdir(exist_ok=True)
    wanted = set()
    for row in rows:
        if row["status"] != "ok":
            row["cif"] = None
            continue
        composition = structures[row["index"]].composition.reduced_composition
        plain = "".join(f"{el}{int(k) if k != 1 else ''}" for el, k in composition.items())  # no brackets in names
        name = f"{row['index']:05d}_{plain}.cif"
        write_cif(structures[row["index"]], run.cif_dir / name, row.get("symprec"))
        row["cif"] = f"cif/{name}"
        wanted.add(name)
    for path in run.cif_dir.glob("*.cif"):
        if path.name not in wanted:
            path.unlink()


def write_table(run: RunDir, rows: list[dict], columns: list[str] | None = None) -> None:
    """``candidates.csv`` and ``candidates.json``: one row per candidate, with ``columns`` (default ``COLUMNS``)."""
    import pandas as pd

    columns = list(columns or COLUMNS)
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    write_atomic(run.root / "candidates.csv", frame.to_csv(index=False))
    write_atomic(run.root / "candidates.json", dumps([{c: row.get(c) for c in columns} for row in rows]) + "\n")


def summarise(rows: list[dict], timings: dict[str, float]) -> dict:
    """Counts at each stage of the funnel, per-status counts and stage timings."""
    decoded = [r for r in rows if r.get("structure_valid") is not None]
    valid = [r for r in rows if r.get("valid")]
    unique = [r for r in valid if r.get("duplicate_of") is None]
    novel = [r for r in unique if r.get("novelty") != "known"]
    return {
        "sampled": len(rows),
        "decoded": len(decoded),
        "valid": len(valid),
        "unique": len(unique),
        "novel": len(novel),
        "kept": sum(r["status"] == "ok" for r in rows),
        "status_counts": dict(Counter(r["status"] for r in rows).most_common()),
        "timings_s": timings,
    }


def _plots(run: RunDir, rows: list[dict], criteria: Criteria) -> list[tuple[str, str]]:
    """Save the report's figures; returns (caption, relative path) pairs."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend (e.g. a notebook's) alone

    run.plot_dir.mkdir(exist_ok=True)
    figures = []

    counts = Counter(r["status"] for r in rows)
    fig = Figure(figsize=(6, 0.4 * len(counts) + 1.2))
    ax = fig.subplots()
    names = [name for name, _ in counts.most_common()][::-1]
    ax.barh(names, [counts[name] for name in names], color=["tab:green" if n == "ok" else "tab:gray" for n in names])
    ax.set_xlabel("candidates")
    ax.set_title("Outcome per candidate (ok = kept)")
    fig.tight_layout()
    fig.savefig(run.plot_dir / "status.png", dpi=110)
    figures.append(("Outcome of every sampled candidate", "plots/status.png"))

    screened = [r for r in rows if r.get(criteria.gap_column) is not None or r.get("e_above_hull") is not None]
    if screened:
        kept = [r for r in screened if r["status"] == "ok"]
        panels = [
            (criteria.gap_column, f"predicted band gap, {criteria.gap_predictor} (eV)", criteria.band_gap,
             criteria.gap_tolerance),
            ("formation_energy_per_atom", "predicted formation energy (eV/atom)", criteria.formation_energy,
             criteria.eform_tolerance),
            ("e_above_hull", "energy above hull (eV/atom)", None, None),
            ("energy_per_atom", "energy per atom, potential (eV/atom)", None, None),
        ]
        fig = Figure(figsize=(9, 6.5))
        axes = fig.subplots(2, 2)
        for ax, (key, label, target, tol) in zip(axes.ravel(), panels):
            every = [r[key] for r in screened if r.get(key) is not None]
            ok = [r[key] for r in kept if r.get(key) is not None]
            if every:
                bins = min(30, max(5, len(every) // 2))
                ax.hist(every, bins=bins, color="tab:gray", alpha=0.6, label="valid, unique")
                if ok:
                    ax.hist(ok, bins=bins, range=(min(every), max(every)), color="tab:green", alpha=0.8, label="kept")
            else:
                ax.text(0.5, 0.5, "not computed", ha="center", va="center", transform=ax.transAxes, color="tab:gray")
            if target is not None:
                ax.axvspan(target - tol, target + tol, color="tab:orange", alpha=0.15)
                ax.axvline(target, color="tab:orange", label="target")
            ax.set_xlabel(label)
            ax.set_ylabel("candidates")
            if every:
                ax.legend(fontsize=7)
        fig.suptitle("Property distributions of the valid, unique candidates")
        fig.tight_layout()
        fig.savefig(run.plot_dir / "properties.png", dpi=110)
        figures.append(("Property distributions (shaded band: target +/- tolerance)", "plots/properties.png"))

        targets = [(k, lab, t, tol) for k, lab, t, tol in panels[:2] if t is not None]
        if targets:
            fig = Figure(figsize=(4.5 * len(targets), 4))
            axes = fig.subplots(1, len(targets), squeeze=False)
            for ax, (key, label, target, tol) in zip(axes[0], targets):
                points = sorted((r[key], r["status"] == "ok") for r in screened if r.get(key) is not None)
                ax.scatter([target] * len(points), [p for p, _ in points], s=14, alpha=0.6,
                           c=["tab:green" if k else "tab:gray" for _, k in points])
                lo = min([target - tol] + [p for p, _ in points])
                hi = max([target + tol] + [p for p, _ in points])
                ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, label="predicted = target")
                ax.fill_between([lo, hi], [lo - tol, hi - tol], [lo + tol, hi + tol], color="tab:orange", alpha=0.15)
                ax.set_xlabel(f"target {label.replace('predicted ', '')}")
                ax.set_ylabel(label)
                ax.legend(fontsize=7)
            fig.suptitle("Target vs predicted (green: kept)")
            fig.tight_layout()
            fig.savefig(run.plot_dir / "target_vs_predicted.png", dpi=110)
            figures.append(("Target vs predicted property of each valid, unique candidate",
                            "plots/target_vs_predicted.png"))
    return figures


def _phase_diagrams(run: RunDir, ranked: list[dict]) -> list[tuple[str, str]]:
    """The known phase diagram with the candidate on it, for the first :data:`PHASE_DIAGRAMS` ranked candidates
    of 2-4 elements; returns (caption, relative path) pairs."""
    import matplotlib.pyplot as plt

    from pipeline.viz import plot_phase_diagram

    figures = []
    for row in ranked:
        if len(figures) == PHASE_DIAGRAMS:
            break
        if row.get("formation_energy_per_atom") is None or row.get("e_above_hull") is None:
            continue
        from pymatgen.core import Composition

        if not 2 <= len(Composition(row["formula"]).elements) <= 4:
            continue
        ax = plot_phase_diagram(row["formula"], row["formation_energy_per_atom"], f"#{row['index']} {row['formula']}")
        path = f"plots/phase_diagram_{row['index']:05d}.png"
        ax.figure.savefig(run.root / path, dpi=90, bbox_inches="tight")
        plt.close(ax.figure)
        figures.append((f"Candidate #{row['index']} {row['formula']} ({row['e_above_hull']:+.3f} eV/atom) on the "
                        f"phase diagram of known materials (decomposition: {row.get('decomposition')})", path))
    return figures


def write_report(run: RunDir, rows: list[dict], summary: dict, settings: dict, criteria: Criteria,
                 layout: ReportLayout = ReportLayout()) -> Path:
    """Plots (PNG) and ``report.md`` embedding them; also ``summary.json`` (with the criteria) and ``report.html``
    (:mod:`pipeline.html_report`). ``layout`` adapts the report to the
    command that made the run (:class:`ReportLayout`)."""
    from pipeline.html_report import criteria_dict

    figures = _plots(run, rows, criteria)
    summary = {**summary, "criteria": criteria_dict(criteria)}
    write_atomic(run.root / "summary.json", json.dumps(summary, indent=2) + "\n")
    lines = [f"# {layout.title}", "", "## Settings", ""]
    lines += [f"- `{k}`: {v}" for k, v in settings.items()]
    lines += [f"- screening: {criteria}"] if layout.show_criteria else []
    lines += ["", "## Funnel", "", "| stage | candidates |", "|---|---|"]
    lines += [f"| {k} | {summary[k]} |" for k in layout.funnel]
    lines += ["", "| status | candidates |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["status_counts"].items()]
    kept = sorted((r for r in rows if r["status"] == "ok"),
                  key=lambda r: (r.get("e_above_hull") is None, r.get("e_above_hull") or 0.0))
    lines += ["", f"## {layout.kept_heading}", "",
              "Energy above the convex hull of Materials Project formation energies (negative: below the known hull; "
              "**flagged** below -0.1 eV/atom, a discovery or a model error); decomposition into known phases; "
              "novelty against every crystal and composition in the shared data.", ""]
    if kept:
        name = "#" if layout.name_column == "index" else layout.name_column
        lines += [f"| {name} | formula | space group (symprec) | E_hull (eV/atom) | decomposition | novelty | gap, MEGNet (eV) "
                  "| gap, composition (eV) | E_form (eV/atom) | CIF |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in kept[:50]:
            flag = " **flagged**" if r.get("below_known_hull") else ""
            lines.append(f"| {r[layout.name_column]} | {r['formula']} | {r.get('space_group')} ({r.get('symprec')}) "
                         f"| {_fmt(r.get('e_above_hull'))}{flag} | {r.get('decomposition') or '-'} "
                         f"| {r.get('novelty') or '-'} | {_fmt(r.get('band_gap'))} "
                         f"| {_fmt(r.get('band_gap_composition'))} | {_fmt(r.get('formation_energy_per_atom'))} "
                         f"| [{r['cif']}]({r['cif']}) |")
        if len(kept) > 50:
            lines.append(f"\n... and {len(kept) - 50} more in candidates.csv")
    else:
        lines.append("None.")
    figures += _phase_diagrams(run, kept)
    lines += ["", "## Figures", ""]
    for caption, path in figures:
        lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    path = run.root / "report.md"
    write_atomic(path, "\n".join(lines) + "\n")
    _write_html(run, rows, summary, settings)
    return path


def _write_html(run: RunDir, rows: list[dict], summary: dict, settings: dict) -> None:
    """``report.html`` beside ``report.md``: the interactive page of the same run."""
    from pipeline.html_report import ReportMeta, run_structures, run_title, write_html_report

    meta = ReportMeta(title=run_title(run.root), settings=settings,
                      criteria=summary["criteria"], summary=summary, structures=run_structures(run.root, rows))
    write_html_report(run.root / "report.html", rows, meta)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
