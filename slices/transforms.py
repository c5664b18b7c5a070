"""Operations that change how a crystal graph is written but not which crystal it is.

Each returns a new :class:`SlicesGraph` describing the same periodic net: another atom order, another choice of
which periodic image of each atom sits in the home cell, another lattice basis, or a supercell. They are what the
canonical form must see through, so the tests use them, and the generative model's training data uses
:func:`random_ordering` for augmentation.
"""

from __future__ import annotations

import itertools

import numpy as np

from periodicnet.graph import normalise_marked_edges
from slices.graph import SlicesGraph


def permute_atoms(graph: SlicesGraph, perm: np.ndarray) -> SlicesGraph:
    """Atom ``a`` of ``graph`` becomes atom ``perm[a]`` of the result."""
    perm = np.asarray(perm, dtype=np.int64)
    species = [""] * graph.n_atoms
    for a, b in enumerate(perm.tolist()):
        species[b] = graph.species[a]
    edges, images, contacts = normalise_marked_edges(perm[graph.edges], graph.images, graph.contacts)
    return SlicesGraph(species=tuple(species), edges=edges, images=images, contacts=contacts)


def random_ordering(graph: SlicesGraph, rng: np.random.Generator) -> SlicesGraph:
    """The same graph with its atoms in a random order (edges re-normalised and sorted)."""
    return permute_atoms(graph, rng.permutation(graph.n_atoms))


def shift_images(graph: SlicesGraph, shifts: np.ndarray) -> SlicesGraph:
    """Move atom ``a`` to the periodic image ``shifts[a]`` (an integer 3-vector per atom)."""
    shifts = np.asarray(shifts, dtype=np.int64).reshape(graph.n_atoms, 3)
    images = graph.images + shifts[graph.edges[:, 1]] - shifts[graph.edges[:, 0]]
    edges, images, contacts = normalise_marked_edges(graph.edges, images, graph.contacts)
    return SlicesGraph(species=graph.species, edges=edges, images=images, contacts=contacts)


def change_basis(graph: SlicesGraph, basis: np.ndarray) -> SlicesGraph:
    """Express image labels in a new lattice basis whose rows are integer vectors of the old one (det +-1)."""
    basis = np.asarray(basis, dtype=np.int64).reshape(3, 3)
    if abs(round(np.linalg.det(basis))) != 1:
        raise ValueError("a change of lattice basis needs an integer matrix with determinant +1 or -1")
    inverse = np.rint(np.linalg.inv(basis)).astype(np.int64)
    edges, images, contacts = normalise_marked_edges(graph.edges, graph.images @ inverse, graph.contacts)
    return SlicesGraph(species=graph.species, edges=edges, images=images, contacts=contacts)


def supercell(graph: SlicesGraph, repeats: tuple[int, int, int]) -> SlicesGraph:
    """The graph of the ``repeats[0] x repeats[1] x repeats[2]`` supercell."""
    dims = np.array(repeats, dtype=np.int64)
    cells = np.array(list(itertools.product(*(range(r) for r in repeats))), dtype=np.int64)
    cell_index = {tuple(c): k for k, c in enumerate(cells.tolist())}
    n = graph.n_atoms
    species = tuple(graph.species[a] for _ in range(len(cells)) for a in range(n))
    new_edges, new_images, new_contacts = [], [], []
    for k, cell in enumerate(cells):
        target = cell + graph.images  # (m, 3) cell of the neighbour
        wrapped = target % dims
        image = target // dims
        for e, (i, j) in enumerate(graph.edges.tolist()):
            new_edges.append((k * n + i, cell_index[tuple(wrapped[e].tolist())] * n + j))
            new_images.append(image[e])
        new_contacts.extend(graph.contacts.tolist())
    edges, images, contacts = normalise_marked_edges(np.array(new_edges), np.array(new_images), np.array(new_contacts))
    return SlicesGraph(species=species, edges=edges, images=images, contacts=contacts)
