"""Read every crystal of a structure file: each data block of a CIF, a POSCAR, anything pymatgen reads, and, failing
that, anything ASE reads (extended XYZ, trajectories, ...). One reader for the command line and the Python API, so a
file is read the same way by ``slices encode``, ``slices assess`` and :func:`periodicnet.structure.to_structure`.

Problems are :class:`CrystalFileError` (a :class:`~periodicnet.errors.StructureInputError`) whose message starts
with the file (``FILE#BLOCK`` for one block of a CIF): missing, a folder, unreadable, or no crystal in it.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from periodicnet.errors import StructureInputError


class CrystalFileError(StructureInputError):
    """A structure file (or one block of it) cannot be read, or holds no crystal: ``CrystalFileError(label,
    detail)``, whose message is ``"LABEL: DETAIL"``."""

    def __init__(self, label: str, detail: str):
        super().__init__(f"{label}: {detail}")
        self.label, self.detail = str(label), detail


@dataclass(frozen=True)
class CrystalEntry:
    """One crystal of a file: ``label`` is ``FILE`` (or ``FILE#BLOCK`` for a CIF with several data blocks, or
    ``FILE#N`` for the N-th frame ASE read); ``structure`` is the pymatgen ``Structure``, or None when this entry
    could not be read, and then ``error`` says why."""

    label: str
    structure: object = None
    error: CrystalFileError | None = None


def pymatgen_read_errors() -> tuple[type[BaseException], ...]:
    """What pymatgen's ``Structure.from_file`` / ``from_str`` raise for a file they cannot read, found by trying
    malformed CIF, POSCAR, JSON, YAML, XML, CSSR, RES and XSF files: ValueError (CIF, numbers, JSON syntax, unknown
    extension), IndexError/KeyError (POSCAR, JSON), TypeError (JSON/YAML of the wrong shape), AttributeError (an
    empty vasprun.xml), SyntaxError (lxml, RES), ruamel's YAMLError (YAML syntax), OSError (no permission),
    ZeroDivisionError and ArithmeticError (degenerate numbers in a CIF)."""
    from ruamel.yaml.error import YAMLError

    return (OSError, ValueError, LookupError, TypeError, AttributeError, SyntaxError, YAMLError, ArithmeticError)


def ase_read_errors() -> tuple[type[BaseException], ...]:
    """What ``ase.io.read`` raises for a file it cannot read: its UnknownFileTypeError (unknown format), StopIteration
    (an empty file), and the errors of malformed numbers and lines (ValueError, LookupError, TypeError,
    AttributeError, AssertionError, OSError, ArithmeticError)."""
    from ase.io.formats import UnknownFileTypeError

    return (UnknownFileTypeError, StopIteration, OSError, ValueError, LookupError, TypeError, AttributeError,
            AssertionError, ArithmeticError)


def atoms_to_structure(atoms) -> object:
    """A pymatgen ``Structure`` of an ASE ``Atoms`` with a full periodic cell (a molecule without a cell is refused
    with :class:`StructureInputError`)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    if len(atoms) == 0:
        raise StructureInputError("the ASE Atoms holds no atoms")
    if atoms.cell.rank < 3 or not all(atoms.pbc):
        raise StructureInputError(
            f"the ASE Atoms is not a 3D periodic crystal (cell rank {atoms.cell.rank}, pbc {list(map(bool, atoms.pbc))}):"
            f" give it a cell and pbc=True"
        )
    if not np.all(np.isfinite(atoms.cell.array)) or not np.all(np.isfinite(atoms.positions)):
        raise StructureInputError("the ASE Atoms has a cell or positions that are not finite numbers")
    try:
        return AseAtomsAdaptor.get_structure(atoms)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise StructureInputError(f"the ASE Atoms cannot be made a crystal ({type(exc).__name__}: {exc})") from None


def _is_cif(path: Path) -> bool:
    return fnmatch(path.name.lower(), "*.cif*") or fnmatch(path.name.lower(), "*.mcif*")


def _cif_entries(path: Path) -> list[CrystalEntry]:
    """One entry per data block of a CIF that holds atoms (blocks without atom sites, e.g. a global block, are
    skipped)."""
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifFile

    blocks = CifFile.from_file(path).data
    if not blocks:
        raise CrystalFileError(str(path), "no data block in this CIF")
    several = len(blocks) > 1
    entries = []
    for name, block in blocks.items():
        label = f"{path}#{name}" if several else str(path)
        if several and "_atom_site_fract_x" not in block.data and "_atom_site_Cartn_x" not in block.data:
            continue
        try:
            structure = Structure.from_str(str(block), fmt="cif")
        except pymatgen_read_errors() as exc:
            entries.append(CrystalEntry(label, error=CrystalFileError(
                label, f"not a readable crystal ({type(exc).__name__}: {exc})")))
        else:
            entries.append(CrystalEntry(label, structure))
    if not entries:
        raise CrystalFileError(str(path), "no data block of this CIF holds atom sites")
    return entries


def _ase_entries(path: Path) -> list[CrystalEntry]:
    """Every frame ASE reads from the file, as pymatgen structures (raises the ASE error when it cannot read it)."""
    from ase.io import read

    frames = read(path, index=":")
    if not isinstance(frames, list):
        frames = [frames]
    several = len(frames) > 1
    entries = []
    for k, atoms in enumerate(frames):
        label = f"{path}#{k}" if several else str(path)
        try:
            entries.append(CrystalEntry(label, atoms_to_structure(atoms)))
        except StructureInputError as exc:
            entries.append(CrystalEntry(label, error=CrystalFileError(label, str(exc))))
    return entries


def read_crystals(path: str | os.PathLike) -> list[CrystalEntry]:
    """Every crystal of the file ``path``, in file order (one entry per CIF data block or per frame); an entry that
    cannot be read carries its error, so one bad block does not hide the others. A file that cannot be read at all
    raises :class:`CrystalFileError` naming it."""
    from pymatgen.core import Structure

    path = Path(path)
    if not path.exists():
        raise CrystalFileError(str(path), "no such file")
    if not path.is_file():
        raise CrystalFileError(str(path), "not a file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's CIF parser warns about every rounding it repairs
        if _is_cif(path):
            try:
                return _cif_entries(path)
            except UnicodeDecodeError as exc:
                raise CrystalFileError(str(path), f"not a text file ({exc.reason} at byte {exc.start})") from None
            except pymatgen_read_errors() as exc:
                raise CrystalFileError(str(path), f"not a readable CIF ({type(exc).__name__}: {exc})") from None
        try:
            return [CrystalEntry(str(path), Structure.from_file(path))]
        except UnicodeDecodeError as exc:
            first = f"not a text file ({exc.reason} at byte {exc.start})"
        except pymatgen_read_errors() as exc:
            first = f"{type(exc).__name__}: {exc}"
        try:
            return _ase_entries(path)
        except UnicodeDecodeError:
            pass
        except ase_read_errors():
            pass
    raise CrystalFileError(str(path), f"neither pymatgen nor ASE could read it as a crystal (pymatgen: {first})")


def read_structures(path: str | os.PathLike) -> list[tuple[str, object]]:
    """``(label, Structure)`` for every crystal of the file; the first entry that cannot be read raises its
    :class:`CrystalFileError`."""
    out = []
    for entry in read_crystals(path):
        if entry.error is not None:
            raise entry.error
        out.append((entry.label, entry.structure))
    return out
