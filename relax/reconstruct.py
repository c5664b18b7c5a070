"""Labelled quotient graph -> relaxed 3D crystal, in three stages (placement, GFN-FF, potential).

See ``docs/reconstruction.md`` for the stages, the reason codes and measured rates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from periodicnet.elements import ATOMIC_NUMBER
from periodicnet.errors import StructureInputError
from periodicnet.limits import GFNFF_TIME_LIMIT, MIN_DISTANCE, RECONSTRUCTION_TIME_LIMIT
from relax.driver import RelaxSettings
from relax.errors import RelaxError
from relax.potential import DEFAULT_POTENTIAL, RelaxResult, relax_structure
from relax.routes import route_for

STAGES = ("placement", "gfnff", "potential")
DEFAULT_STAGES = ("placement", "potential")
POTENTIAL_SETTINGS = RelaxSettings(fmax=0.2)
"""The potential stage's relaxation: the driver's defaults but fmax 0.2 eV/A (the reference implementation's own
criterion). Side by side on 200 MP-20 crystals: 96.5% / 92.0% loose / strict at 0.30x the reference's CPU time
(reference 95.0% / 91.5%); fmax 0.1 gave about one more strict match in 30 at twice the time (0.78x the
reference's). ``fmax=0.1, stages=STAGES`` is the slower, most accurate route (``docs/reconstruction.md``)."""
"""The default route leaves GFN-FF out: side by side with the reference on 200 MP-20 crystals it tripled the CPU
time for about one point of strict matches, and on frameworks it matched none it was given
(``docs/reconstruction.md``); pass ``stages=STAGES`` for the three-stage route."""


@dataclass
class Reconstruction:
    """Result of :func:`reconstruct`.

    ``structure`` is the last good structure (None when placement failed), ``status`` is ``"ok"`` or the reason code
    of the failure that decided the outcome, ``stage_status`` the outcome of each stage that ran (a GFN-FF failure
    is recorded there but does not fail the reconstruction: the potential continues from the stage-1 structure),
    ``potential_start`` the starting geometry of the relaxation that won (``"placement"`` or ``"gfnff"``: the potential
    relaxes each geometry the earlier stages produced and keeps the lowest final energy), ``potential_energies`` the
    final energy per atom reached from each start, ``route`` the name of the route taken (:mod:`relax.routes`;
    ``"custom"`` for stages given by the caller).
    """

    structure: object | None
    status: str
    message: str = ""
    energy_per_atom: float | None = None
    stage_times: dict = field(default_factory=dict)
    stage_structures: dict = field(default_factory=dict)
    stage_status: dict = field(default_factory=dict)
    potential_start: str = "placement"
    potential_energies: dict = field(default_factory=dict)
    route: str = ""

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
    potential: str = DEFAULT_POTENTIAL,
    stages: tuple[str, ...] | None = None,
    route: str = "auto",
    time_limit: float = RECONSTRUCTION_TIME_LIMIT,
    seed: int = 0,
    gfnff_time_limit: float = GFNFF_TIME_LIMIT,
    fmax: float | None = None,
    steps: int | None = None,
    optimizer: str | None = None,
    contacts: np.ndarray | None = None,
) -> Reconstruction:
    """Rebuild a crystal from its bond graph: ``species`` (n symbols), ``edges`` (m x 2), ``images`` (m x 3).

    ``contacts`` (bool per edge, default none) marks the non-bonded contacts that complete a layered, chain or
    molecular crystal into a 3D net: van der Waals target lengths and weak springs in the placement, no restraint
    in GFN-FF, no bond checks (:mod:`relax.targets`).

    ``route`` (:mod:`relax.routes`): ``"auto"`` (default) picks the stages and the force criterion by the cell's
    size and chemistry, ``"fast"`` or ``"full"`` name one; ``stages`` and ``fmax``, when given, override the route's.

    The potential relaxes every geometry the earlier stages produced (:func:`relax.potential.relax_structure`;
    ``fmax`` eV/A, ``steps`` and ``optimizer`` override :class:`relax.driver.RelaxSettings`' defaults) and keeps the
    lowest final energy; an unconverged winner gets a second round.
    Bad input (shapes, unknown elements, unknown stage names, a graph that is not a connected 3D net) raises
    :class:`RelaxError`; failures while reconstructing are returned as a ``status`` reason code.
    """
    from periodicnet.arguments import check_seed, check_time_limit
    from periodicnet.errors import ArgumentError
    from periodicnet.graph import GraphInputError, embeddability, validate_graph

    try:
        species, edges, images = validate_graph(species, edges, images)
        seed = check_seed(seed)
        # zero is allowed for the overall limit: the result is an immediate `timeout` (a caller out of budget)
        time_limit = 0.0 if time_limit == 0 and not isinstance(time_limit, bool) else check_time_limit(time_limit)
        gfnff_time_limit = check_time_limit(gfnff_time_limit, "gfnff_time_limit")
    except (GraphInputError, ArgumentError) as exc:
        raise RelaxError("bad_input", str(exc)) from None
    contacts = _contact_marks(contacts, len(edges))
    chosen = route_for(species, route)
    stages = chosen.stages if stages is None else tuple(stages)
    fmax = chosen.fmax if fmax is None else fmax
    optimizer = chosen.optimizer if optimizer is None else optimizer
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages or stages[0] != "placement":
        raise RelaxError("bad_input", f"stages must start with 'placement' and use only {STAGES}, got {stages}")
    settings = _potential_settings(fmax, steps, optimizer, chosen.alpha)  # bad settings are bad input, before any work
    problem = embeddability(len(species), edges, images)
    if problem is not None:
        raise RelaxError("not_embeddable", problem[1])
    start = time.monotonic()
    deadline = start + time_limit
    result = Reconstruction(structure=None, status="ok", route=chosen.name if stages == chosen.stages else "custom")
    numbers = np.array([ATOMIC_NUMBER[s] for s in species])
    contacts, targets, weights, stretch, angle_terms = placement_inputs(species, edges, images, contacts)
    bonds = ~contacts

    # stage 1: placement from the graph alone
    from relax.placement import min_distance, place

    t0 = time.monotonic()
    try:
        cell, frac = place(species, edges, images, seed=seed, targets=targets, weights=weights,
                           extra_springs=angle_terms, stretch_weights=stretch)
        if min_distance(cell, frac) < MIN_DISTANCE:
            raise RelaxError("placement_failed", f"two atoms ended closer than {MIN_DISTANCE} A")
    except RelaxError as exc:
        return _fail(result, exc, "placement", t0)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return _fail(result, RelaxError("placement_failed", f"placement failed: {exc}"), "placement", t0)
    _record(result, "placement", t0, _structure(species, cell, frac))

    # stage 2: GFN-FF (a failure or crash is recorded; the next stage starts from the placement)
    if "gfnff" in stages:
        from relax.gfnff_stage import WALL_FACTOR, gfnff_relax

        t0 = time.monotonic()
        remaining = deadline - t0
        try:
            if remaining <= 0:
                raise RelaxError("timeout", "no time left for GFN-FF")
            cell2, frac2, _ = gfnff_relax(  # restraints and bond checks on the bonds only (not the contacts)
                numbers, cell, frac, edges[bonds], images[bonds], targets[bonds],
                time_limit=gfnff_time_limit,
                wall_limit=min(WALL_FACTOR * gfnff_time_limit, remaining / 2),  # half is kept for the potential
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

    # stage 3: the universal potential relaxes every geometry the earlier stages produced (the placement, and
    # GFN-FF's when it succeeded); the lowest final energy wins. Neither start is better on its own: GFN-FF misplaces
    # metals, the placement misses distortions; multi-start fixed a quarter of the strict misses.
    if "potential" in stages:
        t0 = time.monotonic()
        starts = [name for name in ("gfnff", "placement") if result.stage_status.get(name) == "ok"]
        outcomes: dict[str, RelaxResult] = {}
        error: RelaxError | None = None
        for name in starts:
            if deadline - time.monotonic() <= 0:
                error = error or RelaxError("timeout", "no time left for the potential relaxation")
                break
            try:
                outcomes[name] = _relax_start(result.stage_structures[name], potential, settings, deadline)
            except RelaxError as exc:
                if exc.reason == "model_missing":
                    return _fail(result, exc, "potential", t0)
                error = exc
        if not outcomes:
            return _fail(result, error or RelaxError("timeout", "no time left for the potential relaxation"),
                         "potential", t0)
        # prefer relaxations that finished, then the lower energy
        best = min(outcomes, key=lambda name: (outcomes[name].status != "ok", outcomes[name].energy_per_atom))
        final = outcomes[best]
        if final.status == "not_converged" and deadline - time.monotonic() > 0:
            # one more round from where it stopped (new generated crystals can be far from a minimum)
            try:
                final = _relax_start(final.structure, potential, settings, deadline)
            except RelaxError:
                pass  # keep the first round's geometry and its not_converged status
        result.potential_start = best
        result.potential_energies = {name: float(out.energy_per_atom) for name, out in outcomes.items()}
        _record(result, "potential", t0, final.structure, final.status)
        result.energy_per_atom = final.energy_per_atom
        if final.status != "ok":
            result.status = final.status
            result.message = {"timeout": "the potential relaxation passed the time limit",
                              "not_converged": "the potential relaxation ran out of steps"}[final.status]
    return result


def placement_inputs(species, edges: np.ndarray, images: np.ndarray, contacts: np.ndarray):
    """What the stages need besides the graph: ``(soft, targets, weights, stretch_weights, angle_springs)``.

    ``soft`` marks the edges treated as contacts: the codec's contacts plus the graph's secondary edges
    (:func:`relax.targets.secondary_edges`: hydrogen bonds and halide contacts the encoder counted as bonds); they
    get van der Waals targets, weak springs, no GFN-FF restraint and no bond check. ``targets`` and ``weights`` are
    every edge's length and spring weight, ``stretch_weights`` every edge's extra weight against stretching past its
    target (:data:`relax.targets.CONTACT_STRETCH_WEIGHT` on the soft edges, 0 on bonds), ``angle_springs`` the 1-3
    springs of :mod:`relax.angles`.
    """
    from relax.angles import angle_springs
    from relax.targets import CONTACT_STRETCH_WEIGHT, CONTACT_WEIGHT, edge_targets, secondary_edges

    soft = contacts | secondary_edges(species, edges, contacts)
    targets = edge_targets(species, edges, soft)
    weights = np.where(soft, CONTACT_WEIGHT, 1.0)
    stretch = np.where(soft, CONTACT_STRETCH_WEIGHT, 0.0)
    return soft, targets, weights, stretch, angle_springs(species, edges, images, targets, soft)


def _contact_marks(contacts, n_edges: int) -> np.ndarray:
    """``contacts`` as a bool array of one flag per edge (all False when None); bad input raises ``RelaxError``."""
    if contacts is None:
        return np.zeros(n_edges, dtype=bool)
    marks = np.asarray(contacts)
    if marks.shape != (n_edges,):
        raise RelaxError("bad_input", f"contacts must hold one flag per edge ({n_edges}), got shape {marks.shape}")
    if marks.dtype != bool and not np.all(np.isin(marks, (0, 1))):
        raise RelaxError("bad_input", "contacts must be booleans (True for a contact, False for a bond)")
    return marks.astype(bool)


def _potential_settings(fmax: float | None, steps: int | None, optimizer: str | None,
                        alpha: float) -> RelaxSettings:
    """:data:`POTENTIAL_SETTINGS` with the route's BFGS Hessian and the caller's overrides (``None`` keeps a
    default); bad values raise a ``bad_input`` :class:`~relax.driver.RelaxationError`."""
    given = {k: v for k, v in (("fmax", fmax), ("steps", steps), ("optimizer", optimizer)) if v is not None}
    return replace(POTENTIAL_SETTINGS, alpha=alpha, **given)


def _relax_start(structure, potential, settings: RelaxSettings, deadline: float) -> RelaxResult:
    """One potential relaxation; every failure but a missing model is a ``potential_failed`` :class:`RelaxError`."""
    try:
        return relax_structure(structure, potential, settings, deadline=deadline)
    except StructureInputError as exc:  # e.g. GFN-FF left two non-bonded atoms on top of each other
        raise RelaxError("potential_failed", f"the potential cannot start from this geometry: {exc}") from None
    except RelaxError as exc:
        if exc.reason in ("model_missing", "potential_failed"):
            raise
        raise RelaxError("potential_failed", str(exc)) from None


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
