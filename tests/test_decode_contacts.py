"""Strings with contact edges (layered crystals completed into 3D nets) decode back to the layered crystal."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

import slices
from slices.decode import decode_report
from tests.relax_support import LOOSE_NOSCALE, STRICT, require_model


def graphite() -> Structure:
    return Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(2.46, 6.70), ["C", "C"],
                                     [[0, 0, 0.25], [1 / 3, 2 / 3, 0.25]])


def molybdenite() -> Structure:
    return Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(3.16, 12.29), ["Mo", "S"],
                                     [[1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, 0.621]])


@pytest.mark.parametrize("make", [graphite, molybdenite], ids=["graphite", "MoS2"])
def test_layered_crystal_round_trips_through_its_contacts(make):
    require_model()
    original = make()
    string = slices.encode(original)
    assert "~" in string  # the layers are joined by contacts, not bonds
    report = decode_report(string)
    assert report.status == "ok", report.message
    assert report.topology_ok is True
    assert STRICT.fit(original, report.structure)
    assert LOOSE_NOSCALE.fit(original, report.structure), "the van der Waals gap was not kept"
