"""Stage 1: place atoms and find a lattice from the labelled quotient graph alone.

1. Barycentric (equilibrium) placement: every atom sits at the mean of its bonded neighbours' images, a linear
   solve of the periodic graph Laplacian for fractional coordinates in the graph's own basis.
2. Metric: the cell matrix ``A`` (rows are lattice vectors) is fitted so that bond lengths match per-element-pair
   targets (:mod:`relax.bondtable`); ``|f A|^2 = f G f^T`` is linear in the metric ``G = A A^T``.
3. Graph-constrained optimisation of ``A`` and the fractional coordinates together: springs on the graph's bonds,
   a soft repulsion for non-bonded pairs that come closer than their pair's bond length (scipy L-BFGS with
   analytic gradients, the non-bonded pair list rebuilt between rounds).

Everything is deterministic; ``seed`` only sets the tiny perturbation that separates atoms the barycentric solve
puts on the same point.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from periodicnet.graph import barycentric_placement, bond_vectors
from periodicnet.structure import closest_pair
from relax.bondtable import bond_length
from relax.errors import RelaxError
from relax.springs import gather_to_atoms, spring_energy

REPULSION_WEIGHT = 1.0
VOLUME_WEIGHT = 0.005  # per bond: a weak push to the roomiest metric the bonds allow (fixes what they leave free)


def initial_cell(bond_frac: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """A basis-independent starting cell: metric ``c (F^T F)^-1`` of the bond vectors, scaled to the targets.

    Bond lengths alone often leave parts of the metric undetermined (e.g. a tetragonal cell's shear), so instead of a
    least-squares fit (whose minimum-norm answer depends on the basis) start from the metric that makes the bond
    vectors isotropic; it transforms covariantly under any change of basis.
    """
    f = bond_frac[np.linalg.norm(bond_frac, axis=1) > 1e-6]
    metric = np.linalg.inv(f.T @ f + 1e-9 * np.eye(3))
    metric = 0.5 * (metric + metric.T)
    scale = np.sum(targets**2) / max(np.einsum("ki,ij,kj->", bond_frac, metric, bond_frac), 1e-12)
    return np.linalg.cholesky(metric * scale)


class _Objective:
    """Bond springs plus non-bonded repulsion; the variables are the cell matrix and fractional coordinates."""

    def __init__(self, n_atoms, edges, images, targets, pairs, pair_images, pair_d0, weights=None, n_edges=None,
                 stretch_weights=None):
        self.n = n_atoms
        self.mu = VOLUME_WEIGHT * (len(targets) if n_edges is None else n_edges)  # per graph edge, not per spring
        self.w = np.ones(len(targets)) if weights is None else weights
        self.w_stretch = np.zeros(len(targets)) if stretch_weights is None else stretch_weights
        self.i, self.j = edges[:, 0], edges[:, 1]
        self.t = images.astype(float)
        self.target = targets
        self.pi, self.pj = pairs[:, 0], pairs[:, 1]
        self.pt = pair_images.astype(float)
        self.d0 = pair_d0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        a = x[:9].reshape(3, 3)
        frac = x[9:].reshape(self.n, 3)
        g_a = np.zeros((3, 3))
        g_frac = np.zeros((self.n, 3))
        # springs on edges w ((|d| - L) / L)^2 (w = 1 for bonds, weaker for contacts), and a one-sided repulsion
        # ((|d| - d0) / d0)^2 for close non-bonded pairs
        terms = [(self.i, self.j, self.t, self.target, self.w / self.target**2, "both")]
        held = self.w_stretch > 0  # springs that also resist stretching (contacts: keep the pieces together)
        if held.any():
            terms.append((self.i[held], self.j[held], self.t[held], self.target[held],
                          self.w_stretch[held] / self.target[held] ** 2, "stretch"))
        if len(self.pi):
            terms.append((self.pi, self.pj, self.pt, self.d0, REPULSION_WEIGHT / self.d0**2, "compress"))
        energy = 0.0
        for i, j, t, rest, stiffness, side in terms:
            f = frac[j] + t - frac[i]
            term, gd = spring_energy(f @ a, rest, stiffness, side)
            energy += term
            g_a += f.T @ gd
            g_frac += gather_to_atoms(gd @ a.T, i, j, self.n)
        # -mu log|det A|: fixes the parts of the metric the bond lengths leave free, invariantly
        mu = self.mu
        det = np.linalg.det(a)
        energy -= mu * np.log(abs(det) + 1e-12)
        g_a -= mu * np.linalg.inv(a).T
        return energy, np.concatenate([g_a.ravel(), g_frac.ravel()])


def _nonbonded_pairs(species, a, frac, bonded: set, cutoff: float, d0_of):
    """Pairs (i, j, image) closer than ``cutoff`` that are not bonds of the graph, with their repulsion radius."""
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice(a), list(species), frac, coords_are_cartesian=False, to_unit_cell=False)
    ci, pj, offs, dist = s.get_neighbor_list(cutoff)
    rows, imgs, d0 = [], [], []
    for i, j, t, r in zip(ci.tolist(), pj.tolist(), np.asarray(offs, dtype=np.int64).tolist(), dist.tolist()):
        if (i, j, tuple(t)) in bonded:
            continue
        r0 = d0_of(i, j)
        if r < r0 * 1.5:
            rows.append((i, j))
            imgs.append(t)
            d0.append(r0)
    return (
        np.array(rows, dtype=np.int64).reshape(-1, 2),
        np.array(imgs, dtype=np.int64).reshape(-1, 3),
        np.array(d0, dtype=float),
    )


def place(species, edges: np.ndarray, images: np.ndarray, *, seed: int = 0, rounds: int = 6,
          targets: np.ndarray | None = None, weights: np.ndarray | None = None,
          extra_springs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
          stretch_weights: np.ndarray | None = None):
    """Stage 1: return ``(cell_matrix, frac_coords)`` for a 3D labelled quotient graph.

    ``targets``: each edge's length (default: the bond table's); ``weights``: each edge's spring weight (default 1;
    contacts are weaker, :mod:`relax.targets`); ``stretch_weights``: each edge's extra weight against being longer
    than its target (default 0; contacts get one, so the volume term cannot pull the pieces of a layered or molecular
    crystal apart while they stay soft against compression). ``extra_springs``: ``(pairs, images, lengths, weights)`` of springs
    that are not edges of the graph (the 1-3 distances of :mod:`relax.angles`); they join the optimisation only,
    not the barycentric start. Non-bonded pairs are repelled below the shorter of the pair's
    table length and its shortest target in this graph.
    Raises :class:`RelaxError` with reason ``placement_failed`` when no sensible geometry is found.
    """
    species = list(species)
    n = len(species)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    if targets is None:
        targets = np.array([bond_length(species[i], species[j]) for i, j in edges.tolist()])
    weights = np.ones(len(edges)) if weights is None else np.asarray(weights, dtype=float)
    stretch = np.zeros(len(edges)) if stretch_weights is None else np.asarray(stretch_weights, dtype=float)
    frac = barycentric_placement(n, edges, images)
    rng = np.random.default_rng(seed)
    # separate atoms the barycentric solve placed on top of each other (unstable nets)
    key = np.round(np.mod(frac, 1.0), 6)
    _, counts = np.unique(key, axis=0, return_counts=True)
    if (counts > 1).any():
        frac = frac + rng.normal(scale=0.02, size=frac.shape)
    a = initial_cell(bond_vectors(frac, edges, images), targets)

    spring_edges, spring_images, spring_targets, spring_weights = edges, images, np.asarray(targets, dtype=float), weights
    if extra_springs is not None and len(extra_springs[0]):
        pairs_x, images_x, lengths_x, weights_x = extra_springs
        spring_edges = np.concatenate([edges, np.asarray(pairs_x, dtype=np.int64).reshape(-1, 2)])
        spring_images = np.concatenate([images, np.asarray(images_x, dtype=np.int64).reshape(-1, 3)])
        spring_targets = np.concatenate([spring_targets, np.asarray(lengths_x, dtype=float)])
        spring_weights = np.concatenate([weights, np.asarray(weights_x, dtype=float)])
        stretch = np.concatenate([stretch, np.zeros(len(lengths_x))])
    bonded = set()
    for (i, j), t in zip(spring_edges.tolist(), spring_images.tolist()):
        bonded.add((i, j, tuple(t)))
        bonded.add((j, i, tuple(-x for x in t)))
    shortest: dict[tuple[str, str], float] = {}  # the graph's own shortest target of each element pair
    for (i, j), length in zip(edges.tolist(), np.asarray(targets, dtype=float).tolist()):
        for k in ((species[i], species[j]), (species[j], species[i])):
            shortest[k] = min(shortest.get(k, length), length)
    pair_cache: dict[tuple[str, str], float] = {}

    def d0_of(i: int, j: int) -> float:
        k = (species[i], species[j])
        if k not in pair_cache:
            pair_cache[k] = min(bond_length(*k), shortest.get(k, np.inf))
        return pair_cache[k]

    cutoff = 1.5 * max(bond_length(x, y) for x in set(species) for y in set(species))
    x = np.concatenate([a.ravel(), frac.ravel()])
    pairs = np.zeros((0, 2), dtype=np.int64)
    pair_images = np.zeros((0, 3), dtype=np.int64)
    pair_d0 = np.zeros(0)
    for _ in range(rounds):
        objective = _Objective(n, spring_edges, spring_images, spring_targets, pairs, pair_images, pair_d0,
                               spring_weights, n_edges=len(edges), stretch_weights=stretch)
        result = minimize(objective, x, jac=True, method="L-BFGS-B", options={"maxiter": 400, "gtol": 1e-7})
        x = result.x
        a, frac = x[:9].reshape(3, 3), x[9:].reshape(n, 3)
        if abs(np.linalg.det(a)) < 1e-3:
            raise RelaxError("placement_failed", "the fitted cell collapsed to zero volume")
        new_pairs, new_images, new_d0 = _nonbonded_pairs(species, a, frac, bonded, cutoff, d0_of)
        known = {(i, j, tuple(t)) for (i, j), t in zip(pairs.tolist(), pair_images.tolist())}
        fresh = [(i, j, tuple(t)) for (i, j), t in zip(new_pairs.tolist(), new_images.tolist())]
        if all(p in known for p in fresh):
            break
        merged = sorted(known | set(fresh))
        pairs = np.array([(i, j) for i, j, _ in merged], dtype=np.int64).reshape(-1, 2)
        pair_images = np.array([t for _, _, t in merged], dtype=np.int64).reshape(-1, 3)
        pair_d0 = np.array([d0_of(i, j) for i, j, _ in merged], dtype=float)
    if np.linalg.det(a) < 0:  # keep a right-handed cell
        a = -a
        frac = -frac
    return a, frac


def min_distance(a: np.ndarray, frac: np.ndarray) -> float:
    """Shortest interatomic distance (angstrom) of the cell ``a`` with atoms at ``frac``, self-images included
    (:func:`periodicnet.structure.closest_pair`)."""
    from pymatgen.core import Lattice, Structure

    return closest_pair(Structure(Lattice(a), ["H"] * len(frac), frac))[0]
