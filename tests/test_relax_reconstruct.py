"""relax.reconstruct: bad input raises the project's own error; the full pipeline runs the real engines."""

from __future__ import annotations

import numpy as np
import pytest

import slices
from relax import REASON_CODES, STAGES, Reconstruction, RelaxError, reconstruct
from tests.relax_support import STRICT, require_model, rock_salt

NACL = slices.parse(slices.encode(rock_salt()))


@pytest.mark.parametrize(
    "species,edges,images,needle",
    [
        (["Na", "Cl"], [[0, 1]], [[0, 0]], "images must have shape"),
        (["Na", "Cl"], [[0, 1], [0, 1]], [[0, 0, 0]], "2 edges but 1 image"),
        (["Na", "Xx"], [[0, 1]], [[0, 0, 0]], "'Xx' is not a chemical element"),
        (["Na", "Cl"], [[0, 5]], [[0, 0, 0]], "outside 0..1"),
        ([], [[0, 1]], [[0, 0, 0]], "non-empty"),
        (["Na", "Cl"], [[0, 1]], [[0.5, 0, 0]], "integers"),
    ],
)
def test_bad_input_raises_relax_error(species, edges, images, needle):
    with pytest.raises(RelaxError) as info:
        reconstruct(species, edges, images)
    assert info.value.reason == "bad_input"
    assert needle in str(info.value)
    assert isinstance(info.value, slices.SlicesError)


@pytest.mark.parametrize(
    "edges,images,needle",
    [
        ([[0, 0]], [[1, 0, 0]], "1D"),  # a chain
        ([[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], "2D"),  # a layer
        ([[0, 0]], [[0, 0, 0]], "itself in the same cell"),
    ],
)
def test_non_3d_graph_raises(edges, images, needle):
    with pytest.raises(RelaxError) as info:
        reconstruct(["C"], edges, images)
    assert info.value.reason == "not_embeddable" and needle in str(info.value)


def test_disconnected_graph_raises():
    edges = [[0, 0], [0, 0], [0, 0], [1, 1], [1, 1], [1, 1]]
    images = [[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 2
    with pytest.raises(RelaxError) as info:
        reconstruct(["C", "C"], edges, images)
    assert info.value.reason == "not_embeddable" and "separate pieces" in str(info.value)


@pytest.mark.parametrize(
    "options,needle",
    [
        (dict(seed=-5), "seed must be from 0"),
        (dict(seed=1.5), "seed must be a whole number"),
        (dict(time_limit=-1.0), "time_limit"),
        (dict(time_limit=False), "time_limit"),
        (dict(time_limit=float("nan")), "time_limit"),
        (dict(gfnff_time_limit=-1.0), "gfnff_time_limit"),
    ],
)
def test_bad_seed_or_time_limit_is_bad_input(options, needle):
    with pytest.raises(RelaxError) as info:
        reconstruct(NACL.species, NACL.edges, NACL.images, **options)
    assert info.value.reason == "bad_input" and needle in str(info.value)


def test_unknown_stage_raises():
    with pytest.raises(RelaxError, match="stages must start"):
        reconstruct(NACL.species, NACL.edges, NACL.images, stages=("potential",))


def test_full_pipeline_on_rock_salt_with_real_engines():
    require_model()
    # a limit no loaded machine misses: the test is about the stages, not about speed
    r = reconstruct(NACL.species, NACL.edges, NACL.images, stages=STAGES, time_limit=1800.0, gfnff_time_limit=300.0)
    assert isinstance(r, Reconstruction)
    assert r.status == "ok", r.message
    assert set(r.stage_structures) == {"placement", "gfnff", "potential"}
    assert all(r.stage_times[s] >= 0 for s in ("placement", "gfnff", "potential"))
    assert r.energy_per_atom is not None and -4.0 < r.energy_per_atom < -3.0  # PBE NaCl: about -3.4 eV/atom
    volume = r.structure.volume / len(r.structure)
    assert 21.5 < volume < 25.0, f"relaxed NaCl volume {volume:.2f} A^3/atom (PBE about 23)"
    assert STRICT.fit(rock_salt(), r.structure)
    # the potential relaxed both earlier geometries and kept the lower final energy
    assert set(r.potential_energies) == {"placement", "gfnff"}
    assert r.potential_start == min(r.potential_energies, key=r.potential_energies.get)
    assert r.energy_per_atom == pytest.approx(min(r.potential_energies.values()), abs=1e-9)


def test_unknown_optimizer_raises():
    with pytest.raises(RelaxError, match="optimizer must be one of") as info:
        reconstruct(NACL.species, NACL.edges, NACL.images, optimizer="SGD")
    assert info.value.reason == "bad_input"
    with pytest.raises(RelaxError, match="fmax must be a positive"):
        reconstruct(NACL.species, NACL.edges, NACL.images, fmax=0.0)


def test_reconstruct_is_deterministic():
    a = reconstruct(NACL.species, NACL.edges, NACL.images, stages=("placement",), seed=4)
    b = reconstruct(NACL.species, NACL.edges, NACL.images, stages=("placement",), seed=4)
    assert np.array_equal(a.structure.lattice.matrix, b.structure.lattice.matrix)
    assert np.array_equal(a.structure.frac_coords, b.structure.frac_coords)


def test_missing_model_is_a_coded_failure():
    r = reconstruct(NACL.species, NACL.edges, NACL.images, stages=("placement", "potential"),
                    potential="No-Such-Model-PES")
    assert r.status == "model_missing" and "SLICES_MODEL_DIR" in r.message
    assert r.structure is r.stage_structures["placement"]  # the stage-1 structure is still there


def test_time_limit_gives_timeout():
    r = reconstruct(NACL.species, NACL.edges, NACL.images, time_limit=0.0)
    assert r.status == "timeout" and r.status in REASON_CODES


def test_collapsed_cell_is_refused_before_the_potential_evaluates_it():
    require_model()
    from ase import Atoms

    from relax.driver import relax_atoms
    from relax.potential import calculator

    # (one evaluation of such a cell took 75 s and 12 GB before the guard)
    atoms = Atoms(numbers=[27, 28, 78, 78], cell=np.eye(3) * 0.8,
                  scaled_positions=np.random.default_rng(0).random((4, 3)), pbc=True)
    atoms.calc = calculator()
    with pytest.raises(RelaxError, match="collapsed") as info:
        relax_atoms(atoms)
    assert info.value.reason == "potential_failed"


def test_cell_that_gfnff_collapses_still_reconstructs():
    # CoNiPt2 (mp-1226004): GFN-FF squeezed it to 0.12 A^3/atom and the potential then ran out of time; now the
    # collapse is refused (stage 2 fails or is rejected) and the potential relaxes the placement
    require_model()
    string = ("Co Ni Pt Pt 0 0 o+o 0 0 +oo 0 2 --o 0 2 -oo 0 2 o-o 0 2 ooo 0 3 --- 0 3 -o- 0 3 o-- 0 3 oo- 1 1 o+o "
              "1 1 +oo 1 2 --o 1 2 -oo 1 2 o-o 1 2 ooo 1 3 --o 1 3 -oo 1 3 o-o 1 3 ooo 2 2 o+o 2 2 +oo 3 3 o+o 3 3 +oo")
    from slices.graph import parse

    g = parse(string)
    r = reconstruct(g.species, g.edges, g.images, time_limit=1800.0, stages=STAGES)
    assert r.status == "ok", r.message
    assert r.structure.volume / len(r.structure) > 10.0  # metals: about 13-15 A^3/atom
