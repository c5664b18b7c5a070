"""The on-disk state of one ``slices generate`` run, written so that an interrupted run loses nothing already done.

Files in the output folder (see ``docs/pipeline.md``):

- ``run.json``: the settings that determine the sampled strings and their decoding (checked on resume);
- ``samples.json``: the candidate strings, written once (atomically) before any decoding starts;
- ``decoded.jsonl``: one JSON line per decoded candidate, appended (a single ``write`` + ``fsync``) as each finishes;
- ``properties.jsonl``: one JSON line per screened candidate (predicted properties, energy above hull);
- ``.lock``: held (``flock``) by the run writing to the folder, so that a second run refuses instead of redoing it.

This module is the one writer of a run's files (:func:`write_atomic`, :func:`append_line`: the user's umask, never
half a file) and the one reader (:func:`read_json`, :func:`read_lines`): a damaged file becomes a
:class:`~pipeline.errors.PipelineError` naming the file and what to do. A torn last JSON line (a run killed
mid-write) is not damage: it is ignored, and cut off when the next run takes the folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from pipeline.errors import PipelineError, RunMismatchError


def _default(obj: Any):
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _clean(value: Any) -> Any:
    """Replace NaN/inf floats by None so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(obj: Any) -> str:
    """Compact, standard JSON (no NaN) with numpy support."""
    return json.dumps(_clean(obj), default=_default, allow_nan=False)


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where possible: setting it to read it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_failed(path: Path, exc: OSError) -> PipelineError:
    return PipelineError(f"cannot write {path}: {exc.strerror or exc}")


def ensure_folder(path: str | os.PathLike, what: str = "--out") -> Path:
    """Create the folder ``path`` (and its parents) and check that files can be written in it; any problem (a file
    in the way, no permission, a read-only file system) is a :class:`PipelineError` naming ``what`` and the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PipelineError(f"{what} {path} exists and is not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except NotADirectoryError:
        raise PipelineError(f"{what} {path}: a parent of it is a file, not a folder; give a folder path") from None
    except OSError as exc:
        raise PipelineError(f"{what} {path}: cannot create the folder ({exc.strerror or exc})") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise PipelineError(f"{what} {path}: cannot write in this folder ({exc.strerror or exc})") from None
    return path


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace`` (readers see old or new, never half),
    with the permissions of an ordinary new file (0666 less the user's umask)."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise _write_failed(path, exc) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line with a single ``write`` on an ``O_APPEND`` descriptor, then ``fsync``."""
    data = (dumps(record) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _write_failed(Path(path), exc) from None


def drop_torn_tail(path: str | os.PathLike) -> None:
    """Cut a last line that a killed run left without its newline, so the next append starts on a fresh line."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        try:
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise _write_failed(path, exc) from None


def _json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type (``null``, ``array``, ...)."""
    names = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    return names.get(type(value), type(value).__name__)


def _damaged(path: Path, problem: str, advice: str) -> PipelineError:
    return PipelineError(f"{path} is damaged ({problem}); {advice}")


def read_json(path: str | os.PathLike, advice: str) -> Any:
    """The JSON document in ``path``; a file that is not UTF-8 JSON (empty, cut short, overwritten) raises
    :class:`PipelineError` naming the file, what is wrong and ``advice`` (what to do)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PipelineError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _damaged(path, "not UTF-8 text", advice) from None
    if not text.strip():
        raise _damaged(path, "empty", advice)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _damaged(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", advice) from None


def read_lines(path: str | os.PathLike, advice: str = "delete that line and rerun") -> list[tuple[int, dict]]:
    """``(line number, object)`` for every JSON line of ``path``; [] if absent. A torn last line (no newline: a run
    killed mid-write) is skipped and blank lines are ignored; any other line that is not a UTF-8 JSON object raises
    :class:`PipelineError` naming the file, the line and ``advice``."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PipelineError(f"cannot read {path}: {exc.strerror or exc}") from None
    records = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[:-1], start=1):  # the last piece is b"" or a torn line
        problem = None
        try:
            text = raw.decode("utf-8")
            if not text.strip():
                continue
            value = json.loads(text)
            if not isinstance(value, dict):
                problem = f"a JSON {_json_kind(value)}, not an object"
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON: {exc.msg}"
        if problem is not None:
            raise _damaged(path, f"line {number} is {problem}", f"{advice} (e.g. sed -i '{number}d' '{path}')")
        records.append((number, value))
    return records


class RunDir:
    """Paths and resumable state of one run's output folder.

    ``with RunDir(out) as run:`` takes the folder's lock (a second run into the same folder is refused with a
    message) and repairs a torn last line; reading works without it.
    """

    def __init__(self, out: str | os.PathLike):
        self.root = ensure_folder(out)
        self.run_json = self.root / "run.json"
        self.samples_json = self.root / "samples.json"
        self.decoded_jsonl = self.root / "decoded.jsonl"
        self.properties_jsonl = self.root / "properties.jsonl"
        self.lock_file = self.root / ".lock"
        self.cif_dir = self.root / "cif"
        self.plot_dir = self.root / "plots"
        self.settings: dict | None = None
        self._samples: list[str] | None = None
        self._lock_fd: int | None = None

    def __enter__(self) -> "RunDir":
        self.lock()
        return self

    def __exit__(self, *exc_info) -> None:
        self.unlock()

    def lock(self) -> None:
        """Take the folder's lock or raise :class:`PipelineError` if another run holds it; then cut torn lines.

        The lock (``flock`` on ``.lock``) goes with the process: a killed run leaves no stale lock behind.
        """
        import fcntl

        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _write_failed(self.lock_file, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise PipelineError(
                f"another run is writing to {self.root} (process {holder}); wait for it to finish and rerun to use "
                f"its results, or choose another --out"
            ) from None
        except OSError as exc:  # e.g. ENOLCK: a file system without locks
            os.close(fd)
            raise PipelineError(f"cannot lock {self.lock_file} ({exc.strerror or exc}); use a folder on a local "
                                f"file system for --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        for path in (self.decoded_jsonl, self.properties_jsonl):
            drop_torn_tail(path)

    def unlock(self) -> None:
        """Release the folder's lock (closing the descriptor releases the ``flock``)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _restart_advice(self, *names: str) -> str:
        files = ", ".join(names)
        return f"choose a new --out, or delete {files} in {self.root} to start this run again from sampling"

    def check_settings(self, settings: dict) -> None:
        """Record ``settings`` on a fresh run; on resume raise :class:`RunMismatchError` naming what differs."""
        new = json.loads(dumps(settings))
        if self.run_json.exists():
            advice = ("it records the settings of the finished work, so the run cannot be resumed; "
                      + self._restart_advice("run.json", "samples.json", "decoded.jsonl", "properties.jsonl"))
            old = read_json(self.run_json, advice)
            if not isinstance(old, dict):
                raise _damaged(self.run_json, f"a JSON {_json_kind(old)}, not an object", advice)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                details = ", ".join(f"{k}: {old.get(k)!r} in the folder vs {new.get(k)!r} now" for k in diff)
                raise RunMismatchError(
                    f"{self.root} holds a run made with other settings ({details}; see {self.run_json.name}); "
                    f"rerun with the same settings to resume, or choose a new --out"
                )
        else:
            write_atomic(self.run_json, dumps(settings) + "\n")
        self.settings = new

    def load_samples(self) -> list[str] | None:
        """The stored candidate strings, or None before sampling finished. A damaged ``samples.json`` (not JSON,
        not a list of strings, fewer or other strings than ``run.json`` records) raises :class:`PipelineError`."""
        if not self.samples_json.exists():
            return None
        advice = self._restart_advice("samples.json", "decoded.jsonl", "properties.jsonl")
        stored = read_json(self.samples_json, advice)
        strings = stored.get("strings") if isinstance(stored, dict) else None
        if not isinstance(strings, list) or not all(isinstance(s, str) for s in strings):
            raise _damaged(self.samples_json, 'not an object with a "strings" list of strings', advice)
        settings = self.settings or {}
        expected = settings.get("n")
        if isinstance(expected, int) and len(strings) != expected:
            raise _damaged(self.samples_json, f"it holds {len(strings)} strings but run.json says n = {expected}",
                           advice)
        source = settings.get("source")
        if isinstance(source, str) and source.startswith("given:") and source != given_source(strings):
            raise _damaged(self.samples_json, "its strings are not the ones given when the run started", advice)
        if "sha256" in stored and stored["sha256"] != _strings_digest(strings):
            raise _damaged(self.samples_json, "its strings do not match the checksum written with them", advice)
        self._samples = strings
        return strings

    def save_samples(self, strings: Iterable[str]) -> None:
        """Store the candidate strings (once, atomically)."""
        strings = list(strings)
        write_atomic(self.samples_json, dumps({"strings": strings, "sha256": _strings_digest(strings)}) + "\n")
        self._samples = strings

    def _records(self, path: Path, redo: str) -> dict[int, dict]:
        """Records of a JSONL file by candidate index (the last line wins); each must name a candidate of this
        run."""
        advice = f"delete that line and rerun ({redo})"
        records = {}
        for number, record in read_lines(path, advice):
            index = record.get("index")
            problem = None
            if isinstance(index, bool) or not isinstance(index, int) or index < 0 or (
                    self._samples is not None and index >= len(self._samples)):
                problem = f"line {number} names no candidate of this run (index {index!r})"
            elif self._samples is not None and "string" in record and record["string"] != self._samples[index]:
                problem = f"line {number} holds another string than candidate {index} of samples.json"
            if problem is not None:
                raise _damaged(path, problem, f"{advice}; e.g. sed -i '{number}d' '{path}'")
            records[index] = record
        return records

    def decoded(self) -> dict[int, dict]:
        """Finished decode records by candidate index (the last line wins)."""
        return self._records(self.decoded_jsonl, "that candidate is decoded again")

    def add_decoded(self, record: dict) -> None:
        append_line(self.decoded_jsonl, record)

    def properties(self) -> dict[int, dict]:
        """Finished property records by candidate index."""
        return self._records(self.properties_jsonl, "that candidate's properties are predicted again")

    def add_properties(self, record: dict) -> None:
        append_line(self.properties_jsonl, record)


def _strings_digest(strings: list[str]) -> str:
    """SHA-256 of the candidate strings (stored in ``samples.json`` to detect a changed file)."""
    return hashlib.sha256(json.dumps(strings).encode()).hexdigest()


def given_source(strings: Iterable[str]) -> str:
    """The ``source`` recorded in ``run.json`` for a run over given strings: a hash of the strings."""
    return "given:" + hashlib.sha256("\n".join(strings).encode()).hexdigest()[:16]
