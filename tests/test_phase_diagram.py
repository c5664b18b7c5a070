"""The static phase diagram of report.md (:mod:`pipeline.phase_diagram`): the known phases of a system as data, and
a drawing whose labels do not overlap. Fast tier: the known-materials tables only, no model."""

from __future__ import annotations

import pytest

from shared_paths import SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "known_materials").is_dir(),
                                reason="shared data (known_materials/) not available")


def test_known_system_lists_stable_and_unstable_phases_with_tie_lines():
    from pipeline.phase_diagram import known_system

    system = known_system(("Al", "Mo"))
    formulas = {p.formula: p for p in system.phases}
    assert {"Al", "Mo", "Al12Mo", "AlMo3"} <= set(formulas)
    assert formulas["Al"].stable and formulas["Al"].formation_energy == 0.0
    assert any(not p.stable and p.e_above_hull > 0 for p in system.phases)  # unstable known phases are kept
    stable = {k for k, p in enumerate(system.phases) if p.stable}
    assert system.tie_lines and all(a in stable and b in stable for a, b in system.tie_lines)
    for p in system.phases:
        assert abs(sum(p.fractions) - 1) < 1e-9


@pytest.mark.parametrize("formula, energy", [("Al5Mo2", -0.2), ("Li2MnO3", -1.9), ("LiFePO4", -2.0)])
def test_drawing_has_no_overlapping_labels_and_sane_fonts(formula, energy):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from pipeline.phase_diagram import draw_phase_diagram

    ax = draw_phase_diagram(formula, energy)
    try:
        renderer = ax.figure.canvas.get_renderer()
        notes = [t for t in ax.texts if t.get_text() and not t.get_text().startswith("no room")]
        assert any(t.get_text() == formula for t in notes)  # the candidate is labelled
        boxes = []
        for t in notes:
            t.update_positions(renderer) if hasattr(t, "update_positions") else None
            boxes.append(Text.get_window_extent(t, renderer))
        overlapping = [(notes[a].get_text(), notes[b].get_text()) for a in range(len(boxes))
                       for b in range(a + 1, len(boxes)) if boxes[a].overlaps(boxes[b])]
        assert not overlapping
        sizes = [t.get_fontsize() for t in notes] + [ax.xaxis.label.get_fontsize(), ax.title.get_fontsize()]
        assert max(sizes) <= 10
        assert any("unstable" in t.get_text() for t in ax.get_legend().get_texts())  # unstable phases: legend
    finally:
        plt.close(ax.figure)


def test_five_elements_are_refused():
    from periodicnet.errors import ArgumentError
    from pipeline.phase_diagram import draw_phase_diagram

    with pytest.raises(ArgumentError, match="2-4 elements"):
        draw_phase_diagram("LiNaKRbCs", -0.1)
