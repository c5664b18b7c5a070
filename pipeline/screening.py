"""Property screening: predicted band gap, formation energy and energy above the convex hull, checked against targets.

The predictions come from :mod:`pipeline.properties` (matgl models and a hull built from the reference data with the
same potential that relaxed the candidates); this module only batches the calls and applies the criteria.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from periodicnet.resources import shipped_data_path
from slices.errors import SlicesError

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class Criteria:
    """What a kept candidate must satisfy. A target of None means no screening on that property."""

    band_gap: float | None = None
    gap_tolerance: float = 0.5
    formation_energy: float | None = None
    eform_tolerance: float = 0.5
    max_e_hull: float | None = None
    require_topology: bool = False  # drop candidates whose relaxed crystal no longer has the string's bond graph


def default_hull_reference() -> Path:
    """The reference table shipped with the package: ``data/hull_reference.csv.gz`` in the repository."""
    return shipped_data_path("hull_reference.csv.gz")


def load_hull(path: str | os.PathLike):
    """Read the hull reference table once (``PipelineError`` naming the file if it is missing or unusable)."""
    from pipeline import properties

    try:
        return properties.load_hull_reference(path)
    except SlicesError as exc:
        raise PipelineError(f"hull reference: {exc}; pass --hull-reference PATH or 'none' to skip") from exc


def hull_potential(path: str | os.PathLike) -> str | None:
    """The potential the hull reference energies were computed with (its ``model`` column), or None if unrecorded."""
    import pandas as pd

    try:
        models = pd.read_csv(path, usecols=lambda c: c == "model")
    except (OSError, ValueError):
        return None
    names = sorted(set(models["model"].dropna().astype(str))) if "model" in models else []
    if len(names) > 1:
        raise PipelineError(f"hull reference {path} mixes energies from several potentials: {names}")
    return names[0] if names else None


def _each(predictor, structures: list) -> list[float | None]:
    """``predictor`` on the whole batch; if the batch is refused (e.g. an element the model lacks), one by one,
    with None for the structures it refuses."""
    try:
        return [_num(v) for v in predictor(structures)]
    except SlicesError:
        values = []
        for structure in structures:
            try:
                values.append(_num(predictor([structure])[0]))
            except SlicesError:
                values.append(None)
        return values


def predict(structures: list, energies: list[float | None], hull=None) -> list[dict]:
    """Predicted band gap (eV), formation energy (eV/atom) and energy above hull (eV/atom) for each structure.

    ``energies`` are the potential's energies per atom of the relaxed structures; ``hull`` is the reference table
    from :func:`load_hull` (computed with the same potential), or None to skip the hull.
    """
    from pipeline import properties

    if not structures:
        return []
    gaps = _each(properties.predict_band_gap, structures)
    eforms = _each(properties.predict_formation_energy, structures)
    hulls: list[float | None] = []
    for structure, energy in zip(structures, energies):
        value = None
        if hull is not None and energy is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a missing elemental reference gives NaN -> None
                try:
                    value = _num(properties.energy_above_hull(structure.composition, float(energy), hull))
                except SlicesError:
                    value = None
        hulls.append(value)
    return [
        {"band_gap_pred": g, "formation_energy_pred": e, "e_above_hull": h} for g, e, h in zip(gaps, eforms, hulls)
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
