"""Routes of the reconstruction (``relax.routes``): chosen by cell size, named, or overridden by explicit stages."""

from __future__ import annotations

import numpy as np
import pytest

from relax import reconstruct
from relax.errors import RelaxError
from relax.routes import FAST_MAX_ATOMS, LARGE_ROUTE, ROUTE_NAMES, ROUTES, route_for


def _cell(n_atoms: int, *extra: str) -> list[str]:
    return [*extra, *["Zn"] * (n_atoms - len(extra))]


def test_auto_route_is_fast_up_to_mp20_size():
    assert route_for(_cell(1)) is ROUTES["fast"]
    assert route_for(_cell(FAST_MAX_ATOMS, "C", "H")) is ROUTES["fast"]
    assert route_for(_cell(FAST_MAX_ATOMS + 1, "C")) is ROUTES[LARGE_ROUTE]
    assert ROUTES["fast"].stages == ("placement", "potential") and ROUTES["fast"].fmax == 0.2
    assert ROUTES["full"].stages == ("placement", "gfnff", "potential") and ROUTES["full"].fmax == 0.1


def test_fast_route_relaxes_with_bfgs_and_the_others_with_fire():
    assert ROUTES["fast"].optimizer == "BFGS" and ROUTES["fast"].alpha == 35.0
    assert ROUTES["large"].optimizer == ROUTES["full"].optimizer == "FIRE"


def test_auto_route_of_large_organic_cells_is_the_tighter_fast_route():
    """Organic cells over 20 atoms (frameworks, organic salts) keep the fast stages with the tighter criterion."""
    large = route_for(_cell(FAST_MAX_ATOMS + 1, "C", "H", "O"))
    assert large is ROUTES["large"] and route_for(np.array(_cell(400, "C"))) is large
    assert large.stages == ROUTES["fast"].stages and large.fmax == 0.1 < ROUTES["fast"].fmax


def test_auto_route_of_large_inorganic_cells_stays_fast():
    assert route_for(_cell(FAST_MAX_ATOMS + 1, "O", "Si")) is ROUTES["fast"]
    assert route_for(_cell(400, "Cl", "Ca")) is ROUTES["fast"]


def test_cli_route_choices_are_the_route_names():
    from pipeline.cli.codec import ROUTES as CLI_ROUTES

    assert tuple(CLI_ROUTES) == ROUTE_NAMES


def test_named_routes_ignore_size():
    assert route_for(_cell(3), "full") is ROUTES["full"]
    assert route_for(_cell(400, "C"), "fast") is ROUTES["fast"]
    assert route_for(_cell(3), "large") is ROUTES["large"]


@pytest.mark.parametrize("name", ["slow", "", None, 3])
def test_unknown_route_is_bad_input(name):
    with pytest.raises(RelaxError, match="route must be one of") as info:
        route_for(_cell(4), name)
    assert info.value.reason == "bad_input"
    assert "auto" in ROUTE_NAMES


def _rock_salt_graph():
    species = ["Na", "Cl"]
    edges = np.array([[0, 1]] * 6)
    images = np.array([[0, 0, 0], [-1, 0, 0], [0, -1, 0], [0, 0, -1], [-1, -1, 0], [-1, 0, -1]])
    return species, edges, images


def test_reconstruct_refuses_an_unknown_route_before_any_work():
    with pytest.raises(RelaxError) as info:
        reconstruct(*_rock_salt_graph(), route="slow")
    assert info.value.reason == "bad_input"


def test_explicit_stages_override_the_route_and_are_reported_as_custom():
    result = reconstruct(*_rock_salt_graph(), stages=("placement",))
    assert result.ok and result.route == "custom"
    assert list(result.stage_status) == ["placement"]


@pytest.mark.integration
def test_auto_route_of_a_small_cell_runs_the_fast_stages():
    result = reconstruct(*_rock_salt_graph())
    assert result.ok and result.route == "fast"
    assert list(result.stage_status) == ["placement", "potential"]


GA_CU2 = ("Ga Cu Cu 0 1 oo+ 0 1 o+o 0 1 o++ 0 1 +oo 0 1 +o+ 0 1 ++o 0 2 oo+ 0 2 o+o 0 2 o++ 0 2 +oo 1 2 -oo "
          "1 2 o-o 1 2 oo- 1 2 ooo")
"""A generated string (``slices generate --seed 11``) whose placement is far from a minimum: FIRE and BFGS end in
different minima (-3.755 and -3.832 eV/atom, ``benchmarks/results/optimizer.json``)."""


@pytest.mark.integration
def test_the_route_names_the_optimiser_unless_the_caller_does():
    """The fast route's BFGS is what runs by default (the same numbers as naming it); naming FIRE takes another
    path to another minimum."""
    from slices.decode import decode_report

    default = decode_report(GA_CU2, check_topology=False)
    named = decode_report(GA_CU2, optimizer="BFGS", check_topology=False)
    fire = decode_report(GA_CU2, optimizer="FIRE", check_topology=False)
    assert default.status == named.status == fire.status == "ok" and default.route == "fast"
    assert default.energy_per_atom == named.energy_per_atom
    assert default.structure.lattice.abc == named.structure.lattice.abc
    assert abs(fire.energy_per_atom - default.energy_per_atom) > 0.01
