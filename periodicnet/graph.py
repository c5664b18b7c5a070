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
    edges, images, _ = normalise_marked_edges(edges, images, None)
    return edges, images


def normalise_marked_edges(
    edges: np.ndarray, images: np.ndarray, marks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`normalise_edges` for edges that carry a boolean mark each (e.g. "is a contact, not a bond").

    Returns ``(edges, images, marks)``; an edge given both marked and unmarked is kept once, unmarked.
    ``marks=None`` means all unmarked.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    marks = np.zeros(len(edges), dtype=bool) if marks is None else np.asarray(marks, dtype=bool).reshape(-1)
    if edges.shape[0] == 0:
        return edges, images, marks
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
    if not marks.any():
        rows = np.unique(np.column_stack([i, j, t]), axis=0)
        return rows[:, :2].copy(), rows[:, 2:].copy(), np.zeros(len(rows), dtype=bool)
    rows = np.unique(np.column_stack([i, j, t, marks.astype(np.int64)]), axis=0)  # unmarked sorts first
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:, :5] != rows[:-1, :5]).any(axis=1)
    rows = rows[first]
    return rows[:, :2].copy(), rows[:, 2:5].copy(), rows[:, 5].astype(bool)


def spanning_offsets(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A spanning forest of the quotient graph, walked breadth first from the lowest atom of each piece.

    Returns ``(piece, offset, tree)``: the piece (connected component, numbered by first atom) of each atom, the
    lattice cell (integer 3-vector) in which the forest reaches each atom's copy from its piece's first atom, and a
    boolean per edge that is True for forest edges. ``offset[i] + t - offset[j]`` is then the net translation of the
    cycle an edge ``(i, j, t)`` closes (zero for forest edges).
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_atoms)]
    for k, (i, j) in enumerate(edges.tolist()):
        adjacency[i].append((k, j))
        adjacency[j].append((k, i))
    image_rows = images.tolist()
    piece = [-1] * n_atoms
    offset = [(0, 0, 0)] * n_atoms
    tree = np.zeros(len(edges), dtype=bool)
    n_pieces = 0
    for start in range(n_atoms):
        if piece[start] >= 0:
            continue
        piece[start] = n_pieces
        queue = [start]
        for a in queue:
            oa = offset[a]
            for k, b in adjacency[a]:
                if piece[b] >= 0:
                    continue
                t = image_rows[k]
                # edge k goes from edges[k, 0] to edges[k, 1] + t
                if edges[k, 0] == a:
                    offset[b] = (oa[0] + t[0], oa[1] + t[1], oa[2] + t[2])
                else:
                    offset[b] = (oa[0] - t[0], oa[1] - t[1], oa[2] - t[2])
                piece[b] = n_pieces
                tree[k] = True
                queue.append(b)
        n_pieces += 1
    return np.array(piece, dtype=np.int64), np.array(offset, dtype=np.int64).reshape(-1, 3), tree


def integer_row_basis(vectors: np.ndarray) -> np.ndarray:
    """A basis (rows) of the integer lattice spanned by the integer rows of ``vectors``, by integer row reduction.

    The result has as many rows as the lattice's rank (0 to 3), in echelon form.
    """
    rows = [list(map(int, v)) for v in np.asarray(vectors).reshape(-1, 3)]
    basis = []
    for col in range(3):
        while True:
            live = [r for r in rows if r[col] != 0]
            if len(live) <= 1:
                break
            live.sort(key=lambda r: abs(r[col]))
            pivot = live[0]
            for r in live[1:]:
                q = r[col] // pivot[col]
                for k in range(3):
                    r[k] -= q * pivot[k]
        pivot_rows = [r for r in rows if r[col] != 0]
        if not pivot_rows:
            continue
        pivot = pivot_rows[0]
        rows.remove(pivot)
        basis.append(pivot)
    return np.array(basis, dtype=np.int64).reshape(-1, 3)


def cycle_images(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Net translation of each fundamental cycle of the quotient graph (of a breadth-first spanning forest).

    Returns ``(vectors, rank, n_components)``: one integer 3-vector per non-tree edge, the rank of the lattice they
    span (3 for a 3D net), and the number of connected components of the quotient graph.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    piece, offset, tree = spanning_offsets(n_atoms, edges, images)
    vectors = (offset[edges[:, 0]] + images - offset[edges[:, 1]])[~tree]
    rank = int(np.linalg.matrix_rank(vectors)) if len(vectors) else 0
    return vectors, rank, int(piece.max()) + 1 if n_atoms else 0


def components(n_atoms: int, edges: np.ndarray) -> list[list[int]]:
    """The connected pieces of the quotient graph, each a sorted list of atom indices, in order of first atom."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n_atoms))
    g.add_edges_from(np.asarray(edges).tolist())
    return sorted((sorted(piece) for piece in nx.connected_components(g)), key=lambda p: p[0])


def component_ranks(n_atoms: int, edges: np.ndarray, images: np.ndarray) -> list[int]:
    """Periodic dimensionality (0-3) of each connected piece of the quotient graph (see :func:`components`)."""
    return [len(basis) for basis in piece_lattices(n_atoms, edges, images)[2]]


def piece_lattices(
    n_atoms: int, edges: np.ndarray, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Which infinite piece of the periodic graph each atom copy belongs to.

    Returns ``(piece, offset, bases)`` (``piece`` and ``offset`` as in :func:`spanning_offsets`) and, per piece,
    an integer basis of the translations that map the piece onto itself (rank 0 for a molecule, 1 for a chain, 2
    for a layer, 3 for a framework). The copy of atom ``a`` in cell ``c`` and that of ``b`` in cell ``d`` are
    connected through the graph exactly when :func:`same_piece` says so.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    piece, offset, tree = spanning_offsets(n_atoms, edges, images)
    vectors = offset[edges[:, 0]] + images - offset[edges[:, 1]]
    owner = piece[edges[:, 0]]
    n_pieces = int(piece.max()) + 1 if n_atoms else 0
    bases = [integer_row_basis(vectors[(owner == p) & ~tree]) for p in range(n_pieces)]
    return piece, offset, bases


def same_piece(piece, offset, bases, i: np.ndarray, j: np.ndarray, t: np.ndarray) -> np.ndarray:
    """For pairs (atom ``i`` in the home cell, atom ``j`` in cell ``t``): whether the two copies are connected
    through the graph (are parts of one molecule, chain, layer or framework). Arguments from :func:`piece_lattices`."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64).reshape(-1, 3)
    # i's copy in cell 0 is the copy of piece[i]'s first atom shifted by -offset[i]; j's in cell t by t - offset[j]
    gap = offset[i] + t - offset[j]
    result = piece[i] == piece[j]
    for p in np.unique(piece[i][result]).tolist():
        rows = np.flatnonzero(result & (piece[i] == p))
        basis = bases[p]
        if len(basis) == 0:
            result[rows] = ~gap[rows].any(axis=1)
            continue
        coeffs, *_ = np.linalg.lstsq(basis.T.astype(float), gap[rows].T.astype(float), rcond=None)
        whole = np.rint(coeffs).astype(np.int64)
        result[rows] = (whole.T @ basis == gap[rows]).all(axis=1)
    return result


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
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    keep = edges[:, 0] != edges[:, 1]  # a self-loop pulls an atom equally both ways
    i, j, t = edges[keep, 0], edges[keep, 1], images[keep].astype(float)
    lap = np.zeros((n_atoms, n_atoms))
    np.add.at(lap, (i, i), 1.0)
    np.add.at(lap, (j, j), 1.0)
    np.add.at(lap, (i, j), -1.0)
    np.add.at(lap, (j, i), -1.0)
    rhs = np.zeros((n_atoms, 3))
    np.add.at(rhs, i, t)  # sum_j (p_j + t - p_i) = 0  ->  L p = b
    np.add.at(rhs, j, -t)
    pos = np.zeros((n_atoms, 3))
    if n_atoms > 1:
        pos[1:] = np.linalg.solve(lap[1:, 1:], rhs[1:])
    return pos


def bond_vectors(pos: np.ndarray, edges: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Bond vectors ``pos[j] + t - pos[i]`` (in the coordinates of ``pos``) of every edge."""
    return pos[edges[:, 1]] + images - pos[edges[:, 0]]
