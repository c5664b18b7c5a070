"""The top floor: the command line and the end-to-end candidate generator (sample -> decode -> screen -> write).

``from pipeline import assess`` screens crystals against known materials (:func:`pipeline.assessment.assess`).
"""

from __future__ import annotations

__all__ = ["Assessment", "assess"]


def __getattr__(name: str):
    """Load ``assess`` / ``Assessment`` on first use, so that the command line starts without pymatgen."""
    if name in __all__:
        from pipeline import assessment

        return getattr(assessment, name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
