"""Chemical bonds of a crystal: which atom pairs (with which periodic image) are neighbours.

The default finder is a vectorised implementation of Hoppe's effective coordination number (ECoN), the same rule as
pymatgen's ``EconNN`` with its default settings (which the reference SLICES code uses): for each atom, a mean
fictive bond length ``L`` is found self-consistently from all neighbours within ``cutoff``; a neighbour at distance
``d`` is bonded when its weight ``exp(1 - (d / L) ** 6)`` exceeds ``tol``. A bond found from either end counts.
``benchmarks/bench_codec.py`` measures its agreement with pymatgen's ``EconNN`` and its speed.
``method="crystalnn"`` uses pymatgen's ``CrystalNN`` instead (slower).

The default, ``"econ_covalent"``, is ECoN plus the covalent bonds it misses between non-metals: ECoN compares a
neighbour's distance with the atom's *mean* bond length, so in a framework linker a C bonded to a metal-bound O and
to ring C's (1.39 A) has its ring bonds judged against the long metal-oxygen scale, and real bonds become "contacts"
(``docs/canonical.md``, "Bonds"). Every pair of :data:`COVALENT_ELEMENTS` closer than :data:`COVALENT_TOLERANCE` x
the sum of their covalent radii is bonded too. Crystals where ECoN already finds all such pairs (almost every
inorganic crystal) keep exactly the ECoN bonds, so their strings do not change.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Structure

from periodicnet.elements import COVALENT_NON_METALS
from periodicnet.graph import normalise_edges

ECON_TOL = 0.2
ECON_CUTOFF = 10.0
COVALENT_TOLERANCE = 1.2
"""A non-metal pair is covalently bonded below this x the sum of the two covalent radii (aromatic C-C: 1.39 A
against 1.2 x 1.52 = 1.82 A; the next C...C across a benzene ring, 2.4 A, stays unbonded)."""
COVALENT_ELEMENTS = COVALENT_NON_METALS
"""Elements whose mutual bonds are judged by covalent radii as well as by ECoN: H, B, C, N, O, P, S, Se and the
halogens. The metalloids are left to ECoN: their short pairs (Sb-Sb, As-As, Te-Te in antimonides, arsenides and
tellurides) sit in metal-rich nets where ECoN's mean-length rule is the better judge, and adding them changed 4 of
the 1,000 MP-20 dev strings for no organic bond (``benchmarks/results/bond_change.json``)."""


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(values) else np.zeros(0)


def _econ_marks(structure: Structure, tol: float, cutoff: float):
    """The neighbour list within ``cutoff`` (centre, neighbour, image, distance) and ECoN's bonded mask over it."""
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
    return centers, neighbors, images, distances, weights > tol


def _as_edges(centers, neighbors, images, bonded) -> tuple[np.ndarray, np.ndarray]:
    edges = np.column_stack([centers[bonded], neighbors[bonded]])
    return normalise_edges(edges, np.rint(images[bonded]).astype(np.int64))


def econ_bonds(
    structure: Structure, tol: float = ECON_TOL, cutoff: float = ECON_CUTOFF
) -> tuple[np.ndarray, np.ndarray]:
    """ECoN bonds of ``structure`` as ``(edges (m, 2), images (m, 3))``, normalised (``i <= j``, no duplicates)."""
    centers, neighbors, images, _, bonded = _econ_marks(structure, tol, cutoff)
    return _as_edges(centers, neighbors, images, bonded)


@lru_cache(maxsize=None)
def covalent_radius(symbol: str) -> float | None:
    """Covalent radius (angstrom) of an element, from ase's table (Cordero et al. 2008); None when not tabulated."""
    from ase.data import atomic_numbers, covalent_radii, missing

    radius = float(covalent_radii[atomic_numbers[symbol]])
    return None if radius == missing else radius


def covalent_pairs(species: list[str], centers: np.ndarray, neighbors: np.ndarray,
                   distances: np.ndarray) -> np.ndarray:
    """Mask over a neighbour list: both atoms in :data:`COVALENT_ELEMENTS` and closer than
    :data:`COVALENT_TOLERANCE` x their covalent radii sum."""
    radius = np.array([covalent_radius(s) if s in COVALENT_ELEMENTS else np.nan for s in species])
    limit = COVALENT_TOLERANCE * (radius[centers] + radius[neighbors])
    with np.errstate(invalid="ignore"):
        return distances < limit  # NaN (a metal on either end) compares False


def econ_covalent_bonds(
    structure: Structure, tol: float = ECON_TOL, cutoff: float = ECON_CUTOFF
) -> tuple[np.ndarray, np.ndarray]:
    """ECoN bonds plus the covalent non-metal pairs (module doc), as ``(edges, images)`` normalised."""
    centers, neighbors, images, distances, bonded = _econ_marks(structure, tol, cutoff)
    species = [site.specie.symbol for site in structure]
    bonded = bonded | covalent_pairs(species, centers, neighbors, distances)
    return _as_edges(centers, neighbors, images, bonded)


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


BOND_METHODS = {"econ_covalent": econ_covalent_bonds, "econ": econ_bonds, "crystalnn": crystalnn_bonds}
DEFAULT_BONDS = "econ_covalent"


def find_bonds(structure: Structure, method: str = DEFAULT_BONDS) -> tuple[np.ndarray, np.ndarray]:
    """Bonds of ``structure`` with the named method (one of :data:`BOND_METHODS`)."""
    try:
        finder = BOND_METHODS[method]
    except KeyError:
        from slices.errors import SlicesError

        raise SlicesError(f"unknown bond method {method!r}; choose one of {sorted(BOND_METHODS)}") from None
    return finder(structure)
