"""Screening: judge crystals against known materials (formation energy, energy above the known hull and
decomposition, known or new, band gaps, symmetry, validity checks) and the composition band-gap model.

```python
from screening import assess
r = assess([structure], relax=True)[0]
r.e_above_hull, r.novelty, r.band_gap, r.band_gap_composition, r.space_group
```

A floor beside :mod:`generative`: imports :mod:`relax`, :mod:`slices` and :mod:`periodicnet`, never the generator
or the orchestration (:mod:`pipeline`).
"""

from __future__ import annotations

__all__ = ["Assessment", "assess"]


def __getattr__(name: str):
    """Load ``assess`` / ``Assessment`` on first use, so that importing the package stays cheap."""
    if name in __all__:
        from screening import assessment

        return getattr(assessment, name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")
