"""The parameter objects of a run: what to sample (:class:`Sampling`), what a kept candidate must satisfy
(:class:`pipeline.criteria.Criteria`) and where and how the work runs (:class:`Runner`).

Each option is defined once, here, with its default and its check; :func:`pipeline.generate.generate` and the
``design`` loop take these objects, and the command line builds them from its arguments (``pipeline.cli``), reading
the defaults from the fields. A bad value raises :class:`periodicnet.errors.ArgumentError` when the object is made,
before any work starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generative import sample
from periodicnet.arguments import check_count, check_number, check_seed, check_time_limit
from periodicnet.errors import ArgumentError
from periodicnet.limits import CANDIDATE_TIME_LIMIT


def default_of(owner: Any, name: str) -> Any:
    """The default of ``name``: a field of the dataclass ``owner`` or a parameter of the function ``owner`` (what
    the command line shows and uses, so each default is written once, where the option is defined)."""
    if not dataclasses.is_dataclass(owner):
        default = inspect.signature(owner).parameters[name].default
        if default is inspect.Parameter.empty:
            raise KeyError(f"{owner.__qualname__} has no parameter {name!r} with a default")
        return default
    for f in dataclasses.fields(owner):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(f"{owner.__name__} has no field {name!r} with a default")


@dataclass(frozen=True)
class Sampling:
    """What to sample: ``n`` strings from the generative ``model`` (None: the shipped one) conditioned on the
    targets, or the given ``strings`` instead of sampling.

    ``guidance`` is classifier-free guidance toward the targets (:func:`generative.sample`); ``elements``,
    ``max_atoms`` and ``valid_composition`` restrict the chemistry (unlike :func:`generative.sample`,
    ``valid_composition`` is on by default: element blocks that fail the SMACT test are redrawn). ``seed`` seeds
    sampling and reconstruction.
    """

    n: int = 100
    band_gap: float | None = None
    formation_energy: float | None = None
    temperature: float = default_of(sample, "temperature")
    guidance: float = default_of(sample, "guidance")
    elements: tuple[str, ...] | None = None
    max_atoms: int | None = None
    valid_composition: bool = True
    seed: int = 0
    model: str | os.PathLike | None = None
    strings: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.strings is not None:
            if isinstance(self.strings, str) or not all(isinstance(s, str) for s in self.strings) \
                    or not len(self.strings):
                raise ArgumentError("strings must be a non-empty sequence of SLICES strings")
            # tokens are whitespace-separated: normalise the spacing
            object.__setattr__(self, "strings", tuple(" ".join(s.split()) for s in self.strings))
            object.__setattr__(self, "n", len(self.strings))
        else:
            object.__setattr__(self, "n", check_count(self.n, "n (candidates to sample)"))
        check_number(self.band_gap, "band_gap target", minimum=0, optional=True)
        check_number(self.formation_energy, "formation_energy target", optional=True)
        check_number(self.temperature, "temperature", above=0)
        check_number(self.guidance, "guidance", minimum=0)
        if self.elements is not None:
            if isinstance(self.elements, str):
                raise ArgumentError(f"elements must be a list of element symbols, got the string {self.elements!r}")
            object.__setattr__(self, "elements", tuple(self.elements))
        if self.max_atoms is not None:
            check_count(self.max_atoms, "max_atoms")
        if not isinstance(self.valid_composition, bool):
            raise ArgumentError(f"valid_composition must be True or False, got {self.valid_composition!r}")
        object.__setattr__(self, "seed", check_seed(self.seed))

    @property
    def chemistry(self) -> dict:
        """The chemistry options as :func:`generative.sample` takes them."""
        return {"elements": list(self.elements) if self.elements is not None else None, "max_atoms": self.max_atoms,
                "valid_composition": self.valid_composition}


@dataclass(frozen=True)
class Runner:
    """Where and how the work runs: a local process pool of ``workers`` (None: all cores) or a Dask cluster
    (``client``, a ``distributed.Client``, or a ``scheduler`` address); each candidate's reconstruction gets
    ``time_limit`` seconds; ``potential`` relaxes every crystal (None: the default potential) and ``score_with``
    gives the energy the crystal is judged by, a single point on the relaxed crystal (None: the screening default,
    :data:`screening.assessment.DEFAULT_SCORE_WITH`; potentials by the names of :data:`relax.potentials.REGISTRY`,
    a matgl model or folder, a SevenNet checkpoint);
    ``retry_failed`` decodes again, on resume, candidates whose worker crashed or timed out."""

    workers: int | None = None
    client: Any = None
    scheduler: str | None = None
    time_limit: float = CANDIDATE_TIME_LIMIT
    potential: str | None = None
    score_with: str | None = None
    retry_failed: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.workers is not None:
            check_count(self.workers, "workers")
        object.__setattr__(self, "time_limit", check_time_limit(self.time_limit))
        if self.client is not None and self.scheduler is not None:
            raise ArgumentError("give either a Dask client or a scheduler address, not both")
        if self.scheduler is not None and "://" not in str(self.scheduler):
            raise ArgumentError(f"scheduler must be an address like tcp://host:8786, got {self.scheduler!r}")
        _check_potentials(self)
        _check_flags(self, "retry_failed", "progress")


def _check_flags(options: Any, *names: str) -> None:
    """Each named field of ``options`` is True or False."""
    for name in names:
        if not isinstance(getattr(options, name), bool):
            raise ArgumentError(f"{name} must be True or False, got {getattr(options, name)!r}")


def _check_potentials(options: Any) -> None:
    """``options.potential`` and ``options.score_with`` are None or a potential's name or path."""
    for name in ("potential", "score_with"):
        value = getattr(options, name)
        if value is not None and (not isinstance(value, (str, os.PathLike)) or not str(value).strip()):
            raise ArgumentError(f"{name} must be a potential's name or path, got {value!r}")


def as_path_or_none(value: str | os.PathLike | None) -> Path | None:
    """A command-line path where the word ``none`` means no file."""
    if value is None or str(value).lower() == "none":
        return None
    return Path(value)


@dataclass(frozen=True)
class AssessOptions:
    """How ``slices assess`` screens crystals of one's own (:func:`pipeline.assess_run.assess_files`): ``relax`` each
    with the interatomic ``potential`` first (False takes them as relaxed) and judge it by the energy of a single
    point with ``score_with`` (None, None: the route :func:`screening.assess` defaults to, chosen on evidence in
    ``docs/models.md``), ``known_materials`` judges them against the known hull and every known crystal and
    composition of the shared data; ``batch`` crystals are assessed between two writes to disk (what an
    interruption can lose)."""

    relax: bool = True
    potential: str | None = None
    score_with: str | None = None
    known_materials: bool = True
    batch: int = 8
    progress: bool = True

    def __post_init__(self) -> None:
        _check_flags(self, "relax", "known_materials", "progress")
        object.__setattr__(self, "batch", check_count(self.batch, "batch"))
        _check_potentials(self)
