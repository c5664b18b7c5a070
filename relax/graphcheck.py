"""Validation of a labelled quotient graph handed to :func:`relax.reconstruct` (shapes, elements, 3D net)."""

from __future__ import annotations

import numpy as np

from relax.errors import RelaxError


def _is_element(symbol: object) -> bool:
    from pymatgen.core.periodic_table import Element

    return isinstance(symbol, str) and Element.is_valid_symbol(symbol)


def validate(species, edges, images) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return ``(species, edges (m, 2) int64, images (m, 3) int64)`` or raise :class:`RelaxError` ``bad_input``."""
    species = list(species) if not isinstance(species, str) else None
    if not species:
        raise RelaxError("bad_input", "species must be a non-empty sequence of element symbols")
    for k, symbol in enumerate(species):
        if not _is_element(symbol):
            raise RelaxError("bad_input", f"species[{k}] = {symbol!r} is not a chemical element symbol")
    try:
        e = np.asarray(edges)
        t = np.asarray(images)
    except Exception as exc:  # ragged input
        raise RelaxError("bad_input", f"edges/images are not rectangular arrays: {exc}") from None
    if e.ndim != 2 or e.shape[1] != 2 or e.shape[0] == 0:
        raise RelaxError("bad_input", f"edges must have shape (m, 2) with m >= 1, got {e.shape}")
    if t.ndim != 2 or t.shape[1] != 3:
        raise RelaxError("bad_input", f"images must have shape (m, 3), got {t.shape}")
    if t.shape[0] != e.shape[0]:
        raise RelaxError("bad_input", f"{e.shape[0]} edges but {t.shape[0]} image vectors")
    for name, arr in (("edges", e), ("images", t)):
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise RelaxError("bad_input", f"{name} must hold integers, got dtype {arr.dtype}")
    e = e.astype(np.int64)
    t = t.astype(np.int64)
    if e.min() < 0 or e.max() >= len(species):
        raise RelaxError("bad_input", f"an edge names atom {int(e.max() if e.max() >= len(species) else e.min())}, "
                         f"outside 0..{len(species) - 1}")
    return species, e, t


def check_3d(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> None:
    """Raise :class:`RelaxError` ``not_embeddable`` unless the graph is a connected 3D periodic net."""
    bare = (edges[:, 0] == edges[:, 1]) & ~images.any(axis=1)
    if bare.any():
        raise RelaxError("not_embeddable", f"atom {int(edges[bare][0, 0])} is bonded to itself in the same cell")
    parent = list(range(n_atoms))
    shift = np.zeros((n_atoms, 3), dtype=np.int64)  # cell of each atom's copy relative to its parent

    def root(a: int) -> tuple[int, np.ndarray]:
        s = np.zeros(3, dtype=np.int64)
        while parent[a] != a:
            s = s + shift[a]
            a = parent[a]
        return a, s

    cycles = []
    for (i, j), t in zip(edges.tolist(), images):
        ri, si = root(i)
        rj, sj = root(j)
        if ri == rj:
            cycles.append(si + t - sj)
        else:
            parent[rj] = ri
            shift[rj] = si + t - sj
    n_roots = len({root(a)[0] for a in range(n_atoms)})
    if n_roots > 1:
        raise RelaxError("not_embeddable", f"the bond graph falls into {n_roots} separate pieces")
    rank = int(np.linalg.matrix_rank(np.array(cycles).reshape(-1, 3))) if cycles else 0
    if rank < 3:
        raise RelaxError("not_embeddable", f"the bonded network is {rank}D, not a 3D framework")
