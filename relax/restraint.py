"""An ASE calculator that holds a crystal to its bond graph: flat-bottom springs on the graph's bonds.

Energy ``k * max(0, r - stretch * L)^2`` per bond (``L`` the pair's target length; :func:`relax.springs.spring_energy`
on the stretched side), with forces and the stress a cell filter needs. Added to GFN-FF so that the force field
cannot pull bonds of the graph apart.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from relax.springs import gather_to_atoms, spring_energy


class GraphRestraint(Calculator):
    """Flat-bottom bond springs on a fixed labelled quotient graph (images in the atoms' cell basis)."""

    implemented_properties = ["energy", "forces", "stress", "free_energy"]

    def __init__(self, edges, images, targets, *, k: float = 5.0, stretch: float = 1.2, **kwargs):
        super().__init__(**kwargs)
        self.edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        self.images = np.asarray(images, dtype=float).reshape(-1, 3)
        self.limit = stretch * np.asarray(targets, dtype=float)
        self.k = k

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = self.atoms.positions
        cell = np.asarray(self.atoms.cell)
        i, j = self.edges[:, 0], self.edges[:, 1]
        d = pos[j] + self.images @ cell - pos[i]
        energy, g = spring_energy(d, self.limit, self.k, "stretch")  # g = dE/dd per bond
        forces = -gather_to_atoms(g, i, j, len(pos))
        virial = g.T @ d  # sum over bonds of dE/dd (x) d
        volume = abs(np.linalg.det(cell))
        sigma = 0.5 * (virial + virial.T) / volume
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": np.array([sigma[0, 0], sigma[1, 1], sigma[2, 2], sigma[1, 2], sigma[0, 2], sigma[0, 1]]),
        }
