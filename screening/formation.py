"""A candidate's formation energy in the frame of the known-materials hull (MP formation energies, eV/atom).

Two routes, compared in ``benchmarks/bench_screening.py``:

- ``potential`` (the default): the interatomic potential's energy of the relaxed crystal, corrected with
  pymatgen's ``MaterialsProject2020Compatibility`` when the potential speaks raw MP GGA/GGA+U energies (its
  ``frame``, :mod:`relax.potentials`: M3GNet-MP-2021.2.8, SevenNet; anion and GGA/GGA+U mixing corrections, with
  MP's U values where MP applies them), minus elemental references (:func:`chemical_potentials`): MP's own
  elemental energies for a potential in MP's frame (smaller error, measured), else the potential's own: every MP
  polymorph of the element (``known_materials/mp_elemental_references_88.json.gz``, the
  :data:`REFERENCE_POLYMORPHS` lowest in MP's energy; ASE's reference crystal for an element the file lacks, Yb)
  relaxed, the lowest kept. Shipped for the default potential, computed once per potential and cached on disk for
  others (only the elements MP's file lacks, for a potential in MP's frame).
- ``model``: matgl's formation-energy regressor (M3GNet-MP-2018.6.1-Eform), trained on the MP formation energies
  of 2018, so already in (nearly) the hull's frame.

All relaxations go through :func:`relax_candidate`, the one place that calls the relaxation engine.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import warnings
from collections.abc import Iterable

from pymatgen.core import Structure

from periodicnet.resources import shipped_data_path
from relax.driver import RelaxSettings

from screening.errors import ScreeningError

REFERENCE_POLYMORPHS = 3  # per element, the lowest in MP's energy: the potential's ground state is among them
REFERENCE_MAX_ATOMS = 64  # larger polymorphs are skipped (unless the element has no smaller one)
ROUTES = ("potential", "model", "mean")
_CACHE_VERSION = 1


class FormationEnergyError(ScreeningError):
    """No formation energy for this crystal (an element without reference, a failed relaxation, ...)."""


SCREENING_RELAXATION = RelaxSettings(optimizer="BFGS", fmax=0.05, steps=300)
"""How screening relaxes a candidate: tighter than reconstruction's defaults (an energy is being compared with a
hull, not a topology recovered); the e_above_hull errors in ``benchmarks/results/screening.json`` were measured
with exactly this setting."""


def relax_candidate(structure: Structure, potential=None) -> tuple[Structure, float, bool]:
    """Relax ``structure`` with the potential (cell included); returns (relaxed, energy per atom eV, converged).

    The single entry point to the relaxation engine for screening (:func:`relax.relax_structure`, the project's one
    relaxation driver, with :data:`SCREENING_RELAXATION`).
    """
    from relax import relax_structure
    from relax.potential import DEFAULT_POTENTIAL

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="logm result may be inaccurate")  # ASE's cell filter, harmless
        result = relax_structure(structure, potential or DEFAULT_POTENTIAL, SCREENING_RELAXATION)
    return _plain(result.structure), result.energy_per_atom, result.converged


RELAX_BATCH_SIZE = 16
"""Crystals relaxed together by :func:`relax_candidates` (one batched potential call per step) on a GPU. On the
CPU the batch is one crystal: a batched call there costs the sum of its members (SevenNet 0.71x, M3GNet 0.98x the
speed of one at a time, ``benchmarks/results/relax_batch.json``), so batching buys nothing but waiting."""


def relax_batch_size(potential) -> int:
    """How many crystals :func:`relax_candidates` relaxes together with ``potential`` (:data:`RELAX_BATCH_SIZE`
    on a GPU, else 1)."""
    return RELAX_BATCH_SIZE if str(getattr(potential, "device", "cpu")).startswith("cuda") else 1


def relax_candidates(structures: list[Structure], potential=None) -> list[tuple[Structure, float, bool] | Exception]:
    """:func:`relax_candidate` for many crystals through :func:`relax.batch.relax_batch` (same settings, guards and
    numbers), :func:`relax_batch_size` at a time; per crystal (relaxed, energy per atom eV, converged) or the
    project's error that stopped it."""
    from relax.batch import relax_batch
    from relax.potential import DEFAULT_POTENTIAL
    from relax.potentials import get_potential

    out: list = []
    potential = get_potential(potential or DEFAULT_POTENTIAL)
    size = relax_batch_size(potential)
    for start in range(0, len(structures), size):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="logm result may be inaccurate")  # ASE's cell filter
            results = relax_batch(structures[start:start + size], potential, SCREENING_RELAXATION)
        out += [r if isinstance(r, Exception) else (r.structure, r.energy_per_atom, r.converged) for r in results]
    return out


def _plain(structure: Structure) -> Structure:
    """The crystal without attached calculator results (ASE leaves torch tensors in ``properties``)."""
    return Structure(structure.lattice, structure.species, structure.frac_coords)


def potential_energy(structure: Structure, potential=None) -> float:
    """Single-point energy per atom (eV) of ``structure`` under the potential (for crystals already relaxed)."""
    from relax.potential import DEFAULT_POTENTIAL, energy_per_atom

    return energy_per_atom(structure, potential or DEFAULT_POTENTIAL)


def _reference_file():
    from periodicnet.resources import shared_data_dir

    path = shared_data_dir() / "known_materials" / "mp_elemental_references_88.json.gz"
    if not path.is_file():
        raise FormationEnergyError(f"elemental reference structures not found at {path}; set SLICES_SHARED_DATA")
    return path


def _reference_candidates(entry: dict) -> list[Structure]:
    """The polymorphs of one element worth relaxing: the lowest few in MP's energy, small cells first."""
    items = sorted(zip(entry["energy_per_atom"], entry["structure"]), key=lambda item: item[0])
    small = [(e, s) for e, s in items if len(s["sites"]) <= REFERENCE_MAX_ATOMS] or items[:1]
    return [Structure.from_dict(s) for _, s in small[:REFERENCE_POLYMORPHS]]


def _ase_reference_state(element: str) -> Structure | None:
    """ASE's reference crystal of an element MP's polymorph file lacks (Yb), when it is a plain fcc / bcc / hcp /
    diamond crystal; else None."""
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states
    from pymatgen.io.ase import AseAtomsAdaptor

    state = reference_states[atomic_numbers[element]] or {}
    if state.get("symmetry") not in ("fcc", "bcc", "hcp", "diamond"):
        return None
    return AseAtomsAdaptor.get_structure(bulk(element))


def _compute_references(potential, progress: bool, beyond_mp: bool) -> dict[str, dict]:
    import sys

    from tqdm.auto import tqdm

    from relax.potentials import get_potential
    from slices.errors import SlicesError

    with gzip.open(_reference_file(), "rt") as fh:
        data = json.load(fh)
    candidates = {} if beyond_mp else {element: _reference_candidates(entry) for element, entry in data.items()}
    for element in set(get_potential(potential).elements() or ()) - set(data):
        fallback = _ase_reference_state(element)
        if fallback is not None:
            candidates[element] = [fallback]
    out: dict[str, dict] = {}
    name = get_potential(potential).name
    for element in tqdm(sorted(candidates), desc=f"elemental references ({name})", unit="el",
                        disable=not progress, file=sys.stderr):
        best = None
        for structure in candidates[element]:
            try:
                relaxed, energy, converged = relax_candidate(structure, potential)
            except SlicesError:
                continue  # the potential lacks the element, or this polymorph fails: try the next
            if best is None or energy < best["energy_per_atom"]:
                best = {"energy_per_atom": energy, "n_atoms": len(relaxed), "converged": converged}
        if best is not None:
            out[element] = best
    return out


SHIPPED_REFERENCES = shipped_data_path("elemental_references.json")


@functools.lru_cache(maxsize=8)
def elemental_references(potential=None, progress: bool = True, beyond_mp: bool = False) -> dict[str, dict]:
    """Per element: the potential's lowest relaxed energy per atom over MP's polymorphs (``beyond_mp``: only for
    the elements MP's polymorph file lacks, all a potential in MP's frame needs of its own).

    Shipped (``data/elemental_references.json``) for the potentials named there; for another computed on first use
    (minutes for all elements, seconds beyond MP's) and cached on disk per potential name.
    """
    from relax.potentials import get_potential

    from screening.cache import cached

    name = get_potential(potential).name
    if SHIPPED_REFERENCES.is_file():
        shipped = json.loads(SHIPPED_REFERENCES.read_text())
        if name in shipped.get("potentials", {}):
            return shipped["potentials"][name]
    key = f"elemental-references-{name.replace(':', '-').replace('/', '-')}{'-beyond-mp' if beyond_mp else ''}"
    return cached(key, _CACHE_VERSION, [_reference_file()],
                  functools.partial(_compute_references, potential, progress, beyond_mp))


@functools.lru_cache(maxsize=1)
def compatibility():
    """pymatgen's MP2020 correction scheme (loaded once per process)."""
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return MaterialsProject2020Compatibility(check_potcar=False)


def mp2020_correction_per_atom(structure: Structure, energy_per_atom: float) -> float:
    """MP2020 energy correction (eV/atom) of a crystal whose raw energy is MP-like GGA or GGA+U.

    GGA+U is assumed where MP uses it (a U element of MP's list together with O or F), with MP's U values.
    ``FormationEnergyError`` when the scheme refuses the crystal (e.g. an anion it cannot assign).
    """
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    compat = compatibility()
    symbols = {el.symbol for el in structure.composition.elements}
    hubbards: dict[str, float] = {}
    for anion, values in compat.u_settings.items():
        if anion in symbols:
            hubbards.update({el: u for el, u in values.items() if el in symbols})
    params = {"run_type": "GGA+U" if hubbards else "GGA", "hubbards": hubbards, "is_hubbard": bool(hubbards)}
    entry = ComputedStructureEntry(_plain(structure), energy_per_atom * len(structure), parameters=params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing POTCAR data and oxidation-state guesses
        processed = compat.process_entries([entry], clean=True, inplace=False)
    if not processed:
        raise FormationEnergyError(f"MaterialsProject2020Compatibility refuses {structure.composition.reduced_formula}")
    return float(processed[0].correction) / len(structure)


@functools.lru_cache(maxsize=1)
def mp_elemental_energies() -> dict[str, float]:
    """MP's own lowest energy per atom (eV, raw GGA) of each element in the shared polymorph file."""
    with gzip.open(_reference_file(), "rt") as fh:
        data = json.load(fh)
    return {element: float(min(entry["energy_per_atom"])) for element, entry in data.items()}


def chemical_potentials(potential=None, references: str = "auto") -> dict[str, float]:
    """Elemental reference energies (eV/atom) for formation energies from ``potential``.

    ``references``: ``"potential"`` = the potential's own relaxed elemental crystals (:func:`elemental_references`);
    ``"mp"`` = MP's own elemental energies (:func:`mp_elemental_energies`), valid only for a potential trained to
    reproduce MP energies, with the potential's own where MP's file lacks the element (Yb); ``"auto"`` = ``"mp"``
    for a potential in MP's frame (``frame`` ``mp_raw`` or ``mp_corrected``: elements carry no MP2020
    correction), else ``"potential"``. On MP-20 dev, MP's elemental energies give the smaller e_above_hull error
    (``benchmarks/results/screening.json``).
    """
    from relax.potentials import get_potential

    if references == "auto":
        references = "mp" if get_potential(potential).frame in ("mp_raw", "mp_corrected") else "potential"
    if references not in ("mp", "potential"):
        raise FormationEnergyError(f"references must be 'auto', 'mp' or 'potential', got {references!r}")
    own = {el: float(v["energy_per_atom"])
           for el, v in elemental_references(potential, beyond_mp=references == "mp").items()}
    return {**own, **mp_elemental_energies()} if references == "mp" else own


def potential_formation_energy(structure: Structure, energy_per_atom: float, potential=None,
                               corrected: bool = True, references: str = "auto") -> float:
    """Formation energy per atom (eV) from the potential's energy of the relaxed crystal (``potential`` route):
    energy + MP2020 correction (for a potential of frame ``mp_raw``, unless ``corrected`` is False) - elemental
    references (:func:`chemical_potentials`)."""
    from relax.potentials import get_potential

    if not math.isfinite(energy_per_atom):
        raise FormationEnergyError(f"energy per atom must be finite, got {energy_per_atom!r}")
    mu = chemical_potentials(potential, references)
    comp = structure.composition
    missing = sorted(el.symbol for el in comp.elements if el.symbol not in mu)
    if missing:
        raise FormationEnergyError(f"no elemental reference for {', '.join(missing)} with this potential")
    reference = sum(amount * mu[el.symbol] for el, amount in comp.items())
    corrected = corrected and get_potential(potential).frame == "mp_raw"
    correction = mp2020_correction_per_atom(structure, energy_per_atom) if corrected else 0.0
    return energy_per_atom + correction - reference / comp.num_atoms


def model_formation_energy(structures: Iterable[Structure]) -> list[float | None]:
    """Formation energy per atom (eV) from matgl's regressor (``model`` route); None where it gives none."""
    from screening import properties
    from slices.errors import SlicesError

    items = list(structures)
    try:
        values = properties.predict_formation_energy(items)
    except SlicesError:  # an element the model lacks in the batch: one by one
        values = []
        for structure in items:
            try:
                values.append(properties.predict_formation_energy([structure])[0])
            except SlicesError:
                values.append(float("nan"))
    return [float(v) if math.isfinite(v) else None for v in values]
