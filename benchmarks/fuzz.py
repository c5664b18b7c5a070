"""Fuzz campaign (issues 13 and 21): malformed strings, malformed structures, crystals as users have them (oxidation
states and magnetic moments, ASE Atoms, file paths good and bad, huge cells), bad arguments and damaged run folders,
fed to the real API and command line with a fixed seed. Counts what happened to each input:

- ``accepted``: a normal result (a mutated string can still be a valid one);
- ``project_error``: a :class:`slices.SlicesError` subclass (the wanted outcome for bad input);
- ``other_exception``: anything else (a bug; target 0), with the first examples kept;
- ``hang``: an input that took more than 30 s (interrupted with SIGALRM; target 0);
- for run folders also ``wrong_output``: a resume that finished but whose table differs from the undamaged run's
  (silently wrong; target 0).

    OMP_NUM_THREADS=1 python benchmarks/fuzz.py [--strings 12000] [--structures 150] [--inputs 400] [--seed 0]

Prints a table and writes benchmarks/results/fuzz.json. A few minutes of CPU on one core.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import shutil
import signal
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
DATA = Path(os.environ.get("SLICES_SHARED_DATA", ROOT.parent / "shared" / "data"))
HANG_SECONDS = 30
KEEP_EXAMPLES = 10

import slices  # noqa: E402
from pipeline.cli import main as cli_main  # noqa: E402

SMALL_STRINGS = [
    "Na Cl 0 1 --- 0 1 o-- 0 1 o-o 0 1 oo- 0 1 ooo 0 1 +oo",
    "Cu 0 0 oo+ 0 0 o+o 0 0 +oo",
    "Si Si 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo-",
    "Ca Ti O O O 0 2 ooo 0 3 ooo 0 4 ooo 1 2 ooo 1 2 o-o 1 3 ooo 1 3 -oo 1 4 ooo 1 4 oo-",
    "Fm-3m Na Cl 0 1 ooo 0 1 -oo 0 1 o-o 0 1 oo- 0 1 --o 0 1 -o- 0 1 o--",
    "Na Cl 0 1 o o o 0 1 - o o 0 1 o - o 0 1 o o -",
]
ODD_TOKENS = ["²", "⁰", "١", "５", "𝟘", "①", "Ⅻ", "\u200b", "\x00", "\ufeff", "ｏｏｏ", "−oo", "o‐o", "+∞", "NaN", "-1",
              "1e3", "0x1", "999999", "9" * 40, "00", "+0", "Xx", "na", "NA", "D", "T", "X", "Uue", "P6_3/mmc", "Fm-3m",
              "\t", "'", '"', "\\", "{", "[]", "ooo ooo", "+++", "---", "o+", "oooo", "", " "]
LABELS = ["".join(t) for t in __import__("itertools").product("-o+", repeat=3)]
ELEMENTS = ["H", "O", "Na", "Cl", "Cu", "Fe", "Si", "Lr", "He"]


class Hang(Exception):
    """An input ran past HANG_SECONDS."""


def _alarm(signum, frame):
    raise Hang()


class Tally:
    """Outcome counts of one section, with the first examples of each bad outcome."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}
        self.slowest = 0.0
        self.last_message = ""

    def run(self, label: str, call) -> str:
        """Run ``call()`` under the hang alarm and count its outcome."""
        start = time.perf_counter()
        signal.alarm(HANG_SECONDS)
        try:
            call()
            outcome, detail = "accepted", None
        except Hang:
            outcome, detail = "hang", "interrupted"
        except slices.SlicesError as exc:
            outcome, detail = "project_error", None
            self.last_message = str(exc)
        except Exception as exc:  # noqa: BLE001 - counting every other exception is the point of the campaign
            outcome, detail = "other_exception", f"{type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
        self.slowest = max(self.slowest, time.perf_counter() - start)
        self.note(outcome, label, detail)
        return outcome

    def note(self, outcome: str, label: str, detail: str | None = None) -> None:
        self.counts[outcome] += 1
        if detail is not None and len(self.examples.setdefault(outcome, [])) < KEEP_EXAMPLES:
            self.examples[outcome].append(f"{label!r}: {detail}"[:400])

    def summary(self) -> dict:
        return {"inputs": sum(self.counts.values()), **{k: self.counts.get(k, 0) for k in (
            "accepted", "project_error", "other_exception", "hang")},
            **({"wrong_output": self.counts["wrong_output"]} if "wrong_output" in self.counts else {}),
            "slowest_s": round(self.slowest, 3), "examples": self.examples}


# ---------------------------------------------------------------------------------------------------- strings
def _base_strings() -> list[str]:
    path = DATA / "slices_reference" / "mp20_nonmetal_slices_1432.csv.gz"
    reference = pd.read_csv(path, keep_default_na=False).SLICES.tolist() if path.exists() else []
    return SMALL_STRINGS + [s for s in reference if len(s.split()) <= 60][:200]


def _mutate(string: str, rng: random.Random) -> str:
    """One to three random edits of a string: tokens dropped, doubled, swapped, replaced by odd or grammar tokens,
    characters inserted or deleted, the string cut, Unicode noise."""
    tokens = string.split()
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(10)
        k = rng.randrange(len(tokens)) if tokens else 0
        if kind == 0 and tokens:
            del tokens[k]
        elif kind == 1 and tokens:
            tokens.insert(k, tokens[k])
        elif kind == 2 and len(tokens) > 1:
            j = rng.randrange(len(tokens))
            tokens[k], tokens[j] = tokens[j], tokens[k]
        elif kind == 3:
            tokens.insert(k, rng.choice(ODD_TOKENS))
        elif kind == 4 and tokens:
            tokens[k] = rng.choice(ODD_TOKENS + LABELS + ELEMENTS + [str(rng.randint(0, 30))])
        elif kind == 5 and tokens:
            word = tokens[k]
            pos = rng.randrange(len(word) + 1)
            tokens[k] = word[:pos] + chr(rng.choice([rng.randint(0x21, 0x7E), rng.randint(0xA0, 0x2FFF),
                                                     rng.randint(0x1D400, 0x1D7FF)])) + word[pos:]
        elif kind == 6:
            text = " ".join(tokens)
            tokens = text[: rng.randrange(len(text) + 1)].split()
        elif kind == 7 and tokens:
            tokens[k] = str(rng.choice([-1, 10**6, 2**63, rng.randint(0, 9)]))
        elif kind == 8:
            tokens = tokens + tokens[-rng.randint(1, 3):]  # extra tokens at the end
        else:
            sep = rng.choice(["\t", "\n", "\u3000", "\u00a0", "  ", "\x1f"])
            return sep.join(tokens)
    return " ".join(tokens)


def _random_string(rng: random.Random) -> str:
    pool = ELEMENTS + LABELS + ODD_TOKENS + [str(i) for i in range(6)]
    return " ".join(rng.choice(pool) for _ in range(rng.randint(0, 20)))


def _oversized() -> list[str]:
    """Strings past the size limits (atoms, edges, characters), and long runs of junk."""
    return [
        "Na " * 1001 + "0 1 ooo",
        "Na Cl " + "0 1 ooo " * 20001,
        "Na Cl 0 1 ooo " + "x" * 2_000_001,
        "Na Cl " + "0 1 " * 100_000,
        "Na " * 200_000,
        "0 " * 300_000,
        "Na Cl 0 1 " + "o" * 100_000,
        "Na Cl 9999999 1 ooo",
    ]


def fuzz_strings(n: int, rng: random.Random) -> dict:
    """``n`` malformed strings (the last few past the size limits) through parse, canonical and (every 20th) the
    ``slices canonical`` command."""
    bases = _base_strings()
    oversized = _oversized()
    tally, per_api = Tally(), {"parse": Tally(), "canonical": Tally(), "cli_canonical": Tally()}
    for k in tqdm(range(n), desc="strings", unit="str"):
        if k >= n - len(oversized):
            string = oversized[k - n + len(oversized)]
        else:
            string = _random_string(rng) if k % 5 == 0 else _mutate(rng.choice(bases), rng)
        per_api["parse"].run(string[:200], lambda: slices.parse(string))
        outcome = per_api["canonical"].run(string[:200], lambda: slices.canonical(string))
        tally.note(outcome, string[:200])
        if k % 20 == 1:
            per_api["cli_canonical"].run(string, lambda: _cli(["canonical", string], expect=(0, 1)))
    return {"campaign": tally.summary(), **{name: t.summary() for name, t in per_api.items()}}


def _cli(argv: list[str], expect: tuple[int, ...]) -> None:
    """Run the command line in-process; an exit status outside ``expect`` or a traceback raises."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse refusals
            code = exc.code
    if code not in expect:
        raise RuntimeError(f"exit status {code}: {err.getvalue()[-300:]}")
    if code:
        raise slices.SlicesError(err.getvalue())  # refused with a message: a project error


# ---------------------------------------------------------------------------------------------------- structures
def _structures(n: int, rng: np.random.Generator) -> list[tuple[str, object]]:
    """``n`` broken or borderline crystals (and non-crystals), each with a label."""
    from pymatgen.core import DummySpecies, Lattice, Molecule, Structure

    def cubic(a):
        return Lattice.cubic(a)

    real = _real_structures(20)

    def squeezed():
        s = real[rng.integers(len(real))].copy()
        s.scale_lattice(s.volume * rng.uniform(0.001, 0.05))
        return s

    def doubled_site():
        s = real[rng.integers(len(real))].copy()
        k = int(rng.integers(len(s)))
        s.append(s[k].species, s[k].frac_coords + rng.normal(0, 1e-3, 3))
        return s

    def flattened():
        s = real[rng.integers(len(real))]
        matrix = s.lattice.matrix.copy()
        matrix[2] = matrix[0] + matrix[1] * rng.uniform(-1, 1) + rng.normal(0, 1e-5, 3)
        return Structure(Lattice(matrix), s.species, s.frac_coords)

    makers = [
        ("overlapping atoms", lambda: Structure(cubic(4), ["Na", "Cl"], [[0, 0, 0], rng.random(3) * 0.05])),
        ("atom near its own image", lambda: Structure(cubic(rng.uniform(0.05, 0.5)), ["Cu"], [[0, 0, 0]])),
        ("flat lattice", lambda: Structure(Lattice([[3, 0, 0], [0, 3, 0], [1.5, 1.5, rng.uniform(0, 1e-4)]]),
                                           ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])),
        ("needle lattice", lambda: Structure(Lattice.from_parameters(3, 3, 3, 89.99, 89.99, rng.uniform(0.001, 0.1)),
                                             ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])),
        ("huge cell", lambda: Structure(cubic(rng.uniform(1e3, 1e6)), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])),
        ("isolated molecule", lambda: Structure(cubic(20), ["O", "O"], [[0, 0, 0], [0.06, 0, 0]])),
        ("disordered site", lambda: Structure(cubic(4), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [.5, .5, .5]])),
        ("dummy species", lambda: Structure(cubic(4), [DummySpecies("X"), "Cl"], [[0, 0, 0], [.5, .5, .5]])),
        ("too many atoms", lambda: Structure(cubic(40), ["Cu"] * 1001, rng.random((1001, 3)))),
        ("random cloud", lambda: Structure(Lattice(rng.normal(0, 4, (3, 3))), list(rng.choice(ELEMENTS, 6)),
                                           rng.random((6, 3)))),
        ("far-apart atoms", lambda: Structure(cubic(rng.uniform(8, 30)), ["Fe"], [[0, 0, 0]])),
        ("coordinates far outside", lambda: Structure(cubic(4), ["Na", "Cl"], [[1e6, -3e5, 7.5], [0.5, 0.5, 0.5]])),
        ("not a structure", lambda: rng.choice(np.array([None, "NaCl", 3.0, {"lattice": 1}, [1, 2]], dtype=object))),
        ("a molecule", lambda: Molecule(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])),
        ("empty structure", lambda: Structure(cubic(4), [], [])),
        ("real crystal squeezed", squeezed),
        ("real crystal with a doubled site", doubled_site),
        ("real crystal with a flattened cell", flattened),
    ]
    items = []
    for k in range(n):
        label, make = makers[k % len(makers)]
        try:
            items.append((label, make()))
        except (ValueError, TypeError) as exc:  # pymatgen refuses to build it: the crystal never reaches us
            items.append((f"{label} (pymatgen refused: {type(exc).__name__})", None))
    return items


def _real_structures(n: int) -> list:
    """The first ``n`` crystals of the MP-20 training pool (the broken variants start from real cells)."""
    from pymatgen.core import Structure

    table = pd.read_csv(DATA / "mp20" / "train_pool.csv.gz", keep_default_na=False, nrows=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(cif, fmt="cif") for cif in table.cif]


def fuzz_structures(n: int, seed: int) -> dict:
    """``n`` malformed structures through encode, check and assess."""
    tally = {"encode": Tally(), "check": Tally(), "assess": Tally()}
    by_kind: dict[str, Counter] = {}
    for label, structure in tqdm(_structures(n, np.random.default_rng(seed)), desc="structures", unit="xtal"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = tally["encode"].run(label, lambda: slices.encode(structure))
            tally["check"].run(label, lambda: _check_or_raise(structure))
            tally["assess"].run(label, lambda: _assess_one(structure))
        by_kind.setdefault(label, Counter())[outcome] += 1
    return {**{name: t.summary() for name, t in tally.items()},
            "encode_by_kind": {k: dict(v) for k, v in by_kind.items()}}


def _check_or_raise(structure) -> None:
    """``slices.check`` never raises for a crystal; a refusal is an Encodability(ok=False), counted as an error."""
    result = slices.check(structure)
    if not result.ok:
        raise slices.SlicesError(result.message)


def warm_up_assess() -> None:
    """Load what ``assess`` uses (the potential, the known hull, the known-materials index) once, outside the hang
    alarm: the first load takes longer than the alarm on a loaded machine, and an import interrupted half-way would
    break every later call."""
    from screening import assess

    assess(_real_structures(1), relax=False, band_gap=False, progress=False)


def _assess_one(item) -> None:
    """``screening.assess`` of one crystal without relaxation (single point with the potential, formation energy,
    known hull, known/new, symmetry); an ``unusable`` verdict is a refusal with the project's words, counted as a
    project error."""
    from screening import assess

    result = assess([item], relax=False, band_gap=False, progress=False)[0]
    if (result.reason or "").startswith("unusable"):
        raise slices.SlicesError(result.reason)


# ---------------------------------------------------------------------------------------------------- structure inputs
def _decorated(structure, rng: np.random.Generator):
    """A real crystal as ICSD-derived CIFs and MP documents carry it: oxidation states (guessed, or random ones when
    no guess fits), spins and magnetic moments on the sites."""
    from pymatgen.core import Species

    s = structure.copy()
    kind = int(rng.integers(3))
    if kind == 0:
        try:
            s.add_oxidation_state_by_guess(max_sites=-1)
        except ValueError:
            s.add_oxidation_state_by_element({el.symbol: int(rng.integers(-3, 4)) for el in s.composition})
    elif kind == 1:
        s.add_oxidation_state_by_element({el.symbol: int(rng.integers(-3, 4)) for el in s.composition})
    else:
        s.replace_species({el: Species(el.symbol, int(rng.integers(-2, 4)), spin=float(rng.uniform(0, 5)))
                           for el in s.composition})
    s.add_site_property("magmom", rng.normal(0, 2, len(s)).tolist())
    return s


def _atoms_variants(structure, rng: np.random.Generator) -> list[tuple[str, object]]:
    """ASE Atoms forms of a crystal: plain, with magnetic moments and charges, without a cell, non-periodic,
    with NaN positions, empty, a huge cell."""
    from ase import Atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    with_moments = atoms.copy()
    with_moments.set_initial_magnetic_moments(rng.normal(0, 2, len(atoms)))
    with_moments.set_initial_charges(rng.normal(0, 1, len(atoms)))
    no_cell = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions)
    slab = atoms.copy()
    slab.pbc = [True, True, False]
    nan = atoms.copy()
    nan.positions[0] = np.nan
    huge = atoms.copy()
    huge.set_cell(atoms.cell.array * rng.uniform(1e3, 1e5), scale_atoms=True)
    return [("Atoms", atoms), ("Atoms with moments and charges", with_moments), ("Atoms without a cell", no_cell),
            ("Atoms periodic in 2D", slab), ("Atoms with a NaN position", nan), ("Atoms, empty", Atoms()),
            ("Atoms with a huge cell", huge)]


def _file_variants(structure, folder: Path, k: int, rng: np.random.Generator) -> list[tuple[str, object]]:
    """Paths of files holding a crystal, or not: CIF (decorated), POSCAR, extended XYZ, a multi-block CIF, the
    CIF cut short, a byte flipped, bytes of noise, an empty file, a folder, a missing path, a huge cell."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    cif = folder / f"c{k}.cif"
    cif.write_text(str(CifWriter(_decorated(structure, rng))))
    poscar = folder / f"POSCAR_{k}"
    structure.to(filename=str(poscar), fmt="poscar")
    xyz = folder / f"c{k}.extxyz"
    from pymatgen.io.ase import AseAtomsAdaptor

    AseAtomsAdaptor.get_atoms(structure).write(xyz)
    multi = folder / f"multi{k}.cif"
    multi.write_text(cif.read_text() + "\n" + cif.read_text().replace("data_", "data_again_", 1))
    data = cif.read_bytes()
    cut = folder / f"cut{k}.cif"
    cut.write_bytes(data[: int(rng.integers(1, len(data)))])
    flipped = folder / f"flip{k}.cif"
    j = int(rng.integers(len(data)))
    flipped.write_bytes(data[:j] + bytes([data[j] ^ (1 << int(rng.integers(8)))]) + data[j + 1:])
    noise = folder / f"noise{k}.{rng.choice(['cif', 'vasp', 'xyz', 'json', 'dat'])}"
    noise.write_bytes(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes())
    empty = folder / f"empty{k}.cif"
    empty.write_bytes(b"")
    huge = folder / f"huge{k}.cif"
    huge_cell = Structure(Lattice.cubic(float(rng.uniform(1e3, 1e6))), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])
    huge.write_text(str(CifWriter(huge_cell)))
    return [("CIF path (decorated)", cif), ("CIF path as str", str(cif)), ("POSCAR path", poscar),
            ("extxyz path", xyz), ("multi-block CIF path", multi), ("CIF cut short", cut),
            ("CIF with a flipped byte", flipped), ("noise file", noise), ("empty file", empty),
            ("a folder", folder), ("missing path", folder / "absent.cif"), ("huge-cell CIF", huge),
            ("a SLICES string as a path", SMALL_STRINGS[0])]


def _structure_inputs(n: int, seed: int, folder: Path) -> list[tuple[str, object]]:
    """``n`` crystals in the forms users have them (decorated Structures, IStructures, ASE Atoms, file paths),
    valid and broken, built from real MP-20 cells."""
    from pymatgen.core import IStructure, Lattice, Structure

    rng = np.random.default_rng(seed)
    real = _real_structures(20)
    items: list[tuple[str, object]] = []
    k = 0
    while len(items) < n:
        s = real[k % len(real)]
        items += [("Structure with oxidation states and moments", _decorated(s, rng)),
                  ("IStructure", IStructure.from_sites(s)),
                  ("huge cell, 1e5 A edges", Structure(Lattice.cubic(1e5), s.species, s.frac_coords))]
        items += _atoms_variants(s, rng)
        items += _file_variants(s, folder, k, rng)
        k += 1
    return items[:n]


def fuzz_structure_inputs(n: int, seed: int) -> dict:
    """``n`` crystals as users have them through ``to_structure``, ``encode``, ``check`` and ``assess``; the file
    paths also through ``slices encode`` and (every fifth) ``slices assess``."""
    from periodicnet.structure import to_structure

    tally = {name: Tally() for name in ("to_structure", "encode", "check", "assess", "cli_encode", "cli_assess")}
    by_kind: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory(prefix="slices-fuzz-inputs-") as tmp:
        items = _structure_inputs(n, seed, Path(tmp))
        for k, (label, item) in enumerate(tqdm(items, desc="structure inputs", unit="input")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcome = tally["to_structure"].run(label, lambda: to_structure(item))
                tally["encode"].run(label, lambda: slices.encode(item))
                tally["check"].run(label, lambda: _check_or_raise(item))
                tally["assess"].run(label, lambda: _assess_one(item))
                if isinstance(item, (str, Path)) and label != "a SLICES string as a path":
                    tally["cli_encode"].run(label, lambda: _cli(["encode", str(item)], expect=(0, 1)))
                    if k % 5 == 0:
                        out = Path(tmp) / f"assessed{k}"
                        tally["cli_assess"].run(label, lambda: _cli(
                            ["assess", str(item), "--out", str(out), "--no-relax", "--no-progress"], expect=(0, 1)))
            by_kind.setdefault(label, Counter())[outcome] += 1
    return {**{name: t.summary() for name, t in tally.items()},
            "to_structure_by_kind": {k: dict(v) for k, v in by_kind.items()}}


# ---------------------------------------------------------------------------------------------------- arguments
def fuzz_arguments() -> dict:
    """Bad seeds and time limits through decode, decode_report and the command lines."""
    string = SMALL_STRINGS[0]
    tally = Tally()
    bad_seeds = ["x", -5, 2**70, 1.5, float("nan"), None, True, b"1", [1]]
    bad_limits = [float("nan"), float("inf"), -1, 0, None, "10", True, -1e-300]
    for value in bad_seeds:
        tally.run(f"decode seed={value!r}", lambda: slices.decode(string, seed=value))
        tally.run(f"decode_report seed={value!r}", lambda: slices.decode_report(string, seed=value))
    for value in bad_limits:
        tally.run(f"decode time_limit={value!r}", lambda: slices.decode(string, time_limit=value))
        tally.run(f"decode_report time_limit={value!r}", lambda: slices.decode_report(string, time_limit=value))
    for argv in (["--seed", "-5"], ["--seed", str(2**70)], ["--seed", "x"], ["--seed", "²"], ["--time-limit", "nan"],
                 ["--time-limit", "inf"], ["--time-limit", "-3"], ["--n", "0"], ["--n", "⁰"], ["--workers", "-1"]):
        tally.run(f"generate {argv}", lambda: _cli(["generate", *argv, "--out", "/nonexistent/never"], expect=(2,)))
    for out in ("/proc/self/none/out", "/proc/version", "/proc/version/sub"):
        tally.run(f"decode --out {out}", lambda: _cli(["decode", "Na Cl 0 1", "--out", out], expect=(1,)))
    return tally.summary()


# ---------------------------------------------------------------------------------------------------- run folders
GIVEN = ["Na Cl 0 ² ooo", "Qq Cl 0 1 ooo", "Na Cl 0 1 ooo", "Na Cl 0 1", "Na Cl 0 ⁰ +oo", "K Br 0 1 oo"]
RUN_FILES = ("run.json", "samples.json", "decoded.jsonl")


def _damages(rng: random.Random) -> list[tuple[str, str, object]]:
    """``(label, file, change)`` cases: each change is a function of the file's bytes (None deletes the file)."""
    cases = []
    for name in RUN_FILES:
        cases += [
            (f"{name}: empty", name, lambda b: b""),
            (f"{name}: deleted", name, None),
            (f"{name}: random bytes line", name, lambda b: b + bytes(rng.randrange(128, 256) for _ in range(40)) + b"\n"),
            (f"{name}: a JSON list line", name, lambda b: b + b"[1, 2]\n"),
            (f"{name}: a JSON null", name, lambda b: b"null\n"),
        ]
        for cut in (1, 7, 0.5, 0.9):
            cases.append((f"{name}: cut at {cut}", name,
                          lambda b, cut=cut: b[: int(len(b) * cut) if isinstance(cut, float) else cut]))
        for _ in range(3):
            cases.append((f"{name}: one byte flipped", name, lambda b: _flip(b, rng)))
    cases += [
        ("samples.json: two strings fewer", "samples.json",
         lambda b: json.dumps({"strings": json.loads(b)["strings"][:-2]}).encode()),
        ("samples.json: strings not str", "samples.json", lambda b: b'{"strings": [1, 2, 3, 4, 5, 6]}'),
        ("run.json: n changed", "run.json", lambda b: json.dumps({**json.loads(b), "n": 10}).encode()),
        ("decoded.jsonl: record without index", "decoded.jsonl", lambda b: b + b'{"status": "ok"}\n'),
        ("decoded.jsonl: index -1", "decoded.jsonl", lambda b: b + b'{"index": -1, "status": "ok"}\n'),
        ("decoded.jsonl: index true", "decoded.jsonl", lambda b: b + b'{"index": true, "status": "ok"}\n'),
        ("decoded.jsonl: string swapped", "decoded.jsonl", lambda b: b.replace(b"Qq Cl", b"Na Cl", 1)),
        ("decoded.jsonl: a blank line", "decoded.jsonl", lambda b: b"\n" + b),
        ("decoded.jsonl: NUL bytes at the end", "decoded.jsonl", lambda b: b + b"\x00" * 64),
        ("properties.jsonl: junk", "properties.jsonl", lambda b: b + b"\xff\xfe\n"),
    ]
    return cases


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    k = rng.randrange(len(data))
    return data[:k] + bytes([data[k] ^ (1 << rng.randrange(8))]) + data[k + 1:]


def fuzz_run_folders(seed: int) -> dict:
    """Damage a finished run folder in many ways and resume it: each resume must recover (same table as the
    undamaged run) or stop with a PipelineError that names the damaged file."""
    from pipeline.criteria import Criteria
    from pipeline.errors import PipelineError
    from pipeline.generate import generate
    from pipeline.options import Runner, Sampling

    options = dict(sampling=Sampling(strings=tuple(GIVEN)), criteria=Criteria(train_data=None, known_materials=False),
                   runner=Runner(workers=1, progress=False))
    rng = random.Random(seed)
    tally = Tally()
    cases = []
    with tempfile.TemporaryDirectory(prefix="slices-fuzz-") as tmp:
        reference = Path(tmp) / "reference"
        expected = [(r["index"], r["status"]) for r in generate(out=reference, **options).rows]
        for k, (label, name, change) in enumerate(tqdm(_damages(rng), desc="run folders", unit="case")):
            out = Path(tmp) / f"case{k}"
            shutil.copytree(reference, out)
            path = out / name
            if change is None:
                path.unlink()
            else:
                path.write_bytes(change(path.read_bytes() if path.exists() else b""))
            result = {}

            def resume():
                try:
                    result["rows"] = generate(out=out, **options).rows
                except PipelineError as exc:
                    if name not in str(exc):
                        raise RuntimeError(f"the PipelineError does not name {name}: {exc}") from None
                    raise

            outcome = tally.run(label, resume)
            if outcome == "accepted":
                tally.counts["accepted"] -= 1
                got = [(r["index"], r["status"]) for r in result["rows"]]
                outcome = "recovered" if got == expected else "wrong_output"
                tally.note(outcome, label, None if got == expected else f"table {got} instead of {expected}")
            cases.append({"case": label, "outcome": outcome,
                          **({"message": tally.last_message[:300]} if outcome == "project_error" else {})})
            shutil.rmtree(out)
    summary = tally.summary()
    summary["recovered"] = tally.counts.get("recovered", 0)
    summary.pop("accepted")
    summary["wrong_output"] = tally.counts.get("wrong_output", 0)
    summary["cases"] = cases
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strings", type=int, default=12000)
    parser.add_argument("--structures", type=int, default=150)
    parser.add_argument("--inputs", type=int, default=400, help="crystals as users have them (Atoms, paths, ...)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    warm_up_assess()
    start = time.perf_counter()
    result = {
        "seed": args.seed,
        "hang_limit_s": HANG_SECONDS,
        "strings": fuzz_strings(args.strings, random.Random(args.seed)),
        "structures": fuzz_structures(args.structures, args.seed),
        "structure_inputs": fuzz_structure_inputs(args.inputs, args.seed),
        "arguments": fuzz_arguments(),
        "run_folders": fuzz_run_folders(args.seed),
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["machine"] = platform.processor() or platform.machine()
    result["python"] = platform.python_version()
    sections = [("strings (parse + canonical)", result["strings"]["campaign"]),
                ("strings: slices canonical command", result["strings"]["cli_canonical"]),
                ("structures: encode", result["structures"]["encode"]),
                ("structures: check", result["structures"]["check"]),
                ("structures: assess", result["structures"]["assess"]),
                *((f"structure inputs: {name}", result["structure_inputs"][name])
                  for name in ("to_structure", "encode", "check", "assess", "cli_encode", "cli_assess")),
                ("arguments (API + CLI)", result["arguments"]),
                ("damaged run folders", result["run_folders"])]
    totals = Counter()
    print(f"\n{'section':36s} {'inputs':>7s} {'accepted':>9s} {'project':>8s} {'other':>6s} {'hang':>5s} {'wrong':>6s}")
    for name, s in sections:
        accepted = s.get("accepted", s.get("recovered", 0))
        print(f"{name:36s} {s['inputs']:7d} {accepted:9d} {s['project_error']:8d} {s['other_exception']:6d} "
              f"{s['hang']:5d} {s.get('wrong_output', 0):6d}")
        for key in ("inputs", "project_error", "other_exception", "hang", "wrong_output"):
            totals[key] += s.get(key, 0)
    result["totals"] = dict(totals)
    print(f"{'total':36s} {totals['inputs']:7d} {'':9s} {totals['project_error']:8d} {totals['other_exception']:6d} "
          f"{totals['hang']:5d} {totals['wrong_output']:6d}   ({result['seconds']} s)")
    for name, s in sections:
        for outcome, examples in s["examples"].items():
            if outcome in ("other_exception", "hang", "wrong_output"):
                print(f"  {name} / {outcome}:", *examples[:5], sep="\n    ")
    out = HERE / "results" / "fuzz.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
