"""Pictures for notebooks and reports: a crystal's unit cell in 3D and the labelled quotient graph of a string."""

from __future__ import annotations

import itertools

import numpy as np


def _colour(symbol: str):
    from ase.data import atomic_numbers
    from ase.data.colors import jmol_colors

    return jmol_colors[atomic_numbers[symbol]]


def plot_cell(structure, ax=None, title: str | None = None, size: float = 220.0, conventional: bool = False):
    """Draw the unit cell edges and the atoms (jmol colours, size by covalent radius) on a 3D matplotlib axis;
    ``conventional`` draws the conventional standard cell (spglib, symprec 0.1) instead of the cell as given."""
    import matplotlib.pyplot as plt
    from ase.data import atomic_numbers, covalent_radii

    if conventional:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        structure = SpacegroupAnalyzer(structure, symprec=0.1).get_conventional_standard_structure()

    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d")
    m = structure.lattice.matrix
    for a, b in itertools.product(itertools.product((0, 1), repeat=3), repeat=2):
        if sum(x != y for x, y in zip(a, b)) == 1 and a < b:
            p, q = np.array(a) @ m, np.array(b) @ m
            ax.plot(*zip(p, q), color="black", lw=0.7)
    symbols = [site.specie.symbol for site in structure]
    xyz = structure.cart_coords
    ax.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], s=[size * covalent_radii[atomic_numbers[s]] for s in symbols],
               c=[_colour(s) for s in symbols], edgecolors="black", linewidths=0.4, depthshade=False)
    for el in dict.fromkeys(symbols):
        ax.scatter([], [], [], c=[_colour(el)], edgecolors="black", label=el)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_box_aspect(np.ptp(np.vstack([xyz, m, np.zeros((1, 3)), m.sum(0)[None]]), axis=0) + 1e-6)
    ax.set_axis_off()
    ax.set_title(title or f"{structure.composition.reduced_formula} ({len(structure)} atoms)", fontsize=9)
    return ax


def plot_quotient_graph(graph, ax=None, title: str | None = None, seed: int = 0):
    """Draw a :class:`slices.SlicesGraph` as its quotient multigraph: one node per atom in the cell, one arc per
    bond, labelled with the bond's periodic image (``o`` = 0, ``+`` = +1, ``-`` = -1 along a, b, c)."""
    import matplotlib.pyplot as plt
    import networkx as nx

    from slices.graph import LABEL_OF

    if ax is None:
        ax = plt.figure(figsize=(5, 4)).add_subplot()
    g = graph.to_networkx()
    pos = nx.spring_layout(nx.Graph(g), seed=seed)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[_colour(g.nodes[v]["element"]) for v in g], edgecolors="black",
                           node_size=420)
    nx.draw_networkx_labels(g, pos, ax=ax, labels={v: f"{g.nodes[v]['element']}{v}" for v in g}, font_size=7)
    seen: dict[tuple[int, int], int] = {}
    for i, j, data in g.edges(data=True):
        k = seen.get((i, j), 0)
        seen[(i, j)] = k + 1
        label = "".join(LABEL_OF[int(x)] for x in data["image"])
        if i == j:  # a bond to the atom's own image: draw a small loop
            x, y = pos[i]
            r = 0.07 + 0.03 * k
            circle = plt.Circle((x, y + r), r, fill=False, lw=0.8, color="tab:gray")
            ax.add_patch(circle)
            ax.annotate(label, (x, y + 2 * r), fontsize=6, ha="center", color="tab:blue")
            continue
        rad = 0.15 * ((k + 1) // 2) * (1 if k % 2 else -1)
        nx.draw_networkx_edges(g, pos, edgelist=[(i, j)], ax=ax, connectionstyle=f"arc3,rad={rad}", arrows=True,
                               arrowstyle="-", edge_color="tab:gray", width=0.8)
        mid = (np.asarray(pos[i]) + np.asarray(pos[j])) / 2
        normal = np.array([pos[j][1] - pos[i][1], pos[i][0] - pos[j][0]])  # matplotlib arc3: bulge along (dy, -dx)
        ax.annotate(label, mid + rad * normal / 2, fontsize=6, ha="center", color="tab:blue")
    ax.set_aspect("equal")  # arc bulges are set in display space: keep it proportional to data space
    ax.margins(0.15)
    ax.set_title(title or f"quotient graph: {graph.n_atoms} atoms, {graph.n_edges} bonds", fontsize=9)
    ax.set_axis_off()
    return ax


def plot_phase_diagram(composition, formation_energy_per_atom: float, label: str | None = None, ax=None):
    """The known-materials phase diagram (:mod:`screening.hull`) of the composition's chemical system with the
    candidate added (a red star): :func:`pipeline.phase_diagram.draw_phase_diagram` (readable labels, unstable known
    phases marked). Systems of 2-4 elements only (``ValueError`` otherwise). Without ``ax``, draws on a new pyplot
    figure (close it when done). Returns the matplotlib axes."""
    from pipeline.phase_diagram import draw_phase_diagram

    return draw_phase_diagram(composition, formation_energy_per_atom, label, ax)
