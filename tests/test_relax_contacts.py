"""Contact edges (non-bonded pairs that complete a layered crystal into a 3D net) in the reconstruction."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from periodicnet.graph import embeddability, normalise_edges
from relax import reconstruct
from relax.targets import contact_length, edge_targets
from relax.errors import RelaxError
from slices.encode import structure_graph

GAP = 3.35  # A: graphite's interlayer distance, the shortest C...C between layers


def _graphite_with_contacts():
    """Graphite's bond graph (two separate sheets per cell) plus the C...C pairs across the gap, marked as contacts."""
    s = Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(2.46, 2 * GAP), ["C", "C"],
                                  [[0, 0, 0.25], [1 / 3, 2 / 3, 0.25]])
    g = structure_graph(s, reduce=False, complete=False)  # the bonds alone; the contacts are added here
    ci, pj, offs, dist = s.get_neighbor_list(GAP + 0.05)
    extra = [(i, j, t) for i, j, t, r in zip(ci.tolist(), pj.tolist(), offs.astype(int).tolist(), dist.tolist())
             if r > GAP - 0.05]
    c_edges, c_images = normalise_edges(np.array([(i, j) for i, j, _ in extra]), np.array([t for *_, t in extra]))
    edges = np.vstack([g.edges, c_edges])
    images = np.vstack([g.images, c_images])
    contacts = np.r_[np.zeros(len(g.edges), bool), np.ones(len(c_edges), bool)]
    return list(g.species), edges, images, contacts, s


def _gap_distance(structure, edges, contacts) -> float:
    """Shortest distance between atoms of different layers (the layers: components of the bonds alone)."""
    import networkx as nx

    layers = nx.Graph()
    layers.add_nodes_from(range(len(structure)))
    layers.add_edges_from(edges[~contacts].tolist())
    layer = {atom: k for k, part in enumerate(nx.connected_components(layers)) for atom in part}
    ci, pj, _, dist = structure.get_neighbor_list(6.0)
    return min(r for i, j, r in zip(ci.tolist(), pj.tolist(), dist.tolist())
               if layer[i] != layer[j])


def test_contact_targets_are_van_der_waals_lengths():
    species = ["S", "S", "Mo"]
    edges = np.array([[0, 1], [0, 2]])
    targets = edge_targets(species, edges, np.array([True, False]))
    assert targets[0] == pytest.approx(contact_length("S", "S"))
    assert 3.2 < targets[0] < 3.7  # an S...S van der Waals contact
    assert targets[1] < 2.6  # the Mo-S bond keeps the bond table's length
    assert np.allclose(edge_targets(species, edges, None), edge_targets(species, edges, np.array([False, False])))


def test_layered_graph_with_contacts_is_placed_with_its_gap():
    species, edges, images, contacts, _ = _graphite_with_contacts()
    assert embeddability(len(species), edges[~contacts], images[~contacts]) is not None  # 2D without contacts
    assert embeddability(len(species), edges, images) is None  # 3D with them
    marked = reconstruct(species, edges, images, contacts=contacts, stages=("placement",))
    assert marked.ok
    gap = _gap_distance(marked.structure, edges, contacts)
    assert abs(gap - GAP) < 0.3
    # the same edges read as bonds pull the sheets to a C-C bond length: the mark is what keeps the gap
    as_bonds = reconstruct(species, edges, images, stages=("placement",))
    assert _gap_distance(as_bonds.structure, edges, contacts) < 2.0


def test_contacts_must_be_one_flag_per_edge():
    species, edges, images, contacts, _ = _graphite_with_contacts()
    with pytest.raises(RelaxError) as info:
        reconstruct(species, edges, images, contacts=contacts[:-1], stages=("placement",))
    assert info.value.reason == "bad_input"
    with pytest.raises(RelaxError) as info:
        reconstruct(species, edges, images, contacts=np.ones(len(edges)) * 0.5, stages=("placement",))
    assert info.value.reason == "bad_input"


def test_organic_ring_bonds_take_standard_lengths():
    # a pyrazole-like ring fragment: N-N and C-N between ring members (two organic neighbours each)
    species = ["N", "N", "C", "C", "C", "H", "Cu"]
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [3, 5], [0, 6]])
    targets = edge_targets(species, edges)
    assert targets[0] == pytest.approx(1.35)  # ring N-N, not the MP-20 table's 2.6 A (nitrides)
    assert targets[2] == pytest.approx(1.40)  # ring C-C
    assert targets[6] == pytest.approx(edge_targets(["N", "Cu"], np.array([[0, 1]]))[0])  # metal bonds: the table
    # an end atom (cyanide's C, one organic neighbour) keeps the table's length
    assert edge_targets(["C", "N"], np.array([[0, 1]]))[0] != pytest.approx(1.35)


def test_stretch_weights_hold_contacts_at_their_length():
    """A contact's flat-bottom stretch spring keeps the volume term from pulling the layers apart."""
    from relax.placement import place
    from relax.targets import CONTACT_STRETCH_WEIGHT, CONTACT_WEIGHT

    species, edges, images, contacts, _ = _graphite_with_contacts()
    targets = edge_targets(species, edges, contacts)
    weights = np.where(contacts, CONTACT_WEIGHT, 1.0)
    gaps = {}
    for name, stretch in (("soft", None), ("held", np.where(contacts, CONTACT_STRETCH_WEIGHT, 0.0))):
        cell, frac = place(species, edges, images, targets=targets, weights=weights, stretch_weights=stretch)
        structure = Structure(Lattice(cell), species, frac)
        gaps[name] = _gap_distance(structure, edges, contacts)
    target = contact_length("C", "C")
    assert gaps["soft"] > target + 0.2  # without it the sheets drift apart (3.53 A for a 3.23 A target)
    assert abs(gaps["held"] - target) < 0.1


def test_bonds_at_a_non_metal_centre_take_covalent_lengths():
    from relax.bondtable import bond_length, covalent_radius

    # a perchlorate bound to a metal: Cl has only O neighbours (a covalent centre), each O also binds the metal
    species = ["Cl", "O", "O", "O", "O", "Er"]
    edges = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 5]])
    targets = edge_targets(species, edges)
    assert bond_length("Cl", "O") > 3.0  # the MP-20 table's Cl-O is a non-bonded distance in oxychlorides
    assert targets[0] == pytest.approx(covalent_radius("Cl") + covalent_radius("O"))
    assert targets[4] == pytest.approx(bond_length("Er", "O"))
    # the same pair between two atoms that both bind metals keeps the table's length (MP-20 oxychlorides)
    species = ["Cl", "O", "Bi", "Bi"]
    edges = np.array([[0, 1], [0, 2], [1, 3]])
    assert edge_targets(species, edges)[0] == pytest.approx(bond_length("Cl", "O"))
