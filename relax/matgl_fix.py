"""The matgl message-direction fix: checked on a tiny graph, applied only where the check shows the bug.

matgl 4.x ported its models from DGL to PyTorch Geometric. In 4.1.2 the node update of M3GNet and MEGNet sums
each edge's message into the edge's *source* atom, and TensorNet's embedding builds its edge message as
``[own atom, neighbour]``; the published weights were trained with DGL, which sums into the *destination* atom
(``[neighbour, own atom]`` as seen from the atom that receives it). For a crystal of one element both give the same
numbers; for every compound they do not (NaCl -2.53 instead of -3.37 eV/atom; ``docs/models.md``).

:func:`apply_matgl_fix` decides per layer, without any weights: it builds the layer with small seeded random
parameters, evaluates it on a two-element, two-atom graph (one bond in both directions, different features on the
two atoms and the two directions, so the two conventions give different outputs) and compares the layer's current
output with a reference written here for each convention:

- equal to the destination (DGL) reference: the layer is already right, it is left alone;
- equal to the source reference: the bug. The replacement is installed on matgl's class only when the installed
  matgl is one the fix was verified on (:data:`VERIFIED_MATGL_VERSIONS`), and the check is run again;
  on any other version it raises :class:`MatglFixError` instead of guessing;
- anything else: raises :class:`MatglFixError` (the layer changed in a way this fix does not know).

The replacement changes matgl's classes for the whole process, so any matgl model loaded afterwards (also by
plain ``matgl.load_model``) is corrected. ``relax.models.load_model`` applies the fix before building a model.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable
from dataclasses import dataclass

from relax.errors import MatglFixError

__all__ = [
    "DESTINATION",
    "SOURCE",
    "UNKNOWN",
    "VERIFIED_MATGL_VERSIONS",
    "MatglFixError",
    "LayerFix",
    "LAYER_FIXES",
    "apply_matgl_fix",
    "convention",
    "fix_layer",
    "original_method",
]

VERIFIED_MATGL_VERSIONS = ("4.1.2",)
"""matgl versions on which the replacement methods were checked against PBE energies and volumes."""

DESTINATION, SOURCE, UNKNOWN = "destination", "source", "unknown"
_TOLERANCE = 1e-6


# --- the layers' node updates in each convention -----------------------------------------------------------------


def _m3gnet_node_update(into: int):
    """M3GNet's node update (gated MLP of both atoms' features and the edge, times the radial weight) summed into
    ``edge_index[into]`` (1: destination, as trained; 0: source, matgl 4.1.2's port)."""

    def node_update_(self, edge_index, edge_feat, node_feat, rbf, u_per_edge, num_nodes):
        import torch
        from matgl.utils.maths import scatter_add

        src, dst = edge_index[0], edge_index[1]
        parts = [node_feat[src], node_feat[dst], edge_feat]
        if self.include_state:
            parts.append(u_per_edge)
        mess = self.node_update_func(torch.hstack(parts)) * self.node_weight_func(rbf)
        return scatter_add(mess, edge_index[into], dim_size=num_nodes, dim=0)

    return node_update_


def _megnet_node_update(into: int):
    """MEGNet's node update (MLP of the atom, the mean of its edges and the state) with edges averaged into
    ``edge_index[into]``."""

    def node_update_(self, edge_index, edge_feat, node_feat, u_per_node, num_nodes):
        import torch
        from matgl.utils.maths import scatter_mean

        ve = scatter_mean(edge_feat, edge_index[into], dim_size=num_nodes, dim=0)
        return self.node_func(torch.hstack([node_feat, ve, u_per_node]))

    return node_update_


def _tensornet_message(neighbour_first: bool):
    """TensorNet's embedding message for the atom it is summed into (``edge_index[0]``, whose features are ``x_i``):
    ``[neighbour, own]`` as trained (``neighbour_first``), ``[own, neighbour]`` in matgl 4.1.2's port."""

    def message(self, x_i, x_j, edge_attr, edge_weight, Iij, Aij, Sij):
        import torch

        zij = torch.cat([x_j, x_i] if neighbour_first else [x_i, x_j], dim=-1)
        z = self.emb2(zij)[..., None, None]
        return z * Iij, z * Aij, z * Sij

    return message


# --- the self-check: a two-element graph on which the conventions differ -----------------------------------------


def _graph():
    """Two atoms of different elements, one bond stored in both directions with different edge features."""
    import torch

    edge_index = torch.tensor([[0, 1], [1, 0]])
    edge_vec = torch.tensor([[1.1, 0.3, -0.2], [-1.1, -0.3, 0.2]])
    return edge_index, edge_vec


def _m3gnet_probe():
    import torch
    from matgl.layers._graph_convolution import M3GNetGraphConv

    nodes, edges, degree = 3, 2, 4
    layer = M3GNetGraphConv(
        include_state=False,
        edge_update_func=torch.nn.Linear(2 * nodes + edges, edges),
        edge_weight_func=torch.nn.Linear(degree, edges, bias=False),
        node_update_func=torch.nn.Linear(2 * nodes + edges, nodes),
        node_weight_func=torch.nn.Linear(degree, nodes, bias=False),
        state_update_func=None,
    )
    edge_index, _ = _graph()
    args = (edge_index, torch.randn(2, edges), torch.randn(2, nodes), torch.randn(2, degree), None, 2)
    return layer, lambda impl: impl(layer, *args)


def _megnet_probe():
    import torch
    from matgl.layers._graph_convolution import MEGNetGraphConv

    nodes, edges, state = 3, 2, 2
    layer = MEGNetGraphConv(
        edge_func=torch.nn.Linear(2 * nodes + edges + state, edges),
        node_func=torch.nn.Linear(nodes + edges + state, nodes),
        state_func=torch.nn.Linear(nodes + edges + state, state),
    )
    edge_index, _ = _graph()
    args = (edge_index, torch.randn(2, edges), torch.randn(2, nodes), torch.randn(2, state), 2)
    return layer, lambda impl: impl(layer, *args)


def _tensornet_probe():
    import torch
    from matgl.layers._embedding import TensorEmbedding

    degree = 4
    layer = TensorEmbedding(units=3, degree_rbf=degree, activation=torch.nn.SiLU(), ntypes_node=2, cutoff=5.0)
    edge_index, edge_vec = _graph()
    distance = torch.linalg.norm(edge_vec, dim=1)
    args = (torch.tensor([0, 1]), edge_index, torch.randn(2, degree), distance, edge_vec)

    def run(impl):
        # the embedding's forward calls self.message: bind the implementation under test on this instance only
        layer.message = types.MethodType(impl, layer)
        try:
            return layer(*args)[0]
        finally:
            del layer.message

    return layer, run


@dataclass(frozen=True)
class LayerFix:
    """One matgl layer method whose message direction is checked and, on a verified matgl, replaced."""

    name: str
    module: str
    attribute: str
    probe: Callable
    destination: Callable
    source: Callable

    def owner(self) -> type:
        """matgl's class that holds the method."""
        import importlib

        return getattr(importlib.import_module(self.module), self.name)


LAYER_FIXES: tuple[LayerFix, ...] = (
    LayerFix("M3GNetGraphConv", "matgl.layers._graph_convolution", "node_update_", _m3gnet_probe,
             _m3gnet_node_update(1), _m3gnet_node_update(0)),
    LayerFix("MEGNetGraphConv", "matgl.layers._graph_convolution", "node_update_", _megnet_probe,
             _megnet_node_update(1), _megnet_node_update(0)),
    LayerFix("TensorEmbedding", "matgl.layers._embedding", "message", _tensornet_probe,
             _tensornet_message(True), _tensornet_message(False)),
)


@contextlib.contextmanager
def _seeded():
    """Seeded random parameters and inputs that leave the caller's torch random state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


def convention(fix: LayerFix, implementation: Callable | None = None) -> str:
    """:data:`DESTINATION`, :data:`SOURCE` or :data:`UNKNOWN`: the message direction of ``implementation``
    (default: the method matgl's class has now), found on the two-element probe graph."""
    import torch

    implementation = implementation or getattr(fix.owner(), fix.attribute)
    with _seeded(), torch.no_grad():
        _, run = fix.probe()
        outputs = {label: run(impl) for label, impl in
                   ((DESTINATION, fix.destination), (SOURCE, fix.source), ("current", implementation))}
    if torch.allclose(outputs[DESTINATION], outputs[SOURCE], atol=_TOLERANCE):  # pragma: no cover - probe bug
        raise AssertionError(f"the {fix.name} probe graph does not separate the two conventions")
    for label in (DESTINATION, SOURCE):
        if torch.allclose(outputs["current"], outputs[label], atol=_TOLERANCE):
            return label
    return UNKNOWN


def _matgl_version() -> str:
    import matgl

    return str(matgl.__version__)


def fix_layer(fix: LayerFix, owner: type | None = None) -> str:
    """Check ``owner`` (default: matgl's class) and replace its method when it sums messages the wrong way.

    Returns ``"already correct"`` or ``"patched"``; raises :class:`MatglFixError` when the method is wrong on an
    unverified matgl version, or matches neither convention.
    """
    owner = owner or fix.owner()
    found = convention(fix, getattr(owner, fix.attribute))
    if found == DESTINATION:
        return "already correct"
    version = _matgl_version()
    if found == UNKNOWN:
        raise MatglFixError(
            f"matgl {version}: {fix.name}.{fix.attribute} matches neither message direction on the self-check "
            f"graph; this project cannot tell whether its energies are right (verified: matgl "
            f"{', '.join(VERIFIED_MATGL_VERSIONS)})"
        )
    if version not in VERIFIED_MATGL_VERSIONS:
        raise MatglFixError(
            f"matgl {version}: {fix.name}.{fix.attribute} sums messages into the source atom (wrong energies for "
            f"every compound with the published weights), and the fix was verified only on matgl "
            f"{', '.join(VERIFIED_MATGL_VERSIONS)}; install one of those (see docs/models.md)"
        )
    _REPLACED.setdefault((owner, fix.attribute), getattr(owner, fix.attribute))
    setattr(owner, fix.attribute, fix.destination)
    if convention(fix, getattr(owner, fix.attribute)) != DESTINATION:  # pragma: no cover - the replacement is ours
        raise MatglFixError(f"the replacement of {fix.name}.{fix.attribute} failed its own self-check")
    return "patched"


def original_method(fix: LayerFix, owner: type | None = None) -> Callable:
    """The method ``owner`` (default: matgl's class) had before :func:`fix_layer` replaced it (or has now)."""
    owner = owner or fix.owner()
    return _REPLACED.get((owner, fix.attribute), getattr(owner, fix.attribute))


def apply_matgl_fix() -> dict[str, str]:
    """Check every layer of :data:`LAYER_FIXES` and fix the wrong ones (see the module docstring).

    Returns ``{layer name: "already correct" | "patched"}``; the result of the first call is kept, so later calls
    cost nothing.
    """
    global _APPLIED
    if _APPLIED is None:
        _APPLIED = {fix.name: fix_layer(fix) for fix in LAYER_FIXES}
    return dict(_APPLIED)


_APPLIED: dict[str, str] | None = None
_REPLACED: dict[tuple[type, str], Callable] = {}
