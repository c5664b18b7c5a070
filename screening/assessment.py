"""``assess``: screen crystals against known materials (formation energy, energy above the known hull,
decomposition, known or new, band gap, space group). Exported as ``screening.assess``.

```python
from screening import assess
results = assess(structures, relax=True)   # relax=False for crystals already relaxed with the potential
r = results[0]
r.formation_energy_per_atom, r.e_above_hull, r.decomposition, r.novelty, r.known_id, r.band_gap, r.space_group
r.band_gap_composition   # eV, the composition model (screening.gap_model); band_gap is MEGNet's, from the structure
```

Anything that cannot be computed for a crystal is None and ``reason`` says why (an element the models or the
known tables lack, a failed relaxation, ...); nothing is silently NaN. Bad arguments raise ``ScreeningError``.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from pymatgen.core import Structure

from relax.potentials import potential_name
from screening.errors import ScreeningError

BELOW_HULL_FLAG = -0.1  # eV/atom: further below the known hull than this is flagged (a discovery or a model error)
DEFAULT_ROUTE = "potential"  # chosen on evidence: benchmarks/results/screening.json, docs/pipeline.md
DEFAULT_POTENTIAL = "7net-0"  # relaxes; chosen on evidence: benchmarks/results/potential_routes.json, docs/models.md
DEFAULT_SCORE_WITH = "7net-l3i5"  # scores the relaxed crystal with a single point; same evidence


@dataclass
class Assessment:
    """The screening verdict for one crystal (energies in eV/atom, band gap in eV; None = not computed, see
    ``reason``)."""

    formula: str
    formation_energy_per_atom: float | None = None
    e_above_hull: float | None = None
    decomposition: str | None = None
    below_known_hull: bool = False
    novelty: str | None = None
    known_id: str | None = None
    matched_by: str | None = None
    band_gap: float | None = None
    band_gap_composition: float | None = None
    space_group: str | None = None
    space_group_number: int | None = None
    symprec: float | None = None
    energy_per_atom: float | None = None
    relaxed: bool = False
    reason: str | None = None
    structure: Structure | None = field(default=None, repr=False)

    def _note(self, text: str) -> None:
        self.reason = text if not self.reason else f"{self.reason}; {text}"

    def as_dict(self) -> dict:
        """The fields as plain values (without the structure)."""
        out = asdict(self)
        out.pop("structure")
        return out


def _one_crystal(obj: object) -> bool:
    """Whether ``obj`` is one crystal (a structure, an ASE Atoms, a file path) rather than a collection of them."""
    from pymatgen.core import IStructure

    from periodicnet.structure import is_ase_atoms

    return isinstance(obj, (IStructure, str, os.PathLike)) or is_ase_atoms(obj)


def _check(structures, relax: bool, route: str, energies, canonicals) -> list[Structure]:
    from periodicnet.errors import StructureInputError
    from periodicnet.structure import to_structure
    from screening.formation import ROUTES

    if _one_crystal(structures):
        given = [structures]
    else:
        try:
            given = list(structures)
        except TypeError:
            raise ScreeningError(f"structures must be a crystal or a list of crystals, got "
                                 f"{type(structures).__name__}") from None
    items = []
    for k, s in enumerate(given):
        try:
            items.append(to_structure(s, check=False))  # the size is judged per crystal (_unusable)
        except StructureInputError as exc:
            raise ScreeningError(f"item {k}: {exc}") from None
    if route not in ROUTES:
        raise ScreeningError(f"route must be one of {ROUTES}, got {route!r}")
    if not isinstance(relax, bool):
        raise ScreeningError(f"relax must be True or False, got {relax!r}")
    for name, values in (("energies", energies), ("canonicals", canonicals)):
        if values is not None and len(values) != len(items):
            raise ScreeningError(f"{name} has {len(values)} items for {len(items)} structures")
    return items


def _unusable(structure: Structure) -> str | None:
    """Why a structure cannot be assessed at all (the project's rules for an input crystal,
    :func:`periodicnet.structure.validate_structure`: sizes that would exhaust memory are refused here, before any
    neighbour search), or None."""
    from periodicnet.errors import StructureInputError
    from periodicnet.structure import validate_structure

    try:
        validate_structure(structure)
    except StructureInputError as exc:
        return str(exc)
    return None


def _energies(items: list[Structure], results: list[Assessment], relax: bool, energies, scores, potential,
              score_with, progress: bool):
    """Relax (or take / compute the single-point energy of) each usable crystal; with ``score_with``, the energy
    is that potential's single point on the relaxed crystal."""
    from tqdm.auto import tqdm

    from screening import formation
    from slices.errors import SlicesError

    relaxed = {}
    if relax:  # through the batch driver (relax.batch): together on a GPU, one at a time on the CPU
        from relax.potentials import get_potential

        todo = [k for k, r in enumerate(results) if not r.reason]
        size = formation.relax_batch_size(get_potential(potential)) if todo else 1
        with tqdm(total=len(todo), desc="relax", unit="crystal", disable=not progress, file=sys.stderr) as bar:
            for start in range(0, len(todo), size):
                part = todo[start:start + size]
                relaxed.update(zip(part, formation.relax_candidates([items[k] for k in part], potential)))
                bar.update(len(part))
    for k, (structure, result) in enumerate(tqdm(list(zip(items, results)), desc="energy", unit="crystal",
                                                 disable=not progress or relax and score_with is None,
                                                 file=sys.stderr)):
        if result.reason:
            continue
        try:
            if relax:
                if isinstance(relaxed[k], Exception):
                    raise relaxed[k]
                result.structure, result.energy_per_atom, converged = relaxed[k]
                result.relaxed = True
                if not converged:
                    result._note("the relaxation did not converge (energies are of its last step)")
                if score_with is not None:
                    result.energy_per_atom = formation.potential_energy(result.structure, score_with)
            elif energies is not None and energies[k] is not None and score_with is None:
                result.energy_per_atom = float(energies[k])
            elif scores is not None and scores[k] is not None and score_with is not None:
                result.energy_per_atom = float(scores[k])
            else:
                result.energy_per_atom = formation.potential_energy(structure, score_with or potential)
        except SlicesError as exc:
            result._note(f"potential: {exc}")


def _formation_energies(results: list[Assessment], route: str, potential) -> None:
    from screening import formation
    from slices.errors import SlicesError

    usable = [r for r in results if r.structure is not None and not _fatal(r)]
    model_values: list[float | None] = [None] * len(usable)
    if route in ("model", "mean") and usable:
        model_values = formation.model_formation_energy([r.structure for r in usable])
    for result, model_value in zip(usable, model_values):
        value = None
        potential_value = None
        if route in ("potential", "mean"):
            if result.energy_per_atom is None:
                result._note("no potential energy, so no formation energy")
                continue
            try:
                potential_value = formation.potential_formation_energy(result.structure, result.energy_per_atom,
                                                                       potential)
            except SlicesError as exc:
                result._note(f"formation energy: {exc}")
                continue
        if route in ("model", "mean") and model_value is None:
            result._note("the formation-energy model gives no value for this crystal")
            continue
        if route == "potential":
            value = potential_value
        elif route == "model":
            value = model_value
        else:
            value = 0.5 * (potential_value + model_value)
        result.formation_energy_per_atom = float(value)


def _fatal(result: Assessment) -> bool:
    return result.structure is None or (result.reason or "").startswith("unusable")


def _hull(results: list[Assessment]) -> None:
    from screening.hull import HullError, known_hull

    try:
        hull = known_hull()
    except HullError as exc:
        for r in results:
            r._note(f"hull: {exc}")
        return
    for result in results:
        if result.formation_energy_per_atom is None:
            continue
        try:
            point = hull.place(result.structure.composition, result.formation_energy_per_atom)
        except HullError as exc:
            result._note(f"hull: {exc}")
            continue
        result.e_above_hull, result.decomposition = point.e_above_hull, point.decomposition
        result.below_known_hull = point.e_above_hull < BELOW_HULL_FLAG


def _band_gaps(results: list[Assessment]) -> None:
    """MEGNet's structure band gap (``band_gap``) and the composition model's (``band_gap_composition``)."""
    from screening import properties
    from screening.gap_model import load_gap_model
    from slices.errors import SlicesError

    usable = [r for r in results if not _fatal(r)]
    composition_model = load_gap_model() if usable else None
    for result in usable:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a NaN prediction becomes a reason below
                value = float(properties.predict_band_gap([result.structure])[0])
        except SlicesError as exc:
            result._note(f"band gap: {exc}")
        else:
            if math.isfinite(value):
                result.band_gap = value
            else:
                result._note("the band-gap model gives no value for this crystal")
        try:
            result.band_gap_composition = float(composition_model.predict(result.structure).band_gap[0])
        except SlicesError as exc:
            result._note(f"composition band gap: {exc}")


def _novelty_and_symmetry(results: list[Assessment], canonicals, novelty: bool, index, progress: bool) -> None:
    from tqdm.auto import tqdm

    from screening.known import known_index
    from screening.symmetry import find_symmetry

    if not novelty or all(_fatal(r) for r in results):
        index = None
    elif index is None:
        index = known_index(progress=progress)
    for k, result in enumerate(tqdm(results, desc="known/new", unit="crystal", disable=not progress,
                                    file=sys.stderr)):
        if _fatal(result):
            continue
        sym = find_symmetry(result.structure)
        result.space_group, result.space_group_number, result.symprec = sym.space_group, sym.number, sym.symprec
        if index is not None:
            canonical = canonicals[k] if canonicals is not None and not result.relaxed else None
            match = index.lookup(result.structure, canonical)
            result.novelty, result.known_id, result.matched_by = match.novelty, match.known_id, match.matched_by


def resolve_potentials(potential, score_with) -> tuple:
    """``(potential, score_with)`` with the defaults filled in; ``score_with`` None when it is the same potential."""
    potential = DEFAULT_POTENTIAL if potential is None else potential
    score_with = DEFAULT_SCORE_WITH if score_with is None else score_with
    if score_with is potential or (isinstance(score_with, str) and isinstance(potential, str)
                                   and potential_name(score_with) == potential_name(potential)):
        score_with = None
    return potential, score_with


def prepare(potential=None, score_with=None, *, hull: bool = True, band_gap: bool = True) -> None:
    """Load what :func:`assess` of relaxed crystals will need (the scoring potential, its elemental references, the
    MP2020 scheme, the known hull, the band-gap models; each is kept per process), so that a caller can do it while
    other work runs: ``slices generate`` does it in a thread during the decode stage, when the main process only
    waits. Arguments as :func:`assess`'s. A failure is left for :func:`assess` to report per crystal."""
    from slices.errors import SlicesError

    potential, score_with = resolve_potentials(potential, score_with)
    scorer = score_with or potential
    steps = [lambda: _load_potential(scorer)]
    if hull:
        from screening.hull import known_hull

        steps.append(known_hull)
    if band_gap:
        from screening.gap_model import load_gap_model
        from screening.properties import BAND_GAP_MODEL

        from relax.models import load_model

        steps += [lambda: load_model(BAND_GAP_MODEL), load_gap_model]
    for step in steps:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step()
        except SlicesError:
            pass  # assess meets it again and notes it on each crystal


def _load_potential(spec) -> None:
    """The potential's calculator, elemental references and, in MP's raw frame, the MP2020 scheme."""
    from relax.potentials import get_potential
    from screening import formation

    get_potential(spec).calculator()
    formation.chemical_potentials(spec)
    if get_potential(spec).frame == "mp_raw":
        formation.compatibility()


def assess(
    structures: Structure | object | Iterable[Structure | object],
    relax: bool = True,
    *,
    route: str = DEFAULT_ROUTE,
    potential=None,
    score_with=None,
    energies: Sequence[float | None] | None = None,
    scores: Sequence[float | None] | None = None,
    canonicals: Sequence[str | None] | None = None,
    hull: bool = True,
    novelty: bool = True,
    index=None,
    band_gap: bool = True,
    progress: bool = False,
) -> list[Assessment]:
    """Screen each crystal against the known materials; one :class:`Assessment` per input, in order.

    A crystal is a pymatgen ``Structure``, an ASE ``Atoms`` or the path of a file holding one crystal
    (:func:`periodicnet.structure.to_structure`; oxidation states and magnetic moments are ignored). One that
    breaks the input rules (too large, overlapping atoms, disordered, ...) gets ``reason`` "unusable: ..." and no
    values; something that is no crystal at all, or a file that cannot be read, raises :class:`ScreeningError`.

    ``relax`` relaxes each crystal with the interatomic ``potential`` first; with ``relax=False`` the crystals are
    taken as relaxed and ``energies`` (the potential's energy per atom of each, if the caller has them) spare the
    single points. ``score_with`` names a second potential whose single point on the relaxed crystal gives the
    energy (relax with a fast model, score with an accurate one); the given ``energies`` are then not used, and
    ``scores`` (its single points per atom on the crystals as given, where the caller has them) spare those.
    Potentials are named as :func:`relax.potentials.get_potential` accepts them (``"m3gnet"``, ``"7net-0"``, a
    matgl model, an ASE calculator, ...); None is :data:`DEFAULT_POTENTIAL` / :data:`DEFAULT_SCORE_WITH`.
    ``route`` is how the formation energy is obtained
    (:data:`screening.formation.ROUTES`). ``canonicals`` are the crystals' canonical SLICES strings if known (the
    fast path of the known-structure lookup). ``index`` is the :class:`screening.known.KnownIndex` novelty is
    judged against (default: every crystal and composition of the shared data, :func:`screening.known.known_index`).
    ``hull`` / ``novelty`` / ``band_gap`` False skip those parts.
    """
    items = _check(structures, relax, route, energies, canonicals)
    if scores is not None and len(scores) != len(items):
        raise ScreeningError(f"scores has {len(scores)} items for {len(items)} structures")
    results = []
    for structure in items:
        result = Assessment(formula=structure.composition.reduced_formula if len(structure) else "",
                            structure=structure)
        problem = _unusable(structure)
        if problem:
            result.reason = f"unusable: {problem}"
        results.append(result)
    potential, score_with = resolve_potentials(potential, score_with)
    if route in ("potential", "mean") or relax:
        _energies(items, results, relax, energies, scores, potential, score_with, progress)
    _formation_energies(results, route, score_with or potential)
    if hull:
        _hull(results)
    if band_gap:
        _band_gaps(results)
    _novelty_and_symmetry(results, canonicals, novelty, index, progress)
    return results
