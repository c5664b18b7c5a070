"""Screening against known materials: the known hull, formation energies with the real potential, known/new,
symmetrised CIFs and ``screening.assess`` (real data of ../shared/data and real matgl models; no mocks)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import ScreeningError
from screening.known import KnownMatch
from shared_paths import MODEL_DIR, SHARED_DATA, use_shared_models

ROOT = Path(__file__).resolve().parents[1]
DEV = SHARED_DATA / "mp20" / "dev_1000.csv.gz"

pytestmark = pytest.mark.skipif(not DEV.is_file(), reason="shared data (../shared/data) not available")


@pytest.fixture(scope="module", autouse=True)
def environment():
    saved = {k: os.environ.get(k) for k in ("SLICES_MODEL_DIR", "SLICES_SHARED_DATA")}
    os.environ.setdefault("SLICES_SHARED_DATA", str(SHARED_DATA))
    if MODEL_DIR.is_dir():
        use_shared_models()
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def nacl(a: float = 5.69) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def dev_row(material_id: str) -> pd.Series:
    frame = pd.read_csv(DEV, keep_default_na=False).set_index("material_id")
    return frame.loc[material_id]


def dev_structure(material_id: str) -> Structure:
    return Structure.from_str(dev_row(material_id)["cif"], fmt="cif")


ERPT3, FEAGO2 = "mp-1913", "mp-18966"  # an ErRh3-like (AuCu3-type) intermetallic and a delafossite oxide (GGA+U)


# ---------------------------------------------------------------------------------------------- the known hull
def test_hull_reproduces_mp_for_mp_formation_energies():
    """MP's own formation energies placed on the known hull give MP's e_above_hull (same frame: MP-20 first)."""
    from screening.hull import known_hull

    hull = known_hull()
    frame = pd.read_csv(DEV, keep_default_na=False)
    frame = frame[frame["e_above_hull"] != ""].head(40)
    errors = [abs(hull.place(f, float(e)).e_above_hull - float(ref))
              for f, e, ref in zip(frame["pretty_formula"], frame["formation_energy_per_atom"], frame["e_above_hull"])]
    assert np.median(errors) < 1e-3 and np.mean(errors) < 0.02, errors


def test_hull_decomposition_and_sign():
    from screening.hull import known_hull

    hull = known_hull()
    above = hull.place("ErRh3", -0.3)  # no ErRh3 among the known entries: it sits between ErRh2 and Rh
    assert above.decomposition == "ErRh2 + Rh" and above.e_above_hull > 0.2
    below = hull.place("ErRh3", -0.9)
    assert below.decomposition == "ErRh2 + Rh"
    assert below.e_above_hull == pytest.approx(above.e_above_hull - 0.6, abs=1e-9)  # negative = below the hull
    assert hull.place("NaCl", -2.0).decomposition == "NaCl"
    assert hull.place("Na2Cl", -1.0).decomposition == "NaCl + Na"


@pytest.mark.parametrize("composition, energy, message", [
    ("Xx2", -1.0, "not a chemical element"),
    ("", -1.0, "not a chemical composition"),
    ("Og", 0.0, "no known material contains Og"),
    ("NaCl", float("nan"), "finite"),
])
def test_hull_bad_input_is_a_clear_error(composition, energy, message):
    from screening.hull import HullError, known_hull

    with pytest.raises(HullError, match=message):
        known_hull().place(composition, energy)
    assert issubclass(HullError, ValueError)


# ---------------------------------------------------------------------------------------------- symmetry
def test_symmetry_ladder_and_symmetrised_cif(tmp_path):
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.cif import CifParser

    from screening.symmetry import find_symmetry, write_cif

    exact = nacl().get_primitive_structure()
    assert find_symmetry(exact).space_group == "Fm-3m"
    noisy = exact.copy()
    noisy.perturb(0.01, min_distance=0.005)  # a relaxation leaves noise of this order
    sym = find_symmetry(noisy)
    assert (sym.space_group, sym.number) == ("Fm-3m", 225) and sym.symprec is not None
    write_cif(noisy, tmp_path / "nacl.cif", sym.symprec)
    text = (tmp_path / "nacl.cif").read_text()
    assert "Fm-3m" in text
    back = CifParser(tmp_path / "nacl.cif").parse_structures(primitive=False)[0]
    assert StructureMatcher().fit(back, noisy)

    rng = np.random.default_rng(0)
    random_cell = Structure(Lattice([[4.1, 0.3, 0.2], [0.1, 4.6, 0.4], [0.3, 0.2, 5.3]]), ["Na", "Cl", "K"],
                            rng.random((3, 3)))
    assert find_symmetry(random_cell).number == 1


# ---------------------------------------------------------------------------------------------- known / new
@pytest.fixture(scope="module")
def small_index():
    """A real index of three structure sets (MP-20 train pool and dev, Alexandria binaries) and every composition
    table."""
    from screening.known import KnownIndex

    return KnownIndex.build(structure_sets=("mp20/train_pool.csv.gz", "mp20/dev_1000.csv.gz",
                                            "structures/alexandria_binaries_1170.csv.gz"), progress=False)


def rocksalt(a: str, b: str, lattice: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5] * 3])


def test_known_crystals_are_found(small_index):
    found = small_index.lookup(dev_structure(ERPT3))
    assert (found.novelty, found.known_id, found.matched_by) == ("known", ERPT3, "structure")
    found = small_index.lookup(rocksalt("Mg", "O", 4.21))  # a training crystal: its shipped canonical string
    assert (found.novelty, found.known_id, found.matched_by) == ("known", "mp-1265", "string")
    strained = nacl(5.69 * 1.03)  # not the database geometry: found by the matcher
    strained.perturb(0.02)
    found = small_index.lookup(strained)
    assert (found.novelty, found.known_id, found.matched_by) == ("known", "mp-22862", "structure")


def test_known_composition_and_new(small_index):
    gaas = Structure.from_spacegroup("F-43m", Lattice.cubic(5.75), ["Ga", "As"], [[0, 0, 0], [0.25] * 3])
    assert small_index.lookup(gaas) == KnownMatch("known_composition")  # in the tables, not in these three sets
    odd = Structure(Lattice.cubic(4.0), ["Er", "Rh", "Rh", "Rh", "Li"],
                    [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5], [0.5, 0.5, 0.5]])
    assert small_index.lookup(odd) == KnownMatch("new")  # LiErRh3 is in no table


# ---------------------------------------------------------------------------------------------- assess
def test_assess_known_crystals_with_relaxation():
    """NaCl (built here), ErPt3 and FeAgO2 (dev): relaxed with the potential, e_above_hull within 0.05 eV/atom of
    MP's, nothing missing."""
    from screening import assess

    structures = [nacl(), dev_structure(ERPT3), dev_structure(FEAGO2)]
    mp = [0.0, float(dev_row(ERPT3)["e_above_hull"]), float(dev_row(FEAGO2)["e_above_hull"])]
    results = assess(structures, relax=True, novelty=False)
    for result, reference in zip(results, mp):
        assert result.reason is None, result.reason
        assert result.relaxed and result.energy_per_atom is not None
        assert abs(result.e_above_hull - reference) < 0.05, (result.formula, result.e_above_hull, reference)
        assert not result.below_known_hull
    assert results[0].decomposition == "NaCl" and results[0].space_group == "Fm-3m"
    assert results[0].band_gap > 3.0  # PBE about 5 eV
    assert results[0].band_gap_composition > 3.5  # the composition model (screening.gap_model)
    assert all(r.band_gap_composition is not None for r in results)
    assert results[1].space_group == "Pm-3m"
    assert results[0].formation_energy_per_atom == pytest.approx(-2.11, abs=0.06)  # MP: -2.11 eV/atom


def test_assess_gives_reasons_not_nans():
    from screening import assess

    disordered = nacl()
    disordered.replace_species({"Na": {"Na": 0.5, "K": 0.5}})
    polonium = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])  # an element the potential does not know
    results = assess([disordered, polonium], relax=True, novelty=False)
    assert results[0].reason.startswith("unusable") and "disordered" in results[0].reason
    assert results[0].e_above_hull is None and results[0].formation_energy_per_atom is None
    assert results[1].e_above_hull is None and "Po" in results[1].reason
    assert results[1].band_gap_composition is None and "composition band gap" in results[1].reason  # Po: unknown
    for r in results:
        for value in r.as_dict().values():
            assert not (isinstance(value, float) and math.isnan(value))


def test_assess_bad_arguments():
    from screening import assess

    with pytest.raises(ScreeningError, match="item 0: NaCl: no such file"):
        assess(["NaCl"])  # a string is a file path
    with pytest.raises(ScreeningError, match="item 1: expected a pymatgen Structure, an ASE Atoms or the path"):
        assess([nacl(), 3.0])
    with pytest.raises(ScreeningError, match="route"):
        assess([nacl()], route="guess")
    with pytest.raises(ScreeningError, match="energies has 2 items for 1 structures"):
        assess([nacl()], relax=False, energies=[-3.3, -3.3])


@pytest.mark.slow
def test_assess_with_the_full_known_index():
    """The full index of the shared data (built once, several minutes): known crystals come out known."""
    from screening import assess

    results = assess([nacl(), dev_structure(ERPT3)], relax=True)
    assert [r.novelty for r in results] == ["known", "known"]
    assert results[1].known_id == ERPT3


# ---------------------------------------------------------------------------------------------- report pieces
def test_kept_candidates_are_written_in_their_space_group(tmp_path):
    from pipeline.report import write_cifs
    from pipeline.rundir import RunDir

    run = RunDir(tmp_path / "run")
    structure = nacl().get_primitive_structure()
    rows = [{"index": 0, "status": "ok", "symprec": 0.1}, {"index": 1, "status": "ok", "symprec": None},
            {"index": 2, "status": "above_hull", "symprec": 0.1}]
    write_cifs(run, rows, {0: structure, 1: structure, 2: structure})
    assert "Fm-3m" in (run.root / rows[0]["cif"]).read_text()
    assert "P 1" in (run.root / rows[1]["cif"]).read_text() or "P1" in (run.root / rows[1]["cif"]).read_text()
    assert rows[2]["cif"] is None and len(list(run.cif_dir.glob("*.cif"))) == 2


def test_phase_diagram_with_the_candidate(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipeline.viz import plot_phase_diagram

    ax = plot_phase_diagram("ErRh3", -0.5)
    assert "ErRh3" in ax.get_title() and ax.get_legend() is not None  # the candidate is marked
    ax.figure.savefig(tmp_path / "pd.png")
    plt.close(ax.figure)
    assert (tmp_path / "pd.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="2-4 elements"):
        plot_phase_diagram("LiNaKRbCs", -0.1)
