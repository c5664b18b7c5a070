"""The placement's angle springs (relax.angles) and secondary edges (relax.targets.secondary_edges), on small graphs
and on real frameworks through the real encoder."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

import slices
from periodicnet.resources import DataNotFoundError, shared_data_dir
from relax.angles import TETRAHEDRAL, angle_springs, ideal_angle, second_neighbours
from relax.placement import place
from relax.reconstruct import placement_inputs
from relax.targets import CONTACT_WEIGHT, contact_length, edge_targets, secondary_edges
from tests.relax_support import LOOSE


def _angle_from_d13(a: float, b: float, d: float) -> float:
    return float(np.degrees(np.arccos((a * a + b * b - d * d) / (2 * a * b))))


def test_ideal_angles_follow_coordination():
    assert ideal_angle("Si", 4) == pytest.approx(109.47, abs=0.01)
    assert ideal_angle("C", 3) == 120.0 and ideal_angle("N", 3) == 120.0
    assert ideal_angle("C", 2) == 180.0
    assert ideal_angle("P", 3) is None  # pyramidal or planar: coordination alone does not say
    assert ideal_angle("Fe", 4) is None  # metals: no rule


def test_second_neighbours_of_a_tetrahedron_and_a_triangle():
    # SiO4 with images: the pseudo-edges carry the difference of the two bonds' images
    species = ["Si", "O", "O", "O", "O"]
    edges = np.array([[0, 1], [0, 2], [0, 3], [4, 0]])
    images = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, -1]])
    targets = np.full(4, 1.62)
    pairs, pair_images, lengths = second_neighbours(species, edges, images, targets)
    assert len(pairs) == 6  # every pair of the four O
    assert all(_angle_from_d13(1.62, 1.62, d) == pytest.approx(TETRAHEDRAL) for d in lengths)
    # O2 (image (1,0,0)) and O4 (atom 4 seen from Si at image (0,0,1)): pseudo-edge 2 -> 4 at image (-1, 0, 1)
    row = next(k for k, (i, j) in enumerate(pairs.tolist()) if {i, j} == {2, 4})
    sign = 1 if pairs[row, 0] == 2 else -1
    assert (sign * pair_images[row]).tolist() == [-1, 0, 1]
    # a carbonate C: three O at 120 degrees; contacts are not arms of an angle
    species = ["C", "O", "O", "O", "Ca"]
    edges = np.array([[0, 1], [0, 2], [0, 3], [0, 4]])
    images = np.zeros((4, 3), dtype=int)
    targets = np.array([1.29, 1.29, 1.29, 3.0])
    pairs, _, lengths = second_neighbours(species, edges, images, targets, np.array([False, False, False, True]))
    assert len(pairs) == 3
    assert all(_angle_from_d13(1.29, 1.29, d) == pytest.approx(120.0) for d in lengths)
    # read as a bond, the Ca makes the C four-coordinated with one metal neighbour: tetrahedral, 6 pairs
    assert len(second_neighbours(species, edges, images, targets)[0]) == 6


def test_a_centre_with_two_metal_neighbours_gets_no_angle_springs():
    # a carbide C inside a metal cluster: its geometry is not an organic one
    species = ["C", "Pr", "Pr", "Br"]
    edges = np.array([[0, 1], [0, 2], [0, 3]])
    pairs, _, _ = second_neighbours(species, edges, np.zeros((3, 3), dtype=int), np.full(3, 2.5))
    assert len(pairs) == 0


def test_secondary_edges_of_hydrogens_and_halides():
    # methylammonium-like N-H...Br and C-H...Cu, plus a halide bonded to a metal with a long Br...C contact
    species = ["H", "N", "Br", "H", "C", "Cu", "Br", "C"]
    edges = np.array([[0, 1], [0, 2], [3, 4], [3, 5], [6, 5], [6, 7], [4, 7]])
    secondary = secondary_edges(species, edges)
    assert secondary.tolist() == [False, True, False, True, False, True, False]
    # secondary edges get contact targets through placement_inputs, and count as contacts
    soft, targets, weights, _, _ = placement_inputs(species, edges, np.zeros((7, 3), dtype=int),
                                                 np.zeros(7, dtype=bool))
    assert soft.tolist() == secondary.tolist()
    assert targets[1] == pytest.approx(contact_length("H", "Br"))
    assert weights[1] < weights[0]
    assert targets[0] == pytest.approx(edge_targets(species, edges)[0])  # the N-H bond keeps its length


def test_ambiguous_hydrogens_and_covalent_halogens_are_left_alone():
    # a symmetric O-H-O: no single covalent partner, both edges stay bonds
    assert not secondary_edges(["O", "H", "O"], np.array([[0, 1], [1, 2]])).any()
    # a bromo-linker: one C-Br bond and no metal, a covalent bond
    assert not secondary_edges(["C", "Br", "C"], np.array([[0, 1], [0, 2]])).any()
    # a metal hydride H (no C, N or O neighbour) keeps every bond
    assert not secondary_edges(["H", "Li", "Li"], np.array([[0, 1], [0, 2]])).any()
    # edges already marked as contacts are not bonds
    species = ["H", "N", "Br"]
    edges = np.array([[0, 1], [0, 2]])
    assert not secondary_edges(species, edges, np.array([False, True])).any()


def _qmof(qmof_id: str) -> Structure:
    try:
        path = shared_data_dir() / "qmof" / "dev_140.csv.gz"
    except DataNotFoundError as exc:
        pytest.skip(str(exc))
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    import pandas as pd

    frame = pd.read_csv(path, keep_default_na=False)
    return Structure.from_str(frame.loc[frame["qmof_id"] == qmof_id, "cif"].iloc[0], fmt="cif")


def _placed(graph, *, angles: bool, secondary: bool) -> Structure:
    contacts = np.asarray(graph.contacts, dtype=bool)
    soft, targets, weights, _, springs = placement_inputs(graph.species, graph.edges, graph.images, contacts)
    if not secondary:
        soft = contacts
        targets = edge_targets(graph.species, graph.edges, soft)
        weights = np.where(soft, CONTACT_WEIGHT, 1.0)
        springs = angle_springs(graph.species, graph.edges, graph.images, targets, soft)
    cell, frac = place(graph.species, graph.edges, graph.images, targets=targets, weights=weights,
                       extra_springs=springs if angles else None)
    return Structure(Lattice(cell), list(graph.species), frac)


def test_angle_springs_recover_a_framework_placement():
    """qmof-ea15ac0 (Fe2C12N8H8, 30 atoms): the bond springs alone splay its linkers; with the angle springs the
    placement already matches the crystal."""
    original = _qmof("qmof-ea15ac0")
    graph = slices.parse(slices.encode(original))
    assert not LOOSE.fit(original, _placed(graph, angles=False, secondary=False))
    assert LOOSE.fit(original, _placed(graph, angles=True, secondary=False))


def test_secondary_edges_recover_a_halide_framework_placement():
    """qmof-d6662a5 (SnC6H10N2Br2, 21 atoms): the encoder's N-H...Br and C...Br contacts read as bonds pull the
    halides onto the organic cation; read as contacts, the placement matches."""
    original = _qmof("qmof-d6662a5")
    graph = slices.parse(slices.encode(original))
    assert secondary_edges(graph.species, graph.edges, graph.contacts).any()
    assert not LOOSE.fit(original, _placed(graph, angles=True, secondary=False))
    assert LOOSE.fit(original, _placed(graph, angles=True, secondary=True))
