"""Screening criteria: what a kept candidate must satisfy (new, within the targets, close enough to the hull).

The values come from :func:`screening.assess` (formation energy, energy above the hull of known materials, band
gap, known or new); this module only applies the criteria.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from periodicnet.arguments import check_number
from periodicnet.errors import ArgumentError

GAP_PREDICTORS = {"composition": "band_gap_composition", "megnet": "band_gap"}
"""Band-gap predictor name -> the candidate-table column a band-gap target is checked against."""
DEFAULT_GAP_PREDICTOR = "composition"  # chosen on evidence: benchmarks/results/band_gap_predictors.json, docs/models.md


@dataclass(frozen=True)
class Criteria:
    """What a kept candidate must satisfy. A target of None means no screening on that property.

    ``band_gap`` / ``formation_energy`` keep candidates within ``gap_tolerance`` / ``eform_tolerance`` of the
    target (a band-gap target is checked against ``gap_predictor``'s prediction: :data:`GAP_PREDICTORS`);
    ``max_e_hull`` (eV/atom) drops unstable ones; ``require_topology`` drops candidates whose relaxed crystal no
    longer has the string's bonds (otherwise they are kept and flagged). Candidates that match a known crystal are
    dropped: ``known_materials`` judges against every crystal and composition of the shared data (and screens
    against the known hull), ``train_data`` adds a training set of one's own (a CSV with a ``cif`` column;
    "default": ``$SLICES_TRAIN_DATA`` or the MP-20 training pool, which the shared data already holds; None: none).
    """

    band_gap: float | None = None
    gap_tolerance: float = 0.5
    formation_energy: float | None = None
    eform_tolerance: float = 0.5
    max_e_hull: float | None = None
    require_topology: bool = False
    gap_predictor: str = DEFAULT_GAP_PREDICTOR
    known_materials: bool = True
    train_data: str | os.PathLike | None = "default"

    def __post_init__(self) -> None:
        check_number(self.band_gap, "band_gap target", minimum=0, optional=True)
        check_number(self.formation_energy, "formation_energy target", optional=True)
        for name in ("gap_tolerance", "eform_tolerance"):
            check_number(getattr(self, name), name, minimum=0)
        check_number(self.max_e_hull, "max_e_hull", minimum=0, optional=True)
        if self.gap_predictor not in GAP_PREDICTORS:
            raise ArgumentError(f"gap_predictor must be one of {sorted(GAP_PREDICTORS)}, got {self.gap_predictor!r}")
        for name in ("require_topology", "known_materials"):
            if not isinstance(getattr(self, name), bool):
                raise ArgumentError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def gap_column(self) -> str:
        """The candidate-table column of the chosen band-gap predictor."""
        return GAP_PREDICTORS[self.gap_predictor]


def screen(props: dict, criteria: Criteria) -> tuple[str, str] | None:
    """``None`` when the candidate meets every criterion, else ``(status, message)`` for the first it misses."""
    checks = (
        (criteria.gap_column, criteria.band_gap, criteria.gap_tolerance, "off_target_band_gap", "eV"),
        ("formation_energy_per_atom", criteria.formation_energy, criteria.eform_tolerance, "off_target_formation_energy",
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
