"""Figures of merit of a generation run, computed from its candidate rows: the S.U.N. rate (stable, unique, new),
S.U.N.T. (and on target), how close the candidates' predicted properties come to a conditioning target, and the
Wilson interval that says how far a rate from ``n`` samples can be trusted.

The rows are what :func:`pipeline.generate.generate` returns (``result.rows``) or writes (``candidates.csv`` /
``candidates.json``, read back as dicts or a pandas DataFrame); the column names are the
:class:`screening.Assessment` field names the table carries (``e_above_hull``, ``novelty``, ``band_gap``,
``band_gap_composition``, ``formation_energy_per_atom``) plus ``duplicate_of`` and ``status``. Every rate is over
all sampled rows: a candidate that failed to decode counts against the rate, as it does for a user.

```python
from pipeline.metrics import sun_rate
rate = sun_rate(result.rows)            # Rate(count=29, n=100): rate.value, rate.interval
```
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping

from periodicnet.errors import ArgumentError

E_HULL_MAX = 0.1
"""eV/atom above the hull of known materials up to which a candidate counts as stable (the S.U.N. convention)."""
GAP_WINDOW = 0.5
"""eV: a predicted band gap within this distance of the target counts as on target."""
NOT_KNOWN = ("new", "known_composition")
"""``novelty`` verdicts of a candidate that is not a known crystal (a new composition, or a new structure of a known
one)."""


@dataclass(frozen=True)
class Rate:
    """``count`` successes out of ``n`` samples."""

    count: int
    n: int

    @property
    def value(self) -> float | None:
        """The proportion (None when ``n`` is 0)."""
        return self.count / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson score interval of the proportion."""
        return wilson_interval(self.count, self.n)

    def as_dict(self) -> dict:
        """``count``, ``n``, ``rate`` and ``ci95`` for a results file."""
        return {"count": self.count, "n": self.n, "rate": self.value, "ci95": list(self.interval)}


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (``z`` = 1.96: 95%); ``(0, 1)`` when ``n`` is 0
    (nothing is known)."""
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    if k > n:
        raise ArgumentError(f"k ({k}) cannot exceed n ({n})")
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not z > 0 or not math.isfinite(z):
        raise ArgumentError(f"z must be a positive finite number, got {z!r}")
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _missing(value: Any) -> bool:
    """None, or the NaN a DataFrame puts in an empty cell."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def records(rows: Any) -> list[dict]:
    """The rows as a list of dicts with None for empty cells (accepts a list of dicts or a pandas DataFrame)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        rows = rows.to_dict("records")
    if isinstance(rows, Mapping) or isinstance(rows, (str, bytes)):
        raise ArgumentError("rows must be a sequence of candidate rows (dicts) or a DataFrame")
    out = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise ArgumentError(f"each row must be a dict of the candidate table's columns, got {type(row).__name__}")
        out.append({k: (None if _missing(v) else v) for k, v in row.items()})
    return out


def is_sun(row: Mapping, e_hull_max: float = E_HULL_MAX) -> bool:
    """Stable (``e_above_hull`` <= ``e_hull_max``), unique (no ``duplicate_of``) and new (``novelty`` not
    ``known``). Only valid, unique candidates are assessed, so a row without a novelty verdict or an energy above the
    hull (not decoded, invalid, a duplicate, no hull data) is not S.U.N."""
    e_hull = row.get("e_above_hull")
    return (row.get("novelty") in NOT_KNOWN and _missing(row.get("duplicate_of")) and not _missing(e_hull)
            and e_hull <= e_hull_max)


def _on_target(row: Mapping, judge: str, target: float, tolerance: float) -> bool:
    value = row.get(judge)
    return not _missing(value) and abs(value - target) <= tolerance


def sun_rate(rows: Any, e_hull_max: float = E_HULL_MAX) -> Rate:
    """S.U.N. candidates (:func:`is_sun`) over all rows."""
    rows = records(rows)
    return Rate(sum(is_sun(r, e_hull_max) for r in rows), len(rows))


def sunt_rate(rows: Any, judge: str, target: float, tolerance: float = GAP_WINDOW,
              e_hull_max: float = E_HULL_MAX) -> Rate:
    """S.U.N. candidates whose property ``judge`` (a column, e.g. ``band_gap_composition``) lies within
    ``tolerance`` of ``target``, over all rows."""
    rows = records(rows)
    _check_target(rows, judge, target, tolerance)
    return Rate(sum(is_sun(r, e_hull_max) and _on_target(r, judge, target, tolerance) for r in rows), len(rows))


def _check_target(rows: list[dict], judge: str, target: float, tolerance: float) -> None:
    for name, value in (("target", target), ("tolerance", tolerance)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if tolerance < 0:
        raise ArgumentError(f"tolerance must be >= 0, got {tolerance}")
    if rows and not any(judge in r for r in rows):
        raise ArgumentError(f"no column {judge!r} in the rows (columns: {sorted(rows[0])})")


def target_accuracy(rows: Any, judge: str, target: float, tolerance: float = GAP_WINDOW) -> dict:
    """How close the rows' predicted ``judge`` comes to ``target``, over the rows that have a prediction: ``n``,
    ``mean``, ``mae`` and ``within`` (the share within ``tolerance``; None when no row has a prediction)."""
    rows = records(rows)
    _check_target(rows, judge, target, tolerance)
    values = [r[judge] for r in rows if not _missing(r.get(judge))]
    if not values:
        return {"n": 0, "mean": None, "mae": None, "within": None, "tolerance": tolerance}
    errors = [abs(v - target) for v in values]
    return {"n": len(values), "mean": statistics.fmean(values), "mae": statistics.fmean(errors),
            "within": sum(e <= tolerance for e in errors) / len(values), "tolerance": tolerance}


def gap_accuracy(rows: Any, target: float, judge: str = "band_gap_composition", window: float = GAP_WINDOW) -> dict:
    """Band-gap conditioning accuracy: :func:`target_accuracy` of the band-gap prediction ``judge`` (the
    composition model by default; ``band_gap`` is MEGNet's)."""
    return target_accuracy(rows, judge, target, window)


def funnel(rows: Any, e_hull_max: float = E_HULL_MAX) -> dict[str, Rate]:
    """The rates at each step toward S.U.N.: decoded (a crystal came out), valid and unique (assessed), not a known
    crystal, stable, S.U.N."""
    rows = records(rows)
    n = len(rows)
    assessed = [r for r in rows if r.get("novelty") is not None]
    return {
        "decoded": Rate(sum(not _missing(r.get("formula")) for r in rows), n),  # a crystal came out
        "valid_unique": Rate(len(assessed), n),
        "not_known": Rate(sum(r["novelty"] in NOT_KNOWN for r in assessed), n),
        "stable": Rate(sum(not _missing(r.get("e_above_hull")) and r["e_above_hull"] <= e_hull_max
                           for r in assessed), n),
        "sun": sun_rate(rows, e_hull_max),
    }

