"""Every numeric guard of the project, written once (distances in A, volumes in A^3 per atom, times in seconds)."""

from __future__ import annotations

MIN_DISTANCE = 0.5
"""Two atoms closer than this are overlapping: refused as input, a failed placement, an invalid candidate."""

MIN_VOLUME_PER_ATOM = 2.0
"""Below this a relaxation has collapsed the cell (no solid is that dense; seen: GFN-FF on CoNiPt2, 0.12), and an
input crystal is refused."""

MAX_VOLUME_PER_ATOM = 500.0
"""Above this a relaxation has blown the cell up."""

MAX_INPUT_VOLUME_PER_ATOM = 1e5
"""An input cell with more volume per atom (a 46 A cube per atom) is refused: a molecule in a box is far below it, and
a neighbour search over a bigger cell needs memory in proportion to its volume (a 6e5 A cube asked for 2e14 bytes)."""

MAX_INPUT_SITES = 2000
"""An input crystal with more sites is refused wherever a structure goes in (``encode`` has its own, lower limit): the
pairwise distance check alone needs memory in the square of the site count, and no crystal worth screening is that
large."""

MAX_FRACTIONAL_COORDINATE = 1e6
"""An input site further than this many cells from the unit cell is refused (its place in the cell is lost)."""

MAX_BOND_STRETCH = 1.5
"""A graph bond longer than this times its target length (or shorter than 1/this) is broken."""

GFNFF_TIME_LIMIT = 30.0
"""CPU-time limit (seconds) of one GFN-FF optimisation (its child process is ended after it; a wall-time safety net of
3x this, or half the reconstruction's remaining time, applies too). CPU, not wall: on a loaded machine a wall limit
failed GFN-FF on every framework tried (4-6 CPU s, 35-40 wall s)."""

RECONSTRUCTION_TIME_LIMIT = 120.0
"""Default wall-time limit of one string -> crystal reconstruction (all stages)."""

CANDIDATE_TIME_LIMIT = 120.0
"""Default per-candidate limit in ``slices generate`` (the decode worker is stopped after it)."""

MAX_SEED = 2**63 - 1
"""Largest random seed accepted (fits a signed 64-bit integer: torch, numpy, JSON and CSV all keep it exact)."""
