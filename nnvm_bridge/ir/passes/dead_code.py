"""Dead-node elimination."""
from __future__ import annotations

from ..graph import Graph
from .rewrite import rewrite


def eliminate_dead_nodes(graph: Graph, params=None, *, keep_inputs: bool = True):
    """Drop nodes that no graph output depends on.

    Returns ``(graph, unused_param_names)``: the names in ``params`` that no variable of the
    new graph uses, sorted.  Unused *data* inputs (variables not in ``params``) are kept when
    ``keep_inputs`` is true, so that a model's input signature does not change.
    """
    params = params or {}

    def keep_variable(node) -> bool:
        return keep_inputs and node.name not in params

    g = rewrite(graph, keep_unused_variables=keep_variable)
    used = {n.name for n in g.variables}
    return g, sorted(k for k in params if k not in used)
