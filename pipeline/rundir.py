"""The on-disk state of one ``slices generate`` run, written so that an interrupted run loses nothing already done.

Files in the output folder (see ``docs/pipeline.md``):

- ``run.json``: the settings that determine the sampled strings and their decoding (checked on resume);
- ``samples.json``: the candidate strings, written once (atomically) before any decoding starts;
- ``decoded.jsonl``: one JSON line per decoded candidate, appended (a single ``write`` + ``fsync``) as each finishes;
- ``properties.jsonl``: one JSON line per screened candidate (predicted properties, energy above hull).
"""

from __future__ import annotations

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


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see old or new, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: Path, record: dict) -> None:
    """Append one JSON line with a single ``write`` on an ``O_APPEND`` descriptor, then ``fsync``."""
    data = (dumps(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_torn_tail(path: Path) -> None:
    """Cut a last line that a killed run left without its newline, so the next append starts on a fresh line."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())


def read_lines(path: Path) -> list[dict]:
    """All complete JSON lines of ``path`` (a torn last line from a killed run is skipped); [] if absent."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn write at the very end
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


class RunDir:
    """Paths and resumable state of one run's output folder."""

    def __init__(self, out: str | os.PathLike):
        self.root = Path(out)
        if self.root.exists() and not self.root.is_dir():
            raise PipelineError(f"--out {self.root} exists and is not a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_json = self.root / "run.json"
        self.samples_json = self.root / "samples.json"
        self.decoded_jsonl = self.root / "decoded.jsonl"
        self.properties_jsonl = self.root / "properties.jsonl"
        self.cif_dir = self.root / "cif"
        self.plot_dir = self.root / "plots"
        for path in (self.decoded_jsonl, self.properties_jsonl):
            drop_torn_tail(path)

    def check_settings(self, settings: dict) -> None:
        """Record ``settings`` on a fresh run; on resume raise :class:`RunMismatchError` naming what differs."""
        if self.run_json.exists():
            old = json.loads(self.run_json.read_text(encoding="utf-8"))
            new = json.loads(dumps(settings))
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                details = ", ".join(f"{k}: {old.get(k)!r} in the folder vs {new.get(k)!r} now" for k in diff)
                raise RunMismatchError(
                    f"{self.root} holds a run made with other settings ({details}); "
                    f"rerun with the same settings to resume, or choose a new --out"
                )
        else:
            write_atomic(self.run_json, dumps(settings) + "\n")

    def load_samples(self) -> list[str] | None:
        """The stored candidate strings, or None before sampling finished."""
        if not self.samples_json.exists():
            return None
        return list(json.loads(self.samples_json.read_text(encoding="utf-8"))["strings"])

    def save_samples(self, strings: Iterable[str]) -> None:
        """Store the candidate strings (once, atomically)."""
        write_atomic(self.samples_json, dumps({"strings": list(strings)}) + "\n")

    def decoded(self) -> dict[int, dict]:
        """Finished decode records by candidate index (the last line wins)."""
        return {int(r["index"]): r for r in read_lines(self.decoded_jsonl)}

    def add_decoded(self, record: dict) -> None:
        append_line(self.decoded_jsonl, record)

    def properties(self) -> dict[int, dict]:
        """Finished property records by candidate index."""
        return {int(r["index"]): r for r in read_lines(self.properties_jsonl)}

    def add_properties(self, record: dict) -> None:
        append_line(self.properties_jsonl, record)
