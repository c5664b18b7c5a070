"""Every numeric guard of the project, written once (distances in A, volumes in A^3 per atom, times in seconds)."""

from __future__ import annotations

MIN_DISTANCE = 0.5
"""Two atoms closer than this are overlapping: refused as input, a failed placement, an invalid candidate."""

MIN_VOLUME_PER_ATOM = 2.0
"""Below this a relaxation has collapsed the cell (no solid is that dense; seen: GFN-FF on CoNiPt2, 0.12)."""

MAX_VOLUME_PER_ATOM = 500.0
"""Above this a relaxation has blown the cell up."""

MAX_BOND_STRETCH = 1.5
"""A graph bond longer than this times its target length (or shorter than 1/this) is broken."""

GFNFF_TIME_LIMIT = 30.0
"""CPU-time limit (seconds) of one GFN-FF optimisation (its child process is ended after it; a wall-time safety net of
10x this, or half the reconstruction's remaining time, applies too). CPU, not wall: on a loaded machine a wall limit
failed GFN-FF on every framework tried (4-6 CPU s, 35-40 wall s)."""

RECONSTRUCTION_TIME_LIMIT = 120.0
"""Default wall-time limit of one string -> crystal reconstruction (all stages)."""

CANDIDATE_TIME_LIMIT = 120.0
"""Default per-candidate limit in ``slices generate`` (the decode worker is stopped after it)."""
