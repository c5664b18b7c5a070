"""The end-to-end candidate generator: sample -> decode and relax (in parallel) -> filter -> deduplicate -> novelty
-> property screening -> CIFs, table and report. See ``docs/pipeline.md``.

Every finished piece of work is on disk before the next starts (``pipeline.rundir``), so calling :func:`generate`
again with the same ``out`` resumes where the last call stopped and redoes nothing.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from periodicnet.arguments import check_count, check_seed, check_time_limit
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir, given_source
from pipeline.screening import DEFAULT_GAP_PREDICTOR, GAP_PREDICTORS, Criteria

from periodicnet.limits import CANDIDATE_TIME_LIMIT as DEFAULT_TIME_LIMIT  # seconds per candidate
SCHEDULER_CONNECT_TIMEOUT = 30.0  # seconds to reach a Dask scheduler given by address
RETRIED_STATUSES = ("worker_crashed", "timeout")  # outcomes a rerun may change (a kill, a loaded machine)


def default_workers() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def hard_timeout(time_limit: float) -> float:
    """Wall-clock limit after which a candidate's worker is killed: the reconstruction's own limit, plus room for a
    fresh worker to import torch and load the potential."""
    return 2.0 * time_limit + 120.0


@dataclass
class GenerateResult:
    """What a run produced: ``rows`` (one dict per candidate, the table's columns and more) and the ``summary``."""

    out: Path
    rows: list[dict]
    summary: dict
    decoded_now: int = 0  # candidates decoded by this call (0 when resuming a finished run)
    timings: dict = field(default_factory=dict)

    @property
    def kept(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "ok"]

    def table(self):
        """The candidate table as a pandas DataFrame (the columns of ``candidates.csv``)."""
        import pandas as pd

        from pipeline.report import COLUMNS

        return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in self.rows], columns=COLUMNS)


def _check_arguments(n, strings, band_gap, formation_energy, temperature, workers, time_limit, criteria, client,
                     scheduler, guidance=1.0, seed=0) -> None:
    if strings is None:
        check_count(n, "n (candidates to sample)", error=PipelineError)
    elif isinstance(strings, str) or not all(isinstance(s, str) for s in strings) or not len(strings):
        raise PipelineError("strings must be a non-empty sequence of SLICES strings")
    for name, value in (("band_gap", band_gap), ("formation_energy", formation_energy)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise PipelineError(f"{name} target must be a number, got {value!r}")
    if band_gap is not None and band_gap < 0:
        raise PipelineError(f"band_gap target must be >= 0 eV, got {band_gap}")
    if not temperature > 0:
        raise PipelineError(f"temperature must be > 0, got {temperature}")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not 0 <= guidance < float("inf"):
        raise PipelineError(f"guidance must be a number >= 0, got {guidance!r}")
    if workers is not None:
        check_count(workers, "workers", error=PipelineError)
    check_time_limit(time_limit, error=PipelineError)
    check_seed(seed, error=PipelineError)
    if criteria.gap_tolerance < 0 or criteria.eform_tolerance < 0:
        raise PipelineError("tolerances must be >= 0")
    if criteria.gap_predictor not in GAP_PREDICTORS:
        raise PipelineError(f"gap_predictor must be one of {sorted(GAP_PREDICTORS)}, got {criteria.gap_predictor!r}")
    if client is not None and scheduler is not None:
        raise PipelineError("give either a Dask client or a scheduler address, not both")
    if scheduler is not None and "://" not in str(scheduler):
        raise PipelineError(f"scheduler must be an address like tcp://host:8786, got {scheduler!r}")


def _sample(n: int, band_gap, formation_energy, temperature: float, seed: int, model, progress: bool,
            guidance: float = 1.0, chemistry: dict | None = None) -> list[str]:
    import generative
    from tqdm.auto import tqdm

    with tqdm(total=n, desc="sample", unit="str", disable=not progress, file=sys.stderr) as bar:
        strings = generative.sample(n, band_gap=band_gap, formation_energy=formation_energy, temperature=temperature,
                                    seed=seed, model=model, guidance=guidance, **(chemistry or {}))
        bar.update(len(strings))
    return list(strings)


def _decode(run: RunDir, strings: list[str], *, workers: int, client, scheduler, decode_kwargs: dict,
            time_limit: float, progress: bool, retry_failed: bool = False) -> int:
    """Decode every candidate not yet on disk (and, with ``retry_failed``, those whose worker was killed or crashed:
    :data:`RETRIED_STATUSES`); returns how many were decoded now."""
    from tqdm.auto import tqdm

    from pipeline import decode_stage

    done = run.decoded()
    if retry_failed:
        done = {i: r for i, r in done.items() if r.get("status") not in RETRIED_STATUSES}
    todo = [(i, s) for i, s in enumerate(strings) if i not in done]
    if not todo:
        return 0
    with tqdm(total=len(strings), initial=len(strings) - len(todo), desc="decode", unit="cand", disable=not progress,
              file=sys.stderr) as bar:

        def on_result(record: dict) -> None:
            run.add_decoded(record)
            bar.update(1)

        if client is None and scheduler is None:
            decode_stage.run_local(todo, on_result, workers=workers, decode_kwargs=decode_kwargs,
                                   hard_timeout=hard_timeout(time_limit))
        else:
            own_client = None
            if client is None:
                from distributed import Client

                try:
                    client = own_client = Client(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT)
                except (OSError, TimeoutError) as exc:
                    raise PipelineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
            try:
                decode_stage.run_dask(client, todo, on_result, decode_kwargs=decode_kwargs,
                                      hard_timeout=hard_timeout(time_limit))
            finally:
                if own_client is not None:
                    own_client.close()
    return len(todo)


def _filter(record: dict, require_topology: bool = False) -> tuple[str, str] | None:
    """Status and message of a decoded candidate that fails a validity filter, else None.

    A changed bond topology (``topology_ok`` False) is always reported in the table; it drops the candidate only
    with ``require_topology``: relaxation rarely keeps a generated graph's exact bonds (docs/pipeline.md).
    """
    if record.get("status") != "ok":
        return record.get("status") or "decode_failed", record.get("message") or ""
    if record.get("structure") is None:
        return "no_structure", "the decoder returned no structure"
    if require_topology and record.get("topology_ok") is False:
        return "topology_changed", "the relaxed crystal no longer has the string's bond graph"
    if not record.get("structure_valid"):
        return "too_close", f"two atoms are closer than 0.5 A (shortest distance {record.get('min_distance')})"
    if not record.get("composition_valid"):
        return "not_charge_balanced", "no SMACT oxidation-state assignment is neutral and electronegativity-ordered"
    return None


def _assemble(run: RunDir, strings: list[str], require_topology: bool = False) -> tuple[list[dict], dict]:
    """One row per candidate from the stored decode records, with the validity filters applied."""
    from pymatgen.core import Structure

    records = run.decoded()
    rows, structures = [], {}
    for index in range(len(strings)):
        record = dict(records[index])
        record["decode_seconds"] = record.pop("elapsed", None)
        problem = _filter(record, require_topology)
        record["valid"] = problem is None
        record["status"], record["message"] = problem or ("ok", "")
        if record.get("structure") is not None:
            structures[index] = Structure.from_dict(record["structure"])
        rows.append(record)
    return rows, structures


def _deduplicate(rows: list[dict], structures: dict, progress: bool) -> list[dict]:
    """Mark repeated crystals among the valid rows; returns the unique valid rows."""
    from tqdm.auto import tqdm

    from pipeline.novelty import find_duplicates

    valid = [r for r in rows if r["valid"]]
    items = [(r["index"], r.get("canonical"), structures[r["index"]])
             for r in tqdm(valid, desc="deduplicate", unit="cand", disable=not progress, file=sys.stderr)]
    duplicate_of = find_duplicates(items)
    unique = []
    for r in valid:
        r["duplicate_of"] = duplicate_of.get(r["index"])
        if r["duplicate_of"] is None:
            unique.append(r)
        else:
            r["status"], r["message"] = "duplicate", f"same crystal as candidate {r['duplicate_of']}"
    return unique


def _check_novelty(rows: list[dict], structures: dict, training, progress: bool) -> None:
    """Set ``novel``, ``matched_train_id`` and ``matched_by`` on each row."""
    from tqdm.auto import tqdm

    for r in tqdm(rows, desc="novelty", unit="cand", disable=not progress, file=sys.stderr):
        match = training.find(structures[r["index"]], r.get("canonical"))
        r["novel"] = match is None
        r["matched_train_id"], r["matched_by"] = (match.id, match.by) if match else (None, None)


ASSESSMENT_FIELDS = {  # Assessment attribute -> table column
    "band_gap": "band_gap_pred", "band_gap_composition": "band_gap_composition_pred",
    "formation_energy_per_atom": "formation_energy_pred", "e_above_hull": "e_above_hull",
    "decomposition": "decomposition", "below_known_hull": "below_known_hull", "novelty": "novelty",
    "known_id": "known_id", "space_group": "space_group", "space_group_number": "space_group_number",
    "symprec": "symprec", "reason": "assessment_reason",
}


def _assess(run: RunDir, rows: list[dict], structures: dict, known_materials: bool, potential: str | None,
            progress: bool) -> None:
    """Screen each row against the known materials (:func:`pipeline.assess` on the relaxed crystal), reading
    ``properties.jsonl`` for rows already assessed with the same settings."""
    from pipeline.assessment import DEFAULT_ROUTE, assess

    key = f"assess-v2:{DEFAULT_ROUTE}:{potential}:{'known' if known_materials else 'no-known'}"
    cached = {i: p for i, p in run.properties().items() if p.get("settings") == key}
    todo = [r for r in rows if r["index"] not in cached]
    if todo:
        results = assess([structures[r["index"]] for r in todo], relax=False, potential=potential,
                         energies=[r.get("energy_per_atom") for r in todo], canonicals=[r.get("canonical") for r in todo],
                         novelty=known_materials, hull=known_materials, progress=progress)
        for r, result in zip(todo, results):
            values = result.as_dict()
            cached[r["index"]] = {"index": r["index"], "settings": key,
                                  **{column: values[name] for name, column in ASSESSMENT_FIELDS.items()}}
            run.add_properties(cached[r["index"]])
    for r in rows:
        r.update({k: v for k, v in cached[r["index"]].items() if k not in ("index", "settings")})


def generate(
    n: int = 100,
    *,
    out: str | os.PathLike = "candidates",
    band_gap: float | None = None,
    formation_energy: float | None = None,
    strings: Sequence[str] | None = None,
    model=None,
    temperature: float = 1.0,
    guidance: float = 1.0,
    elements: Sequence[str] | None = None,
    max_atoms: int | None = None,
    valid_composition: bool = True,
    seed: int = 0,
    workers: int | None = None,
    client=None,
    scheduler: str | None = None,
    train_data: str | os.PathLike | None = "default",
    known_materials: bool = True,
    time_limit: float = DEFAULT_TIME_LIMIT,
    potential: str | None = None,
    gap_tolerance: float = 0.5,
    eform_tolerance: float = 0.5,
    max_e_hull: float | None = None,
    require_topology: bool = False,
    gap_predictor: str = DEFAULT_GAP_PREDICTOR,
    progress: bool = True,
    retry_failed: bool = False,
) -> GenerateResult:
    """Generate, reconstruct and screen ``n`` candidate crystals; write everything into the folder ``out``.

    ``strings`` replaces sampling by the given candidate strings. The decode stage runs on a local process pool of
    ``workers`` processes (default: all cores), or on Dask through ``client`` (a ``dask.distributed.Client``) or a
    ``scheduler`` address. ``train_data`` is a CSV with a ``cif`` column for the novelty check ("default": MP-20
    train pool; None: skip). ``known_materials`` screens against the known materials of the shared data (energy
    above the known hull, decomposition, known/new: :func:`pipeline.assess`); False skips that (formation energy,
    band gap and space group are still computed). Candidates that match a known crystal are dropped. Targets select candidates within
    ``gap_tolerance`` / ``eform_tolerance`` of ``band_gap`` / ``formation_energy``; ``max_e_hull`` (eV/atom) drops
    unstable ones; a band-gap target is checked against ``gap_predictor``'s prediction (``"composition"``, the
    default, or ``"megnet"``; :data:`pipeline.screening.GAP_PREDICTORS`). ``guidance`` is classifier-free guidance toward the targets (:func:`generative.sample`).
    ``elements``, ``max_atoms`` and ``valid_composition`` restrict the sampled chemistry (:func:`generative.sample`);
    unlike there, ``valid_composition`` is on by default: element blocks that fail the SMACT test are redrawn.
    ``require_topology`` drops candidates whose relaxed crystal no longer has the string's bonds
    (otherwise they are kept and flagged in the ``topology_ok`` column). On resume, ``retry_failed`` decodes again
    the candidates recorded as ``worker_crashed`` or ``timeout`` (other failures are final). Only one run at a time
    may write to ``out``: a second one raises :class:`PipelineError`.
    """
    criteria = Criteria(band_gap, gap_tolerance, formation_energy, eform_tolerance, max_e_hull, require_topology,
                        gap_predictor)
    _check_arguments(n, strings, band_gap, formation_energy, temperature, workers, time_limit, criteria, client,
                     scheduler, guidance, seed)
    if strings is None:
        from generative.sampling import check_chemistry

        check_chemistry(elements, max_atoms, valid_composition)  # a SamplingOptionError, before any folder is made
    from pipeline import novelty, report, screening

    if train_data == "default":
        train_data = novelty.default_train_data()
    training = novelty.TrainingSet(train_data) if train_data is not None else None  # fail early on a bad path
    if not isinstance(known_materials, bool):
        raise PipelineError(f"known_materials must be True or False, got {known_materials!r}")
    if potential is None:  # named explicitly, so that relaxation and formation energies use the same potential
        from relax.potential import DEFAULT_POTENTIAL

        potential = DEFAULT_POTENTIAL
    workers = workers or default_workers()
    decode_kwargs = {"time_limit": float(time_limit), "seed": int(seed), "potential": potential}
    if strings is not None:
        strings = [" ".join(s.split()) for s in strings]  # tokens are whitespace-separated: normalise the spacing
        source = given_source(strings)
        n = len(strings)
    else:
        source = "model:" + (str(model) if model is not None else "shipped")
    chemistry = {"elements": list(elements) if elements is not None else None, "max_atoms": max_atoms,
                 "valid_composition": valid_composition}
    settings = {"n": n, "source": source, "band_gap": band_gap, "formation_energy": formation_energy,
                "temperature": temperature, "guidance": guidance, "seed": seed, "time_limit": float(time_limit),
                "potential": potential, **(chemistry if strings is None else {})}
    with RunDir(out) as run:  # holds the folder's lock until the run is written
        run.check_settings(settings)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        stored = run.load_samples()
        if stored is None:
            stored = strings if strings is not None else _sample(n, band_gap, formation_energy, temperature, seed,
                                                                 model, progress, guidance, chemistry)
            run.save_samples(stored)
        strings = stored
        timings["sample"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        decoded_now = _decode(run, strings, workers=workers, client=client, scheduler=scheduler,
                              decode_kwargs=decode_kwargs, time_limit=time_limit, progress=progress,
                              retry_failed=retry_failed)
        timings["decode"] = time.perf_counter() - t0

        rows, structures = _assemble(run, strings, criteria.require_topology)
        t0 = time.perf_counter()
        unique = _deduplicate(rows, structures, progress)
        timings["deduplicate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if training is not None:
            _check_novelty(unique, structures, training, progress)
        timings["novelty"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _assess(run, unique, structures, known_materials, potential, progress)
        for r in unique:
            if r.get("novel") is False:
                r["status"], r["message"] = "known", f"matches training crystal {r['matched_train_id']} ({r['matched_by']})"
            elif r.get("novelty") == "known":
                r["status"], r["message"] = "known", f"matches known crystal {r['known_id']}"
            elif failed := screening.screen(r, criteria):
                r["status"], r["message"] = failed
        timings["assess"] = time.perf_counter() - t0

        report.write_cifs(run, rows, structures)
        report.write_table(run, rows)
        summary = report.summarise(rows, timings)
        summary["decoded_now"] = decoded_now
        report.write_report(run, rows, summary, settings, criteria)
        return GenerateResult(out=run.root, rows=rows, summary=summary, decoded_now=decoded_now, timings=timings)
