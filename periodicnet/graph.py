"""Labelled quotient graphs of periodic nets: the data the codec writes and the reconstruction rebuilds.

A graph is ``n`` atoms, ``edges`` (m x 2 int) and ``images`` (m x 3 int): edge ``(i, j)`` with image ``t`` means atom
``j`` translated by lattice vector ``t`` is bonded to atom ``i`` in the home cell, so the bond vector is
``frac[j] + t - frac[i]``. Edges are undirected (``(j, i, -t)`` is the same bond); self-loops ``(i, i, t)`` with
``t != 0`` bond an atom to its own image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from periodicnet.elements import is_element
from periodicnet.errors import SlicesError


class GraphInputError(SlicesError):
    """Species, edges or images do not form a labelled quotient graph (shapes, types, indices, elements)."""


def validate_graph(species: Sequence[str], edges, images) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return ``(species, edges (m, 2) int64, images (m, 3) int64)`` or raise :class:`GraphInputError`."""
    species = list(species) if not isinstance(species, str) else None
    if not species:
        raise GraphInputError("species must be a non-empty sequence of element symbols")
    for k, symbol in enumerate(species):
        if not is_element(symbol):
            raise GraphInputError(f"species[{k}] = {symbol!r} is not a chemical element symbol (H to Lr)")
    try:
        e = np.asarray(edges)
        t = np.asarray(images)
    except ValueError as exc:  # ragged nested sequences
        raise GraphInputError(f"edges/images are not rectangular arrays: {exc}") from None
    if e.ndim != 2 or e.shape[1] != 2 or e.shape[0] == 0:
        raise GraphInputError(f"edges must have shape (m, 2) with m >= 1, got {e.shape}")
    if t.ndim != 2 or t.shape[1] != 3:
        raise GraphInputError(f"images must have shape (m, 3), got {t.shape}")
    if t.shape[0] != e.shape[0]:
        raise GraphInputError(f"{e.shape[0]} edges but {t.shape[0]} image vectors")
    for name, arr in (("edges", e), ("images", t)):
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise GraphInputError(f"{name} must hold integers, got dtype {arr.dtype}")
    e = e.astype(np.int64)
    t = t.astype(np.int64)
    if e.min() < 0 or e.max() >= len(species):
        bad = int(e.max() if e.max() >= len(species) else e.min())
        raise GraphInputError(f"an edge names atom {bad}, outside 0..{len(species) - 1}")
    return species, e, t


def normalise_edges(edges: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orient every edge as ``i <= j`` (self-loops with the lexicographically larger image), drop duplicates, sort."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    if edges.shape[0] == 0:
        return edges, images
    i, j = edges[:, 0].copy(), edges[:, 1].copy()
    t = images.copy()
    flip = i > j
    loop = i == j
    # a self-loop (i, i, t) equals (i, i, -t): keep the one whose first non-zero component is positive
    if loop.any():
        first_nonzero = np.take_along_axis(t, np.argmax(t != 0, axis=1)[:, None], axis=1)[:, 0]
        flip |= loop & (first_nonzero < 0)
    i[flip], j[flip] = edges[flip, 1], edges[flip, 0]
    t[flip] = -t[flip]
    rows = np.unique(np.column_stack([i, j, t]), axis=0)
    return rows[:, :2].copy(), rows[:, 2:].copy()


def cycle_images(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Net translation of each fundamental cycle of the quotient graph (union-find with cell offsets).

    Returns ``(vectors, rank, n_components)``: one integer 3-vector per non-tree edge, the rank of the lattice they
    span (3 for a 3D net), and the number of connected components of the quotient graph.
    """
    parent = list(range(n_atoms))
    offset = [np.zeros(3, dtype=np.int64) for _ in range(n_atoms)]  # cell of the atom's copy, relative to parent

    def find(a: int) -> tuple[int, np.ndarray]:
        shift = np.zeros(3, dtype=np.int64)
        while parent[a] != a:
            shift = shift + offset[a]
            a = parent[a]
        return a, shift

    cycles = []
    for (i, j), t in zip(np.asarray(edges).tolist(), np.asarray(images).tolist()):
        ri, si = find(i)
        rj, sj = find(j)
        t = np.asarray(t, dtype=np.int64)
        if ri == rj:
            # the tree reaches i in cell si and j in cell sj; the edge reaches j in cell si + t
            cycles.append(si + t - sj)
        else:
            # hang rj's tree under ri so that the tree reaches j in cell si + t
            parent[rj] = ri
            offset[rj] = si + t - sj
    roots = {find(a)[0] for a in range(n_atoms)}
    vectors = np.array(cycles, dtype=np.int64).reshape(-1, 3)
    rank = int(np.linalg.matrix_rank(vectors)) if len(vectors) else 0
    return vectors, rank, len(roots)


def components(n_atoms: int, edges: np.ndarray) -> list[list[int]]:
    """The connected pieces of the quotient graph, each a sorted list of atom indices, in order of first atom."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n_atoms))
    g.add_edges_from(np.asarray(edges).tolist())
    return sorted((sorted(piece) for piece in nx.connected_components(g)), key=lambda p: p[0])


def component_ranks(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> list[int]:
    """Periodic dimensionality (0-3) of each connected piece of the quotient graph (see :func:`components`)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    ranks = []
    for members in components(n_atoms, edges):
        index = {a: k for k, a in enumerate(members)}
        mask = np.isin(edges[:, 0], members)
        sub_edges = np.array([[index[i], index[j]] for i, j in edges[mask].tolist()], dtype=np.int64).reshape(-1, 2)
        ranks.append(cycle_images(len(members), sub_edges, images[mask])[1])
    return ranks


_DIMENSION_NAMES = {0: "0D (molecules or clusters)", 1: "1D (chains)", 2: "2D (layers)"}


def embeddability(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> tuple[str, str] | None:
    """``None`` when the graph is a connected 3D net without bare self-loops, else ``(reason, message)``.

    Reasons: ``empty``, ``self_loop_zero_image``, ``isolated_atom``, ``low_dimensional``, ``disconnected``.
    """
    if n_atoms == 0:
        return "empty", "the graph has no atoms"
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    bare = (edges[:, 0] == edges[:, 1]) & ~images.any(axis=1)
    if bare.any():
        k = int(np.flatnonzero(bare)[0])
        return "self_loop_zero_image", f"atom {edges[k, 0]} is bonded to itself in the same cell (image ooo)"
    deg = np.zeros(n_atoms, dtype=np.int64)
    np.add.at(deg, edges[:, 0], 1)
    np.add.at(deg, edges[:, 1], 1)
    if (deg == 0).any():
        return "isolated_atom", f"atom {int(np.flatnonzero(deg == 0)[0])} has no bonds"
    _, rank, n_components = cycle_images(n_atoms, edges, images)
    if n_components > 1:
        ranks = component_ranks(n_atoms, edges, images)
        if max(ranks) < 3:
            return (
                "low_dimensional",
                f"the bonded network is {_DIMENSION_NAMES[max(ranks)]}: {n_components} separate pieces per cell, "
                f"none a 3D framework",
            )
        return "disconnected", f"the bond graph falls into {n_components} separate pieces per cell"
    if rank < 3:
        return "low_dimensional", f"the bonded network is {_DIMENSION_NAMES[rank]}, not a 3D framework"
    return None


def barycentric_placement(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Fractional positions (n, 3) of the periodic equilibrium placement: every atom at the centroid of its bonded
    neighbours' images, atom 0 at the origin (a linear solve of the graph Laplacian; the graph must be connected)."""
    lap = np.zeros((n_atoms, n_atoms))
    rhs = np.zeros((n_atoms, 3))
    for (i, j), t in zip(np.asarray(edges).tolist(), np.asarray(images).tolist()):
        if i == j:
            continue  # a self-loop pulls an atom equally both ways
        lap[i, i] += 1
        lap[j, j] += 1
        lap[i, j] -= 1
        lap[j, i] -= 1
        rhs[i] += t  # sum_j (p_j + t - p_i) = 0  ->  L p = b
        rhs[j] -= t
    pos = np.zeros((n_atoms, 3))
    if n_atoms > 1:
        pos[1:] = np.linalg.solve(lap[1:, 1:], rhs[1:])
    return pos


def bond_vectors(pos: np.ndarray, edges: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Bond vectors ``pos[j] + t - pos[i]`` (in the coordinates of ``pos``) of every edge."""
    return pos[edges[:, 1]] + images - pos[edges[:, 0]]
