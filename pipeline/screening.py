"""Property screening: predicted band gap, formation energy and energy above the convex hull, checked against targets.

The predictions come from :mod:`pipeline.properties` (matgl models and a hull built from the reference data with the
same potential that relaxed the candidates); this module only batches the calls and applies the criteria.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Criteria:
    """What a kept candidate must satisfy. A target of None means no screening on that property."""

    band_gap: float | None = None
    gap_tolerance: float = 0.5
    formation_energy: float | None = None
    eform_tolerance: float = 0.5
    max_e_hull: float | None = None


def predict(structures: list, energies: list[float | None]) -> list[dict]:
    """Predicted band gap (eV), formation energy (eV/atom) and energy above hull (eV/atom) for each structure.

    ``energies`` are the potential's energies per atom of the relaxed structures (the hull uses the same potential).
    """
    from pipeline import properties

    if not structures:
        return []
    gaps = list(properties.predict_band_gap(structures))
    eforms = list(properties.predict_formation_energy(structures))
    hulls = list(properties.energy_above_hull(structures, energies))
    return [
        {"band_gap_pred": _num(g), "formation_energy_pred": _num(e), "e_above_hull": _num(h)}
        for g, e, h in zip(gaps, eforms, hulls)
    ]


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value else None  # NaN -> None


def screen(props: dict, criteria: Criteria) -> tuple[str, str] | None:
    """``None`` when the candidate meets every criterion, else ``(status, message)`` for the first it misses."""
    checks = (
        ("band_gap_pred", criteria.band_gap, criteria.gap_tolerance, "off_target_band_gap", "eV"),
        ("formation_energy_pred", criteria.formation_energy, criteria.eform_tolerance, "off_target_formation_energy",
         "eV/atom"),
    )
    for key, target, tolerance, status, unit in checks:
        if target is None:
            continue
        value = props.get(key)
        if value is None:
            return "no_prediction", f"no {key} for this candidate"
        if abs(value - target) > tolerance:
            return status, f"{key} {value:.3f} {unit} is more than {tolerance} {unit} from the target {target}"
    if criteria.max_e_hull is not None:
        value = props.get("e_above_hull")
        if value is None:
            return "no_prediction", "no energy above hull for this candidate"
        if value > criteria.max_e_hull:
            return "above_hull", f"{value:.3f} eV/atom above the hull (limit {criteria.max_e_hull})"
    return None
