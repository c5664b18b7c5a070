"""The run folder under abuse: damaged files, bad --out paths, two runs at once, file modes, --retry-failed.

One real run of :func:`pipeline.generate.generate` over strings that fail before the reconstruction (fast, but the
whole path: worker pool, records, table, report) is made once; each case damages a copy of it and resumes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline_support import run_generate
from pipeline.rundir import RunDir, append_line, ensure_folder, write_atomic

ROOT = Path(__file__).resolve().parents[1]
# strings that fail in the codec (in the worker, before any relaxation): the run is quick and fully real
GIVEN = ["Na Cl 0 ² ooo", "Qq Cl 0 1 ooo", "Na Cl 0 1 ooo", "Na Cl 0 1", "Na Cl 0 ⁰ +oo", "K Br 0 1 oo"]
STATUS = ["parse_error", "unknown_element_error", "low_dimensional", "parse_error", "parse_error", "image_label_error"]
OPTIONS = dict(strings=GIVEN, workers=1, train_data=None, known_materials=False, progress=False)
FILE_MODE = 0o644  # 0666 less the umask the fixture sets


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run folder, written under umask 022."""
    out = tmp_path_factory.mktemp("rel") / "run"
    old = os.umask(0o022)
    try:
        result = run_generate(out=out, **OPTIONS)
    finally:
        os.umask(old)
    assert [r["status"] for r in result.rows] == STATUS
    return out


@pytest.fixture
def copy(finished, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished, target)
    return target


def _resume(out: Path):
    return run_generate(out=out, **OPTIONS)


def test_resuming_an_intact_copy_does_no_work(copy):
    assert _resume(copy).decoded_now == 0


def _random_bytes_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = bytes(range(128, 256)) + b"\n"
    path.write_bytes(b"".join(lines))


def _non_object_line(path: Path) -> None:
    with open(path, "a") as fh:
        fh.write("[1, 2, 3]\n")


def _index_out_of_range(path: Path) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps({"index": 99, "status": "ok"}) + "\n")


def _other_string(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["string"] = "Cu 0 0 +oo 0 0 o+o 0 0 oo+"
    lines[0] = json.dumps(record) + "\n"
    path.write_text("".join(lines))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _json_list(path: Path) -> None:
    path.write_text("[]\n")


def _fewer_strings(path: Path) -> None:
    path.write_text(json.dumps({"strings": GIVEN[:4]}) + "\n")


def _changed_strings(path: Path) -> None:
    path.write_text(json.dumps({"strings": [s + " 0 1 ooo" for s in GIVEN]}) + "\n")


def _junk_properties(path: Path) -> None:
    path.write_bytes(b'{"index": 0}\n\xff\xfe junk\n')


DAMAGE = {
    "properties.jsonl: a line of junk": ("properties.jsonl", _junk_properties, "line 2 is not UTF-8"),
    "decoded.jsonl: a line of random bytes": ("decoded.jsonl", _random_bytes_line, "line 3 is not UTF-8"),
    "decoded.jsonl: a JSON line that is not an object": ("decoded.jsonl", _non_object_line, "not an object"),
    "decoded.jsonl: a record of no candidate": ("decoded.jsonl", _index_out_of_range, "names no candidate"),
    "decoded.jsonl: a record of another string": ("decoded.jsonl", _other_string, "holds another string"),
    "run.json truncated": ("run.json", _truncate, "not valid JSON"),
    "run.json empty": ("run.json", _empty, "empty"),
    "run.json not an object": ("run.json", _json_list, "not an object"),
    "samples.json truncated": ("samples.json", _truncate, "not valid JSON"),
    "samples.json empty": ("samples.json", _empty, "empty"),
    "samples.json not an object": ("samples.json", _json_list, "strings"),
    "samples.json shorter than run.json says": ("samples.json", _fewer_strings, "holds 4 strings but run.json says n = 6"),
    "samples.json with other strings": ("samples.json", _changed_strings, "not the ones given"),
}


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_damaged_run_folder_names_the_file_and_what_to_do(copy, case):
    name, damage, problem = DAMAGE[case]
    damage(copy / name)
    with pytest.raises(PipelineError) as info:
        _resume(copy)
    message = str(info.value)
    assert str(copy / name) in message and "damaged" in message and problem in message
    assert "delete" in message  # what to do


def test_following_the_advice_recovers_a_damaged_line(copy):
    _random_bytes_line(copy / "decoded.jsonl")
    with pytest.raises(PipelineError, match=r"sed -i '3d'"):
        _resume(copy)
    subprocess.run(["sed", "-i", "3d", str(copy / "decoded.jsonl")], check=True)
    result = _resume(copy)
    assert result.decoded_now == 1  # only the candidate whose line was damaged
    assert [r["status"] for r in result.rows] == STATUS


def test_a_torn_last_line_is_still_recovered_silently(copy):
    lines = (copy / "decoded.jsonl").read_bytes().splitlines(keepends=True)
    (copy / "decoded.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:10])  # killed mid-write
    result = _resume(copy)
    assert result.decoded_now == 1 and [r["status"] for r in result.rows] == STATUS


def test_every_output_file_has_the_users_umask(finished):
    files = [p for p in finished.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"run.json", "samples.json", "decoded.jsonl", "candidates.csv", "candidates.json", "report.md",
            "report.html", "summary.json", "status.png", ".lock"} <= names
    modes = {str(p.relative_to(finished)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(FILE_MODE)}, modes


def test_writers_follow_a_stricter_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.json", "{}\n")
        append_line(tmp_path / "b.jsonl", {"index": 0})
    finally:
        os.umask(old)
    for name in ("a.json", "b.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640


def test_out_below_a_file_or_in_proc_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    for out, message in ((tmp_path / "afile", "exists and is not a folder"),
                         (tmp_path / "afile" / "sub", "a parent of it is a file"),
                         (Path("/proc/self/no_such_dir/out"), "cannot create the folder")):
        with pytest.raises(PipelineError, match=message):
            run_generate(out=out, **OPTIONS)
        with pytest.raises(PipelineError, match=message):
            ensure_folder(out)


@pytest.fixture
def read_only_mount(tmp_path):
    """A tmpfs mounted here, remounted read-only by the test; skipped where mounting is not allowed (not root)."""
    point = tmp_path / "mnt"
    point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) to make a read-only file system")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_read_only_file_system_new_and_finished_runs(finished, read_only_mount):
    shutil.copytree(finished, read_only_mount / "done")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    with pytest.raises(PipelineError, match="cannot create the folder.*Read-only file system"):
        run_generate(out=read_only_mount / "new", **OPTIONS)
    with pytest.raises(PipelineError, match="cannot write in this folder.*Read-only file system"):
        run_generate(out=read_only_mount / "done", **OPTIONS)  # resuming a finished run there
    code = main(["decode", "Na Cl 0 1", "--out", str(read_only_mount / "cifs")])
    assert code == 1


HOLDER = """
import sys, time
from pipeline.rundir import RunDir
with RunDir(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def _hold_lock(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_into_a_busy_folder_refuses(copy):
    holder = _hold_lock(copy)
    try:
        strings = copy.parent / "strings.txt"
        strings.write_text("\n".join(GIVEN) + "\n")
        cli = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "generate", "--strings", str(strings), "--out", str(copy),
             "--workers", "1", "--train-data", "none", "--no-known-materials", "--no-progress"],
            capture_output=True, text=True, cwd=ROOT,
        )
        assert cli.returncode == 1
        assert f"another run is writing to {copy} (process {holder.pid})" in cli.stderr
        assert "Traceback" not in cli.stderr
        before = (copy / "decoded.jsonl").read_bytes()
        with pytest.raises(PipelineError, match="another run is writing"):
            _resume(copy)
        assert (copy / "decoded.jsonl").read_bytes() == before  # the refused run wrote nothing
    finally:
        holder.stdin.close()
        holder.wait()
    assert _resume(copy).decoded_now == 0  # free again once the first run ended


def test_a_killed_run_leaves_no_stale_lock(copy):
    holder = _hold_lock(copy)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert _resume(copy).decoded_now == 0


def test_retry_failed_redoes_crashed_and_timed_out_candidates_only(copy):
    path = copy / "decoded.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record, status in zip(records, ("worker_crashed", "timeout")):
        record["status"] = status
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    kept = _resume(copy)  # default: failures are final
    assert kept.decoded_now == 0
    assert {r["index"]: r["status"] for r in kept.rows if r["status"] in ("worker_crashed", "timeout")} == {
        records[0]["index"]: "worker_crashed", records[1]["index"]: "timeout"}
    retried = run_generate(out=copy, retry_failed=True, **OPTIONS)
    assert retried.decoded_now == 2
    assert [r["status"] for r in retried.rows] == STATUS
    assert run_generate(out=copy, retry_failed=True, **OPTIONS).decoded_now == 0  # nothing left to retry


def test_reading_a_finished_folder_needs_no_lock(copy):
    holder = _hold_lock(copy)
    try:
        assert len(RunDir(copy).decoded()) == len(GIVEN)
    finally:
        holder.stdin.close()
        holder.wait()


def test_a_changed_sampled_string_is_caught_by_the_checksum(tmp_path):
    settings = {"n": 2, "source": "model:shipped", "seed": 0}
    with RunDir(tmp_path) as run:
        run.check_settings(settings)
        run.save_samples(["Na Cl 0 1 ooo", "Cu 0 0 +oo"])
    path = tmp_path / "samples.json"
    path.write_text(path.read_text().replace("Cu 0 0", "Cu 0 1"))
    with RunDir(tmp_path) as run:
        run.check_settings(settings)
        with pytest.raises(PipelineError, match="samples.json is damaged .its strings do not match the checksum"):
            run.load_samples()
