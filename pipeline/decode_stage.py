"""The decode stage: one candidate string -> relaxed crystal + validity facts, run on a process pool or on Dask.

:func:`decode_candidate` is the unit of work. It runs in a worker process (local pool) or on a Dask worker and
returns a JSON-ready record; the project's own errors become the record's status, anything else is a bug and stops
the run. :func:`run_local` and :func:`run_dask` hand the records to a callback as they complete, so the caller can
write each to disk at once. A crashed worker process or a candidate that exceeds its hard time limit becomes a record
with status ``worker_crashed`` or ``timeout``; the run goes on.
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures import as_completed
from typing import Callable, Iterable

from pipeline.errors import PipelineError

Task = tuple[int, str]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The environment variables that set the thread pools of libraries not loaded yet."""


def _limit_threads() -> None:
    """One compute thread per task: the pool (or Dask) provides the parallelism. Torch's threads, and the BLAS and
    OpenMP pools numpy and scipy loaded before this ran (the environment variables only reach libraries not yet
    loaded): BFGS's eigendecompositions on two BLAS threads beside another worker cost 1.6x the CPU."""
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    import torch
    from threadpoolctl import threadpool_limits

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    threadpool_limits(limits=1)


def _reason_code(exc: BaseException) -> str:
    """A reason code for an exception: its own ``reason`` if it has one, else its class name in snake case."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def failure(index: int, string: str, status: str, message: str, elapsed: float | None = None) -> dict:
    """The record of a candidate that produced no crystal."""
    return {"index": index, "string": string, "status": status, "message": message, "elapsed": elapsed}


def decode_candidate(index: int, string: str, decode_kwargs: dict | None = None) -> dict:
    """Decode one candidate and measure what the filters need.

    The project's own errors (a string without a canonical form, a failed reconstruction) become the record's
    status; any other exception is a bug and propagates (the run stops; finished records are on disk)."""
    from pymatgen.core import Structure

    import slices
    from slices.decode import decode_report
    from slices.errors import SlicesError

    from screening import checks

    _limit_threads()
    start, cpu_start = time.perf_counter(), time.process_time()
    record: dict = {"index": index, "string": string}
    try:
        record["canonical"] = slices.canonical(string)
    except SlicesError as exc:
        return failure(index, string, _reason_code(exc), str(exc), time.perf_counter() - start)
    try:
        report = decode_report(string, **(decode_kwargs or {}))
    except SlicesError as exc:
        return failure(index, string, _reason_code(exc), str(exc), time.perf_counter() - start)

    structure: Structure | None = report.structure
    record.update(
        status=str(report.status),
        message=str(report.message or ""),
        energy_per_atom=report.energy_per_atom,
        stage_times=dict(report.timings),
        stage_status=dict(report.stage_status),
        topology_ok=report.topology_ok,
    )
    if structure is not None:
        record.update(
            formula=structure.composition.reduced_formula,
            n_atoms=len(structure),
            min_distance=checks.min_distance(structure),
            structure_valid=checks.structure_valid(structure),
            composition_valid=checks.composition_valid(structure.composition),
            structure=structure.as_dict(),
        )
    record["elapsed"] = time.perf_counter() - start
    record["cpu_seconds"] = time.process_time() - cpu_start  # this worker's CPU for the candidate
    return record


def _init_worker(potential: str | None = None) -> None:
    """Start a worker: one compute thread, then the imports and the potential its tasks need, loaded now so that a
    worker started early (:class:`LocalPool`) is ready when its first task arrives."""
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    if potential is None:
        return
    _limit_threads()
    import slices.decode  # noqa: F401  (the decoder and the reconstruction behind it)
    from relax.potentials import get_potential

    from screening import checks  # noqa: F401

    try:
        get_potential(potential).calculator()
    except Exception:  # noqa: BLE001 - only a head start: the task loads it again and reports what is wrong
        pass


def _ready() -> None:
    """A task that does nothing: scheduling it starts the pool's workers."""


class LocalPool:
    """The local worker processes of the decode stage (pebble, spawned), started when it is made: each imports the
    decoder and loads ``potential`` while the caller goes on (sampling, loading the known materials), instead of
    after the candidates are handed over (about 10 s per worker). A context manager; :func:`run_local` uses and
    closes it."""

    def __init__(self, workers: int, potential: str | None = None):
        import multiprocessing

        from pebble import ProcessPool

        self.workers = workers
        self.finished = False  # closed or stopped: nothing left to clean up
        self.pool = ProcessPool(max_workers=workers, initializer=_init_worker, initargs=(potential,),
                                context=multiprocessing.get_context("spawn"))
        self.pool.schedule(_ready)

    def stop(self) -> None:
        """Kill the workers (an interrupted or failed run, or no work for them) and wait for them."""
        self.finished = True
        self.pool.stop()
        self.pool.join()

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc) -> None:
        if not self.finished:
            self.stop()


def run_local(
    tasks: Iterable[Task],
    on_result: Callable[[dict], None],
    *,
    workers: int,
    decode_kwargs: dict,
    hard_timeout: float,
    fn: Callable[..., dict] | None = None,
    pool: LocalPool | None = None,
) -> None:
    """Decode ``tasks`` on a pool of ``workers`` processes (pebble), calling ``on_result`` as each finishes.

    ``fn(index, string, decode_kwargs)`` does one task (default :func:`decode_candidate`); it must be importable
    by the worker processes. ``pool``: workers started earlier (:class:`LocalPool`), used instead of new ones and
    closed at the end.

    A task still running after ``hard_timeout`` seconds is killed (its worker is replaced) and recorded as
    ``timeout``; a worker that dies (segfault, out of memory) is recorded as ``worker_crashed``.
    """
    from concurrent.futures.process import BrokenProcessPool

    from pebble import ProcessExpired

    fn = fn or decode_candidate
    tasks = list(tasks)
    if not tasks:
        if pool is not None:
            pool.stop()
        return
    local = pool or LocalPool(min(workers, len(tasks)), decode_kwargs.get("potential"))
    pool = local.pool
    try:
        futures = {
            pool.schedule(fn, args=(i, s, decode_kwargs), timeout=hard_timeout): (i, s) for i, s in tasks
        }
        for future in as_completed(futures):
            index, string = futures[future]
            try:
                record = future.result()
            except FuturesTimeout:
                record = failure(index, string, "timeout", f"no result within the hard limit of {hard_timeout:.0f} s")
            except ProcessExpired as exc:
                record = failure(index, string, "worker_crashed", f"the worker process died (exit code {exc.exitcode})")
            except BrokenProcessPool as exc:  # the pool itself failed: not this candidate's fault, nothing recorded
                hint = "; in a script, call generate() under `if __name__ == '__main__':` (workers are spawned)"
                raise PipelineError(f"the local worker pool failed ({type(exc).__name__}: {exc}){hint}") from exc
            on_result(record)
        pool.close()
    except BaseException:
        pool.stop()  # interrupted: kill the workers; finished records are already on disk
        raise
    finally:
        local.finished = True
        pool.join()


def worker_is_daemonic() -> bool:
    """True in a daemonic process (which may not start the child processes the GFN-FF stage runs in)."""
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def check_dask_workers(client) -> None:
    """Fail early, with the fix, when the Dask workers cannot run the decode stage."""
    try:
        daemonic = client.run(worker_is_daemonic)
    except Exception as exc:
        raise PipelineError(
            f"the Dask workers cannot run the decode stage ({type(exc).__name__}: {exc}); they need this package "
            f"and its dependencies installed"
        ) from exc
    if any(daemonic.values()):
        raise PipelineError(
            "the Dask workers are daemonic processes, which cannot start the child process that isolates GFN-FF; "
            "start them with DASK_DISTRIBUTED__WORKER__DAEMON=False (dask worker), or call "
            "dask.config.set({'distributed.worker.daemon': False}) before creating a LocalCluster"
        )


def run_dask(
    client,
    tasks: Iterable[Task],
    on_result: Callable[[dict], None],
    *,
    decode_kwargs: dict,
    hard_timeout: float,
    fn: Callable[..., dict] | None = None,
) -> None:
    """Decode ``tasks`` on a Dask cluster through ``client`` (``Client.map`` + ``distributed.as_completed``).

    A task whose worker dies repeatedly (Dask's ``KilledWorker``) is recorded as ``worker_crashed``. Dask cannot kill
    one running task, so the hard limit applies to the whole stage: tasks unfinished after
    ``hard_timeout * ceil(tasks / worker threads)`` seconds are cancelled and recorded as ``timeout``.
    """
    from distributed import KilledWorker
    from distributed import as_completed as dask_as_completed

    fn = fn or decode_candidate
    tasks = list(tasks)
    if not tasks:
        return
    check_dask_workers(client)
    indices = [i for i, _ in tasks]
    strings = [s for _, s in tasks]
    run = uuid.uuid4().hex[:8]  # keys unique per run: a client reused across runs must not hand back old results
    futures = client.map(
        fn, indices, strings, decode_kwargs=decode_kwargs, key=[f"slices-decode-{run}-{i}" for i in indices]
    )
    by_key = {f.key: t for f, t in zip(futures, tasks)}
    threads = max(1, sum(client.nthreads().values()))
    budget = hard_timeout * math.ceil(len(tasks) / threads) + 60.0
    pending = set(by_key)
    try:
        for future in dask_as_completed(futures, timeout=budget):
            index, string = by_key[future.key]
            pending.discard(future.key)
            try:
                record = future.result()
            except KilledWorker as exc:
                record = failure(index, string, "worker_crashed", f"Dask workers died running it: {exc}")
            on_result(record)
            future.release()
    except TimeoutError:
        for future in futures:
            if future.key in pending:
                future.cancel()
                index, string = by_key[future.key]
                on_result(failure(index, string, "timeout", f"unfinished after the stage limit of {budget:.0f} s"))
    except BaseException:
        client.cancel([f for f in futures if f.key in pending])
        raise
