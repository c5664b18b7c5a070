"""Stage 2: real periodic GFN-FF (the ``gfnff`` library) in a child process, crashes contained."""

from __future__ import annotations

import glob
import os
import tempfile

import numpy as np
import pytest

import slices
from relax import RelaxError, reconstruct
from relax.bondtable import bond_length
from relax.gfnff_stage import gfnff_relax
from relax.placement import place
from slices.encode import structure_graph
from tests.relax_support import STRICT, diamond, rock_salt, wurtzite


def test_gfnff_relaxes_silicon_towards_its_real_volume():
    """Placement from the MP-20 Si-Si median makes diamond Si far too large; GFN-FF brings it near 20 A^3/atom."""
    graph = slices.parse(slices.encode(diamond()))
    r = reconstruct(graph.species, graph.edges, graph.images, stages=("placement", "gfnff"))
    assert r.status == "ok" and r.stage_status["gfnff"] == "ok"
    before = r.stage_structures["placement"].volume / 2
    after = r.stage_structures["gfnff"].volume / 2
    assert before > 24.0  # the stage-1 cell really is too large, so GFN-FF has work to do
    assert 18.0 < after < 21.5, f"GFN-FF volume {after:.2f} A^3/atom"
    assert STRICT.fit(diamond(), r.stage_structures["gfnff"])


def test_gfnff_relax_returns_a_changed_finite_geometry():
    graph = slices.parse(slices.encode(rock_salt()))
    cell, frac = place(graph.species, graph.edges, graph.images)
    targets = np.array([bond_length(graph.species[i], graph.species[j]) for i, j in graph.edges.tolist()])
    numbers = graph.atomic_numbers
    new_cell, new_frac, energy = gfnff_relax(numbers, cell, frac, graph.edges, graph.images, targets)
    assert np.isfinite(energy) and energy < 0
    assert not np.allclose(new_cell, cell, atol=1e-3)  # it moved: the calculation really ran
    assert np.all(np.isfinite(new_frac))


@pytest.mark.parametrize("species,a", [(("Mg", "O"), 4.21), (("Li", "F"), 4.03)])
def test_gfnff_crash_is_contained(species, a):
    """The library aborts on 8-atom rock-salt cells of MgO and LiF; the crash is a coded failure, we keep going."""
    graph = structure_graph(rock_salt(a, species), reduce=False)  # the conventional 8-atom cell
    pid = os.getpid()
    r = reconstruct(graph.species, graph.edges, graph.images, stages=("placement", "gfnff"))
    assert os.getpid() == pid
    assert r.stage_status["gfnff"] == "gfnff_crashed"
    assert "crashed" in r.message
    assert r.status == "ok" and r.structure is r.stage_structures["placement"]
    assert STRICT.fit(rock_salt(a, species), r.structure)


def test_gfnff_crash_raises_own_error_when_called_directly():
    graph = structure_graph(rock_salt(4.21, ("Mg", "O")), reduce=False)
    cell, frac = place(graph.species, graph.edges, graph.images)
    targets = np.full(graph.n_edges, bond_length("Mg", "O"))
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "gfnff_*")))
    with pytest.raises(RelaxError) as info:
        gfnff_relax(graph.atomic_numbers, cell, frac, graph.edges, graph.images, targets)
    assert info.value.reason == "gfnff_crashed"
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "gfnff_*"))) <= before  # its work dir was removed
    assert isinstance(info.value, slices.SlicesError)


def test_gfnff_time_limit_is_enforced():
    graph = slices.parse(slices.encode(wurtzite()))
    cell, frac = place(graph.species, graph.edges, graph.images)
    targets = np.array([bond_length(graph.species[i], graph.species[j]) for i, j in graph.edges.tolist()])
    with pytest.raises(RelaxError) as info:
        gfnff_relax(graph.atomic_numbers, cell, frac, graph.edges, graph.images, targets, time_limit=1e-3)
    assert info.value.reason == "gfnff_failed" and "within" in str(info.value)


def test_gfnff_cpu_limit_is_enforced():
    # a budget of 1 CPU second against a relaxation that cannot converge (fmax 1e-12, 100,000 steps): the kernel
    # ends the child, however loaded the machine is (the wall limit is far away)
    from dataclasses import replace

    from relax.gfnff_stage import SETTINGS

    graph = slices.parse(slices.encode(wurtzite()))
    cell, frac = place(graph.species, graph.edges, graph.images)
    targets = np.array([bond_length(graph.species[i], graph.species[j]) for i, j in graph.edges.tolist()])
    endless = replace(SETTINGS, fmax=1e-12, steps=100_000)
    with pytest.raises(RelaxError) as info:
        gfnff_relax(graph.atomic_numbers, cell, frac, graph.edges, graph.images, targets, settings=endless,
                    time_limit=1.0, wall_limit=3600.0)
    assert info.value.reason == "gfnff_failed" and "CPU seconds" in str(info.value)


def test_gfnff_child_does_not_hang_after_torch_started_its_thread_pool():
    """A child forked from a process whose torch has run a parallel op used to hang in GFN-FF until its wall limit
    (every such run); the stage now forks with torch on one thread and restores the caller's thread count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = torch.randn(400, 400)
        float((x @ x).sum())  # starts torch's OpenMP pool in this process
        graph = slices.parse(slices.encode(rock_salt()))
        cell, frac = place(graph.species, graph.edges, graph.images)
        targets = np.array([bond_length(graph.species[i], graph.species[j]) for i, j in graph.edges.tolist()])
        # generous limits: a hang shows up as "did not finish", never a slow machine as a failure
        new_cell, _, energy = gfnff_relax(graph.atomic_numbers, cell, frac, graph.edges, graph.images, targets,
                                          time_limit=300.0, wall_limit=900.0)
        assert np.isfinite(energy) and not np.allclose(new_cell, cell, atol=1e-3)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(threads)
