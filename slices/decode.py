"""String -> crystal: parse, check the graph is a 3D net, reconstruct through :mod:`relax`, check the topology.

:func:`decode` returns the relaxed structure or raises :class:`~slices.errors.DecodeError` with the failing stage's
reason code; :func:`decode_report` never raises for a failed reconstruction and says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from periodicnet.arguments import check_seed, check_time_limit
from slices.errors import DecodeError, NotEmbeddableError, SlicesError
from slices.graph import SlicesGraph, parse


@dataclass
class DecodeResult:
    """What :func:`decode_report` found: the structure (or None), the status reason code, the potential's energy
    per atom, per-stage seconds, and ``topology_ok``: whether re-encoding the result gives the same canonical
    string (None when there is no structure to check), ``route`` the reconstruction route taken
    (:mod:`relax.routes`)."""

    string: str
    structure: object | None
    status: str
    message: str = ""
    energy_per_atom: float | None = None
    timings: dict = field(default_factory=dict)
    topology_ok: bool | None = None
    stage_structures: dict = field(default_factory=dict)
    stage_status: dict = field(default_factory=dict)
    potential_start: str | None = None
    route: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _graph(string: str) -> SlicesGraph:
    graph = parse(string)
    try:
        graph.check_embeddable()
    except NotEmbeddableError as exc:
        raise DecodeError("not_embeddable", f"the string does not describe a 3D crystal ({exc.reason}): {exc}") from exc
    return graph


def _check_kwargs(kwargs: dict) -> dict:
    """The keywords for :func:`relax.reconstruct`, with the seed and time limit checked (the same rules as the
    command line: :mod:`periodicnet.arguments`); a bad value raises :class:`~periodicnet.errors.ArgumentError`."""
    checked = dict(kwargs)
    if "seed" in checked:
        checked["seed"] = check_seed(checked["seed"])
    for name in ("time_limit", "gfnff_time_limit"):
        if name in checked:
            checked[name] = check_time_limit(checked[name], name)
    return checked


def _reconstruct(graph: SlicesGraph, **kwargs):
    from relax import reconstruct

    if graph.contacts.any():  # contact edges (after '~') get contact target lengths, not bond lengths
        kwargs["contacts"] = graph.contacts
    return reconstruct(graph.species, graph.edges, graph.images, **kwargs)


def decode(string: str, **kwargs) -> "Structure":  # noqa: F821 - pymatgen Structure
    """Rebuild the crystal a SLICES string describes (keywords go to :func:`relax.reconstruct`).

    Raises :class:`~slices.errors.ParseError` for a malformed string, :class:`~periodicnet.errors.ArgumentError`
    for a bad ``seed`` (a whole number from 0 to 2**63 - 1) or ``time_limit`` (finite seconds > 0), and
    :class:`DecodeError` (``reason`` one of the reconstruction codes, e.g. ``not_embeddable``, ``placement_failed``,
    ``potential_failed``, ``timeout``) when no crystal comes out.
    """
    result = _reconstruct(_graph(string), **_check_kwargs(kwargs))
    if result.status != "ok" or result.structure is None:
        raise DecodeError(result.status, f"decoding failed: {result.message or result.status}")
    return result.structure


def topology_matches(string: str, structure) -> bool:
    """Whether ``structure`` re-encodes to the same canonical string as ``string``."""
    from slices import canonical, encode

    try:
        return encode(structure) == canonical(string)
    except SlicesError:
        return False


def decode_report(string: str, *, check_topology: bool = True, **kwargs) -> DecodeResult:
    """Decode and report: status, structure, energy, stage timings and whether the bond topology survived.

    A malformed string still raises :class:`~slices.errors.ParseError`; everything after parsing (including a
    graph that is not a 3D net) is reported through ``status`` instead of an exception. A bad ``seed`` or
    ``time_limit`` raises :class:`~periodicnet.errors.ArgumentError`.
    """
    kwargs = _check_kwargs(kwargs)
    try:
        graph = _graph(string)
    except DecodeError as exc:
        return DecodeResult(string=string, structure=None, status=exc.reason, message=str(exc))
    result = _reconstruct(graph, **kwargs)
    report = DecodeResult(
        string=string,
        structure=result.structure,
        status=result.status,
        message=result.message,
        energy_per_atom=result.energy_per_atom,
        timings=dict(result.stage_times),
        stage_structures=dict(result.stage_structures),
        stage_status=dict(result.stage_status),
        potential_start=result.potential_start if "potential" in result.stage_status else None,
        route=result.route,
    )
    if check_topology and result.structure is not None:
        report.topology_ok = topology_matches(string, result.structure)
    return report
