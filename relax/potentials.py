"""Universal interatomic potentials as plug-ins: one small interface, a registry of short names.

A :class:`Potential` gives energy, forces and stress for a batch of structures (:meth:`Potential.evaluate`) and an
ASE calculator for one (:meth:`Potential.calculator`); it says which elements it knows (:meth:`Potential.elements`)
and in which energy frame it speaks (:attr:`Potential.frame`), which is what screening needs to turn its energies
into formation energies on the Materials Project hull:

- ``"mp_raw"``: trained on raw MP GGA/GGA+U energies (MPF / MPtrj): MP2020 corrections apply and MP's own elemental
  energies are valid references (M3GNet-MP-2021.2.8, SevenNet-0, SevenNet-l3i5, HIENet, most MPtrj models);
- ``"mp_corrected"``: predicts MP2020-corrected energies already (CHGNet): no second correction;
- ``"own"``: any other functional setting (MatPES, OMat24): no MP corrections, the potential's own relaxed elemental
  crystals as references (a hull in MP's frame is then only approximate).

:func:`get_potential` turns what a user names into a :class:`Potential`: a short name of :data:`REGISTRY`
(``"m3gnet"``, ``"7net-0"``, ``"7net-l3i5"``), a matgl model name or folder (as before), a SevenNet checkpoint
(``*.pth``), an ASE calculator, or a :class:`Potential` itself. Loaded potentials are cached per process and device.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from relax.errors import RelaxError

__all__ = [
    "DEFAULT_POTENTIAL",
    "FRAMES",
    "REGISTRY",
    "CalculatorPotential",
    "Evaluation",
    "MatglPotential",
    "Potential",
    "SevenNetPotential",
    "get_potential",
    "missing_from",
    "potential_name",
]

FRAMES = ("mp_raw", "mp_corrected", "own")


@dataclass(frozen=True)
class Evaluation:
    """One structure's energy (eV, whole cell), forces (n x 3, eV/A) and stress (Voigt 6, eV/A^3, ASE's sign)."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray


@runtime_checkable
class Potential(Protocol):
    """What the project needs of an interatomic potential."""

    name: str
    """Stable identifier: the key of cached elemental references (a model name, not an object id)."""
    frame: str
    """Energy frame, one of :data:`FRAMES`."""

    def calculator(self):
        """An ASE calculator (one per potential and process; stress in eV/A^3)."""
        ...

    def elements(self) -> frozenset[str] | None:
        """Element symbols the potential has parameters for, or None when it does not say."""
        ...

    def evaluate(self, structures: Sequence) -> list[Evaluation]:
        """Energy, forces and stress of each pymatgen ``Structure`` or ASE ``Atoms``, in order."""
        ...


def _check_frame(frame: str) -> str:
    if frame not in FRAMES:
        raise RelaxError("bad_input", f"a potential's frame must be one of {FRAMES}, got {frame!r}")
    return frame


class CalculatorPotential:
    """A :class:`Potential` from any ASE calculator (or a no-argument factory of one): the way to plug in a model
    this project does not know (MACE, ORB, MatterSim, ...). ``frame`` says how its energies relate to MP's
    (:data:`FRAMES`; ``"mp_raw"`` for an MPtrj-trained model); ``elements`` is what it covers, if known.

    ``evaluate`` runs the calculator on each structure in turn; subclasses with a batched forward pass override it.
    """

    def __init__(self, calculator, name: str | None = None, frame: str = "mp_raw",
                 elements: Sequence[str] | None = None):
        factory = isinstance(calculator, type) or (callable(calculator)
                                                   and not hasattr(calculator, "get_potential_energy"))
        if not factory and not hasattr(calculator, "get_potential_energy"):
            raise RelaxError("bad_input", f"not an ASE calculator or a factory of one: {calculator!r}")
        self._calc = None if factory else calculator
        self._factory: Callable | None = calculator if factory else None
        self.name = name or type(calculator).__name__
        self.frame = _check_frame(frame)
        self._elements = frozenset(elements) if elements is not None else None

    def calculator(self):
        if self._calc is None:
            self._calc = self._factory()
        return self._calc

    def elements(self) -> frozenset[str] | None:
        return self._elements

    def energies(self, structures: Sequence) -> list[float]:
        """The energy (eV, whole cell) of each structure, in order: what scoring needs. Here the full evaluation;
        a subclass whose model can skip forces and stress overrides it."""
        return [value.energy for value in self.evaluate(structures)]

    def evaluate(self, structures: Sequence) -> list[Evaluation]:
        from pymatgen.io.ase import AseAtomsAdaptor

        out = []
        calc = self.calculator()
        for item in structures:
            atoms = item.copy() if hasattr(item, "get_positions") else AseAtomsAdaptor.get_atoms(item)
            atoms.calc = calc
            out.append(Evaluation(energy=float(atoms.get_potential_energy()),
                                  forces=np.array(atoms.get_forces(), dtype=float),
                                  stress=np.array(atoms.get_stress(voigt=True), dtype=float)))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, frame={self.frame!r})"


class MatglPotential(CalculatorPotential):
    """A matgl potential found and loaded by :mod:`relax.models` (with the matgl fix), by name or folder."""

    def __init__(self, model: str | os.PathLike, frame: str | None = None, device: str = "cpu"):
        from relax.models import load_model

        pot = load_model(model)
        if type(pot).__name__ != "Potential":
            raise RelaxError("bad_input", f"model {str(model)!r} is a {type(pot).__name__}, not an interatomic "
                                          f"potential")
        self.model = pot
        self.device = device
        name = self.stable_name(model)
        if frame is None:  # MP-trained matgl potentials say so in their name; MatPES ones are another functional
            frame = "mp_raw" if "-MP-" in name else "own"
        super().__init__(self._make_calculator, name=name, frame=frame,
                         elements=list(pot.model.element_types))

    @staticmethod
    def stable_name(model: str | os.PathLike) -> str:
        """The name a matgl potential of this model folder or name has (without loading it)."""
        return os.path.basename(str(model).rstrip("/"))

    def _make_calculator(self):
        from matgl.ext.ase import PESCalculator

        calc = PESCalculator(self.model, stress_unit="eV/A3")  # matgl's default unit is GPa: cell forces 160x off
        if self.device != "cpu":
            self.model.to(self.device)
        return calc


class SevenNetPotential(CalculatorPotential):
    """A SevenNet model (``sevenn``): a pretrained name shipped inside the wheel (``"7net-0"``, ``"7net-l3i5"``) or a
    checkpoint path. Trained on MPtrj (raw MP energies): frame ``"mp_raw"``."""

    def __init__(self, model: str | os.PathLike = "7net-0", device: str = "cpu", frame: str = "mp_raw"):
        self.model_name, self.device = str(model), device
        super().__init__(self._make_calculator, name=self.stable_name(model), frame=frame)

    @staticmethod
    def stable_name(model: str | os.PathLike) -> str:
        """The name a SevenNet potential of this model name or checkpoint has (without loading it)."""
        return f"SevenNet:{Path(str(model)).name}"

    def _make_calculator(self):
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise RelaxError("model_missing", "SevenNet potentials need the 'sevenn' package: pip install "
                                              "'crystal-slices[sevennet]' (or sevenn==0.13.0)") from exc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no tensor product accelerator": none exists on a CPU
            try:
                return SevenNetCalculator(model=self.model_name, device=self.device)
            except (ValueError, FileNotFoundError, KeyError, RuntimeError) as exc:
                raise RelaxError("model_missing", f"SevenNet model {self.model_name!r} could not be loaded: "
                                                  f"{type(exc).__name__}: {exc}") from exc

    def elements(self) -> frozenset[str] | None:
        from ase.data import chemical_symbols

        return frozenset(chemical_symbols[z] for z in self.calculator().type_map)

    def _graph(self, item):
        """The model's input graph of one pymatgen ``Structure`` or ASE ``Atoms`` (on the CPU)."""
        from pymatgen.io.ase import AseAtomsAdaptor
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph

        atoms = item if hasattr(item, "get_positions") else AseAtomsAdaptor.get_atoms(item)
        return AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(atoms, self.calculator().cutoff,
                                                                      with_shift=False))

    def energies(self, structures: Sequence) -> list[float]:
        """Energies without forces and stress: the model without its force-and-stress head, no gradients, one graph
        per structure (the calculator's energies exactly, at 0.4x its CPU time on MP-20 crystals)."""
        import torch
        import sevenn._keys as keys

        calc = self.calculator()
        if getattr(self, "_energy_model", None) is None:
            import copy

            model = copy.deepcopy(calc.model)
            model.delete_module_by_key("force_output")
            self._energy_model = model
        out = []
        for item in structures:
            graph = self._graph(item)
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                energy = self._energy_model(graph.to(calc.device))[keys.PRED_TOTAL_ENERGY]
            out.append(float(energy.detach().cpu().reshape(-1)[0]))
        return out

    def evaluate(self, structures: Sequence) -> list[Evaluation]:
        """One batched graph through the model (the numbers of one calculator call per structure, to float
        precision; checked in ``tests/test_potentials_sevennet.py``)."""
        import sevenn._keys as keys
        from pymatgen.io.ase import AseAtomsAdaptor
        from torch_geometric.data import Batch

        calc = self.calculator()
        atoms = [item if hasattr(item, "get_positions") else AseAtomsAdaptor.get_atoms(item) for item in structures]
        if not atoms:
            return []
        batch = Batch.from_data_list([self._graph(a) for a in atoms]).to(calc.device)
        calc.model.set_is_batch_data(True)  # the calculator's model runs one graph at a time; batched here only
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = calc.model(batch)
        finally:
            calc.model.set_is_batch_data(False)
        energies = out[keys.PRED_TOTAL_ENERGY].detach().cpu().numpy().reshape(-1)
        forces = out[keys.PRED_FORCE].detach().cpu().numpy()
        stresses = -out[keys.PRED_STRESS].detach().cpu().numpy().reshape(len(atoms), 6)[:, [0, 1, 2, 4, 5, 3]]
        bounds = np.cumsum([0] + [len(a) for a in atoms])
        return [Evaluation(energy=float(energies[i]), forces=forces[bounds[i]:bounds[i + 1]].astype(float),
                           stress=stresses[i].astype(float)) for i in range(len(atoms))]


M3GNET = "M3GNet-MP-2021.2.8-PES"

REGISTRY: dict[str, functools.partial] = {
    "m3gnet": functools.partial(MatglPotential, M3GNET),
    M3GNET: functools.partial(MatglPotential, M3GNET),
    "7net-0": functools.partial(SevenNetPotential, "7net-0"),
    "7net-l3i5": functools.partial(SevenNetPotential, "7net-l3i5"),
}
"""Potentials known by a short name (the full matgl name of M3GNet too, so that older runs resolve the same): the
potential's class bound to its model, called with ``device=``."""

DEFAULT_POTENTIAL = M3GNET
"""The potential reconstruction relaxes with (chosen on evidence: docs/models.md, docs/reconstruction.md)."""


def missing_from(potential: Potential, symbols) -> list[str]:
    """The element symbols among ``symbols`` that ``potential`` has no parameters for, sorted (none when it does not
    say which elements it covers)."""
    known = potential.elements()
    return [] if known is None else sorted(set(symbols) - set(known))


def potential_name(spec) -> str:
    """The stable name of a potential given as :func:`get_potential` accepts it (for cache keys and run records)."""
    if isinstance(spec, Potential):
        return spec.name
    if isinstance(spec, (str, os.PathLike)):
        text = str(spec)
        if text in REGISTRY:  # from the class, without loading the model (7 s for M3GNet in a fresh process)
            entry = REGISTRY[text]
            return entry.func.stable_name(*entry.args)
        return os.path.basename(text.rstrip("/"))
    return type(spec).__name__


@functools.lru_cache(maxsize=8)
def _named(spec: str, device: str) -> Potential:
    if spec in REGISTRY:
        return REGISTRY[spec](device=device)
    if spec.endswith(".pth") or spec.lower().startswith("7net"):
        return SevenNetPotential(spec, device=device)
    return MatglPotential(spec, device=device)


def get_potential(spec=None, device: str = "cpu") -> Potential:
    """The :class:`Potential` a user names: None (the project's default, :data:`DEFAULT_POTENTIAL`),
    a :data:`REGISTRY` short name, a matgl model name or folder, a SevenNet checkpoint (``*.pth``), an ASE calculator
    (taken as MPtrj-trained: wrap it in :class:`CalculatorPotential` to say otherwise) or a :class:`Potential`.

    Raises :class:`~relax.errors.RelaxError` (``bad_input`` or ``model_missing``) when it cannot be had.
    """
    if spec is None:
        spec = DEFAULT_POTENTIAL
    if isinstance(spec, Potential):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        if not str(spec).strip():
            raise RelaxError("bad_input", "a potential name must not be empty")
        return _named(str(spec), str(device))
    if hasattr(spec, "get_potential_energy") and hasattr(spec, "calculate"):
        return CalculatorPotential(spec)
    raise RelaxError("bad_input", f"a potential is a name ({', '.join(r for r in REGISTRY if '-MP-' not in r)}, a "
                                  f"matgl model), a folder, an ASE calculator or a Potential; got "
                                  f"{type(spec).__name__}")
