"""An on-disk cache for derived tables (the known-materials hull entries, the known-structure index).

Each item is a pickle in :func:`cache_dir`, keyed by a name, a format version and the (path, size, mtime) of the
files it was derived from, so it is rebuilt when a source file changes. Set ``SLICES_CACHE_DIR`` to move it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CACHE_DIR_ENV = "SLICES_CACHE_DIR"


def cache_dir() -> Path:
    """``$SLICES_CACHE_DIR``, else ``$XDG_CACHE_HOME/crystal-slices`` (``~/.cache/crystal-slices``)."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "crystal-slices"


def _key(name: str, version: int, sources: Iterable[Path]) -> str:
    parts = [name, str(version)]
    for path in sources:
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def cached(name: str, version: int, sources: Iterable[Path], build: Callable[[], T]) -> T:
    """The cached result of ``build()`` for these source files, building and storing it on a miss."""
    sources = list(sources)
    path = cache_dir() / f"{name}-{_key(name, version, sources)}.pkl"
    if path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return value
