"""The usual inference clean-up, as one call."""
from __future__ import annotations

from ...errors import BridgeError
from ..graph import Graph
from .batch_norm import fold_batch_norm
from .dead_code import eliminate_dead_nodes
from .fold import fold_constants
from .resolve import resolve_reshape
from .simplify import simplify_inference


def _eliminate_dead_nodes(graph, params, shape):
    graph, unused = eliminate_dead_nodes(graph, params)
    return graph, {k: v for k, v in params.items() if k not in unused}


# name -> (graph, params, shape) -> (graph, params)
PASSES = {
    "simplify_inference": lambda graph, params, shape: (simplify_inference(graph), params),
    "fold_constants": lambda graph, params, shape: fold_constants(graph, params, shape=shape),
    "eliminate_dead_nodes": _eliminate_dead_nodes,
    "resolve_reshape": lambda graph, params, shape: (resolve_reshape(graph, shape=shape, params=params), params),
    "fold_batch_norm": lambda graph, params, shape: fold_batch_norm(graph, params),
}
DEFAULT_PASSES = ("simplify_inference", "fold_constants", "eliminate_dead_nodes", "resolve_reshape")


def run_passes(graph: Graph, params=None, passes=DEFAULT_PASSES, *, shape=None):
    """Run the named passes (names of :data:`PASSES`) in order; returns ``(graph, params)``.

    ``eliminate_dead_nodes`` also drops the parameters nothing uses any more.
    """
    params = dict(params or {})
    for name in passes:
        if name not in PASSES:
            raise BridgeError(f"unknown pass {name!r}; known: {', '.join(PASSES)}")
        graph, params = PASSES[name](graph, params, shape)
    return graph, params
