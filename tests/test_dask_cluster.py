"""Scale past one machine, really (issue 21): a Dask scheduler and two workers started as separate processes on the
loopback (``dask scheduler``, ``dask worker``, as on a real cluster), ``slices generate --scheduler tcp://...`` run
against them, one worker killed (nanny and all) while it holds work, and the run must complete with every candidate
accounted for.

Nothing depends on speed: the worker is killed as soon as the first candidate is recorded, however long that takes;
the time limits are hang guards far beyond any loaded machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from shared_paths import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD = 1800.0  # seconds; a hang guard only


def _dask_command() -> str:
    beside = Path(sys.executable).with_name("dask")
    found = str(beside) if beside.exists() else shutil.which("dask")
    if not found:
        pytest.skip("the dask command line is not installed")
    return found


def _wait(condition, what: str, procs: list[subprocess.Popen]):
    """Poll ``condition()`` until it is truthy (returned), failing if a process died or the hang guard passed."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        value = condition()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{what}: {proc.args[:3]} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {HANG_GUARD:.0f} s")
        time.sleep(0.2)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)


@pytest.fixture
def cluster_env(shared_models, tmp_path):
    """The environment of every process of the cluster: this source tree first, the shared models, one thread,
    non-daemonic workers (the GFN-FF stage may start a child process: docs/pipeline.md)."""
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               SLICES_MODEL_DIR=shared_models, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               DASK_DISTRIBUTED__WORKER__DAEMON="False", DASK_TEMPORARY_DIRECTORY=str(tmp_path / "dask-scratch"))
    return env


def test_generate_on_a_real_cluster_survives_a_killed_worker(cluster_env, tmp_path):
    from distributed import Client

    dask = _dask_command()
    reference = pd.read_csv(SHARED_DATA / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz")
    strings = reference["SLICES"].iloc[1:9].tolist()  # small MP-20 crystals: seconds each
    (tmp_path / "strings.txt").write_text("\n".join(strings) + "\n")
    scheduler_file = tmp_path / "scheduler.json"
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("scheduler", "w0", "w1")}
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["scheduler"] = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(scheduler_file)], env=cluster_env, cwd=tmp_path, stdout=logs["scheduler"], stderr=subprocess.STDOUT,
            start_new_session=True)
        _wait(lambda: scheduler_file.exists() and scheduler_file.stat().st_size, "scheduler start",
              [procs["scheduler"]])
        address = _wait(lambda: json.loads(scheduler_file.read_text() or "{}").get("address"), "scheduler address",
                        [procs["scheduler"]])
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("w0", "w1"):
            procs[name] = subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--name", name, "--no-dashboard", "--host", "127.0.0.1"],
                env=cluster_env, cwd=tmp_path, stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True)
        with Client(address, timeout=120) as watcher:
            watcher.wait_for_workers(2, timeout=HANG_GUARD)
            out = tmp_path / "run"
            procs["generate"] = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "generate", "--strings", str(tmp_path / "strings.txt"),
                 "--scheduler", address, "--out", str(out), "--train-data", "none", "--no-known-materials",
                 "--no-progress"], env=cluster_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True)
            log = out / "decoded.jsonl"
            everyone = list(procs.values())
            _wait(lambda: log.exists() and log.read_text().strip(), "first candidate", everyone)

            def busy_worker():
                """The name of a worker holding unfinished decode tasks, once the scheduler reports one."""
                names = {addr: w["name"] for addr, w in watcher.scheduler_info()["workers"].items()}
                holding = {names.get(addr): keys for addr, keys in watcher.processing().items() if keys}
                return next((name for name in ("w0", "w1") if holding.get(name)), None)

            victim = _wait(busy_worker, "a worker holding work", everyone)
            done_at_kill = len(log.read_text().splitlines())
            assert procs["generate"].poll() is None and done_at_kill < len(strings), "the run ended before the kill"
            _kill_group(procs[victim])  # the nanny and its worker: the machine is gone
            survivor = procs["w1" if victim == "w0" else "w0"]
            stdout, stderr = procs["generate"].communicate(timeout=HANG_GUARD)
            assert survivor.poll() is None
    finally:
        for proc in procs.values():
            _kill_group(proc)
        for fh in logs.values():
            fh.close()
    assert procs["generate"].returncode == 0, stderr[-2000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["index"] for r in records) == list(range(len(strings)))  # each candidate decoded once
    assert not [r for r in records if r["status"] in ("worker_crashed", "timeout")]  # the killed tasks were rerun
    table = pd.read_csv(out / "candidates.csv")
    assert table["index"].tolist() == list(range(len(strings)))
    assert table["string"].tolist() == [" ".join(s.split()) for s in strings] and table["status"].notna().all()
    assert (table["status"] == "ok").sum() >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampled"] == len(strings) and sum(summary["status_counts"].values()) == len(strings)
    assert f"candidates kept -> {out}" in stdout
