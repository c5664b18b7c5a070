"""``slices assess``: screen crystals of one's own, read from structure files, into the same run folder as
``slices generate`` writes (candidate table, CIFs, plots, ``report.md``). See ``docs/pipeline.md``.

Every crystal of every file is one row (a CIF with several data blocks gives one row per block, labelled
``FILE#BLOCK`` in the ``source`` column). Each batch of assessments is on disk (``properties.jsonl``, through
:mod:`pipeline.rundir`) before the next starts, so calling :func:`assess_files` again with the same ``out`` resumes
where the last call stopped; the files' contents and the options are recorded in ``run.json`` and checked.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from periodicnet.errors import ArgumentError
from pipeline.errors import PipelineError
from pipeline.generate import ASSESSMENT_FIELDS
from pipeline.options import AssessOptions
from pipeline.rundir import RunDir

COLUMNS = [
    "index", "status", "message", "source", "formula", "canonical", "space_group", "space_group_number", "symprec",
    "n_atoms", "relaxed", "energy_per_atom", "band_gap", "band_gap_composition", "formation_energy_per_atom",
    "e_above_hull", "decomposition", "below_known_hull", "novelty", "known_id", "matched_by", "reason", "cif",
]
"""The columns of ``candidates.csv`` written by ``slices assess`` (the assessment's fields, as in ``generate``)."""

FUNNEL = ("crystals", "readable", "assessed", "with_e_above_hull", "new")


@dataclass
class AssessRunResult:
    """What an assess run produced: ``rows`` (one dict per crystal, the table's columns) and the ``summary``."""

    out: Path
    rows: list[dict]
    summary: dict
    assessed_now: int = 0
    timings: dict = field(default_factory=dict)

    def table(self):
        """The table as a pandas DataFrame (the columns of ``candidates.csv``)."""
        import pandas as pd

        return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in self.rows], columns=COLUMNS)


def _paths(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    try:
        paths = [Path(p) for p in paths]
    except TypeError as exc:
        raise ArgumentError(f"paths must be structure file paths ({exc})") from None
    if not paths:
        raise ArgumentError("give at least one structure file")
    return paths


def _read_inputs(paths: list[Path]):
    """Every crystal of every file, in order, and a digest of the files' contents (what a resume must find again).
    A file that cannot be read at all stops the run (:class:`PipelineError` naming it) before any folder is
    written; a block of a CIF that cannot be read becomes an ``unreadable`` row."""
    from periodicnet.crystal_files import CrystalFileError, read_crystals

    entries, digest = [], hashlib.sha256()
    for path in paths:
        try:
            entries += read_crystals(path)
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
        except CrystalFileError as exc:
            raise PipelineError(f"cannot assess {exc}") from None
        except OSError as exc:
            raise PipelineError(f"cannot read {path}: {exc.strerror or exc}") from None
    return entries, digest.hexdigest()[:16]


def _canonical(structure) -> str | None:
    """The crystal's canonical SLICES string, or None when it has none (a project error, not a failure here)."""
    import slices

    try:
        return slices.encode(structure)
    except slices.SlicesError:
        return None


def _record(index: int, entry, result) -> dict:
    """The ``properties.jsonl`` line of one crystal: the assessment's fields, its (relaxed) structure, its string."""
    if result is None:
        return {"index": index, "source": entry.label, "status": "unreadable", "message": entry.error.detail}
    values = result.as_dict()
    unusable = (result.reason or "").startswith("unusable")
    structure = None if unusable else result.structure
    return {"index": index, "source": entry.label, "status": "unusable" if unusable else "ok",
            "message": result.reason or "", "formula": result.formula, "relaxed": result.relaxed,
            "energy_per_atom": result.energy_per_atom, **{name: values[name] for name in ASSESSMENT_FIELDS},
            "n_atoms": len(result.structure) if result.structure is not None else None,
            "canonical": _canonical(structure) if structure is not None else None,
            "structure": structure.as_dict() if structure is not None else None}


def _known_index(options: AssessOptions):
    if not options.known_materials:
        return None
    from screening.known import known_index

    return known_index(shared=True, progress=options.progress)


def _assess_pending(run: RunDir, entries: list, done: dict, options: AssessOptions, potential: str,
                    score_with: str) -> int:
    """Assess, batch by batch, every crystal without a record; each batch's records are appended before the next."""
    from tqdm.auto import tqdm

    from screening.assessment import assess

    todo = [k for k in range(len(entries)) if k not in done]
    if not todo:
        return 0
    index = _known_index(options)
    with tqdm(total=len(entries), initial=len(entries) - len(todo), desc="assess", unit="crystal",
              disable=not options.progress, file=sys.stderr) as bar:
        for start in range(0, len(todo), options.batch):
            batch = todo[start:start + options.batch]
            readable = [k for k in batch if entries[k].error is None]
            results = dict(zip(readable, assess(
                [entries[k].structure for k in readable], relax=options.relax, potential=potential,
                score_with=score_with, index=index, novelty=index is not None, hull=options.known_materials,
                progress=False))) if readable else {}
            for k in batch:
                done[k] = _record(k, entries[k], results.get(k))
                run.add_properties(done[k])
            bar.update(len(batch))
    return len(todo)


def summarise(rows: list[dict], timings: dict[str, float]) -> dict:
    """Counts of the assess funnel (:data:`FUNNEL`), per-status counts and stage timings."""
    return {
        "crystals": len(rows),
        "readable": sum(r["status"] != "unreadable" for r in rows),
        "assessed": sum(r["status"] == "ok" for r in rows),
        "with_e_above_hull": sum(r.get("e_above_hull") is not None for r in rows),
        "new": sum(r.get("novelty") == "new" for r in rows),
        "kept": sum(r["status"] == "ok" for r in rows),
        "status_counts": dict(Counter(r["status"] for r in rows).most_common()),
        "timings_s": timings,
    }


def assess_files(paths: Iterable[str | os.PathLike] | str | os.PathLike, options: AssessOptions = AssessOptions(),
                 *, out: str | os.PathLike = "assessed") -> AssessRunResult:
    """Screen every crystal of the structure files ``paths`` (CIF with any number of blocks, POSCAR, anything
    pymatgen or ASE reads) against the known materials and write the run folder ``out``: ``candidates.csv`` /
    ``.json`` (one row per crystal: formation energy, energy above the known hull and decomposition, known or new,
    band gaps, space group, ``source`` = ``FILE`` or ``FILE#BLOCK``), ``cif/`` (each assessed crystal, relaxed when
    ``options.relax``), ``plots/``, ``report.md`` and ``summary.json``.

    Calling it again with the same ``out`` resumes; other files or options in that folder raise
    :class:`pipeline.errors.RunMismatchError`. A file that cannot be read at all raises :class:`PipelineError`.
    """
    from pymatgen.core import Structure

    from pipeline import report
    from pipeline.criteria import Criteria

    if not isinstance(options, AssessOptions):
        raise ArgumentError(f"options must be a pipeline.options.AssessOptions, got {type(options).__name__}")
    files = _paths(paths)
    entries, digest = _read_inputs(files)
    if not entries:
        raise PipelineError("the files hold no crystal")
    from screening.assessment import DEFAULT_POTENTIAL, DEFAULT_SCORE_WITH

    # named explicitly in run.json, so that a resume with other defaults is refused rather than mixed
    potential = str(options.potential or DEFAULT_POTENTIAL)
    score_with = str(options.score_with or DEFAULT_SCORE_WITH)
    settings = {"command": "assess", "n": len(entries), "inputs": digest, "files": [str(p) for p in files],
                "relax": options.relax, "potential": potential, "score_with": score_with,
                "known_materials": options.known_materials}
    with RunDir(out) as run:
        run.check_settings(settings)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        done = {k: r for k, r in run.properties().items() if k < len(entries)}
        assessed_now = _assess_pending(run, entries, done, options, potential, score_with)
        timings["assess"] = time.perf_counter() - t0

        rows, structures = [], {}
        for k in range(len(entries)):
            row = {c: v for c, v in done[k].items() if c != "structure"}
            if done[k].get("structure") is not None:
                structures[k] = Structure.from_dict(done[k]["structure"])
            rows.append(row)
        report.write_cifs(run, rows, structures)
        report.write_table(run, rows, COLUMNS)
        summary = summarise(rows, timings)
        summary["assessed_now"] = assessed_now
        layout = report.ReportLayout(title="SLICES assessment report", funnel=FUNNEL,
                                     kept_heading="Assessed crystals (by energy above the hull of known materials)",
                                     name_column="source", show_criteria=False)
        report.write_report(run, rows, summary, settings, Criteria(train_data=None,
                                                                   known_materials=options.known_materials), layout)
        return AssessRunResult(out=run.root, rows=rows, summary=summary, assessed_now=assessed_now, timings=timings)
