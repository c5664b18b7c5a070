"""Known or new: a crystal against every structure and every composition in the shared data.

``novelty`` is

- ``"known"``: its structure matches a crystal of a structure set (equal canonical SLICES strings, the fast path,
  or pymatgen's ``StructureMatcher`` with default tolerances among crystals of the same reduced formula);
  ``known_id`` names that crystal (its database id, or ``<file>:<id>`` when the id has no database prefix);
- ``"known_composition"``: no structure matches, but its reduced formula is in a known-materials table or a
  structure set;
- ``"new"``: neither.

The structure sets are every CSV with a ``cif`` column under the shared data (:data:`STRUCTURE_SETS`, about 44k
crystals: MP-20, MP 21-40 atoms, perov-5, carbon-24, QMOF, MP binaries and elasticity crystals, samples of MP,
Alexandria, OQMD and AFLOW). The index holds per crystal only its reduced formula, id, volume per atom (all read
from the CIF header, no parsing) and, for the training crystals, the canonical string shipped with the model
(``data/model/train_strings.csv.gz``); it is built in seconds and cached on disk (:mod:`screening.cache`). A lookup
compares the candidate with the same-formula crystals: canonical strings first, then ``StructureMatcher`` on the
:data:`MAX_COMPARED` nearest in volume per atom (within :data:`VOLUME_WINDOW`), each parsed on first use and kept
in memory. Encoding all 44k crystals up front (for the string fast path everywhere) would take 10-40 minutes on
this machine, which is why only the training crystals have strings.

This is the project's one "is it known?" judgement: a user's own training set (``slices generate --train-data``)
joins the index as one more structure set (:func:`known_index` ``extra_sets``), so a candidate gets one verdict and
one column whatever it matched.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from periodicnet.resources import shared_data_dir, shipped_data_path
from screening.errors import ScreeningError

STRUCTURE_SETS = (
    "mp20/train_pool.csv.gz", "mp20/dev_1000.csv.gz", "mp21_40/dev_300.csv.gz",
    "perov_5/train_1024.csv.gz", "perov_5/val.csv.gz", "perov_5/test.csv.gz",
    "carbon_24/val.csv.gz", "carbon_24/test.csv.gz", "qmof/dev_140.csv.gz",
    "structures/mp_binaries_2025_10k.csv.gz", "structures/mp_elasticity_3959.csv.gz",
    "structures/alexandria_binaries_1170.csv.gz", "structures/lemat_sample_mp_2473.csv.gz",
    "structures/lemat_sample_alexandria_2475.csv.gz", "structures/lemat_sample_oqmd_2487.csv.gz",
    "structures/lemat_sample_aflow_2203.csv.gz",
)
COMPOSITION_TABLES = (
    "known_materials/mp_formation_energy_132k.csv.gz", "known_materials/mp_formation_energy_2020_84k.csv.gz",
    "known_materials/mp_band_gap_106k.csv.gz", "known_materials/mp20_hull_35k.csv.gz",
)
TRAINING_STRINGS = shipped_data_path("model/train_strings.csv.gz")
NOVELTY = ("known", "known_composition", "new")
VOLUME_WINDOW = 0.3  # same-formula crystals whose volume per atom differs by more than 30% are not compared
MAX_COMPARED = 200  # at most this many same-formula crystals (nearest in volume per atom) go to the matcher
_CACHE_VERSION = 4
_DATABASE_ID = re.compile(r"^[A-Za-z]+-")  # mp-123, oqmd-..., agm..., C-148264-... carry their database
_CELL_VOLUME = re.compile(r"^_cell_volume\s+([0-9.eE+-]+)", re.MULTILINE)


@dataclass(frozen=True)
class KnownMatch:
    """The verdict for one crystal: ``novelty`` (see :data:`NOVELTY`), the matching crystal's id and how it matched
    (``"string"`` or ``"structure"``), or None for both when no structure matched."""

    novelty: str
    known_id: str | None = None
    matched_by: str | None = None


@dataclass(frozen=True)
class _Crystal:
    """A known crystal: where its CIF is (file, row), its id, volume per atom and canonical string if known."""

    id: str
    file: str
    row: int
    volume_per_atom: float
    canonical: str | None = None


def _known_id(raw: str, source: str) -> str:
    return raw if _DATABASE_ID.match(raw) else f"{source}:{raw}"


def _header(cif: str) -> tuple[str, float] | None:
    """Reduced formula and volume per atom from a CIF's header lines, else from the parsed structure (None when
    neither can be read)."""
    from screening.matching import header_composition

    comp, volume = header_composition(cif), _CELL_VOLUME.search(cif)
    if comp is not None and volume:
        try:
            return comp.reduced_formula, float(volume.group(1)) / comp.num_atoms
        except ValueError:  # a volume field that is not a number
            pass
    from pymatgen.core import Structure

    try:
        structure = Structure.from_str(cif, fmt="cif")
    except (ValueError, KeyError, IndexError):
        return None
    return structure.composition.reduced_formula, structure.volume / len(structure)


def default_train_data() -> Path:
    """The training set a generated candidate is compared with by default: ``$SLICES_TRAIN_DATA``, else the MP-20
    training pool of the shared data (already one of :data:`STRUCTURE_SETS`)."""
    if os.environ.get("SLICES_TRAIN_DATA"):
        return Path(os.environ["SLICES_TRAIN_DATA"])
    return shared_data_dir() / "mp20" / "train_pool.csv.gz"


def check_structure_set(path: str | os.PathLike) -> Path:
    """``path`` as a readable CSV with a ``cif`` column (a user's training data, say), or :class:`ScreeningError`
    saying what is wrong."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ScreeningError(f"training data (structure set) {path} not found; pass a CSV with a 'cif' column "
                             f"(--train-data PATH or SLICES_TRAIN_DATA), or --train-data none to compare with the "
                             f"shared data only")
    try:
        columns = pd.read_csv(path, nrows=1).columns
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise ScreeningError(f"cannot read training data (structure set) {path}: {exc}") from exc
    if "cif" not in columns:
        raise ScreeningError(f"training data (structure set) {path} has no 'cif' column (columns: {list(columns)})")
    return path


def _read_structure_set(path: Path, rel: str) -> list[tuple[str, _Crystal]]:
    import pandas as pd

    table = pd.read_csv(path, keep_default_na=False)
    id_column = next((c for c in ("material_id", "qmof_id") if c in table.columns), None)
    source = path.name.split(".")[0]
    raw_ids = table[id_column].astype(str) if id_column else [str(k) for k in range(len(table))]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen notes missing electronegativities of noble gases
        for row, (raw, cif) in enumerate(zip(raw_ids, table["cif"])):
            header = _header(cif)
            if header is not None:
                out.append((header[0], _Crystal(_known_id(raw, source), rel, row, header[1])))
    return out


def _read_formulas(path: Path) -> set[str]:
    import pandas as pd
    from pymatgen.core import Composition

    table = pd.read_csv(path, keep_default_na=False, usecols=["formula"])
    out = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen notes missing electronegativities of noble gases
        for formula in table["formula"].unique():
            try:
                out.add(Composition(formula).reduced_formula)
            except (ValueError, KeyError):
                continue
    return out


def _training_strings() -> dict[str, str]:
    """Canonical strings of the training crystals by material id (shipped with the model), if present."""
    import pandas as pd

    if not TRAINING_STRINGS.is_file():
        return {}
    table = pd.read_csv(TRAINING_STRINGS, keep_default_na=False)
    return dict(zip(table["material_id"].astype(str), table["slices"]))


class KnownIndex:
    """Known crystals by reduced formula, and known compositions; see the module docstring."""

    def __init__(self, root: Path, crystals: dict[str, list[_Crystal]], formulas: set[str]):
        self.root = root
        self.crystals = crystals
        self.formulas = formulas | set(crystals)
        self._structures: dict[tuple[str, int], object] = {}

    @classmethod
    def build(cls, data_dir: str | os.PathLike | None = None, structure_sets: Sequence[str] = STRUCTURE_SETS,
              composition_tables: Sequence[str] = COMPOSITION_TABLES, extra_sets: Sequence[str | os.PathLike] = (),
              progress: bool = True) -> KnownIndex:
        """Index every structure set and composition table under ``data_dir`` (default: the shared data) and the
        ``extra_sets`` (paths of CSVs with a ``cif`` column, e.g. a user's training set), from the disk cache when
        the files did not change."""
        from tqdm.auto import tqdm

        from screening.cache import cached

        root = Path(data_dir) if data_dir is not None else shared_data_dir()
        paths = [root / p for p in (*structure_sets, *composition_tables)]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ScreeningError(f"known-materials data not found: {missing}; set SLICES_SHARED_DATA to the shared "
                                f"data folder")
        extra = [str(check_structure_set(p).resolve()) for p in extra_sets]
        structure_sets = [*structure_sets, *(p for p in extra if Path(p) not in {(root / s).resolve()
                                                                                   for s in structure_sets})]
        strings = _training_strings()
        crystals: dict[str, list[_Crystal]] = {}
        for rel in tqdm(structure_sets, desc="known-structure index", unit="file", disable=not progress,
                        file=sys.stderr):
            items = cached(f"known-{Path(rel).name.split('.')[0]}", _CACHE_VERSION, [root / rel],
                           functools.partial(_read_structure_set, root / rel, rel))
            for formula, crystal in items:
                if crystal.id in strings and rel.startswith("mp20/train_pool"):
                    crystal = _Crystal(crystal.id, crystal.file, crystal.row, crystal.volume_per_atom,
                                       strings[crystal.id])
                crystals.setdefault(formula, []).append(crystal)
        formulas: set[str] = set()
        for rel in composition_tables:
            formulas |= cached(f"formulas-{Path(rel).name.split('.')[0]}", _CACHE_VERSION, [root / rel],
                               functools.partial(_read_formulas, root / rel))
        return cls(root, crystals, formulas)

    @property
    def n_structures(self) -> int:
        return sum(len(v) for v in self.crystals.values())

    @property
    def n_formulas(self) -> int:
        return len(self.formulas)

    def _structure(self, crystal: _Crystal):
        key = (crystal.file, crystal.row)
        if key not in self._structures:
            from pymatgen.core import Structure

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # CIF parser notes (rounded occupancies, ...)
                self._structures[key] = Structure.from_str(_cifs(self.root / crystal.file)[crystal.row], fmt="cif")
        return self._structures[key]

    def lookup(self, structure, canonical: str | None = None) -> KnownMatch:
        """Known, known composition or new (see :class:`KnownMatch`). ``canonical`` is the crystal's canonical
        SLICES string when the caller has it (else it is computed when a same-formula crystal has a string)."""
        from screening.matching import first_match

        formula = structure.composition.reduced_formula
        same_formula = self.crystals.get(formula, [])
        if same_formula:
            with_string = [c for c in same_formula if c.canonical is not None]
            if canonical is None and with_string:
                import slices

                try:
                    canonical = slices.encode(structure)
                except slices.SlicesError:
                    canonical = None
            volume = structure.volume / len(structure)
            near = sorted((c for c in same_formula if abs(c.volume_per_atom / volume - 1) <= VOLUME_WINDOW),
                          key=lambda c: abs(c.volume_per_atom / volume - 1))[:MAX_COMPARED]
            match = first_match(structure, canonical, with_string, near, lambda c: c.canonical, self._structure)
            if match is not None:
                crystal, by = match
                return KnownMatch("known", crystal.id, by)
        return KnownMatch("known_composition" if formula in self.formulas else "new")


@functools.lru_cache(maxsize=32)
def _cifs(path: Path) -> list[str]:
    """The CIF column of a structure set (read once per process, on the first lookup that needs it)."""
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, usecols=["cif"])["cif"].tolist()


def known_index(extra_sets: Sequence[str | os.PathLike] = (), *, shared: bool = True,
                progress: bool = True) -> KnownIndex:
    """The process-wide index of the shared data (``shared``) plus ``extra_sets`` (built in seconds and cached on
    disk on first use, kept in memory per combination)."""
    return _index(tuple(str(Path(p)) for p in extra_sets), shared, progress)


@functools.lru_cache(maxsize=4)
def _index(extra_sets: tuple[str, ...], shared: bool, progress: bool) -> KnownIndex:
    if shared:
        return KnownIndex.build(extra_sets=extra_sets, progress=progress)
    return KnownIndex.build(structure_sets=(), composition_tables=(), extra_sets=extra_sets, progress=progress)
