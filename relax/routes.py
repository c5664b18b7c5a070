"""Routes: which stages and which force criterion a reconstruction uses, chosen by the size of the cell.

- ``fast``: placement -> potential at fmax 0.2 eV/A. The default for MP-20-sized crystals (what the generator
  makes): on MP-20 it matches as many crystals as the reference at a third of its CPU time.
- ``large``: placement -> potential at fmax 0.1 eV/A. Larger cells (frameworks, organic salts) leave the fast
  route's criterion with linkers and H positions still off; the tighter one turns some of them into matches.
- ``full``: placement -> GFN-FF -> potential at fmax 0.1 eV/A, the potential relaxing both earlier geometries and
  keeping the lower energy. Several times slower.
- ``auto`` (the default of :func:`relax.reconstruct`): ``fast`` up to :data:`FAST_MAX_ATOMS` atoms,
  :data:`LARGE_ROUTE` above. Measured side by side in ``docs/reconstruction.md`` ("Reconstruction v3").
"""

from __future__ import annotations

from dataclasses import dataclass

from relax.errors import RelaxError


@dataclass(frozen=True)
class Route:
    """A reconstruction route: the stages to run and the potential's force criterion (eV/A)."""

    name: str
    stages: tuple[str, ...]
    fmax: float


ROUTES: dict[str, Route] = {
    "fast": Route("fast", ("placement", "potential"), 0.2),
    "large": Route("large", ("placement", "potential"), 0.1),
    "full": Route("full", ("placement", "gfnff", "potential"), 0.1),
}
FAST_MAX_ATOMS = 20
"""Cells up to this many atoms (MP-20's limit, so every generated crystal of the MP-20 models) take ``fast``."""
LARGE_ROUTE = "large"
"""The route of cells above :data:`FAST_MAX_ATOMS` atoms: ``large``, which gained QMOF matches over ``fast`` for
about 1.7x its CPU time. ``full`` (GFN-FF too) matched no more than ``large`` on 30 QMOF crystals at 3x its CPU;
fmax 0.05 (300 steps) or a second potential start from the placement shrunk to 0.85 of its volume cost 2.5-3x and
gained one strict match in 56 probed misses (``benchmarks/RESULTS.md``, "Route per size")."""
ROUTE_NAMES = ("auto", *ROUTES)


def route_for(n_atoms: int, name: str = "auto") -> Route:
    """The route named ``name`` (``"fast"``, ``"large"``, ``"full"``), or for ``"auto"`` the one for a cell of ``n_atoms``
    atoms. An unknown name raises :class:`RelaxError` (``bad_input``)."""
    if name == "auto":
        return ROUTES["fast" if n_atoms <= FAST_MAX_ATOMS else LARGE_ROUTE]
    try:
        return ROUTES[name]
    except (KeyError, TypeError):
        raise RelaxError("bad_input", f"route must be one of {ROUTE_NAMES}, got {name!r}") from None
