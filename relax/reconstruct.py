"""Labelled quotient graph -> relaxed 3D crystal, in three stages (placement, GFN-FF, potential).

See ``docs/reconstruction.md`` for the stages, the reason codes and measured rates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from relax.refine import DEFAULT_MODEL
from relax.errors import RelaxError

STAGES = ("placement", "gfnff", "potential")


@dataclass
class Reconstruction:
    """Result of :func:`reconstruct`.

    ``structure`` is the last good structure (None when placement failed), ``status`` is ``"ok"`` or the reason code
    of the failure that decided the outcome, ``stage_status`` the outcome of each stage that ran (a GFN-FF failure
    is recorded there but does not fail the reconstruction: the potential continues from the stage-1 structure),
    ``potential_start`` which geometry the potential relaxation started from (the lower-energy one of the two).
    """

    structure: object | None
    status: str
    message: str = ""
    energy_per_atom: float | None = None
    stage_times: dict = field(default_factory=dict)
    stage_structures: dict = field(default_factory=dict)
    stage_status: dict = field(default_factory=dict)
    potential_start: str = "placement"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _structure(species, cell, frac):
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(cell), species, np.mod(frac, 1.0))


def reconstruct(
    species,
    edges,
    images,
    *,
    potential: str = DEFAULT_MODEL,
    stages: tuple[str, ...] = STAGES,
    time_limit: float = 120.0,
    seed: int = 0,
    gfnff_time_limit: float = 30.0,
    fmax: float | None = None,
    steps: int | None = None,
) -> Reconstruction:
    """Rebuild a crystal from its bond graph: ``species`` (n symbols), ``edges`` (m x 2), ``images`` (m x 3).

    Bad input (shapes, unknown elements, unknown stage names, a graph that is not a connected 3D net) raises
    :class:`RelaxError`; failures while reconstructing are returned as a ``status`` reason code.
    """
    from relax.bondtable import bond_length
    from relax.graphcheck import check_3d, validate

    species, edges, images = validate(species, edges, images)
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages or stages[0] != "placement":
        raise RelaxError("bad_input", f"stages must start with 'placement' and use only {STAGES}, got {stages}")
    check_3d(len(species), edges, images)
    start = time.monotonic()
    deadline = start + time_limit
    result = Reconstruction(structure=None, status="ok")
    numbers = np.array([_atomic_number(s) for s in species])
    targets = np.array([bond_length(species[i], species[j]) for i, j in edges.tolist()])

    # stage 1: placement from the graph alone
    from relax.placement import MIN_DISTANCE, min_distance, place

    t0 = time.monotonic()
    try:
        cell, frac = place(species, edges, images, seed=seed)
        if min_distance(cell, frac) < MIN_DISTANCE:
            raise RelaxError("placement_failed", f"two atoms ended closer than {MIN_DISTANCE} A")
    except RelaxError as exc:
        return _fail(result, exc, "placement", t0)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return _fail(result, RelaxError("placement_failed", f"placement failed: {exc}"), "placement", t0)
    _record(result, "placement", t0, _structure(species, cell, frac))

    # stage 2: GFN-FF (a failure or crash is recorded; the next stage starts from the placement)
    if "gfnff" in stages:
        from relax.gfnff_stage import gfnff_relax

        t0 = time.monotonic()
        remaining = deadline - t0
        try:
            if remaining <= 0:
                raise RelaxError("timeout", "no time left for GFN-FF")
            cell2, frac2, _ = gfnff_relax(
                numbers, cell, frac, edges, images, targets, time_limit=min(gfnff_time_limit, remaining)
            )
            cell, frac = cell2, frac2
            _record(result, "gfnff", t0, _structure(species, cell, frac))
        except RelaxError as exc:
            result.stage_times["gfnff"] = time.monotonic() - t0
            result.stage_status["gfnff"] = exc.reason
            result.message = f"gfnff: {exc}"
            if exc.reason == "timeout":
                result.status = "timeout"
                return result

    # stage 3: refinement with the universal potential, from whichever of the stage-1 and stage-2 geometries the
    # potential itself rates lower in energy (GFN-FF misplaces metals; the potential is the better judge)
    if "potential" in stages:
        from relax.refine import refine, single_point

        t0 = time.monotonic()
        kwargs = {k: v for k, v in (("fmax", fmax), ("steps", steps)) if v is not None}
        try:
            if deadline - t0 <= 0:
                raise RelaxError("timeout", "no time left for the potential relaxation")
            if result.stage_status.get("gfnff") == "ok":
                placed = result.stage_structures["placement"]
                e_placed = single_point(numbers, placed.lattice.matrix, placed.frac_coords, model=potential)
                e_gfnff = single_point(numbers, cell, frac, model=potential)
                result.potential_start = "gfnff" if e_gfnff <= e_placed else "placement"
                if result.potential_start == "placement":
                    cell, frac = placed.lattice.matrix, placed.frac_coords
            cell, frac, energy, status = refine(numbers, cell, frac, model=potential, deadline=deadline, **kwargs)
        except RelaxError as exc:
            return _fail(result, exc, "potential", t0)
        _record(result, "potential", t0, _structure(species, cell, frac), status)
        result.energy_per_atom = energy
        if status != "ok":
            result.status = status
            result.message = {"timeout": "the potential relaxation passed the time limit",
                              "not_converged": "the potential relaxation ran out of steps"}[status]
    return result


def _atomic_number(symbol: str) -> int:
    from pymatgen.core.periodic_table import Element

    return Element(symbol).Z


def _record(result: Reconstruction, stage: str, t0: float, structure, status: str = "ok") -> None:
    result.stage_times[stage] = time.monotonic() - t0
    result.stage_structures[stage] = structure
    result.stage_status[stage] = status
    result.structure = structure


def _fail(result: Reconstruction, exc: RelaxError, stage: str, t0: float) -> Reconstruction:
    result.stage_times[stage] = time.monotonic() - t0
    result.stage_status[stage] = exc.reason
    result.status = exc.reason
    result.message = f"{stage}: {exc}"
    return result
