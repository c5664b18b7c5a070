"""The local process pool contains crashes and runaway tasks: real worker processes, real signals, real timeouts."""

from __future__ import annotations

import os
import time

from pipeline.decode_stage import run_local


def _task(index: int, string: str, decode_kwargs: dict) -> dict:
    """A stand-in unit of work for the pool machinery itself (the engine is exercised in test_pipeline_generate)."""
    if string == "crash":
        os.abort()  # SIGABRT: the worker process dies as it would on a segfault in native code
    if string == "hang":
        time.sleep(900)
    return {"index": index, "string": string, "status": "ok", "pid": os.getpid()}


def test_crash_and_timeout_are_contained_and_the_rest_finish():
    records = []
    tasks = [(0, "a"), (1, "crash"), (2, "b"), (3, "hang"), (4, "c")]
    start = time.perf_counter()
    run_local(tasks, records.append, workers=2, decode_kwargs={}, hard_timeout=3.0, fn=_task)
    elapsed = time.perf_counter() - start
    by_index = {r["index"]: r for r in records}
    assert sorted(by_index) == [0, 1, 2, 3, 4]
    assert by_index[1]["status"] == "worker_crashed"
    assert "exit code" in by_index[1]["message"]
    assert by_index[3]["status"] == "timeout"
    assert [by_index[i]["status"] for i in (0, 2, 4)] == ["ok", "ok", "ok"]
    assert elapsed < 900  # the hung task was killed, not waited for (a bound no loaded machine comes near)


def test_worker_processes_are_not_the_parent():
    records = []
    run_local([(0, "a"), (1, "b")], records.append, workers=2, decode_kwargs={}, hard_timeout=30.0, fn=_task)
    assert {r["status"] for r in records} == {"ok"}
    assert os.getpid() not in {r["pid"] for r in records}


def _pid_task(index: int, string: str, decode_kwargs: dict) -> dict:
    return {"index": index, "string": string, "status": "ok", "pid": os.getpid()}


def test_a_pool_started_early_runs_the_tasks_and_is_closed():
    from pipeline.decode_stage import LocalPool

    records = []
    with LocalPool(2) as pool:  # workers start now (as generate starts them before sampling)
        run_local([(0, "a"), (1, "b"), (2, "c")], records.append, workers=2, decode_kwargs={}, hard_timeout=30.0,
                  fn=_pid_task, pool=pool)
        assert pool.finished
    assert sorted(r["index"] for r in records) == [0, 1, 2]
    assert os.getpid() not in {r["pid"] for r in records}


def test_an_early_pool_left_unused_is_stopped():
    from pipeline.decode_stage import LocalPool

    with LocalPool(1) as pool:
        processes = list(pool.pool._pool_manager.worker_manager.workers.values())
        assert processes and all(p.is_alive() for p in processes)
    assert pool.finished
    assert not any(p.is_alive() for p in processes)
