"""Test glue: call :func:`pipeline.generate.generate` with its options spelled flat, as many tests do.

The keywords are sorted into the three parameter objects by their field names (:mod:`pipeline.options`,
:class:`pipeline.criteria.Criteria`); ``band_gap`` and ``formation_energy`` go to both sampling and criteria, as the
command line's flags do. A name that no object has is an error, so a test cannot pass an option that is ignored.
"""

from __future__ import annotations

import dataclasses

from pipeline.criteria import Criteria
from pipeline.generate import generate
from pipeline.options import Runner, Sampling

_FIELDS = {cls: {f.name for f in dataclasses.fields(cls)} for cls in (Sampling, Criteria, Runner)}


def run_generate(n=None, *, out, **options):
    """``generate`` with flat keywords (``n`` may be positional)."""
    if n is not None:
        options["n"] = n
    parts = {cls: {} for cls in _FIELDS}
    for name, value in options.items():
        owners = [cls for cls, names in _FIELDS.items() if name in names]
        if not owners:
            raise TypeError(f"no option {name!r} in Sampling, Criteria or Runner")
        for cls in owners:
            parts[cls][name] = tuple(value) if name in ("strings", "elements") and isinstance(value, list) else value
    return generate(Sampling(**parts[Sampling]), Criteria(**parts[Criteria]), out=out, runner=Runner(**parts[Runner]))
