"""The parameter objects of the design loop (:func:`pipeline.design.design`): what to hit (:class:`DesignTarget`),
how much to spend (:class:`DesignBudget`) and how each round proposes and learns (:class:`LoopSettings`).

Each option is defined once, here, with its default and its check; a bad value raises
:class:`periodicnet.errors.ArgumentError` when the object is made, before a folder is created or a model loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from periodicnet.arguments import check_count, check_number
from periodicnet.errors import ArgumentError
from pipeline.criteria import Criteria

MAX_E_HULL = 0.1
"""eV/atom above the known hull a hit may be (the S.U.N.T. definition: stable means within 0.1 eV/atom)."""


@dataclass(frozen=True)
class DesignTarget:
    """What a hit must be: a band gap within ``gap_tolerance`` of ``band_gap`` or inside ``gap_window`` (lo, hi)
    (give one of the two, or neither), a formation energy within ``eform_tolerance`` of ``formation_energy``,
    made only of ``elements`` (None: any), at most ``max_atoms`` per cell. A hit is also stable (within
    ``max_e_hull`` eV/atom of the hull of known materials), unique and not a known crystal."""

    band_gap: float | None = None
    gap_tolerance: float = 0.5
    gap_window: tuple[float, float] | None = None
    formation_energy: float | None = None
    eform_tolerance: float = 0.5
    elements: tuple[str, ...] | None = None
    max_atoms: int | None = None
    max_e_hull: float = MAX_E_HULL

    def __post_init__(self) -> None:
        check_number(self.band_gap, "band_gap target", minimum=0, optional=True)
        check_number(self.gap_tolerance, "gap_tolerance", above=0)
        check_number(self.formation_energy, "formation_energy target", optional=True)
        check_number(self.eform_tolerance, "eform_tolerance", above=0)
        check_number(self.max_e_hull, "max_e_hull", minimum=0)
        if self.gap_window is not None:
            if self.band_gap is not None:
                raise ArgumentError("give either band_gap (with gap_tolerance) or gap_window, not both")
            if isinstance(self.gap_window, (str, bytes)) or len(tuple(self.gap_window)) != 2:
                raise ArgumentError(f"gap_window must be two numbers (lo, hi) in eV, got {self.gap_window!r}")
            lo, hi = tuple(self.gap_window)
            check_number(lo, "gap_window low end", minimum=0)
            check_number(hi, "gap_window high end", minimum=0)
            if not lo < hi:
                raise ArgumentError(f"gap_window must have lo < hi, got ({lo}, {hi})")
            object.__setattr__(self, "gap_window", (float(lo), float(hi)))
        if self.band_gap is None and self.gap_window is None and self.formation_energy is None:
            raise ArgumentError("a design target needs a band gap (band_gap or gap_window) or a formation energy")
        if self.elements is not None:
            if isinstance(self.elements, str):
                raise ArgumentError(f"elements must be a list of element symbols, got the string {self.elements!r}")
            object.__setattr__(self, "elements", tuple(self.elements))
            from generative.sampling import check_chemistry

            check_chemistry(self.elements, None, True)  # unknown symbols -> UnknownElementsError (an ArgumentError)
        if self.max_atoms is not None:
            check_count(self.max_atoms, "max_atoms")

    @property
    def window(self) -> tuple[float, float] | None:
        """The band-gap range of a hit (eV), or None without a gap target."""
        if self.gap_window is not None:
            return self.gap_window
        if self.band_gap is None:
            return None
        return (max(0.0, self.band_gap - self.gap_tolerance), self.band_gap + self.gap_tolerance)

    @property
    def gap_condition(self) -> float | None:
        """The band gap the generator is conditioned on: the target, or the middle of the window."""
        window = self.window
        return None if window is None else (self.band_gap if self.band_gap is not None else sum(window) / 2)

    def gap_distance(self, gap: float) -> float:
        """How far (eV) a gap lies outside the window (0 inside; 0 without a gap target)."""
        window = self.window
        if window is None:
            return 0.0
        return max(window[0] - gap, 0.0, gap - window[1])

    def criteria(self) -> Criteria:
        """The judge's criteria: MEGNet's gap on the relaxed crystal (``gap_predictor='megnet'``), not the
        composition model that ranks proposals, the hull limit and novelty against every known crystal."""
        window = self.window
        centre = None if window is None else (window[0] + window[1]) / 2
        half = 0.5 if window is None else (window[1] - window[0]) / 2
        return Criteria(band_gap=centre, gap_tolerance=half, formation_energy=self.formation_energy,
                        eform_tolerance=self.eform_tolerance, max_e_hull=self.max_e_hull, gap_predictor="megnet")

    def as_dict(self) -> dict:
        return {"band_gap": self.band_gap, "gap_tolerance": self.gap_tolerance,
                "gap_window": list(self.gap_window) if self.gap_window else None,
                "formation_energy": self.formation_energy, "eform_tolerance": self.eform_tolerance,
                "elements": list(self.elements) if self.elements else None, "max_atoms": self.max_atoms,
                "max_e_hull": self.max_e_hull}


@dataclass(frozen=True)
class DesignBudget:
    """When the loop stops: after ``cpu_minutes`` of CPU time (every process of the run: this one and its
    workers), ``candidates`` decoded crystals, ``hits`` hits or ``rounds`` rounds, whichever comes first (give at
    least one). A round starts only if the CPU time a round has cost so far still fits."""

    cpu_minutes: float | None = None
    candidates: int | None = None
    hits: int | None = None
    rounds: int | None = None

    def __post_init__(self) -> None:
        check_number(self.cpu_minutes, "cpu_minutes", above=0, optional=True)
        for name in ("candidates", "hits", "rounds"):
            if getattr(self, name) is not None:
                check_count(getattr(self, name), name)
        if all(getattr(self, n) is None for n in ("cpu_minutes", "candidates", "hits", "rounds")):
            raise ArgumentError("a design budget needs at least one of cpu_minutes, candidates, hits, rounds")

    def spent(self, cpu_seconds: float, decoded: int, hits: int, rounds: int,
              next_round_cpu: float = 0.0) -> str | None:
        """Why the budget is spent (a sentence), or None while another round may start."""
        if self.rounds is not None and rounds >= self.rounds:
            return f"{rounds} round(s) done (budget {self.rounds})"
        if self.hits is not None and hits >= self.hits:
            return f"{hits} hit(s) found (budget {self.hits})"
        if self.candidates is not None and decoded >= self.candidates:
            return f"{decoded} candidate(s) decoded (budget {self.candidates})"
        if self.cpu_minutes is not None:
            limit = 60.0 * self.cpu_minutes
            if cpu_seconds >= limit:
                return f"{cpu_seconds / 60:.1f} CPU-minutes used (budget {self.cpu_minutes})"
            if rounds and cpu_seconds + next_round_cpu > limit:
                return (f"{cpu_seconds / 60:.1f} CPU-minutes used; another round (about {next_round_cpu / 60:.1f}) "
                        f"would pass the budget of {self.cpu_minutes}")
        return None

    def as_dict(self) -> dict:
        return {"cpu_minutes": self.cpu_minutes, "candidates": self.candidates, "hits": self.hits,
                "rounds": self.rounds}


@dataclass(frozen=True)
class LoopSettings:
    """How each round works: sample ``proposals`` strings conditioned on the target (``guidance``,
    ``temperature``), decode at most ``decodes`` of the best-ranked (at most ``per_composition`` per formula),
    then fine-tune the shipped generator for ``finetune_steps`` steps on every hit so far (each formula at most
    ``hits_per_composition`` times) mixed with ``replay`` training crystals per hit (``learn=False``: no
    fine-tuning). ``seed`` seeds everything (round r uses ``seed + r``)."""

    proposals: int = 600
    decodes: int = 30
    per_composition: int = 1
    guidance: float = 2.0
    temperature: float = 1.0
    learn: bool = True
    finetune_steps: int = 20
    finetune_batch: int = 16
    finetune_lr: float = 2e-4
    hits_per_composition: int = 2
    replay: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("proposals", "decodes", "per_composition", "finetune_steps", "finetune_batch",
                     "hits_per_composition"):
            check_count(getattr(self, name), name)
        check_count(self.replay, "replay", minimum=0)
        check_number(self.guidance, "guidance", minimum=0)
        check_number(self.temperature, "temperature", above=0)
        check_number(self.finetune_lr, "finetune_lr", above=0)
        if not isinstance(self.learn, bool):
            raise ArgumentError(f"learn must be True or False, got {self.learn!r}")
        from periodicnet.arguments import check_seed

        object.__setattr__(self, "seed", check_seed(self.seed))

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)
