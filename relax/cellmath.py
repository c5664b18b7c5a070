"""Matrix functions of 3x3 deformation gradients for ASE's ``FrechetCellFilter``, by eigendecomposition.

The filter takes the matrix logarithm of the deformation gradient twice per step, its exponential once, and nine
directional (Frechet) derivatives of the exponential per force evaluation. scipy's general-purpose algorithms
(inverse scaling and squaring, Pade approximants) spend about 1 ms per call on a 3x3 matrix: 14% of the CPU time of
a small crystal's relaxation. A deformation gradient is a real matrix near the identity with distinct or
well-separated eigenvalues, where the eigendecomposition ``A = V diag(w) V^-1`` gives all three functions exactly:

1. ``logm(A) = V diag(log w) V^-1`` and ``expm(A) = V diag(exp w) V^-1`` (principal branch; real for real input);
2. the Frechet derivative of ``exp`` at ``A`` in direction ``E`` is ``V [(V^-1 E V) * D] V^-1``, with ``D`` the
   matrix of divided differences ``(exp w_i - exp w_j) / (w_i - w_j)`` (``exp w_i`` where they meet).

Where the eigenvectors are ill-conditioned (a defective or nearly defective matrix, e.g. a pure shear) or an
eigenvalue is real and not positive, each function falls back to scipy's. The eigendecomposition of the last
matrix is cached: the filter asks for nine derivatives at the same point.
"""

from __future__ import annotations

import numpy as np

__all__ = ["expm", "logm", "expm_frechet", "speed_up"]

MAX_CONDITION = 1e6
"""Eigenvector matrices worse conditioned than this use scipy's algorithms instead."""

_cache: dict[str, tuple[bytes, tuple | None]] = {}


def _eig(a: np.ndarray):
    """``(w, V, V^-1)`` of ``a``, or ``None`` when the eigenvectors are too ill-conditioned to trust."""
    key = a.tobytes()
    hit = _cache.get("eig")
    if hit is not None and hit[0] == key:
        return hit[1]
    w, v = np.linalg.eig(a)
    value = None
    if np.all(np.isfinite(w)) and np.linalg.cond(v) < MAX_CONDITION:
        value = (w, v, np.linalg.inv(v))
    _cache["eig"] = (key, value)
    return value


def _real(m: np.ndarray, like: np.ndarray) -> np.ndarray:
    return m.real.copy() if not np.iscomplexobj(like) else m


def logm(a: np.ndarray) -> np.ndarray:
    """Principal matrix logarithm of a 3x3 matrix (scipy's where the eigendecomposition cannot be trusted)."""
    a = np.asarray(a)
    parts = _eig(a) if a.shape == (3, 3) else None
    if parts is None or np.any((np.abs(parts[0].imag) < 1e-12) & (parts[0].real <= 0)):
        from scipy.linalg import logm as scipy_logm

        return scipy_logm(a)
    w, v, vi = parts
    return _real((v * np.log(w.astype(complex))) @ vi, a)


def expm(a: np.ndarray) -> np.ndarray:
    """Matrix exponential of a 3x3 matrix (scipy's where the eigendecomposition cannot be trusted)."""
    a = np.asarray(a)
    parts = _eig(a) if a.shape == (3, 3) else None
    if parts is None:
        from scipy.linalg import expm as scipy_expm

        return scipy_expm(a)
    w, v, vi = parts
    return _real((v * np.exp(w)) @ vi, a)


def _divided_differences(w: np.ndarray) -> np.ndarray:
    """``D[i, j] = (exp w_i - exp w_j) / (w_i - w_j)``, ``exp w_i`` on (near) coincidences."""
    diff = w[:, None] - w[None, :]
    close = np.abs(diff) < 1e-9
    safe = np.where(close, 1.0, diff)
    return np.where(close, np.exp((w[:, None] + w[None, :]) / 2), np.exp(w[None, :]) * np.expm1(safe) / safe)


def expm_frechet(a: np.ndarray, e: np.ndarray, method=None, compute_expm: bool = True, check_finite: bool = True):
    """Frechet derivative of the matrix exponential at ``a`` in direction ``e`` (scipy's signature: with
    ``compute_expm`` the pair ``(expm(a), derivative)``, else the derivative)."""
    a, e = np.asarray(a), np.asarray(e)
    parts = _eig(a) if a.shape == (3, 3) and e.shape == (3, 3) else None
    if parts is None:
        from scipy.linalg import expm_frechet as scipy_expm_frechet

        return scipy_expm_frechet(a, e, method=method, compute_expm=compute_expm, check_finite=check_finite)
    w, v, vi = parts
    derivative = _real(v @ ((vi @ e @ v) * _divided_differences(w)) @ vi, a + e)
    return (expm(a), derivative) if compute_expm else derivative


def speed_up(cell_filter) -> None:
    """Give a ``FrechetCellFilter`` (ASE 3.29) these functions in place of scipy's; other filters are left as they
    are."""
    utility = getattr(cell_filter, "_utility", None)
    for owner in (cell_filter, utility):
        if owner is not None and hasattr(owner, "expm_frechet"):
            owner.logm, owner.expm, owner.expm_frechet = logm, expm, expm_frechet
