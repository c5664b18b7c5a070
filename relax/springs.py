"""Harmonic springs on bond lengths, written once: the placement's bond and repulsion terms and the GFN-FF stage's
graph restraint are all this spring with different rest lengths, stiffnesses and sides."""

from __future__ import annotations

import numpy as np

SIDES = ("both", "stretch", "compress")


def spring_energy(vectors: np.ndarray, rest: np.ndarray, stiffness, side: str = "both") -> tuple[float, np.ndarray]:
    """``E = sum_b k_b (r_b - r0_b)^2`` over bond vectors ``vectors`` (m, 3) and its gradient ``dE/dvectors``.

    ``side`` ``"stretch"`` counts only bonds longer than their rest length (a flat-bottom restraint),
    ``"compress"`` only shorter ones (a soft repulsion), ``"both"`` every bond.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    r = np.linalg.norm(vectors, axis=1) + 1e-12
    u = r - rest
    if side == "stretch":
        u = np.maximum(u, 0.0)
    elif side == "compress":
        u = np.minimum(u, 0.0)
    energy = float(np.sum(stiffness * u**2))
    gradient = (2 * stiffness * u / r)[:, None] * vectors
    return energy, gradient


def gather_to_atoms(bond_gradient: np.ndarray, i: np.ndarray, j: np.ndarray, n_atoms: int) -> np.ndarray:
    """Per-atom gradient (n, 3) of a function of the bond vectors ``x[j] + t - x[i]``, from its per-bond gradient."""
    out = np.zeros((n_atoms, bond_gradient.shape[1]))
    np.add.at(out, j, bond_gradient)
    np.add.at(out, i, -bond_gradient)
    return out
