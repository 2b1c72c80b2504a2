"""The usual inference clean-up, as one call."""
from __future__ import annotations

from ...errors import BridgeError
from ..graph import Graph
from .dead_code import eliminate_dead_nodes
from .fold import fold_constants
from .resolve import resolve_reshape
from .simplify import simplify_inference

DEFAULT_PASSES = ("simplify_inference", "fold_constants", "eliminate_dead_nodes", "resolve_reshape")


def run_passes(graph: Graph, params=None, passes=DEFAULT_PASSES, *, shape=None):
    """Run the named passes in order; returns ``(graph, params)``.

    ``eliminate_dead_nodes`` also drops the parameters nothing uses any more.
    """
    params = dict(params or {})
    for name in passes:
        if name == "simplify_inference":
            graph = simplify_inference(graph)
        elif name == "fold_constants":
            graph, params = fold_constants(graph, params, shape=shape)
        elif name == "eliminate_dead_nodes":
            graph, unused = eliminate_dead_nodes(graph, params)
            for k in unused:
                params.pop(k, None)
        elif name == "resolve_reshape":
            graph = resolve_reshape(graph, shape=shape, params=params)
        else:
            raise BridgeError(f"unknown pass {name!r}; known: {', '.join(DEFAULT_PASSES)}")
    return graph, params
