"""Propose: sample many strings conditioned on the target, judge each from the string alone, decode only the best.

Sampling costs about 20 ms a string and decoding about a CPU-second, so everything the string tells is used
before decoding: its composition's band gap by the composition model (:mod:`screening.gap_model`, the *filter*;
the loop's *judge* is MEGNet on the relaxed crystal, a different model), the SMACT test, the element
constraints, whether the composition is known (in any table of known materials), whether an earlier round already
decoded that formula (hit or not), and the cell's size. :func:`rank` is pure (it takes the predictions), so it is tested
without any model.

Why a known composition ranks first: of 291 decoded samples of the shipped model
(``benchmarks/results/generative_sun_v4_route2_candidates.jsonl.gz``, judged against today's known index), those
whose formula is a known composition were stable, unique and new 45% of the time (30 of 66; only 4 turned out to be
a known crystal), those of a composition no table holds 32% (72 of 225); and small cells did better than large ones
(38% at <= 6 atoms, 28% at 15 or more).

What the known tables add (:func:`known_priors`, lookups, not models): for a known composition, the median
Materials Project PBE gap of its known crystals (:mod:`screening.known_gaps`) and how far its lowest known entry
lies above the hull of the other known phases (:meth:`screening.hull.KnownHull.composition_e_above_hull`). On
the 350 crystals decoded by the first design benchmark (2 eV, 0.5-1.0 eV, design and one-shot arms), no crystal of a
composition whose known gap lay outside the window was a hit (0 of 41), those of a composition on the known hull
(within 0.05 eV/atom) were hits 18% of the time against 6% above it (2 eV design arm), and at 2 eV the crystals
whose composition gap lay within 0.1 eV of the target were on target by the judge 61% of the time against 33% at
0.25-0.5 eV from it: so proposals are ranked by the distance from the window's centre, not just kept inside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from pipeline.design_target import DesignTarget

NEW_COMPOSITION_PENALTY = 0.3  # eV-equivalent: a composition no table knows is less often stable (see above)
KNOWN_GAP_WEIGHT = 0.5  # per eV of the known gap's distance from the target's centre
UNKNOWN_GAP_PENALTY = 0.2  # no known gap to back the composition model's (a new composition, or no gap entry)
STABILITY_WEIGHT = 2.0  # per eV/atom the composition's known entry lies above the known hull (capped at 0.5)
UNCOMMON_STATES_PENALTY = 0.3  # the composition balances only with rare oxidation states (SMACT's set, not common)
FOUND_BEFORE_PENALTY = 0.5  # a formula an earlier round decoded: a repeat of its hit, or of its failure
SIZE_PENALTY = 0.01  # per atom: small cells decode faster and are more often stable


@dataclass(frozen=True)
class Proposal:
    """One sampled string and what its string alone predicts; ``passes`` = it may be decoded."""

    index: int
    string: str
    formula: str | None
    n_atoms: int
    gap_composition: float | None
    smact: bool
    elements_ok: bool
    known_composition: bool
    found_before: bool
    known_gap: float | None
    known_e_above_hull: float | None
    common_states: bool | None
    score: float
    passes: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def describe(strings: Sequence[str]) -> list[dict]:
    """Per string: ``species`` (tuple) and reduced ``formula`` (None when the string does not parse)."""
    from pymatgen.core import Composition

    from slices.errors import SlicesError
    from slices.graph import parse

    out = []
    for s in strings:
        try:
            species = parse(s).species
        except SlicesError:
            out.append({"species": (), "formula": None})
            continue
        counts: dict[str, int] = {}
        for el in species:
            counts[el] = counts.get(el, 0) + 1
        out.append({"species": tuple(species), "formula": Composition(counts).reduced_formula})
    return out


def predict_gaps(formulas: Sequence[str | None]) -> list[float | None]:
    """The composition model's band gap per formula (None for a formula it cannot predict)."""
    from screening.gap_model import GapModelError, load_gap_model

    model = load_gap_model()
    known = sorted({f for f in formulas if f})
    gaps: dict[str, float] = {}
    try:
        values = model.predict(known).band_gap if known else []
        gaps = dict(zip(known, map(float, values)))
    except GapModelError:  # a formula with an element the model does not know: predict one by one
        for f in known:
            try:
                gaps[f] = float(model.predict(f).band_gap[0])
            except GapModelError:
                continue
    return [gaps.get(f) if f else None for f in formulas]


def known_priors(formulas: Sequence[str | None]) -> list[dict]:
    """Per formula what the known tables and the composition itself say: ``known_gap`` (median known PBE gap, eV),
    ``known_e_above_hull`` (eV/atom of its lowest known entry above the other known phases), None where unknown,
    and ``common_states`` (it balances with common oxidation states)."""
    from periodicnet.chemistry import balanced_in_common_states
    from screening.hull import known_hull
    from screening.known_gaps import known_band_gaps

    gaps, hull = known_band_gaps(), known_hull()
    cache: dict[str, dict] = {}
    out = []
    for f in formulas:
        if f and f not in cache:
            from pymatgen.core import Composition

            cache[f] = {"known_gap": gaps.get(f), "known_e_above_hull": hull.composition_e_above_hull(f),
                        "common_states": balanced_in_common_states(Composition(f).get_el_amt_dict())}
        out.append(cache[f] if f else {"known_gap": None, "known_e_above_hull": None, "common_states": None})
    return out


def rank(strings: Sequence[str], described: Sequence[dict], gaps: Sequence[float | None], target: DesignTarget, *,
         known_compositions: set[str], found_before: set[str], priors: Sequence[dict] | None = None,
         smact=None) -> list[Proposal]:
    """Every string as a :class:`Proposal`, best first (passing ones first, then by score; ties keep the sampled
    order). A proposal passes when it parses, passes SMACT and the element and size limits, and its composition
    gap (and its known gap, when the composition has one) lies in the target window. The score adds the
    composition gap's distance from the window's centre, the known gap's (weighted), the known entry's height
    above the known hull (weighted), a penalty when it balances only with rare oxidation states and the penalties
    above; ``priors`` are :func:`known_priors` (None: none)."""
    from periodicnet.chemistry import smact_valid

    smact = smact or smact_valid
    allowed = set(target.elements) if target.elements else None
    centre = target.gap_condition
    priors = priors if priors is not None else [{}] * len(strings)
    out = []
    for i, (s, d, gap, prior) in enumerate(zip(strings, described, gaps, priors)):
        formula, species = d["formula"], d["species"]
        n_atoms = len(species)
        ok_smact = bool(species) and bool(smact(species))
        ok_elements = allowed is None or set(species) <= allowed
        known = formula in known_compositions
        before = formula in found_before
        known_gap, known_e_hull = prior.get("known_gap"), prior.get("known_e_above_hull")
        reason = ""
        if formula is None:
            reason = "unparsable"
        elif not ok_smact:
            reason = "fails SMACT"
        elif not ok_elements:
            reason = "element outside the allowed ones"
        elif target.max_atoms is not None and n_atoms > target.max_atoms:
            reason = "too many atoms"
        elif target.window is not None and gap is None:
            reason = "no composition gap prediction"
        elif target.window is not None and target.gap_distance(gap) > 0:
            reason = "composition gap off target"
        elif target.window is not None and known_gap is not None and target.gap_distance(known_gap) > 0:
            reason = "known gap of the composition off target"
        score = SIZE_PENALTY * n_atoms + FOUND_BEFORE_PENALTY * before
        if centre is not None:
            score += abs(gap - centre) if gap is not None else 10.0
            score += KNOWN_GAP_WEIGHT * abs(known_gap - centre) if known_gap is not None else UNKNOWN_GAP_PENALTY
        common = prior.get("common_states")
        score += UNCOMMON_STATES_PENALTY * (common is False)
        if known_e_hull is not None:
            score += STABILITY_WEIGHT * min(known_e_hull, 0.5)
        elif not known:
            score += NEW_COMPOSITION_PENALTY
        out.append(Proposal(i, s, formula, n_atoms, gap, ok_smact, ok_elements, known, before, known_gap,
                            None if known_e_hull is None else round(known_e_hull, 4), common, round(score, 6),
                            not reason, reason))
    return sorted(out, key=lambda p: (not p.passes, p.score, p.index))


def choose(ranked: Sequence[Proposal], decodes: int, per_composition: int) -> list[Proposal]:
    """The best passing proposals to decode: at most ``decodes``, at most ``per_composition`` per formula, and
    each string once."""
    chosen, per_formula, strings = [], {}, set()
    for p in ranked:
        if len(chosen) >= decodes or not p.passes:
            break
        if per_formula.get(p.formula, 0) >= per_composition or p.string in strings:
            continue
        per_formula[p.formula] = per_formula.get(p.formula, 0) + 1
        strings.add(p.string)
        chosen.append(p)
    return chosen
