"""Training data: read a CSV, encode its crystals to SLICES strings (cached), and augment with atom re-orderings."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from generative.errors import GenerativeError
from slices.graph import format_slices, normalise_edges, parse

# property name -> CSV columns tried in order when the caller names none
PROPERTY_COLUMNS = {
    "band_gap": ("band_gap", "bandgap"),
    "formation_energy": ("formation_energy_per_atom", "formation_energy", "eform"),
}
STRING_COLUMNS = ("slices", "SLICES")
DEFAULT_CACHE_DIR = Path(os.environ.get("SLICES_CACHE_DIR", Path.home() / ".cache" / "crystal-slices"))


def resolve_property_columns(columns, properties: dict[str, str | None] | None) -> dict[str, str]:
    """Map each known property name to a CSV column; unknown names or missing columns raise GenerativeError."""
    if properties is None:
        properties = {name: None for name in PROPERTY_COLUMNS}
    resolved = {}
    for name, column in properties.items():
        if name not in PROPERTY_COLUMNS:
            raise GenerativeError(f"unknown property {name!r}; known properties: {', '.join(PROPERTY_COLUMNS)}")
        if column is None:
            column = next((c for c in PROPERTY_COLUMNS[name] if c in columns), None)
            if column is None:
                continue  # not in this file: the model is trained without it
        elif column not in columns:
            raise GenerativeError(f"property {name!r}: column {column!r} is not in the CSV")
        resolved[name] = column
    return resolved


def _encoder_fingerprint() -> bytes:
    """Bytes that change whenever the encoder's source changes, so a cache never outlives the code that wrote it."""
    import slices

    root = Path(slices.__file__).parent
    return b"".join(p.read_bytes() for p in sorted(root.glob("*.py")) if p.name not in ("decode.py", "__init__.py"))


def read_cif(cif: str):
    """A pymatgen Structure from CIF text; unreadable text raises ``slices.errors.StructureInputError``."""
    from pymatgen.core import Structure

    from slices.errors import StructureInputError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen's CIF rounding notices, one per file
            return Structure.from_str(cif, fmt="cif")
    except (ValueError, KeyError, IndexError) as exc:
        # what pymatgen's CIF parser raises on text it cannot read (no structure, missing tags, bad numbers)
        raise StructureInputError(f"unreadable CIF: {type(exc).__name__}: {exc}") from None


def _encode_one(cif: str) -> tuple[str | None, str | None]:
    """(string, None) or (None, failure reason) for one CIF."""
    from slices.encode import encode
    from slices.errors import SlicesError, StructureInputError

    try:
        structure = read_cif(cif)
    except StructureInputError:
        return None, "cif_unreadable"
    try:
        return encode(structure, complete=False), None  # the vocabulary has no contact token
    except SlicesError as exc:  # the encoder's own errors name the reason; keep the class name as the code
        return None, getattr(exc, "reason", None) or type(exc).__name__


def encode_cifs(cifs: list[str], workers: int = 1, progress: bool = True) -> tuple[list[str | None], list[str]]:
    """Encode CIF texts; returns strings (None where encoding failed) and the failure reason per CIF ("" if none)."""
    from tqdm import tqdm

    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, 2)) as pool:
            results = list(tqdm(pool.map(_encode_one, cifs, chunksize=16), total=len(cifs), disable=not progress,
                                desc="encode"))
    else:
        results = [_encode_one(c) for c in tqdm(cifs, disable=not progress, desc="encode")]
    return [s for s, _ in results], [r or "" for _, r in results]


def encode_csv_cached(path: str | Path, cifs: list[str], cache_dir: str | Path | None = None, workers: int = 1,
                      progress: bool = True) -> tuple[list[str | None], list[str]]:
    """:func:`encode_cifs` for the ``cif`` column of the CSV at ``path``, cached by the file's and encoder's hash."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes() + _encoder_fingerprint()).hexdigest()[:16]
    cache = Path(cache_dir or DEFAULT_CACHE_DIR) / f"{path.name.split('.')[0]}-{digest}.slices.csv.gz"
    if cache.is_file():
        cached = pd.read_csv(cache, keep_default_na=False)
        return [s or None for s in cached["slices"].tolist()], cached["failure"].tolist()
    strings, reasons = encode_cifs(cifs, workers=workers, progress=progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    pd.DataFrame({"slices": [s or "" for s in strings], "failure": reasons}).to_csv(tmp, index=False,
                                                                                   compression="gzip")
    tmp.replace(cache)
    return strings, reasons


def load_strings(csv_path: str | Path, properties: dict[str, str | None] | None = None,
                 cache_dir: str | Path | None = None, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """A frame with column ``slices`` and one column per property, from a CSV with ``cif`` (or ``slices``) column.

    CIFs are encoded with :func:`slices.encode`; the strings are cached in ``cache_dir`` keyed by the file's hash.
    Rows that fail to encode are dropped (``frame.attrs['failures']`` counts why).
    """
    path = Path(csv_path)
    if not path.is_file():
        raise GenerativeError(f"training data {str(path)!r} does not exist")
    try:
        frame = pd.read_csv(path, keep_default_na=False)
    except (ValueError, OSError) as exc:  # pandas' parser errors are ValueErrors; gzip/IO errors are OSErrors
        raise GenerativeError(f"cannot read {str(path)!r} as CSV: {exc}") from None
    props = resolve_property_columns(frame.columns, properties)
    string_col = next((c for c in STRING_COLUMNS if c in frame.columns), None)
    failures: dict[str, int] = {}
    if string_col is not None:
        strings = frame[string_col].astype(str).tolist()
    elif "cif" in frame.columns:
        strings, reasons = encode_csv_cached(path, frame["cif"].tolist(), cache_dir, workers, progress)
        for r in reasons:
            if r:
                failures[r] = failures.get(r, 0) + 1
    else:
        raise GenerativeError(f"{str(path)!r} has neither a 'cif' nor a 'slices' column")
    out = pd.DataFrame({"slices": strings})
    for name, column in props.items():
        out[name] = pd.to_numeric(frame[column], errors="coerce").to_numpy()
    for column in ("split", "source"):  # a fixed validation split and the origin of each crystal, when given
        if column in frame.columns:
            out[column] = frame[column].astype(str).to_numpy()
    if "material_id" in frame.columns:
        out.insert(0, "material_id", frame["material_id"].to_numpy())
    out = out[out["slices"].notna() & (out["slices"] != "")].reset_index(drop=True)
    out.attrs["failures"] = failures
    out.attrs["properties"] = list(props)
    return out


def reorderings(string: str, k: int, rng: np.random.Generator, grouped: bool = True) -> list[str]:
    """``string`` and up to ``k - 1`` distinct re-orderings of its atoms (edges re-normalised and sorted).

    With ``grouped`` (the default) the permutation keeps the atoms of each element together: the element blocks are
    put in a random order and the atoms are shuffled inside each block, so every edge index still changes but the
    element block keeps reading like a formula (``Ba Ba O O O``), which makes composition easier to learn.
    Without it, any permutation of the atoms is drawn.
    """
    graph = parse(string)
    out = [string]
    seen = {string}
    n = graph.n_atoms
    blocks: dict[str, list[int]] = {}
    for a, s in enumerate(graph.species):
        blocks.setdefault(s, []).append(a)
    for _ in range(3 * k):
        if len(out) >= k or n == 1:
            break
        if grouped:
            order = [a for b in rng.permutation(len(blocks)) for a in rng.permutation(list(blocks.values())[b])]
            perm = np.empty(n, dtype=np.int64)
            perm[np.asarray(order, dtype=np.int64)] = np.arange(n)  # old atom order[p] becomes atom p
        else:
            perm = rng.permutation(n)  # old atom a becomes atom perm[a]
        species = [None] * n
        for a, s in enumerate(graph.species):
            species[perm[a]] = s
        edges, images = normalise_edges(perm[graph.edges], graph.images)
        text = format_slices(species, edges, images)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
