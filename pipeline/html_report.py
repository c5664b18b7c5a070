"""``report.html``: one self-contained, offline page per run folder, for looking at candidates.

The page holds its data as JSON and its script and style inline (``pipeline/report_assets/``: plain JavaScript,
canvas and SVG, no library and no CDN), so it opens from a laptop's disk, a mail attachment or an archive alike. It
shows a sortable, filterable candidate table; per candidate with a crystal, a 3D view of the relaxed cell (drag to
turn, supercell toggle; bonds from the candidate's SLICES graph), the phase diagram of its chemical system with the
known phases (hover for formula, formation energy, energy above the hull), its decomposition, predicted band gaps and
CIF link; and the funnel and property distributions as interactive plots.

:func:`write_html_report` writes it from the rows of a run (``generate`` does at the end of a run);
:func:`rebuild_html_report` rebuilds it from a finished run folder (``slices report RUN_DIR``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError

MAX_VIEWERS = 200  # candidate cards (3D view + phase diagram); the best-ranked ones when a run has more
MAX_SYSTEMS = 60  # distinct chemical systems whose phase diagram is embedded
TABLE_COLUMNS = [
    "index", "formula", "status", "space_group", "n_atoms", "e_above_hull", "formation_energy_per_atom",
    "band_gap", "band_gap_composition", "energy_per_atom", "novelty", "known_id", "decomposition", "below_known_hull",
    "topology_ok", "message", "cif",
]
ROUND = 4  # decimals of the coordinates and energies embedded in the page


@dataclass(frozen=True)
class ReportMeta:
    """What the page says about the run besides its rows: a title, the run's settings and screening criteria, the
    funnel counts (``summary.json``) and the relaxed crystal of each candidate by row index."""

    title: str = "SLICES run report"
    settings: Mapping[str, Any] = field(default_factory=dict)
    criteria: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    structures: Mapping[int, Any] = field(default_factory=dict)  # row index -> pymatgen Structure


def _rank(row: dict) -> tuple:
    """Kept candidates first, then by energy above the known hull."""
    e_hull = row.get("e_above_hull")
    return (row.get("status") != "ok", e_hull is None, e_hull if e_hull is not None else 0.0, row["index"])


def _bonds(structure, string: str | None) -> list[list[int]]:
    """Bonds ``[i, j, ta, tb, tc]`` of the crystal: the edges of the candidate's SLICES string when its atoms are the
    crystal's (a decoded candidate), each with the lattice image nearest to the string's in the relaxed cell; else
    the SLICES bond graph of the crystal itself."""
    import numpy as np

    from slices import parse
    from slices.encode import structure_graph

    species = [site.specie.symbol for site in structure]
    graph = None
    if string:
        try:
            graph = parse(string)
        except ValueError:  # the project's parse errors are ValueErrors: fall back to the crystal's own graph
            graph = None
    if graph is not None and list(graph.species) == species:
        frac, metric = structure.frac_coords, structure.lattice.metric_tensor
        shifts = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])
        bonds = []
        for (i, j), image in zip(graph.edges, graph.images):
            options = frac[j] + np.asarray(image) + shifts - frac[i]  # relaxation may have wrapped an atom
            lengths = np.einsum("ki,ij,kj->k", options, metric, options)
            bonds.append([int(i), int(j), *(int(v) for v in np.asarray(image) + shifts[int(np.argmin(lengths))])])
        return bonds
    try:
        graph = structure_graph(structure, reduce=False, complete=False)
    except ValueError:  # a crystal the codec refuses (SlicesError): shown without bonds
        return []
    return [[int(i), int(j), *(int(v) for v in image)] for (i, j), image in zip(graph.edges, graph.images)]


def _crystal(structure, string: str | None) -> dict:
    """The crystal as the viewer draws it: lattice rows, species, fractional coordinates and bonds."""
    return {
        "lattice": [[round(float(v), ROUND) for v in row] for row in structure.lattice.matrix],
        "species": [site.specie.symbol for site in structure],
        "frac": [[round(float(v), ROUND) for v in site.frac_coords] for site in structure],
        "bonds": _bonds(structure, string),
    }


def _system(elements: tuple[str, ...]) -> dict:
    """A chemical system's known phases and tie lines, with the plane coordinates the page draws them at."""
    from pipeline.phase_diagram import known_system, plane_xy

    system = known_system(elements)
    n = len(elements)
    return {
        "elements": list(elements),
        "phases": [{"formula": p.formula, "id": p.entry_id, "ef": round(p.formation_energy, ROUND),
                    "eh": round(p.e_above_hull, ROUND),
                    "xy": [round(v, ROUND) for v in plane_xy(p.fractions, p.formation_energy, n)]}
                   for p in system.phases],
        "ties": [list(t) for t in system.tie_lines],
    }


def _colours(elements) -> dict:
    """Jmol colour (hex) and covalent radius (A) of each element, from ASE's tables."""
    from ase.data import atomic_numbers, covalent_radii
    from ase.data.colors import jmol_colors

    out = {}
    for el in sorted(elements):
        number = atomic_numbers.get(el, 0)
        r, g, b = (int(round(255 * c)) for c in jmol_colors[number])
        out[el] = {"colour": f"#{r:02x}{g:02x}{b:02x}", "radius": round(float(covalent_radii[number]), 3)}
    return out


def report_data(rows: list[dict], meta: ReportMeta) -> dict:
    """Everything the page shows, as plain JSON-able data."""
    from screening.hull import HullError

    from pipeline.phase_diagram import fractions, plane_xy, system_elements

    table = [{c: row.get(c) for c in TABLE_COLUMNS} for row in rows]
    cards, systems, elements = [], {}, set()
    for row in sorted(rows, key=_rank):
        structure = meta.structures.get(row["index"])
        if structure is None or len(cards) == MAX_VIEWERS:
            continue
        card = {"index": row["index"], "string": row.get("string"), "crystal": _crystal(structure, row.get("string"))}
        elements.update(card["crystal"]["species"])
        energy = row.get("formation_energy_per_atom")
        system = system_elements(structure.composition)
        if energy is not None and 2 <= len(system) <= 4:
            key = "-".join(system)
            if key not in systems and len(systems) < MAX_SYSTEMS:
                try:
                    systems[key] = _system(system)
                except HullError:  # an element no known material has: no diagram
                    systems[key] = None
            if systems.get(key) is not None:
                card["system"] = key
                card["point"] = [round(v, ROUND) for v in
                                 plane_xy(fractions(structure.composition, system), energy, len(system))]
        cards.append(card)
    return {
        "title": meta.title,
        "settings": dict(meta.settings),
        "criteria": dict(meta.criteria),
        "summary": dict(meta.summary),
        "columns": TABLE_COLUMNS,
        "rows": table,
        "cards": cards,
        "systems": {k: v for k, v in systems.items() if v is not None},
        "elements": _colours(elements),
        "max_viewers": MAX_VIEWERS,
    }


def _asset(name: str) -> str:
    return resources.files("pipeline").joinpath("report_assets", name).read_text(encoding="utf-8")


def render(data: dict) -> str:
    """The page: HTML with the style, the data (JSON) and the script inline."""
    from html import escape

    from pipeline.rundir import dumps

    payload = dumps(data).replace("</", "<\\/")  # no "</script>" inside the data block
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(data['title'])}</title>\n<style>\n{_asset('report.css')}\n</style>\n</head>\n<body>\n"
        "<noscript>This report draws its tables and figures with JavaScript; the same data is in candidates.csv "
        "and report.md.</noscript>\n"
        f"<script type=\"application/json\" id=\"report-data\">{payload}</script>\n"
        f"<script>\n{_asset('report.js')}\n</script>\n</body>\n</html>\n"
    )


def write_html_report(out: str | os.PathLike, rows: list[dict], meta: ReportMeta) -> Path:
    """Write ``report.html`` (the path ``out``) for the candidate ``rows`` (the run's table rows, as in
    ``candidates.json``); returns the path."""
    from pipeline.rundir import write_atomic

    out = Path(out)
    write_atomic(out, render(report_data(rows, meta)))
    return out


def run_title(root: str | os.PathLike) -> str:
    """The page title of a run folder's report."""
    return f"SLICES run report: {Path(root).resolve().name}"


def run_structures(root: Path, rows: list[dict]) -> dict[int, Any]:
    """The relaxed crystal of each row: from ``decoded.jsonl`` (a generate run), else from the row's CIF."""
    from pymatgen.core import Structure

    from pipeline.rundir import read_lines

    structures = {}
    decoded = root / "decoded.jsonl"
    if decoded.exists():
        for _, record in read_lines(decoded):
            if isinstance(record.get("index"), int) and record.get("structure") is not None:
                structures[record["index"]] = Structure.from_dict(record["structure"])
    for row in rows:
        cif = row.get("cif")
        if row["index"] not in structures and cif and (root / cif).is_file():
            structures[row["index"]] = Structure.from_file(root / cif)
    return structures


def rebuild_html_report(run_dir: str | os.PathLike) -> Path:
    """Rebuild ``report.html`` of a finished run folder from its files (``candidates.json``, ``summary.json``,
    ``run.json``, ``decoded.jsonl`` or the CIFs); a folder that holds no finished run raises
    :class:`PipelineError` saying what is missing. Returns the path written."""
    from pipeline.rundir import read_json

    root = Path(run_dir)
    if not root.is_dir():
        raise PipelineError(f"{root} is not a folder; give the folder of a finished run (the --out of slices "
                            f"generate)")
    table = root / "candidates.json"
    if not table.is_file():
        raise PipelineError(f"{root} is not a finished run folder: it has no candidates.json (written at the end of "
                            f"slices generate or slices assess); rerun that command with --out {root} to finish it")
    advice = "rerun the command that wrote this folder to rewrite it"
    rows = read_json(table, advice)
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("index"), int) for r in rows):
        raise PipelineError(f"{table} is damaged (not a list of candidate rows with an index); {advice}")
    summary = read_json(root / "summary.json", advice) if (root / "summary.json").is_file() else {}
    settings = read_json(root / "run.json", advice) if (root / "run.json").is_file() else {}
    summary = summary if isinstance(summary, dict) else {}
    meta = ReportMeta(title=run_title(root), settings=settings if isinstance(
        settings, dict) else {}, criteria=summary.get("criteria") or {}, summary=summary,
        structures=run_structures(root, rows))
    return write_html_report(root / "report.html", rows, meta)


def criteria_dict(criteria) -> dict:
    """A :class:`pipeline.criteria.Criteria` as JSON-able data (``summary.json``'s ``criteria``)."""
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(criteria), default=str))
