"""Screening criteria: predicted properties and energy above the known hull checked against the targets.

The values come from :func:`pipeline.assess` (formation energy, energy above the hull of known materials, band
gap); this module only applies the criteria.
"""

from __future__ import annotations

from dataclasses import dataclass

GAP_PREDICTORS = {"composition": "band_gap_composition_pred", "megnet": "band_gap_pred"}
"""Band-gap predictor name -> the candidate-table column a band-gap target is checked against."""
DEFAULT_GAP_PREDICTOR = "composition"  # chosen on evidence: benchmarks/results/band_gap_predictors.json, docs/models.md


@dataclass(frozen=True)
class Criteria:
    """What a kept candidate must satisfy. A target of None means no screening on that property."""

    band_gap: float | None = None
    gap_tolerance: float = 0.5
    formation_energy: float | None = None
    eform_tolerance: float = 0.5
    max_e_hull: float | None = None
    require_topology: bool = False  # drop candidates whose relaxed crystal no longer has the string's bond graph
    gap_predictor: str = DEFAULT_GAP_PREDICTOR  # which prediction a band-gap target is checked against

    @property
    def gap_column(self) -> str:
        """The candidate-table column of the chosen band-gap predictor."""
        return GAP_PREDICTORS[self.gap_predictor]


def screen(props: dict, criteria: Criteria) -> tuple[str, str] | None:
    """``None`` when the candidate meets every criterion, else ``(status, message)`` for the first it misses."""
    checks = (
        (criteria.gap_column, criteria.band_gap, criteria.gap_tolerance, "off_target_band_gap", "eV"),
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
