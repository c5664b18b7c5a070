"""Canonical form of a labelled quotient graph (a periodic net with element labels).

Two presentations of the same crystal graph differ by (a) the order of the atoms, (b) which periodic image of each
atom sits in the home cell, (c) the lattice basis the image labels refer to, and (d) the cell (a supercell repeats
the graph). The canonical form removes all four, following the route Systre takes for periodic nets
(Delgado-Friedrichs & O'Keeffe, Acta Cryst. A 59, 2003), extended to element labels:

1. **Equilibrium placement.** Every atom sits at the mean of its bonded neighbours (the periodic barycentric
   placement, unique once one atom is fixed). It depends on the graph alone.
2. **Primitive cell.** Translations that map the placed, labelled net onto itself are found and factored out, so a
   supercell's graph reduces to the primitive one.
3. **An intrinsic metric.** ``Q = sum over bonds of v v^T`` (v: the bond vectors of the placement) transforms like a
   tensor under a change of basis, so ``Q^-1`` is a metric on the lattice that comes from the graph itself.
   The Niggli-reduced basis in that metric is unique up to the lattice's point symmetry; all bases with the Niggli
   Gram matrix are enumerated (at most 48).
4. **Candidates and a minimum.** For every such basis and every atom of the rarest Weisfeiler-Lehman colour class as
   origin, atoms are wrapped into the unit cell (this fixes the image of each atom), sorted by (element, colour,
   position), and the bonds are written with their image labels. The lexicographically smallest code wins. Any
   presentation of the same net yields the same candidate set, hence the same minimum: that is the canonical form.

Nets whose placement puts two atoms of the same element and colour on one point ("unstable" nets) cannot be ordered
by position; for those ties all orderings of the tied atoms are tried when there are few, and
:class:`NotEmbeddableError` (``reason="unstable_net"``) is raised otherwise. Graphs that are not 3D nets (see
:func:`periodicnet.graph.embeddability`) have no placement and raise :class:`NotEmbeddableError` naming the reason.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from slices.errors import ImageOverflowError, NotEmbeddableError
from periodicnet.elements import ELEMENTS
from periodicnet.graph import (
    barycentric_placement,
    bond_vectors,
    embeddability,
    integer_row_basis,
    normalise_marked_edges,
)
from slices.graph import SlicesGraph

# Positions are compared on a grid of 2**-20 (fractional units). Placements are rational numbers p/q: those with q a
# power of two up to 2**20 fall exactly on grid points, and a rational lies exactly on a rounding boundary (odd/2**21)
# only if 2**21 divides q. (A decimal grid fails here: 13/128 sits on a boundary of a 1e-6 grid, and float noise then
# decides the side.) Any other rational with q below ~1e5 is at least 5e-12 from every boundary.
ROUND = float(2**20)
TOL = 1e-6
MAX_TIE_PERMUTATIONS = 720


@lru_cache(maxsize=None)
def _electronegativity_rank() -> dict[str, tuple[float, int]]:
    from pymatgen.core.periodic_table import Element

    import warnings

    rank = {}
    with warnings.catch_warnings():
        # NaN for He, Ne, Ar; periodicnet filters pymatgen's warning process-wide, but a test runner's own warning
        # filters go in front of that one, so it is silenced here too
        warnings.simplefilter("ignore")
        for z, symbol in enumerate(ELEMENTS, start=1):
            x = Element(symbol).X
            rank[symbol] = (x if x == x else 10.0, z)  # elements without an electronegativity go last
    return rank


def element_order_key(symbol: str) -> tuple[float, int]:
    """Atoms are listed by increasing Pauling electronegativity, ties by atomic number (as chemists write formulas)."""
    return _electronegativity_rank()[symbol]


# ----------------------------------------------------------------------------------------------------------------
# Weisfeiler-Lehman colour refinement on the quotient multigraph


def _flags(contacts: np.ndarray | None, n_edges: int) -> np.ndarray:
    """Edge colour per edge as 0/1 ints (1: contact)."""
    return np.zeros(n_edges, dtype=np.int64) if contacts is None else np.asarray(contacts, dtype=np.int64)


def wl_colours(
    species: list[str], edges: np.ndarray, images: np.ndarray, contacts: np.ndarray | None = None
) -> np.ndarray:
    """Stable colour refinement; colours are ranks of sorted signatures, so they do not depend on atom order.

    A neighbour reached through a contact edge counts as a different colour from one reached through a bond
    (neighbour colour ``2 c + 1`` instead of ``2 c``; with bonds only, the ranks are those of plain colours).
    """
    n = len(species)
    flag = _flags(contacts, len(edges))
    keys = sorted(set(species), key=element_order_key)
    colour = np.array([keys.index(s) for s in species], dtype=np.int64)
    # a self-loop (atom bonded to its own image) counts as two neighbours of the atom's own colour, exactly as the
    # two bonds of each copy look in a supercell, so colours are the same for a graph and its supercells
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for (i, j), f in zip(edges.tolist(), flag.tolist()):
        adjacency[i].append((j, f))
        adjacency[j].append((i, f))
    n_colours = len(set(colour.tolist()))
    for _ in range(n):
        c = colour.tolist()
        signatures = [(c[a], tuple(sorted(2 * c[b] + f for b, f in adjacency[a]))) for a in range(n)]
        ranks = {sig: r for r, sig in enumerate(sorted(set(signatures)))}
        colour = np.array([ranks[sig] for sig in signatures], dtype=np.int64)
        if len(ranks) == n_colours:
            break
        n_colours = len(ranks)
    return colour


# ----------------------------------------------------------------------------------------------------------------
# Geometry of the net


def _hermite_basis(vectors: np.ndarray) -> np.ndarray:
    """Basis (3 rows) of the integer lattice spanned by the rows of ``vectors`` (rank 3)."""
    basis = integer_row_basis(vectors)
    if len(basis) < 3:
        raise NotEmbeddableError("low_dimensional", "translation lattice has rank below 3")
    return basis


def reduce_to_primitive(
    species: list[str],
    colour: np.ndarray,
    edges: np.ndarray,
    images: np.ndarray,
    pos: np.ndarray,
    contacts: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Factor out translations of the placed net beyond the lattice Z^3.

    Returns species, colours, edges, images, positions and contact flags of the primitive graph, and the 3x3 matrix
    whose rows are the primitive basis vectors in the old fractional coordinates. A translation must map bonds to
    bonds and contacts to contacts.
    """
    n = len(species)
    flag = _flags(contacts, len(edges))
    first = int(np.lexsort((np.arange(n), colour))[0])
    same = np.flatnonzero(colour == colour[first])
    # an atom is identified by its position and a refinement of its colour by the bond vectors around it; atoms an
    # unstable net places on one point with identical surroundings are matched by trying their orderings
    local = _local_signatures(colour, edges, bond_vectors(pos, edges, images), flag)
    grid = _position_grid(pos)
    distinct = len(np.unique(grid, axis=0)) == n
    if distinct:
        find = _translation_finder_distinct(pos, grid, local, edges, images, flag)
    else:
        find = _translation_finder_search(pos, local, edges, images, flag)
    translations, permutations = [], []
    for b in same:
        if b == first:
            continue
        tau = pos[b] - pos[first]
        perm = find(tau)
        if perm is None:
            continue
        translations.append(tau - np.floor(tau + TOL))
        permutations.append(perm)
    if not translations:
        return species, colour, edges, images, pos, flag.astype(bool), np.eye(3, dtype=np.int64)
    denominator = n  # the translation group has order dividing n
    generators = np.vstack([np.eye(3) * denominator, np.array(translations) * denominator])
    basis = _hermite_basis(np.rint(generators).astype(np.int64)).astype(float) / denominator
    to_new = np.linalg.inv(basis)
    new_pos = pos @ to_new
    index = int(round(1 / abs(np.linalg.det(basis))))  # how many times the primitive net repeats in this cell
    if not distinct:
        twins = _twin_classes(colour, edges, bond_vectors(pos, edges, images), flag)
        if _ambiguous_points(pos, local, twins):
            raise NotEmbeddableError(
                "unstable_net",
                f"the net repeats {index} times in this cell, but atoms that share a point of the "
                "equilibrium placement make its translations ambiguous, so the repeat cannot be factored out",
            )
        permutations = _untwist(permutations, twins)
    rep_of = _orbit_minimum(n, permutations)  # each atom's representative: the lowest atom of its orbit
    keep = np.unique(rep_of)
    if len(keep) * index != n:
        raise NotEmbeddableError(
            "unstable_net",
            f"the net's {index} translations could not be factored out consistently: atoms on one point of the "
            "equilibrium placement are exchangeable in ways that are not translations",
        )
    index = -np.ones(n, dtype=np.int64)
    index[keep] = np.arange(len(keep))
    vec = bond_vectors(pos, edges, images) @ to_new
    i_new = index[rep_of[edges[:, 0]]]
    j_new = index[rep_of[edges[:, 1]]]
    kept_pos = new_pos[keep]
    t_new = np.rint(kept_pos[i_new] + vec - kept_pos[j_new]).astype(np.int64)
    e2, t2, f2 = normalise_marked_edges(np.column_stack([i_new, j_new]), t_new, flag.astype(bool))
    return [species[a] for a in keep], colour[keep], e2, t2, kept_pos, f2, basis


def _twin_classes(colour: np.ndarray, edges: np.ndarray, vec: np.ndarray, flag: np.ndarray) -> list[list[int]]:
    """Groups (two or more) of atoms with the same colour and the same neighbours through the same edge vectors."""
    keys = _twin_keys(len(colour), edges, vec, flag)
    groups: dict[tuple, list[int]] = {}
    for a, key in enumerate(keys):
        groups.setdefault((int(colour[a]), key), []).append(a)
    return [g for g in groups.values() if len(g) > 1]


def _ambiguous_points(pos: np.ndarray, local: list[int], twins: list[list[int]]) -> bool:
    """Whether some point of the placement holds equivalent atoms (same local signature) that are not twins: a
    translation may then map the net onto itself in several ways whose quotients differ."""
    twin_of = np.arange(len(pos))
    for group in twins:
        twin_of[group] = group[0]
    classes: dict[tuple, set[int]] = {}
    for a, key in enumerate(_position_keys(pos)):
        classes.setdefault((local[a], key), set()).add(int(twin_of[a]))
    return any(len(c) > 1 for c in classes.values())


def _untwist(permutations: list[np.ndarray], twins: list[list[int]]) -> list[np.ndarray]:
    """Make translation permutations found in an unstable net a group action: a translation maps each class of twins
    onto a class of twins, but which twin goes where is arbitrary. Mapping them in the order of their indices makes
    every permutation consistent with every other, so their orbits are the translation orbits."""
    if not twins:
        return permutations
    out = []
    for perm in permutations:
        perm = perm.copy()
        for group in twins:
            perm[group] = np.sort(perm[group])
        out.append(perm)
    return out


def _orbit_minimum(n: int, permutations: list[np.ndarray]) -> np.ndarray:
    """For each atom, the lowest-numbered atom it is mapped to by the given permutations (their group's orbits)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows = np.concatenate([np.arange(n)] * len(permutations))
    cols = np.concatenate(permutations)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    lowest = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(lowest, label, np.arange(n))
    return lowest[label]


MAX_SEARCH_NODES = 5000


def _edge_code(edges: np.ndarray, images: np.ndarray, flag: np.ndarray, n: int) -> np.ndarray | None:
    """Sorted int64 codes of oriented, de-duplicated (edge, image, flag) rows; None if an image is too long to pack."""
    i, j, t = edges[:, 0], edges[:, 1], images
    if np.abs(t).max(initial=0) >= 512:
        return None
    first_nonzero = np.take_along_axis(t, np.argmax(t != 0, axis=1)[:, None], axis=1)[:, 0]
    flip = (i > j) | ((i == j) & (first_nonzero < 0))
    i, j = np.where(flip, j, i), np.where(flip, i, j)
    t = np.where(flip[:, None], -t, t) + 512
    code = (((((i * n + j) * 2 + flag) * 1024 + t[:, 0]) * 1024 + t[:, 1]) * 1024) + t[:, 2]
    return np.unique(code)


def _translation_finder_distinct(pos, grid, local, edges, images, flag):
    """A function ``tau -> permutation or None`` for nets whose placement puts every atom on its own point: the
    image of each atom under a translation is then found by position alone, and the map is checked on every edge
    at once with numpy."""
    n = len(pos)
    local = np.asarray(local, dtype=np.int64)
    scale = int(ROUND)
    key = (grid[:, 0] * scale + grid[:, 1]) * scale + grid[:, 2]
    order = np.argsort(key)
    sorted_key = key[order]
    own_code = _edge_code(edges, images, flag, n)

    def find(tau: np.ndarray) -> np.ndarray | None:
        moved = _position_grid(pos + tau)
        moved_key = (moved[:, 0] * scale + moved[:, 1]) * scale + moved[:, 2]
        slot = np.searchsorted(sorted_key, moved_key)
        slot[slot == n] = 0
        if not (sorted_key[slot] == moved_key).all():
            return None
        perm = order[slot]
        if not (local[perm] == local).all():
            return None
        shift = np.rint(pos + tau - pos[perm]).astype(np.int64)  # image of each moved atom
        new_images = images + shift[edges[:, 1]] - shift[edges[:, 0]]
        new_edges = perm[edges]
        code = _edge_code(new_edges, new_images, flag, n) if own_code is not None else None
        if code is None:  # images too long to pack: compare normalised edge lists
            e2, t2, f2 = normalise_marked_edges(new_edges, new_images, flag.astype(bool))
            e1, t1, f1 = normalise_marked_edges(edges, images, flag.astype(bool))
            same = e2.shape == e1.shape and (e2 == e1).all() and (t2 == t1).all() and (f2 == f1).all()
            return perm if same else None
        return perm if np.array_equal(code, own_code) else None

    return find


def _translation_finder_search(pos, local, edges, images, flag):
    """A function ``tau -> permutation or None`` for unstable nets (atoms sharing a point): see
    :func:`_translation_permutation`."""
    n = len(pos)
    keys = _position_keys(pos)
    atoms_at: dict[tuple, list[int]] = {}
    for a in range(n):
        atoms_at.setdefault((local[a], keys[a]), []).append(a)
    edge_set = set(_edge_rows(edges, images, flag))
    return lambda tau: _translation_permutation(pos, tau, local, atoms_at, edges, images, flag, edge_set)


def _translation_permutation(pos, tau, local, atoms_at, edges, images, flag, edge_set) -> np.ndarray | None:
    """The atom permutation by which translation ``tau`` maps the net onto itself, or ``None`` if it does not.

    A translation keeps bond vectors and refined colours, so the image of one atom fixes the images of its
    neighbours; the map is grown outward along bonds. Where an unstable net gives an atom several neighbours with
    the same bond vector and surroundings, the choice is made by depth-first search with this propagation.
    """
    n = len(pos)
    moved = _position_keys(pos + tau)
    candidates = []
    for a in range(n):
        targets = atoms_at.get((local[a], moved[a]))
        if targets is None:
            return None
        candidates.append(targets)
    vec_keys = [tuple(v) for v in np.rint(bond_vectors(pos, edges, images) * ROUND).astype(np.int64).tolist()]
    around: list[dict[tuple, list[int]]] = [{} for _ in range(n)]
    for (i, j), v, f in zip(edges.tolist(), vec_keys, flag.tolist()):
        around[i].setdefault((local[j], v, f), []).append(j)
        around[j].setdefault((local[i], tuple(-x for x in v), f), []).append(i)

    def propagate(perm: list[int], used: set[int], queue: list[int]) -> bool:
        while queue:
            a = queue.pop()
            for key, sources in around[a].items():
                targets = around[perm[a]].get(key)
                if targets is None or len(targets) != len(sources):
                    return False
                if len(sources) == 1:
                    src, dst = sources[0], targets[0]
                    if perm[src] < 0:
                        if dst in used or dst not in candidates[src]:
                            return False
                        perm[src] = dst
                        used.add(dst)
                        queue.append(src)
                    elif perm[src] != dst:
                        return False
                elif any(perm[src] >= 0 and perm[src] not in targets for src in sources):
                    return False
        return True

    budget = [MAX_SEARCH_NODES]

    def search(perm: list[int], used: set[int]) -> list[int] | None:
        budget[0] -= 1
        if budget[0] < 0:
            raise NotEmbeddableError(
                "unstable_net",
                "atoms that share a point of the equilibrium placement make it too costly to test whether the net "
                f"repeats within the cell (more than {MAX_SEARCH_NODES} trials)",
            )
        open_atoms = [a for a in range(n) if perm[a] < 0]
        if not open_atoms:
            return perm
        a = min(open_atoms, key=lambda x: len(candidates[x]))
        for t in candidates[a]:
            if t in used:
                continue
            trial, trial_used = perm.copy(), used | {t}
            trial[a] = t
            if propagate(trial, trial_used, [a]):
                found = search(trial, trial_used)
                if found is not None:
                    return found
        return None

    start = [-1] * n
    found = search(start, set())
    if found is None:
        return None
    perm = np.array(found, dtype=np.int64)
    shift = np.rint(pos + tau - pos[perm]).astype(np.int64)  # image of each moved atom
    new_edges = np.column_stack([perm[edges[:, 0]], perm[edges[:, 1]]])
    e2, t2, f2 = normalise_marked_edges(new_edges, images + shift[edges[:, 1]] - shift[edges[:, 0]], flag.astype(bool))
    return perm if set(_edge_rows(e2, t2, f2)) == edge_set else None


def _local_signatures(
    colour: np.ndarray, edges: np.ndarray, vec: np.ndarray, flag: np.ndarray | None = None
) -> list[int]:
    """Colour refinement that also sees bond vectors (and whether an edge is a contact): atoms get equal labels only
    if their surroundings match edge by edge, to any depth. Translation-invariant, so a lattice translation
    preserves it."""
    grid = [tuple(v) for v in np.rint(vec * ROUND).astype(np.int64).tolist()]
    flags = _flags(flag, len(edges)).tolist()
    label = [int(c) for c in colour]
    n_labels = len(set(label))
    for _ in range(len(label)):
        around: list[list[tuple]] = [[] for _ in label]
        for (i, j), v, f in zip(edges.tolist(), grid, flags):
            around[i].append((2 * label[j] + f, v))
            around[j].append((2 * label[i] + f, tuple(-x for x in v)))
        signatures = [(label[a], tuple(sorted(around[a]))) for a in range(len(label))]
        ranks = {sig: r for r, sig in enumerate(sorted(set(signatures)))}
        label = [ranks[sig] for sig in signatures]
        if len(ranks) == n_labels:
            break
        n_labels = len(ranks)
    return label


def _position_grid(pos: np.ndarray) -> np.ndarray:
    """Fractional positions wrapped into the cell, as integers on the 2**-20 grid (n, 3)."""
    return np.rint(pos * ROUND).astype(np.int64) % int(ROUND)


def _position_keys(pos: np.ndarray) -> list[tuple[int, int, int]]:
    return [tuple(row) for row in _position_grid(pos).tolist()]


def _edge_rows(edges: np.ndarray, images: np.ndarray, flag: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(row) for row in np.column_stack([edges, images, np.asarray(flag, dtype=np.int64)]).tolist()]


def reduced_candidate_bases(metric: np.ndarray) -> list[np.ndarray]:
    """All integer bases (rows, in the current coordinates) made of lattice vectors with the reduced cell's lengths.

    The Niggli (Buerger) reduced cell's edge lengths a <= b <= c are unique for a lattice, so the set of unimodular
    bases whose vectors have exactly these lengths is an invariant of the lattice and its metric; it is finite and
    contains the Niggli cell and all its images under the lattice's point symmetry. (The Niggli cell itself is not
    used directly: numerical Niggli reduction breaks ties between equal lengths inconsistently.)
    """
    from pymatgen.core.lattice import Lattice

    chol = np.linalg.cholesky(metric)  # rows of chol are basis vectors in an orthonormal frame
    scale = np.cbrt(abs(np.linalg.det(chol)))
    lattice = Lattice(chol / scale)
    niggli = lattice.get_niggli_reduced_lattice(tol=1e-5)
    to_niggli = np.rint(niggli.matrix @ np.linalg.inv(lattice.matrix)).astype(np.int64)
    lengths2 = np.sort(np.einsum("ij,ij->i", niggli.matrix, niggli.matrix))
    coeffs = np.array([c for c in itertools.product((-2, -1, 0, 1, 2), repeat=3) if any(c)], dtype=np.int64)
    vectors = coeffs @ niggli.matrix
    norms = np.einsum("ij,ij->i", vectors, vectors)
    tol = 1e-6 * lengths2.sum()
    options = [np.flatnonzero(np.abs(norms - lengths2[k]) < tol) for k in range(3)]
    triples = np.array(
        [(a, b, c) for a in options[0] for b in options[1] for c in options[2] if a != b and a != c and b != c],
        dtype=np.int64,
    ).reshape(-1, 3)
    matrices = coeffs[triples]  # (k, 3, 3)
    unimodular = np.abs(np.rint(np.linalg.det(matrices))) == 1 if len(matrices) else np.zeros(0, dtype=bool)
    bases = [m @ to_niggli for m in matrices[unimodular]]
    return bases


# ----------------------------------------------------------------------------------------------------------------
# The canonical code


def _pack_edges(i: np.ndarray, j: np.ndarray, t: np.ndarray, flag: np.ndarray, n: int) -> np.ndarray:
    """Integer code per edge whose order is the canonical edge order: bonds before contacts, then by ``(i, j)``,
    then by image. Edges must be oriented (``i <= j``); image components beyond +-7 are clipped (see the callers)."""
    digits = np.clip(t, -7, 7) + 8
    return (((flag * n + i) * n + j) * 16 + digits[..., 0]) * 256 + digits[..., 1] * 16 + digits[..., 2]


def _unpack_edges(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edges, images, contacts)`` from the codes of :func:`_pack_edges`."""
    pair = keys // (16 * 256)
    e2 = np.column_stack([pair // n % n, pair % n])
    t2 = np.column_stack([(keys // 256) % 16, (keys // 16) % 16, keys % 16]) - 8
    return e2, t2, pair // (n * n) > 0


def _orient(i: np.ndarray, j: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orient edges (last axis of ``t`` is the image) as ``i <= j``; a self-loop keeps the image whose first
    non-zero component is positive."""
    first_nonzero = np.take_along_axis(t, np.argmax(t != 0, axis=-1)[..., None], axis=-1)[..., 0]
    flip = (i > j) | ((i == j) & (first_nonzero < 0))
    return np.where(flip, j, i), np.where(flip, i, j), np.where(flip[..., None], -t, t)


def _code_for_order(order: np.ndarray, grid: np.ndarray, v: np.ndarray, edges: np.ndarray, flag: np.ndarray):
    """(key, order, edges, images, contacts) for atoms listed in ``order`` with wrapped grid positions and edge
    vectors v."""
    n = len(order)
    rank = np.empty_like(order)
    rank[order] = np.arange(n)
    wrapped = grid / ROUND
    t = np.rint(wrapped[edges[:, 0]] + v - wrapped[edges[:, 1]]).astype(np.int64)
    i, j, t = _orient(rank[edges[:, 0]], rank[edges[:, 1]], t)
    keys = np.unique(_pack_edges(i, j, t, flag, n))
    e2, t2, c2 = _unpack_edges(keys, n)
    if np.abs(t).max(initial=0) > 7:
        t2 = np.full_like(t2, 99)  # marks an overflow; reported by the caller
    key = (tuple(grid[order].ravel().tolist()), tuple(keys.tolist()))
    return key, order, e2, t2, c2


def _ties(element_rank, colour, grid) -> bool:
    same = (element_rank[1:] == element_rank[:-1]) & (colour[1:] == colour[:-1]) & (grid[1:] == grid[:-1]).all(1)
    return bool(same.any())


def _leading_candidates(element_rank, colour, pos, origins, bases) -> list[tuple[int, np.ndarray]]:
    """The (origin, basis) pairs whose sorted wrapped positions are lexicographically smallest.

    All candidates are placed and sorted at once with numpy; only the survivors (usually the net's symmetry
    images of one another) go on to the full code with bonds.
    """
    n = len(colour)
    inv = np.linalg.inv(np.array(bases, dtype=float))  # (b, 3, 3)
    rel = pos[None, :, :] - pos[origins][:, None, :]  # (k, n, 3)
    y = np.einsum("kna,bac->kbnc", rel, inv).reshape(-1, n, 3)
    grid = np.rint(y * ROUND).astype(np.int64) % int(ROUND)
    n_cand = grid.shape[0]
    cand = np.repeat(np.arange(n_cand), n)
    flat = grid.reshape(-1, 3)
    order = np.lexsort((flat[:, 2], flat[:, 1], flat[:, 0], np.tile(colour, n_cand), np.tile(element_rank, n_cand), cand))
    sorted_grid = flat[order].reshape(n_cand, 3 * n)
    alive = np.arange(n_cand)
    for col in range(3 * n):
        values = sorted_grid[alive, col]
        alive = alive[values == values.min()]
        if len(alive) == 1:
            break
    return [(int(origins[c // len(bases)]), bases[c % len(bases)]) for c in alive]


def canonical_graph(graph: SlicesGraph) -> SlicesGraph:
    """Canonical representative of a 3D net; raises :class:`NotEmbeddableError` for anything else."""
    problem = embeddability(graph.n_atoms, graph.edges, graph.images)
    if problem is not None:
        raise NotEmbeddableError(*problem)
    species = list(graph.species)
    edges, images, flag = graph.edges, graph.images, graph.contacts.astype(np.int64)
    colour = wl_colours(species, edges, images, flag)
    pos = barycentric_placement(len(species), edges, images)
    species, colour, edges, images, pos, contacts, _ = reduce_to_primitive(species, colour, edges, images, pos, flag)
    flag = contacts.astype(np.int64)
    vec = bond_vectors(pos, edges, images)
    metric = np.linalg.inv(vec.T @ vec)
    bases = reduced_candidate_bases(metric)
    present = sorted(set(species), key=element_order_key)
    element_rank = np.array([present.index(s) for s in species], dtype=np.int64)
    # origins: atoms of the rarest colour class (ties: the smallest colour)
    values, counts = np.unique(colour, return_counts=True)
    rare = values[np.lexsort((values, counts))[0]]
    origins = np.flatnonzero(colour == rare)
    survivors = _leading_candidates(element_rank, colour, pos, origins, bases)
    best = _best_by_bonds(element_rank, colour, pos, vec, edges, flag, survivors)
    if best is None:  # atoms tied on position: try their orders
        for origin, basis in survivors:
            code = _break_ties(element_rank, colour, pos, vec, edges, flag, origin, basis)
            if best is None or code[0] < best[0]:
                best = code
    _, order, e2, t2, c2 = best
    if np.abs(t2).max(initial=0) > 1:
        e2, t2, c2 = fit_images(len(species), e2, t2, c2)
    return SlicesGraph(species=tuple(species[a] for a in order), edges=e2, images=t2, contacts=c2)


def fit_images(
    n: int, edges: np.ndarray, images: np.ndarray, contacts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move atoms to other periodic images so that every bond label lies in -1/0/+1, when that is possible.

    Wrapping atoms into the reduced cell labels almost every real crystal within -1..+1, but a graph can have a bond
    longer than the cell along some axis (generated strings often do). Per axis, labels ``t + s_j - s_i`` in
    [-1, 1] are difference constraints on integer shifts ``s``; Bellman-Ford finds the shifts, or proves there are
    none (a cycle of bonds whose net translation is longer than the cycle), which raises ImageOverflowError.
    The result is a deterministic function of the (already canonical) input, so the form stays canonical.
    Returns edges, images and contact flags, normalised.
    """
    if np.abs(images).max(initial=0) > 7:
        raise ImageOverflowError("a bond spans more than seven cells in the reduced basis; '-'/'o'/'+' cannot label it")
    shifts = np.zeros((n, 3), dtype=np.int64)
    i, j = edges[:, 0], edges[:, 1]
    for axis in range(3):
        t = images[:, axis]
        # constraints: s_j - s_i <= 1 - t  and  s_i - s_j <= 1 + t  (edges u -> v with weight w mean s_v <= s_u + w)
        u = np.concatenate([i, j])
        v = np.concatenate([j, i])
        w = np.concatenate([1 - t, 1 + t])
        dist = np.zeros(n, dtype=np.int64)
        for _ in range(n + 1):
            changed = False
            for a, b, weight in zip(u.tolist(), v.tolist(), w.tolist()):
                if dist[a] + weight < dist[b]:
                    dist[b] = dist[a] + weight
                    changed = True
            if not changed:
                break
        else:
            raise ImageOverflowError(
                "a bond spans more than one cell even in the reduced basis, and no choice of periodic images labels "
                "every bond with '-'/'o'/'+'"
            )
        shifts[:, axis] = dist - dist.max()
    return normalise_marked_edges(edges, images + shifts[j] - shifts[i], contacts)


def _best_by_bonds(element_rank, colour, pos, vec, edges, flag, survivors):
    """Among candidates tied on positions, the one whose bond list is smallest; all scored at once with numpy.

    Returns ``None`` when atoms share element, colour and position (an unstable net), which needs
    :func:`_break_ties`.
    """
    n, n_cand = len(colour), len(survivors)
    origins = np.array([o for o, _ in survivors])
    inv = np.linalg.inv(np.array([b for _, b in survivors], dtype=float))  # (s, 3, 3)
    y = np.einsum("sna,sab->snb", pos[None, :, :] - pos[origins][:, None, :], inv)
    grid = np.rint(y * ROUND).astype(np.int64) % int(ROUND)
    flat = grid.reshape(-1, 3)
    cand = np.repeat(np.arange(n_cand), n)
    order = np.lexsort((flat[:, 2], flat[:, 1], flat[:, 0], np.tile(colour, n_cand), np.tile(element_rank, n_cand), cand))
    order = order.reshape(n_cand, n) - np.arange(n_cand)[:, None] * n
    if _ties(element_rank[order[0]], colour[order[0]], grid[0][order[0]]):
        return None
    rows = np.arange(n_cand)[:, None]
    rank = np.empty_like(order)
    rank[rows, order] = np.arange(n)
    wrapped = grid / ROUND
    v = np.einsum("ma,sab->smb", vec, inv)
    t = np.rint(wrapped[:, edges[:, 0]] + v - wrapped[:, edges[:, 1]]).astype(np.int64)  # (s, m, 3)
    i, j, t = _orient(rank[:, edges[:, 0]], rank[:, edges[:, 1]], t)
    keys = _pack_edges(i, j, t, flag[None, :], n)
    keys.sort(axis=1)
    alive = np.arange(n_cand)
    for col in range(keys.shape[1]):
        values = keys[alive, col]
        alive = alive[values == values.min()]
        if len(alive) == 1:
            break
    k = int(alive[0])
    e2, t2, c2 = _unpack_edges(keys[k], n)
    if np.abs(t[k]).max(initial=0) > 7:
        t2 = np.full_like(t2, 99)  # marks an overflow; reported by the caller
    return None, order[k], e2, t2, c2


def _break_ties(element_rank, colour, pos, vec, edges, flag, origin, basis):
    """Order atoms that share element, colour and placement by trying every distinct order of each tied group.

    Tied atoms that are *twins* (the same neighbours through the same edge vectors, such as the hydrogens of a
    methyl group) can be swapped without changing the code, so only orders that differ in more than the order of
    twins are tried: a group of six hydrogens in two methyl groups has 20 such orders, not 720.
    """
    to_new = np.linalg.inv(basis)
    grid = np.rint((pos - pos[origin]) @ to_new * ROUND).astype(np.int64) % int(ROUND)
    v = vec @ to_new
    # refine by the bond vectors around each atom, expressed in this candidate's basis (so still canonical)
    local = np.array(_local_signatures(colour, edges, v, flag), dtype=np.int64)
    base_order = np.lexsort((local, grid[:, 2], grid[:, 1], grid[:, 0], colour, element_rank))
    keys = [(element_rank[a], colour[a], tuple(grid[a]), local[a]) for a in base_order]
    groups = [list(g) for _, g in itertools.groupby(range(len(keys)), key=lambda k: keys[k])]
    twin = _twin_keys(len(keys), edges, v, flag)
    tied = []
    for g in groups:
        if len(g) > 1:
            classes: dict[tuple, list[int]] = {}
            for slot in g:
                classes.setdefault(twin[base_order[slot]], []).append(slot)
            if len(classes) > 1:
                tied.append((g, list(classes.values())))
    total = 1
    for g, classes in tied:
        total *= math.factorial(len(g)) // math.prod(math.factorial(len(c)) for c in classes)
    if total > MAX_TIE_PERMUTATIONS:
        cells = [[int(base_order[slot]) for slot in g] for g in groups]
        return _individualise_and_refine(cells, twin, grid, v, edges, flag)
    best = None
    for choice in itertools.product(*(_multiset_orders([len(c) for c in classes]) for _, classes in tied)):
        slots = list(range(len(keys)))
        for (g, classes), labels in zip(tied, choice):
            members = [iter(c) for c in classes]
            for slot, label in zip(g, labels):
                slots[slot] = next(members[label])
        code = _code_for_order(base_order[slots], grid, v, edges, flag)
        if best is None or code[0] < best[0]:
            best = code
    return best


MAX_SEARCH_LEAVES = 20000


def _individualise_and_refine(cells: list[list[int]], twin: list[tuple], grid, v, edges, flag):
    """Order tied atoms by individualisation and refinement (the scheme of graph canonisers such as nauty), for
    unstable nets whose tied groups have too many orders to try them all.

    ``cells`` is the ordered partition of the atoms (by element, colour, position, local signature). Refinement
    splits a cell by each atom's neighbours' cells and edge vectors; when it stops, the first cell with several
    atoms is split by putting each of its atoms (one per twin class) first, and the search recurses. Every choice
    depends on the graph alone, so the smallest code over the leaves is canonical. Raises ``unstable_net`` past
    :data:`MAX_SEARCH_LEAVES` leaves.
    """
    d = np.rint(v * ROUND).astype(np.int64).tolist()
    around: list[list[tuple]] = [[] for _ in twin]
    for (i, j), vec, f in zip(edges.tolist(), d, flag.tolist()):
        around[i].append((j, tuple(vec), f))
        around[j].append((i, (-vec[0], -vec[1], -vec[2]), f))
    best = None
    leaves = 0

    def refine(cells: list[list[int]]) -> list[list[int]]:
        while True:
            cell_of = {a: k for k, cell in enumerate(cells) for a in cell}
            split_any, new = False, []
            for cell in cells:
                if len(cell) == 1:
                    new.append(cell)
                    continue
                signature = {a: tuple(sorted((cell_of[b], vec, f) for b, vec, f in around[a])) for a in cell}
                values = sorted(set(signature.values()))
                split_any |= len(values) > 1
                new.extend([a for a in cell if signature[a] == value] for value in values)
            cells = new
            if not split_any:
                return cells

    def search(cells: list[list[int]]) -> None:
        nonlocal best, leaves
        cells = refine(cells)
        target = next((k for k, cell in enumerate(cells) if len(cell) > 1), None)
        if target is None:
            leaves += 1
            if leaves > MAX_SEARCH_LEAVES:
                raise NotEmbeddableError(
                    "unstable_net",
                    "the equilibrium placement puts several equivalent atoms on one point (an unstable net) and "
                    f"ordering them needs more than {MAX_SEARCH_LEAVES} trials",
                )
            code = _code_for_order(np.array([cell[0] for cell in cells], dtype=np.int64), grid, v, edges, flag)
            if best is None or code[0] < best[0]:
                best = code
            return
        cell, seen = cells[target], set()
        for a in cell:
            if twin[a] in seen:
                continue
            seen.add(twin[a])
            search(cells[:target] + [[a], [b for b in cell if b != a]] + cells[target + 1 :])

    search(cells)
    return best


def _twin_keys(n: int, edges: np.ndarray, v: np.ndarray, flag: np.ndarray) -> list[tuple]:
    """Per atom, its neighbours with the edge vectors to them (and edge colours), as a sorted tuple: two atoms on one
    point with equal keys are twins, exchangeable without changing the graph."""
    grid = np.rint(v * ROUND).astype(np.int64).tolist()
    around: list[list[tuple]] = [[] for _ in range(n)]
    for (i, j), d, f in zip(edges.tolist(), grid, flag.tolist()):
        around[i].append((j, *d, f))
        around[j].append((i, -d[0], -d[1], -d[2], f))
    return [tuple(sorted(a)) for a in around]


def _multiset_orders(sizes: list[int]):
    """Every distinct sequence holding ``sizes[c]`` copies of label ``c`` (lexicographic order)."""
    left = list(sizes)
    sequence: list[int] = []

    def extend():
        if len(sequence) == sum(sizes):
            yield tuple(sequence)
            return
        for label, count in enumerate(left):
            if count:
                left[label] -= 1
                sequence.append(label)
                yield from extend()
                sequence.pop()
                left[label] += 1

    yield from extend()


def canonical_form(graph: SlicesGraph) -> SlicesGraph:
    """Canonical representative of any graph that is a 3D net, possibly with unbonded atoms.

    Unbonded (isolated) atoms, which the reference implementation sometimes writes, carry no geometry; they are
    listed after the bonded atoms, by element. Everything else must be a connected 3D net.
    """
    degree = graph.degree()
    if graph.n_atoms and (degree == 0).any() and (degree > 0).any():
        bonded = np.flatnonzero(degree > 0)
        index = -np.ones(graph.n_atoms, dtype=np.int64)
        index[bonded] = np.arange(len(bonded))
        core = SlicesGraph(
            species=tuple(graph.species[a] for a in bonded),
            edges=index[graph.edges],
            images=graph.images,
            contacts=graph.contacts,
        )
        core = canonical_graph(core)
        loose = sorted((graph.species[a] for a in np.flatnonzero(degree == 0)), key=element_order_key)
        return SlicesGraph(
            species=core.species + tuple(loose), edges=core.edges, images=core.images, contacts=core.contacts
        )
    return canonical_graph(graph)
