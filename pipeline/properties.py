"""Property predictors for screening generated crystals, and energy above the convex hull.

- :func:`predict_band_gap`: MEGNet multi-fidelity band gap (eV); fidelity 0 = PBE (what MP reports).
- :func:`predict_formation_energy`: formation energy per atom (eV/atom), M3GNet-MP-2018.6.1-Eform by default
  (checked against MP-20 dev values in ``benchmarks/bench_potential.py``; see ``docs/models.md``).
- :func:`energy_above_hull`: energy above the hull of a reference table computed with the same potential.

Models are found through :func:`relax.models.find_model` (``$SLICES_MODEL_DIR``, ``data/models``, ...).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Element, Structure

from relax.driver import RelaxSettings
from relax.models import load_model
from slices.errors import SlicesError, StructureInputError

__all__ = [
    "BAND_GAP_MODEL",
    "FIDELITIES",
    "FORMATION_ENERGY_MODEL",
    "PropertyError",
    "build_hull_reference",
    "energy_above_hull",
    "load_hull_reference",
    "predict_band_gap",
    "predict_formation_energy",
]

BAND_GAP_MODEL = "MEGNet-MP-2019.4.1-BandGap-mfi"
FORMATION_ENERGY_MODEL = "M3GNet-MP-2018.6.1-Eform"
FIDELITIES = {"PBE": 0, "GLLB-SC": 1, "HSE": 2, "SCAN": 3}
_BATCH = 64


class PropertyError(SlicesError):
    """A property could not be predicted (bad input, a model of the wrong kind, an unusable reference table)."""


def _as_structures(structures: Structure | Iterable[Structure]) -> list[Structure]:
    items = [structures] if isinstance(structures, Structure) else list(structures)
    for k, s in enumerate(items):
        if not isinstance(s, Structure):
            raise StructureInputError(f"item {k} is a {type(s).__name__}, not a pymatgen Structure")
        if len(s) == 0:
            raise StructureInputError(f"item {k} has no atoms")
        if not s.is_ordered:
            raise StructureInputError(f"item {k} ({s.composition.reduced_formula}) is disordered")
    return items


def _check_elements(structures: Sequence[Structure], model) -> None:
    known = set(model.element_types)
    for k, s in enumerate(structures):
        unknown = sorted({el.symbol for el in s.composition} - known)
        if unknown:
            raise PropertyError(f"item {k} ({s.composition.reduced_formula}) has element(s) the model lacks: {unknown}")


def _graphs(structures: Sequence[Structure], model):
    """matgl graphs with positions and periodic shifts attached (as ``predict_structure`` does)."""
    from matgl.ext.pymatgen import Structure2Graph

    converter = Structure2Graph(element_types=model.element_types, cutoff=model.cutoff)
    graphs = []
    for s in structures:
        g, lat, _ = converter.get_graph(s)
        g.pbc_offshift = g.pbc_offset @ lat[0]
        g.pos = g.frac_coords @ lat[0]
        graphs.append(g)
    return graphs


def _predict(structures, name: str, state: list[float] | list[int] | None, kind: str) -> np.ndarray:
    """Run a graph regressor on ``structures`` in batches; NaN (with a warning) where the model gives none."""
    import torch
    from torch_geometric.data import Batch

    items = _as_structures(structures)
    wrapper = load_model(name)
    inner = getattr(wrapper, "model", None)
    if type(wrapper).__name__ != "TransformedTargetModel" or not hasattr(inner, "element_types"):
        raise PropertyError(f"model {name!r} is a {type(wrapper).__name__}, not a {kind} regressor")
    _check_elements(items, inner)
    out = np.empty(len(items), dtype=float)
    with torch.no_grad():
        for start in range(0, len(items), _BATCH):
            chunk = items[start : start + _BATCH]
            batch = Batch.from_data_list(_graphs(chunk, inner))
            state_attr = None if state is None else torch.tensor([state] * len(chunk)).squeeze(-1)
            values = wrapper(g=batch, state_attr=state_attr).reshape(-1)
            out[start : start + len(chunk)] = values.double().numpy()
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        names = ", ".join(items[i].composition.reduced_formula for i in bad[:5])
        warnings.warn(f"{name} gave no finite {kind} for {bad.size} structure(s) ({names}); reported as NaN", stacklevel=3)
        out[bad] = np.nan
    return out


def predict_band_gap(
    structures: Structure | Iterable[Structure], fidelity: str | int = "PBE", model: str | os.PathLike = BAND_GAP_MODEL
) -> np.ndarray:
    """Band gap in eV for each structure; ``fidelity`` is one of PBE, GLLB-SC, HSE, SCAN (or 0-3). Clipped at 0."""
    if isinstance(fidelity, str):
        if fidelity not in FIDELITIES:
            raise PropertyError(f"fidelity must be one of {sorted(FIDELITIES)} or 0-3, got {fidelity!r}")
        fidelity = FIDELITIES[fidelity]
    if isinstance(fidelity, bool) or not isinstance(fidelity, (int, np.integer)) or fidelity not in range(4):
        raise PropertyError(f"fidelity must be one of {sorted(FIDELITIES)} or 0-3, got {fidelity!r}")
    return np.clip(_predict(structures, str(model), [int(fidelity)], "band gap"), 0.0, None)


def predict_formation_energy(
    structures: Structure | Iterable[Structure], model: str | os.PathLike = FORMATION_ENERGY_MODEL
) -> np.ndarray:
    """Formation energy per atom (eV/atom) for each structure, as MP defines it."""
    name = str(model)
    state = [0.0, 0.0] if "MEGNet" in Path(name).name else None  # MEGNet-Eform takes a two-number dummy state
    return _predict(structures, name, state, "formation energy")


# --------------------------------------------------------------------------------------------------------------
# energy above hull


def load_hull_reference(path: str | os.PathLike) -> list[tuple[Composition, float]]:
    """Read a reference table (CSV, optionally gzipped) with columns ``formula`` and ``energy_per_atom``."""
    path = Path(path)
    if not path.is_file():
        raise PropertyError(f"hull reference table {path} does not exist")
    return list(_read_hull_reference(str(path.resolve()), path.stat().st_mtime))


@functools.lru_cache(maxsize=4)
def _read_hull_reference(path: str, mtime: float) -> tuple[tuple[Composition, float], ...]:
    import pandas as pd

    path = Path(path)
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as fh:
        table = pd.read_csv(fh)
    for col in ("formula", "energy_per_atom"):
        if col not in table.columns:
            raise PropertyError(f"hull reference table {path} has no column {col!r}")
    table = table[np.isfinite(table["energy_per_atom"].to_numpy(dtype=float))]
    return tuple((Composition(f), float(e)) for f, e in zip(table["formula"], table["energy_per_atom"]))


def energy_above_hull(
    composition: Composition | str,
    energy_per_atom: float,
    reference_table: str | os.PathLike | Sequence[tuple[Composition | str, float]],
) -> float:
    """Energy above the convex hull (eV/atom) of ``composition`` at ``energy_per_atom`` against the reference.

    ``reference_table`` is a path (see :func:`load_hull_reference`) or ``(composition, energy_per_atom)`` pairs,
    all computed with the same potential as ``energy_per_atom``. Elemental references come from the same table;
    if an element of ``composition`` has none, a warning names it and the result is NaN.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    try:
        comp = Composition(composition)
    except Exception as exc:
        raise PropertyError(f"not a chemical composition: {composition!r}") from exc
    if comp.num_atoms <= 0:
        raise PropertyError(f"composition {composition!r} has no atoms")
    if not all(isinstance(el, Element) for el in comp.elements):
        raise PropertyError(f"composition {composition!r} names something that is not a chemical element")
    if not (isinstance(energy_per_atom, (int, float, np.floating)) and math.isfinite(energy_per_atom)):
        raise PropertyError(f"energy_per_atom must be a finite number, got {energy_per_atom!r}")
    rows = load_hull_reference(reference_table) if isinstance(reference_table, (str, os.PathLike)) else reference_table
    elements = set(comp.elements)
    entries = []
    for formula, e in rows:
        c = Composition(formula)
        if set(c.elements) <= elements and math.isfinite(e):
            entries.append(PDEntry(c, float(e) * c.num_atoms))
    have = {entry.composition.elements[0] for entry in entries if entry.composition.is_element}
    missing = sorted(el.symbol for el in elements - have)
    if missing:
        warnings.warn(f"no elemental reference for {', '.join(missing)} in the hull table: e_above_hull is NaN",
                      stacklevel=2)
        return float("nan")
    phase_diagram = PhaseDiagram(entries)
    target = PDEntry(comp, energy_per_atom * comp.num_atoms)
    return float(phase_diagram.get_e_above_hull(target, allow_negative=True))


# --------------------------------------------------------------------------------------------------------------
# building the reference table (uses the potential; everything above does not)

# Elements whose simple ASE reference state (fcc, bcc, hcp, diamond) is their real ground-state structure type;
# used for elemental references the training data lack. Others (molecular, chain, complex) stay without one.
_SIMPLE_REFERENCE_STATES = ("fcc", "bcc", "hcp", "diamond")
_NOT_SIMPLE = {"Se", "Te", "Sn", "Pr", "Sm", "La", "Nd", "Pm"}  # ASE's simplified state is not the real one


def _elemental_structures(missing: Iterable[str]) -> dict[str, Structure]:
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states
    from pymatgen.io.ase import AseAtomsAdaptor

    out = {}
    for symbol in sorted(missing):
        state = reference_states[atomic_numbers[symbol]]
        if symbol in _NOT_SIMPLE or not state or state.get("symmetry") not in _SIMPLE_REFERENCE_STATES:
            continue
        out[symbol] = AseAtomsAdaptor.get_structure(bulk(symbol))
    return out


def build_hull_reference(
    data: str | os.PathLike,
    out: str | os.PathLike,
    model: str | os.PathLike | None = None,
    settings: RelaxSettings | None = None,
    log: str | os.PathLike | None = None,
    limit: int | None = None,
    relax_data: bool = False,
):
    """Energy per atom under ``model`` (default: the project's default potential) for every crystal in ``data``.

    Each (MP-relaxed) structure of ``data`` gets a single point at its own geometry (``energy_per_atom``); with
    ``relax_data`` it is also relaxed (``relax.relax_structure`` under ``settings``, default
    ``relax.RelaxSettings()``) and ``energy_per_atom`` is the relaxed value. Elements without an elemental crystal
    in ``data`` get one from ASE's reference state when that is a plain fcc/bcc/hcp/diamond crystal
    (``source = ase_reference_state``); those are always relaxed, as their starting lattice is experimental. Writes a CSV (gzipped for ``.gz``) to ``out`` and returns the table.
    """
    import time

    import pandas as pd

    from relax import relax_structure
    from relax.driver import RelaxationError
    from relax.potential import DEFAULT_POTENTIAL, energy_per_atom

    model = model or DEFAULT_POTENTIAL
    settings = settings or RelaxSettings()
    frame = pd.read_csv(data)
    if limit:
        frame = frame.head(limit)
    log_fh = open(log, "a") if log else None  # noqa: SIM115

    def note(text: str) -> None:
        if log_fh:
            log_fh.write(f"{time.strftime('%H:%M:%S')} {text}\n")
            log_fh.flush()

    rows, t0 = [], time.perf_counter()
    items = [(mid, Structure.from_str(cif, fmt="cif"), "train_pool") for mid, cif in zip(frame["material_id"], frame["cif"])]
    present = {s.composition.elements[0].symbol for _, s, _ in items if len(s.composition.elements) == 1}
    all_elements = {el.symbol for _, s, _ in items for el in s.composition.elements}
    extra = _elemental_structures(all_elements - present)
    items += [(f"ase-{el}", s, "ase_reference_state") for el, s in extra.items()]
    note(f"{len(items)} structures ({len(extra)} ASE elemental references), model {model}")
    for k, (mid, structure, source) in enumerate(items):
        row = {"material_id": mid, "formula": structure.composition.reduced_formula, "natoms": len(structure),
               "source": source}
        try:
            row["energy_per_atom_input_geometry"] = energy_per_atom(structure, model)
            row["energy_per_atom"] = row["energy_per_atom_input_geometry"]
            if relax_data or source != "train_pool":
                run = relax_structure(structure, model, settings)
                row.update(energy_per_atom=run.energy_per_atom, relaxed=True, converged=run.converged,
                           n_steps=run.steps, volume_change_pct=100 * (run.structure.volume / structure.volume - 1))
            else:
                row.update(relaxed=False)
        except (RelaxationError, StructureInputError) as exc:  # PotentialError is a RelaxationError
            row.update(energy_per_atom=float("nan"), error=str(exc)[:200])
        rows.append(row)
        if (k + 1) % 100 == 0 or k + 1 == len(items):
            note(f"{k + 1}/{len(items)} done, {time.perf_counter() - t0:.0f} s")
    table = pd.DataFrame(rows)
    table["model"] = Path(str(model)).name
    table.to_csv(out, index=False, compression="gzip" if str(out).endswith(".gz") else None)
    note(f"wrote {out}; elements without an elemental reference: "
         f"{sorted(all_elements - present - set(extra))}")
    if log_fh:
        log_fh.close()
    return table


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline.properties", description="build the hull reference table")
    parser.add_argument("command", choices=["build-hull"])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/mp20/train_pool.csv.gz"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "data/hull_reference.csv.gz"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--log", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--relax", action="store_true", help="also relax the data's structures (slow)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    build_hull_reference(args.data, args.out, model=args.model, log=args.log, limit=args.limit,
                         relax_data=args.relax)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
