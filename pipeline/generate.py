"""The end-to-end candidate generator: sample -> decode and relax (in parallel) -> filter -> deduplicate -> novelty
-> property screening -> CIFs, table and report. See ``docs/pipeline.md``.

Every finished piece of work is on disk before the next starts (``pipeline.rundir``), so calling :func:`generate`
again with the same ``out`` resumes where the last call stopped and redoes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from periodicnet.errors import ArgumentError
from pipeline.criteria import Criteria, screen
from pipeline.errors import PipelineError
from pipeline.options import Runner, Sampling
from pipeline.rundir import RunDir, given_source

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


def _sample(sampling: Sampling, progress: bool) -> list[str]:
    """Sample the strings on one torch thread, as ``slices sample`` does (torch's default thread count made the
    stage 2.5x slower with one core busy and 45x slower beside a heavier job, issue 18); the caller's thread count
    is restored afterwards."""
    from tqdm.auto import tqdm

    import generative

    with _one_torch_thread(), tqdm(total=sampling.n, desc="sample", unit="str", disable=not progress,
                                   file=sys.stderr) as bar:
        strings = generative.sample(sampling.n, band_gap=sampling.band_gap,
                                    formation_energy=sampling.formation_energy, temperature=sampling.temperature,
                                    seed=sampling.seed, model=sampling.model, guidance=sampling.guidance,
                                    **sampling.chemistry)
        bar.update(len(strings))
    return list(strings)


@contextlib.contextmanager
def _one_torch_thread():
    """Torch (and BLAS) on one thread in this process for the block, the caller's counts restored after: while sampling, and
    while the decode workers hold the cores (the scoring single points then run beside them; with torch's default
    of a thread per core they would compete with the workers for every core)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):  # numpy's and scipy's BLAS and OpenMP pools too
            yield
    finally:
        torch.set_num_threads(threads)


def _done(run: RunDir, runner: Runner) -> dict[int, dict]:
    """The decode records on disk that count as done (with ``retry_failed``, not those of a killed or crashed
    worker: :data:`RETRIED_STATUSES`)."""
    done = run.decoded()
    if runner.retry_failed:
        done = {i: r for i, r in done.items() if r.get("status") not in RETRIED_STATUSES}
    return done


def _early_pool(runner: Runner, remaining: int, potential: str):
    """The local decode workers, started before sampling so that they load while the strings are sampled (a
    :class:`pipeline.decode_stage.LocalPool`); a no-op context with Dask or when nothing is left to decode."""

    from pipeline import decode_stage

    if runner.client is not None or runner.scheduler is not None or remaining <= 0:
        return contextlib.nullcontext()
    return decode_stage.LocalPool(min(runner.workers or default_workers(), remaining), potential)


class _Scorer:
    """Scores decoded crystals with the scoring potential in a background thread of the main process while the
    workers decode the rest (the main process only waits then): the single points :func:`_assess` would otherwise
    compute one after the other once decoding is over (0.2 s each for SevenNet-l3i5). The same process and thread
    settings as the assessment, so the same numbers; a crystal it cannot score is left to the assessment."""

    def __init__(self, background: ThreadPoolExecutor, potential: str, score_with: str | None, hull: bool,
                 active: bool = True):
        from screening.assessment import prepare, resolve_potentials

        self.background = background
        # None: the relaxing potential scores, or nothing to decode (a resumed run loads in the assessment, if needed)
        self.score_with = resolve_potentials(potential, score_with)[1] if active else None
        self.futures: dict[int, object] = {}
        self.prepared = background.submit(prepare, potential, score_with, hull=hull) if active else None

    def submit(self, record: dict) -> None:
        """Score the record's crystal in the background (decoded ``ok`` records with a structure only)."""
        if self.score_with is not None and record.get("status") == "ok" and record.get("structure") is not None:
            self.futures[record["index"]] = self.background.submit(self._score, record["structure"])

    def _score(self, structure: dict) -> float | None:
        from pymatgen.core import Structure

        from periodicnet.structure import to_structure
        from screening.formation import potential_energy
        from slices.errors import SlicesError

        try:  # the crystal as the assessment takes it (screening.assess: to_structure without the size check)
            return potential_energy(to_structure(Structure.from_dict(structure), check=False), self.score_with)
        except SlicesError:
            return None  # the assessment tries again and notes why on the row

    def scores(self) -> dict[int, float | None]:
        """Wait for the background work; the scores by candidate index (re-raises a bug met there)."""
        if self.prepared is not None:
            self.prepared.result()
        return {index: future.result() for index, future in self.futures.items()}


class _StageCpu:
    """CPU seconds of the main process (all its threads) per stage: ``start`` is what it spent before the run
    (interpreter, imports, the known-materials index), each :meth:`mark` what it spent since the last one; with the
    decode records' ``cpu_seconds`` (the workers' CPU per candidate) it says where a run's CPU goes
    (``benchmarks/bench_generate.py``)."""

    def __init__(self):
        self.last = time.process_time()
        self.seconds: dict[str, float] = {"start": self.last}

    def mark(self, stage: str) -> None:
        now = time.process_time()
        self.seconds[stage] = now - self.last
        self.last = now


def _largest_first(task: tuple[int, str]) -> tuple[int, int]:
    """Order of the decode tasks: the larger cells (the longer relaxations) first, so that the last tasks are short
    and no worker idles long while another finishes (each candidate's result does not depend on the order)."""
    import slices
    from slices.errors import SlicesError

    index, string = task
    try:
        atoms = len(slices.parse(string).species)
    except SlicesError:
        atoms = 0  # fails at once in the worker too
    return -atoms, index


@contextlib.contextmanager
def _shut_down_on_exit(executor: ThreadPoolExecutor):
    """Shut ``executor`` down on leaving, dropping the work not started yet (a failed run does not wait for it)."""
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _decode(run: RunDir, strings: list[str], runner: Runner, decode_kwargs: dict, pool=None,
            scorer: _Scorer | None = None) -> int:
    """Decode every candidate not yet on disk (see :func:`_done`), on ``pool`` (local workers started earlier) if
    given, handing each new record to ``scorer``; returns how many were decoded now."""
    from tqdm.auto import tqdm

    from pipeline import decode_stage

    workers, client, scheduler, time_limit, progress = (runner.workers or default_workers(), runner.client,
                                                        runner.scheduler, runner.time_limit, runner.progress)
    done = _done(run, runner)
    todo = sorted(((i, s) for i, s in enumerate(strings) if i not in done), key=_largest_first)
    if not todo:
        if pool is not None:
            pool.stop()
        return 0
    with tqdm(total=len(strings), initial=len(strings) - len(todo), desc="decode", unit="cand", disable=not progress,
              file=sys.stderr) as bar:

        def on_result(record: dict) -> None:
            run.add_decoded(record)
            if scorer is not None:
                scorer.submit(record)
            bar.update(1)

        if client is None and scheduler is None:
            decode_stage.run_local(todo, on_result, workers=workers, decode_kwargs=decode_kwargs,
                                   hard_timeout=hard_timeout(time_limit), pool=pool)
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
    """Mark repeated crystals among the valid rows; returns the unique valid rows.

    Crystals are compared as relaxed structures (``StructureMatcher`` within a formula), not by the sampled
    strings: relaxation often changes a generated crystal's bonds, so two different strings can relax into one
    crystal (and the string of a relaxed crystal is not the sampled one)."""
    from tqdm.auto import tqdm

    from screening.matching import find_duplicates

    valid = [r for r in rows if r["valid"]]
    items = [(r["index"], None, structures[r["index"]])
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


ASSESSMENT_FIELDS = ("band_gap", "band_gap_composition", "formation_energy_per_atom", "e_above_hull", "decomposition",
                     "below_known_hull", "novelty", "known_id", "matched_by", "space_group", "space_group_number",
                     "symprec", "reason")
"""The :class:`screening.Assessment` fields a candidate row carries, under the same names."""


def _known_index(criteria: Criteria, progress: bool):
    """The known-materials index the candidates are judged against (None: no novelty check)."""
    from screening.known import default_train_data, known_index

    train_data = default_train_data() if criteria.train_data == "default" else criteria.train_data
    extra = [train_data] if train_data is not None else []
    if not criteria.known_materials and not extra:
        return None
    return known_index(extra, shared=criteria.known_materials, progress=progress)


def _assess(run: RunDir, rows: list[dict], structures: dict, criteria: Criteria, index, potential: str | None,
            score_with: str | None, progress: bool, scores: dict[int, float | None] | None = None) -> None:
    """Screen each row against the known materials (:func:`screening.assess` on the relaxed crystal), reading
    ``properties.jsonl`` for rows already assessed with the same settings.

    The known-structure lookup encodes each relaxed crystal itself (no sampled string is passed on): relaxation
    often changes a generated crystal's bonds."""
    from screening.assessment import DEFAULT_ROUTE, assess

    scored = f"{potential}>{score_with}" if score_with else potential
    key = (f"assess-v3:{DEFAULT_ROUTE}:{scored}:{'known' if criteria.known_materials else 'no-known'}:"
           f"{criteria.train_data}")
    cached = {i: p for i, p in run.properties().items() if p.get("settings") == key}
    todo = [r for r in rows if r["index"] not in cached]
    if todo:
        results = assess([structures[r["index"]] for r in todo], relax=False, potential=potential,
                         score_with=score_with or potential,
                         energies=[r.get("energy_per_atom") for r in todo],
                         scores=[(scores or {}).get(r["index"]) for r in todo], index=index,
                         novelty=index is not None, hull=criteria.known_materials, progress=progress)
        for r, result in zip(todo, results):
            values = result.as_dict()
            cached[r["index"]] = {"index": r["index"], "settings": key,
                                  **{name: values[name] for name in ASSESSMENT_FIELDS}}
            run.add_properties(cached[r["index"]])
    for r in rows:
        r.update({k: v for k, v in cached[r["index"]].items() if k not in ("index", "settings")})


def generate(sampling: Sampling = Sampling(), criteria: Criteria = Criteria(), *,
             out: str | os.PathLike = "candidates", runner: Runner = Runner()) -> GenerateResult:
    """Generate, reconstruct and screen candidate crystals; write everything into the folder ``out``.

    ``sampling`` says what to sample (or which strings to screen), ``criteria`` what a kept candidate must satisfy
    (new, on target, close to the hull) and ``runner`` where the work runs (:mod:`pipeline.options`). Calling it
    again with the same ``out`` resumes; a run made with other settings in that folder raises
    :class:`pipeline.errors.RunMismatchError`. Only one run at a time may write to ``out``.
    """
    for name, value, kind in (("sampling", sampling, Sampling), ("criteria", criteria, Criteria),
                              ("runner", runner, Runner)):
        if not isinstance(value, kind):
            raise ArgumentError(f"{name} must be a {kind.__module__}.{kind.__name__}, got {type(value).__name__}")
    if sampling.strings is None:
        from generative.sampling import check_chemistry

        check_chemistry(sampling.elements, sampling.max_atoms, sampling.valid_composition)  # before any folder
    from pipeline import report

    index = _known_index(criteria, runner.progress)  # fails early on a bad training-set path
    potential = runner.potential
    if potential is None:  # named explicitly, so that relaxation and formation energies use the same potential
        from relax.potential import DEFAULT_POTENTIAL

        potential = DEFAULT_POTENTIAL
    score_with = runner.score_with
    if score_with is None:
        from screening.assessment import DEFAULT_SCORE_WITH

        score_with = DEFAULT_SCORE_WITH
    decode_kwargs = {"time_limit": float(runner.time_limit), "seed": int(sampling.seed), "potential": potential}
    if sampling.strings is not None:
        source = given_source(list(sampling.strings))
    else:
        source = "model:" + (str(sampling.model) if sampling.model is not None else "shipped")
    settings = {"n": sampling.n, "source": source, "band_gap": sampling.band_gap,
                "formation_energy": sampling.formation_energy, "temperature": sampling.temperature,
                "guidance": sampling.guidance, "seed": sampling.seed, "time_limit": float(runner.time_limit),
                "potential": potential, **({"score_with": score_with} if score_with else {}),
                **(sampling.chemistry if sampling.strings is None else {})}
    progress = runner.progress
    with RunDir(out) as run:  # holds the folder's lock until the run is written
        run.check_settings(settings)
        timings: dict[str, float] = {}
        cpu = _StageCpu()

        background = ThreadPoolExecutor(1, thread_name_prefix="slices-assess-prepare")
        remaining = sampling.n - len(_done(run, runner))  # candidates left to decode
        with _early_pool(runner, remaining, potential) as pool, _shut_down_on_exit(background):
            t0 = time.perf_counter()
            stored = run.load_samples()
            if stored is None:
                stored = list(sampling.strings) if sampling.strings is not None else _sample(sampling, progress)
                run.save_samples(stored)
            strings = stored
            timings["sample"] = time.perf_counter() - t0
            cpu.mark("sample")

            # while the workers decode, the main process loads what the assessment needs and scores
            scorer = _Scorer(background, potential, score_with, criteria.known_materials, active=remaining > 0)
            t0 = time.perf_counter()
            with _one_torch_thread():
                decoded_now = _decode(run, strings, runner, decode_kwargs, pool, scorer)
                timings["decode"] = time.perf_counter() - t0
                cpu.mark("decode")
                t0 = time.perf_counter()
                scores = scorer.scores()
                waited = time.perf_counter() - t0  # the scoring not done during the decode: part of the assessment

        rows, structures = _assemble(run, strings, criteria.require_topology)
        t0 = time.perf_counter()
        unique = _deduplicate(rows, structures, progress)
        timings["deduplicate"] = time.perf_counter() - t0
        cpu.mark("deduplicate")
        t0 = time.perf_counter()
        _assess(run, unique, structures, criteria, index, potential, score_with, progress, scores)
        for r in unique:
            if r.get("novelty") == "known":
                r["status"], r["message"] = "known", f"matches known crystal {r['known_id']} ({r['matched_by']})"
            elif failed := screen(r, criteria):
                r["status"], r["message"] = failed
        timings["assess"] = time.perf_counter() - t0 + waited
        cpu.mark("assess")

        report.write_cifs(run, rows, structures)
        report.write_table(run, rows)
        cpu.mark("write")
        summary = report.summarise(rows, timings)
        summary["decoded_now"] = decoded_now
        summary["main_cpu_s"] = cpu.seconds
        report.write_report(run, rows, summary, settings, criteria)
        return GenerateResult(out=run.root, rows=rows, summary=summary, decoded_now=decoded_now, timings=timings)
