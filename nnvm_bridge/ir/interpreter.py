"""A numpy reference interpreter for IR graphs (a test oracle, not a runtime).

It evaluates each node with its op's ``compute`` rule; those rules are checked against MXNet
in tests/test_ir_compute.py.
"""
from __future__ import annotations

import numpy as np

from ..errors import BridgeError, ShapeError, UnsupportedOperatorError
from . import control
from .graph import Graph


def run_graph(graph: Graph, inputs=None, params=None) -> list:
    """Evaluate ``graph``: returns one numpy array per graph output.

    ``inputs`` and ``params`` map variable names to arrays; every variable must be in one of
    them.  Ops without a numpy rule are all reported at once.
    """
    from ..ops import get_op, node_attrs

    values = dict(params or {})
    values.update(inputs or {})
    missing_rule = {}
    for node in graph.op_nodes():
        op = get_op(node.op, node.name)
        if op.compute is None and not op.subgraphs:
            missing_rule.setdefault(node.op, []).append(node.name)
    if missing_rule:
        raise UnsupportedOperatorError(missing_rule, direction="the numpy interpreter")
    results = {}
    for node in graph.nodes:
        if node.is_variable:
            results[id(node)] = [np.asarray(values[node.name]) if node.name in values else None]
            continue
        ins = [results[id(e.node)][e.index] for e in node.inputs]
        for e, x in zip(node.inputs, ins):
            if x is None:
                raise ShapeError("no value given for this input", node=e.node.name, op="null")
        try:
            with np.errstate(all="ignore"):
                results[id(node)] = _evaluate(node, ins)
        except BridgeError as exc:
            raise ShapeError(exc.bare_message, node=node.name, op=node.op) from None
        except (ValueError, IndexError, TypeError) as exc:
            raise ShapeError(f"numpy evaluation failed: {exc}", node=node.name, op=node.op) from None
    outs = [results[id(e.node)][e.index] for e in graph.outputs]
    for e, x in zip(graph.outputs, outs):
        if x is None:
            raise ShapeError("no value given for this input", node=e.node.name, op="null")
    return outs


def _evaluate(node, ins) -> list:
    from ..ops import get_op, node_attrs

    op, attrs = get_op(node.op), node_attrs(node)
    if op.subgraphs:
        return control.run(node, attrs, ins, lambda g, values: run_graph(g, inputs=values))
    return list(op.compute(attrs, ins))
