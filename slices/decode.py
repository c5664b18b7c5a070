"""String -> crystal: parse, reconstruct through `relax`, and check the topology survived. (Being written.)"""

from __future__ import annotations


def decode(string: str, **kwargs):
    """Rebuild the crystal a SLICES string describes."""
    raise NotImplementedError("slices.decode is being written (issue 3)")
