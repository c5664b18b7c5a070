"""Chemical bonds of a crystal: which atom pairs (with which periodic image) are neighbours.

The default finder is a vectorised implementation of Hoppe's effective coordination number (ECoN), the same rule as
pymatgen's ``EconNN`` with its default settings (which the reference SLICES code uses): for each atom, a mean
fictive bond length ``L`` is found self-consistently from all neighbours within ``cutoff``; a neighbour at distance
``d`` is bonded when its weight ``exp(1 - (d / L) ** 6)`` exceeds ``tol``. A bond found from either end counts.
``benchmarks/bench_codec.py`` measures its agreement with pymatgen's ``EconNN`` and its speed.
``method="crystalnn"`` uses pymatgen's ``CrystalNN`` instead (slower).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from periodicnet.graph import normalise_edges

ECON_TOL = 0.2
ECON_CUTOFF = 10.0


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(values) else np.zeros(0)


def econ_bonds(
    structure: Structure, tol: float = ECON_TOL, cutoff: float = ECON_CUTOFF
) -> tuple[np.ndarray, np.ndarray]:
    """ECoN bonds of ``structure`` as ``(edges (m, 2), images (m, 3))``, normalised (``i <= j``, no duplicates)."""
    centers, neighbors, images, distances = structure.get_neighbor_list(cutoff, exclude_self=True)
    n = len(structure)
    order = np.lexsort((distances, centers))
    centers, neighbors, images, distances = centers[order], neighbors[order], images[order], distances[order]
    present = np.unique(centers)
    if len(present) < n:
        lonely = sorted(set(range(n)) - set(present.tolist()))
        from slices.errors import NotEmbeddableError

        raise NotEmbeddableError(
            "isolated_atom", f"atom {lonely[0]} has no neighbour within {cutoff} A, so it cannot be bonded"
        )
    starts = np.searchsorted(centers, np.arange(n))
    # Hoppe's mean fictive radius, iterated to self-consistency for all atoms at once; starts from the shortest
    # distance of each atom (the first in its sorted segment)
    mean = distances[starts].astype(float)
    converged = np.zeros(n, dtype=bool)
    for _ in range(200):
        ratio = distances / mean[centers]
        w = np.exp(1.0 - ratio**6)
        new_mean = _segment_sum(distances * w, starts) / _segment_sum(w, starts)
        converged = np.abs(new_mean - mean) <= 1e-4
        mean = new_mean
        if converged.all():
            break
    weights = np.exp(1.0 - (distances / mean[centers]) ** 6)
    bonded = weights > tol
    edges = np.column_stack([centers[bonded], neighbors[bonded]])
    return normalise_edges(edges, np.rint(images[bonded]).astype(np.int64))


def crystalnn_bonds(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Bonds from pymatgen's CrystalNN (slower; for comparison and for users who prefer it)."""
    from pymatgen.analysis.local_env import CrystalNN

    import warnings

    finder = CrystalNN()
    edges, images = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CrystalNN warns about missing oxidation states on every site
        all_info = finder.get_all_nn_info(structure)
    for i, infos in enumerate(all_info):
        for info in infos:
            edges.append((i, info["site_index"]))
            images.append(tuple(int(round(x)) for x in info["image"]))
    return normalise_edges(np.array(edges, dtype=np.int64).reshape(-1, 2), np.array(images).reshape(-1, 3))


BOND_METHODS = {"econ": econ_bonds, "crystalnn": crystalnn_bonds}


def find_bonds(structure: Structure, method: str = "econ") -> tuple[np.ndarray, np.ndarray]:
    """Bonds of ``structure`` with the named method (``"econ"`` or ``"crystalnn"``)."""
    try:
        finder = BOND_METHODS[method]
    except KeyError:
        from slices.errors import SlicesError

        raise SlicesError(f"unknown bond method {method!r}; choose one of {sorted(BOND_METHODS)}") from None
    return finder(structure)
