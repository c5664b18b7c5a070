"""Completing a bond graph that is not a 3D net (layers, chains, molecules, separate nets) into one, with contacts.

The rule (``docs/canonical.md``, "Contacts"): while the graph of bonds and contacts is not a connected 3D net, take
every pair of atom copies that lie in *different* pieces of it (a piece: one molecule, chain, layer or framework of
the infinite crystal, found from the quotient graph and its cycle translations), find the shortest such distance
``d``, and add every such pair with a distance up to ``d + SHELL_TOLERANCE`` as a contact. Whole shells are added at
once, so no choice is ever made among symmetry-equivalent pairs: the contacts are a function of the crystal alone,
and the encoding stays invariant under rotation, translation, atom order and choice of cell.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from periodicnet.graph import embeddability, normalise_marked_edges, piece_lattices, same_piece
from slices.errors import NotEmbeddableError

SHELL_TOLERANCE = 0.01
"""Pairs within this many A of a shell's shortest distance belong to the shell (float noise is ~1e-12 A)."""

FIRST_CUTOFF = 6.0
"""Contacts are first looked for up to this distance (A); the search widens by doubling up to MAX_CUTOFF."""

MAX_CUTOFF = 24.0


def complete_with_contacts(
    structure: Structure, edges: np.ndarray, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonds of ``structure`` plus the contacts that make them a connected 3D net.

    Returns ``(edges, images, contacts)`` normalised, ``contacts`` True for the added edges. A graph that already is
    a 3D net comes back unchanged (no contacts). Raises :class:`NotEmbeddableError` (``reason="no_contacts"``) when
    no pair of pieces lies within :data:`MAX_CUTOFF`.
    """
    n = len(structure)
    if embeddability(n, edges, images) is None:
        return edges, images, np.zeros(len(edges), dtype=bool)
    edges, images, contacts = normalise_marked_edges(edges, images, None)
    cutoff = FIRST_CUTOFF
    pairs = _pairs(structure, cutoff)
    while embeddability(n, edges, images) is not None:
        centers, neighbors, cells, distances = pairs
        piece, offset, bases = piece_lattices(n, edges, images)
        apart = ~same_piece(piece, offset, bases, centers, neighbors, cells)
        if not apart.any() or distances[apart].min() + SHELL_TOLERANCE > cutoff:
            if cutoff >= MAX_CUTOFF:
                raise NotEmbeddableError(
                    "no_contacts",
                    f"the bonded pieces of the crystal are more than {MAX_CUTOFF} A apart; no contacts join them",
                )
            cutoff = min(2 * cutoff, MAX_CUTOFF)
            pairs = _pairs(structure, cutoff)
            continue
        shell = apart & (distances <= distances[apart].min() + SHELL_TOLERANCE)
        edges, images, contacts = normalise_marked_edges(
            np.vstack([edges, np.column_stack([centers[shell], neighbors[shell]])]),
            np.vstack([images, cells[shell]]),
            np.concatenate([contacts, np.ones(int(shell.sum()), dtype=bool)]),
        )
    return edges, images, contacts


def _pairs(structure: Structure, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All atom pairs within ``cutoff``: centre index, neighbour index, neighbour's cell, distance."""
    centers, neighbors, cells, distances = structure.get_neighbor_list(cutoff, exclude_self=True)
    return (
        centers.astype(np.int64),
        neighbors.astype(np.int64),
        np.rint(cells).astype(np.int64).reshape(-1, 3),
        distances.astype(float),
    )
