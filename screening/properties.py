"""Property regressors for screening generated crystals (matgl models).

- :func:`predict_band_gap`: MEGNet multi-fidelity band gap (eV); fidelity 0 = PBE (what MP reports).
- :func:`predict_formation_energy`: formation energy per atom (eV/atom), M3GNet-MP-2018.6.1-Eform by default
  (checked against MP-20 dev values in ``benchmarks/bench_potential.py``; see ``docs/models.md``).

The energy above the hull of known materials is :mod:`screening.hull` (with :mod:`screening.formation`).

Models are found through :func:`relax.models.find_model` (an explicit folder, ``$SLICES_MODEL_DIR``, matgl's hub).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from relax.models import load_model
from screening.errors import ScreeningError
from slices.errors import StructureInputError

__all__ = [
    "BAND_GAP_MODEL",
    "FIDELITIES",
    "FORMATION_ENERGY_MODEL",
    "PropertyError",
    "predict_band_gap",
    "predict_formation_energy",
]

BAND_GAP_MODEL = "MEGNet-MP-2019.4.1-BandGap-mfi"
FORMATION_ENERGY_MODEL = "M3GNet-MP-2018.6.1-Eform"
FIDELITIES = {"PBE": 0, "GLLB-SC": 1, "HSE": 2, "SCAN": 3}
_BATCH = 64


class PropertyError(ScreeningError):
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
