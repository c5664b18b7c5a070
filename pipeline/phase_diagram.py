"""The phase diagram of a candidate's chemical system: the known phases (:mod:`screening.hull`) as data, and a
readable static drawing of them with the candidate (used by ``report.md``; ``report.html`` draws the same data
interactively).

Why not pymatgen's ``PDPlotter``: its matplotlib style sets axis labels in very large type, draws the labels of
neighbouring phases on top of each other and leaves known unstable phases unlabelled. This drawing uses ordinary
font sizes, places every label where it overlaps no other (greedy, measured in display space) and marks unstable
known phases with hollow markers, labelled when there is room and counted in the legend otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from periodicnet.errors import ArgumentError

MAX_UNSTABLE_LABELS = 12  # unstable known phases labelled (closest to the hull first); the rest are in the legend


@dataclass(frozen=True)
class KnownPhase:
    """One known phase of a chemical system: its lowest formation energy and its distance to the known hull."""

    formula: str
    entry_id: str
    formation_energy: float  # eV/atom
    e_above_hull: float  # eV/atom, 0 for a stable phase
    fractions: tuple[float, ...]  # atomic fraction of each element of the system, in ``SystemDiagram.elements`` order

    @property
    def stable(self) -> bool:
        return self.e_above_hull <= 1e-9


@dataclass(frozen=True)
class SystemDiagram:
    """The known phases of a chemical system and the tie lines between stable phases (facet edges of the hull)."""

    elements: tuple[str, ...]
    phases: tuple[KnownPhase, ...]
    tie_lines: tuple[tuple[int, int], ...]  # indices into ``phases``


def system_elements(composition) -> tuple[str, ...]:
    """The sorted element symbols of a composition (formula string or pymatgen ``Composition``)."""
    from screening.hull import as_composition

    return tuple(sorted(el.symbol for el in as_composition(composition).elements))


def fractions(composition, elements: tuple[str, ...]) -> tuple[float, ...]:
    """Atomic fractions of ``composition`` over ``elements`` (in that order)."""
    from screening.hull import as_composition

    comp = as_composition(composition)
    return tuple(float(comp.get_atomic_fraction(el)) for el in elements)


def known_system(elements: tuple[str, ...]) -> SystemDiagram:
    """The known phases of the chemical system ``elements`` (2-4 elements) on the known-materials hull."""
    if not 2 <= len(elements) <= 4:
        raise ArgumentError(f"a phase diagram is drawn for 2-4 elements; {'-'.join(elements)} has {len(elements)}")
    from screening.hull import known_hull

    diagram = known_hull().phase_diagram(list(elements))
    phases, where = [], {}
    for entry in sorted(diagram.all_entries, key=lambda e: (fractions(e.composition, elements), e.energy_per_atom)):
        formula = _name(entry.composition)
        if formula in where:  # one point per formula (the hull keeps the lowest)
            continue
        where[formula] = len(phases)
        phases.append(KnownPhase(
            formula=formula, entry_id=str(entry.attribute or formula),
            formation_energy=float(diagram.get_form_energy_per_atom(entry)),
            e_above_hull=max(0.0, float(diagram.get_e_above_hull(entry))),
            fractions=fractions(entry.composition, elements)))
    lines = set()
    for facet in diagram.facets:
        vertices = sorted(where[_name(diagram.qhull_entries[k].composition)] for k in facet)
        lines.update((a, b) for n, a in enumerate(vertices) for b in vertices[n + 1:] if a != b)
    return SystemDiagram(elements=tuple(elements), phases=tuple(phases), tie_lines=tuple(sorted(lines)))


def _name(composition) -> str:
    """A phase's label: its reduced formula, or the element's symbol for an element ("Cl", not "Cl2")."""
    return composition.elements[0].symbol if len(composition.elements) == 1 else composition.reduced_formula


_TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
_TETRAHEDRON = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, np.sqrt(3) / 2, 0.0],
                         [0.5, np.sqrt(3) / 6, np.sqrt(2 / 3)]])


def plane_xy(fracs, energy: float, n_elements: int) -> tuple[float, float]:
    """Where a phase is drawn: (fraction of the second element, formation energy) for a binary, its barycentric
    point in a triangle for a ternary, an oblique view of its point in a tetrahedron for a quaternary."""
    f = np.asarray(fracs, dtype=float)
    if n_elements == 2:
        return float(f[1]), float(energy)
    if n_elements == 3:
        x, y = f @ _TRIANGLE
        return float(x), float(y)
    x, y, z = f @ _TETRAHEDRON
    return float(x + 0.35 * y), float(0.45 * y + z)  # a fixed oblique view that separates all four corners


def draw_phase_diagram(composition, formation_energy_per_atom: float, label: str | None = None, ax=None):
    """The known-materials phase diagram of the composition's chemical system (2-4 elements, else
    :class:`ArgumentError`) with the candidate as a red star; stable phases filled and joined by tie lines,
    unstable ones hollow. Without ``ax``, draws on a new pyplot figure (close it when done). Returns the axes."""
    from screening.hull import as_composition

    comp = as_composition(composition)
    elements = system_elements(comp)
    system = known_system(elements)
    n = len(elements)
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(7.6, 4.8)).add_subplot()
    name = label or f"{comp.reduced_formula} (candidate)"
    points = [plane_xy(p.fractions, p.formation_energy, n) for p in system.phases]
    for a, b in system.tie_lines:
        ax.plot(*zip(points[a], points[b]), color="0.35", lw=0.9, zorder=1)
    if n >= 3:  # the outline of the triangle / tetrahedron
        corners = [plane_xy(np.eye(n)[k], 0.0, n) for k in range(n)]
        for a in range(n):
            for b in range(a + 1, n):
                ax.plot(*zip(corners[a], corners[b]), color="0.75", lw=0.8, zorder=0)
    stable = [k for k, p in enumerate(system.phases) if p.stable]
    unstable = sorted((k for k, p in enumerate(system.phases) if not p.stable),
                      key=lambda k: system.phases[k].e_above_hull)
    ax.scatter([points[k][0] for k in stable], [points[k][1] for k in stable], s=36, color="tab:blue",
               edgecolors="black", linewidths=0.5, zorder=3, label=f"stable known phase ({len(stable)})")
    if unstable:
        ax.scatter([points[k][0] for k in unstable], [points[k][1] for k in unstable], s=28, facecolors="white",
                   edgecolors="tab:orange", linewidths=1.0, zorder=2, label=f"unstable known phase ({len(unstable)})")
    here = plane_xy(fractions(comp, elements), formation_energy_per_atom, n)
    ax.scatter([here[0]], [here[1]], marker="*", s=220, color="tab:red", edgecolors="black", linewidths=0.5,
               zorder=5, label=name)

    if n == 2:
        ys = [y for _, y in points] + [here[1], 0.0]
        pad = 0.08 * (max(ys) - min(ys) or 1.0)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(min(ys) - pad, max(ys) + 2.5 * pad)
        ax.set_xlabel(f"x in {elements[0]}$_{{1-x}}${elements[1]}$_x$", fontsize=9)
        ax.set_ylabel("formation energy (eV/atom)", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.axhline(0.0, color="0.8", lw=0.6, zorder=0)
    else:
        xs = [x for x, _ in points] + [here[0]]
        ys = [y for _, y in points] + [here[1]]
        ax.set_xlim(min(xs) - 0.12, max(xs) + 0.12)
        ax.set_ylim(min(ys) - 0.1, max(ys) + 0.12)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_axis_off()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)  # beside the plot
    e_hull = _candidate_e_hull(system, comp, formation_energy_per_atom)
    ax.set_title(f"{'-'.join(elements)}: {comp.reduced_formula} at {e_hull:+.3f} eV/atom vs the known hull",
                 fontsize=9)

    labels = [(here, comp.reduced_formula, {"color": "tab:red", "fontweight": "bold", "fontsize": 8}, True)]
    labels += [(points[k], system.phases[k].formula, {"fontsize": 8}, True) for k in stable]
    labels += [(points[k], f"{system.phases[k].formula} (+{system.phases[k].e_above_hull:.2f})",
                {"fontsize": 6.5, "color": "0.35"}, False) for k in unstable[:MAX_UNSTABLE_LABELS]]
    _place_labels(ax, labels)
    return ax


def _candidate_e_hull(system: SystemDiagram, comp, energy: float) -> float:
    """The candidate's energy above the known hull of ``system`` (eV/atom)."""
    from screening.hull import known_hull

    return known_hull().place(comp, energy).e_above_hull


_NEAR = [(0, 7), (0, -12), (8, 0), (-8, 0), (8, 8), (-8, 8), (8, -10), (-8, -10)]
_OFFSETS = _NEAR + [(round(r * np.cos(a)), round(r * np.sin(a)))  # farther out, with a leader line
                    for r in (22, 34, 48) for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]


def _place_labels(ax, labels) -> None:
    """Annotate each point with its text at the first offset where the text overlaps no earlier label, no marker of
    a labelled point and no legend, and stays inside the axes (a leader line joins a label set farther out); a
    label with no free place is left out and counted in a note under the axes."""
    figure = ax.figure
    quiet = logging.getLogger("matplotlib.axes._base")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        figure.canvas.draw()  # fixes the axes limits and the data -> display transform
        renderer = figure.canvas.get_renderer()
        from matplotlib.text import Text
        from matplotlib.transforms import Bbox

        frame = ax.get_window_extent(renderer)
        legend = ax.get_legend()
        placed = [legend.get_window_extent(renderer)] if legend is not None else []
        for xy, *_ in labels:
            x, y = ax.transData.transform(xy)
            placed.append(Bbox.from_extents(x - 4, y - 4, x + 4, y + 4))
        left_out = []
        for xy, text, style, always in labels:
            chosen = None
            for dx, dy in _OFFSETS:
                ha = "center" if dx == 0 else ("left" if dx > 0 else "right")
                va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
                arrow = None if (dx, dy) in _NEAR else {"arrowstyle": "-", "color": "0.6", "lw": 0.5}
                note = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, zorder=6,
                                   arrowprops=arrow, **style)
                note.update_positions(renderer)
                box = Text.get_window_extent(note, renderer).expanded(1.04, 1.1)  # the text, not its leader line
                inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                if inside and not any(box.overlaps(other) for other in placed):
                    chosen = box
                    break
                note.remove()
            if chosen is None:
                if always:
                    left_out.append(text)
            else:
                placed.append(chosen)
        if left_out:
            ax.text(0.0, -0.02, "no room to label: " + ", ".join(left_out), transform=ax.transAxes, fontsize=6.5,
                    va="top", wrap=True)
    finally:
        quiet.setLevel(level)
