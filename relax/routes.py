"""Routes: which stages and which force criterion a reconstruction uses, chosen by the cell's size and chemistry.

- ``fast``: placement -> potential at fmax 0.2 eV/A with BFGS. The default for MP-20-sized crystals (what the
  generator makes) and inorganic larger ones: on MP-20 it matches as many crystals as the reference at a seventh of
  its CPU time. BFGS replaced FIRE here: the same MP-20 matches, 0.6x the force calls on generated crystals, and a
  lower final energy about twice as often as a higher one; an initial Hessian of 35 eV/A^2 rather than ASE's 70
  took 28 instead of 34 force calls in a one-off probe, and 70 lost one MP-20 match (``docs/reconstruction.md``,
  "Optimiser").
- ``large``: placement -> potential at fmax 0.1 eV/A with FIRE. Larger cells (frameworks, organic salts) leave the fast
  route's criterion with linkers and H positions still off; the tighter one turns some of them into matches.
- ``full``: placement -> GFN-FF -> potential at fmax 0.1 eV/A with FIRE, the potential relaxing both earlier geometries and
  keeping the lower energy. Several times slower.
- ``auto`` (the default of :func:`relax.reconstruct`): :data:`LARGE_ROUTE` for cells of more than
  :data:`FAST_MAX_ATOMS` atoms with carbon (:data:`ORGANIC_ELEMENT`), ``fast`` for every other cell. Measured side
  by side in ``docs/reconstruction.md`` ("Reconstruction v3").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relax.errors import RelaxError


@dataclass(frozen=True)
class Route:
    """A reconstruction route: the stages to run, the potential's force criterion (eV/A), its optimiser and, for
    BFGS, the initial Hessian (eV/A^2, :attr:`relax.driver.RelaxSettings.alpha`)."""

    name: str
    stages: tuple[str, ...]
    fmax: float
    optimizer: str = "FIRE"
    alpha: float = 70.0


ROUTES: dict[str, Route] = {
    "fast": Route("fast", ("placement", "potential"), 0.2, "BFGS", alpha=35.0),
    "large": Route("large", ("placement", "potential"), 0.1),
    "full": Route("full", ("placement", "gfnff", "potential"), 0.1),
}
FAST_MAX_ATOMS = 20
"""Cells up to this many atoms (MP-20's limit, so every generated crystal of the MP-20 models) take ``fast``."""
LARGE_ROUTE = "large"
"""The route of organic cells above :data:`FAST_MAX_ATOMS` atoms: ``large``, which gained QMOF matches over
``fast`` for about 2x its CPU time. ``full`` (GFN-FF too) matched no more than ``large`` on 30 QMOF crystals at 3x
its CPU; fmax 0.05 (300 steps) or a second potential start from the placement shrunk to 0.85 of its volume cost
2.6-2.8x and gained one strict match on 56 probed crystals (``benchmarks/RESULTS.md``, "Route per size")."""
ORGANIC_ELEMENT = "C"
"""A cell with this element (frameworks, organic salts) and more than :data:`FAST_MAX_ATOMS` atoms takes
:data:`LARGE_ROUTE`. On every cell over 20 atoms, the tighter criterion lost 2 loose matches (K2SbF5, RbBi3S5) and
traded one strict match for another on the first 193 MP 21-40 crystals (98 on that route, nearly all inorganic)."""
ROUTE_NAMES = ("auto", *ROUTES)


def route_for(species: Sequence[str], name: str = "auto") -> Route:
    """The route named ``name`` (``"fast"``, ``"large"``, ``"full"``), or for ``"auto"`` the one for a cell of these
    element symbols: :data:`LARGE_ROUTE` for an organic cell (with carbon) of more than :data:`FAST_MAX_ATOMS` atoms,
    ``fast`` otherwise. An unknown name raises :class:`RelaxError` (``bad_input``)."""
    if name == "auto":
        large = len(species) > FAST_MAX_ATOMS and ORGANIC_ELEMENT in species
        return ROUTES[LARGE_ROUTE if large else "fast"]
    try:
        return ROUTES[name]
    except (KeyError, TypeError):
        raise RelaxError("bad_input", f"route must be one of {ROUTE_NAMES}, got {name!r}") from None
