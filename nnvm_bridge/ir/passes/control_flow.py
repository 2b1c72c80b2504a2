"""Lowering control flow for emitters without it: ``if`` to a select, ``loop`` with a known trip count unrolled.

- ``if``: both branches are inlined and ``where`` picks the taken one's values (the branches must give the
  same shapes; the other branch is computed too, which is only a cost).
- ``loop`` whose trip count is known (the importer's ``trip_count``, or the length shape inference gives its
  scan outputs once the input shapes are bound) and at most ``max_unroll``: the body is inlined once per
  iteration and the scan elements are stacked.
A node nested in a body is lowered once its enclosing body has been inlined.  What cannot be lowered raises
the emitter's UnsupportedOperatorError naming the node and what to do, or, with ``keep=True`` (an emitter
with control flow of its own, such as Relax), stays in the graph as it is.
"""
from __future__ import annotations

import numpy as np

from ...errors import BridgeError, UnsupportedOperatorError, unsupported_feature
from ..control import body_inputs, loop_layout
from ..graph import Entry, Graph, Node, variable
from ..names import unique_name
from ..symbolic import parse_dim
from .fold import fold_constants
from .infer import infer_shape, infer_type
from .rewrite import rewrite

MAX_UNROLL = 256
_MAX_DEPTH = 8


def has_control_flow(graph: Graph) -> bool:
    return any(n.subgraphs for n in graph.op_nodes())


def lower_control_flow(graph: Graph, params=None, *, shape=None, max_unroll: int = MAX_UNROLL,
                       direction: str = "this emitter", keep: bool = False):
    """Return ``(graph, params)`` without ``if``/``loop`` nodes (see the module doc); with ``keep``, the nodes
    that cannot be lowered stay."""
    params = dict(params or {})
    for _ in range(_MAX_DEPTH):
        left = _count_control(graph)
        if not left:
            return graph, params
        graph, params = fold_constants(graph, params, shape=shape)  # binds trip counts that follow from shapes
        graph, params = _lower_once(graph, params, shape, max_unroll, direction, keep)
        if keep and _count_control(graph) >= left:
            break
    return fold_constants(graph, params, shape=shape)


def _count_control(graph):
    return sum(1 for n in graph.op_nodes() if n.subgraphs)


def _lower_once(graph, params, shape, max_unroll, direction, keep):
    try:
        g = infer_type(infer_shape(graph, shape=shape, params=params), params=params)
    except BridgeError:
        g = None
    names = {n.name for n in graph.nodes} | set(params)
    new_params = {}

    def visit(node, inputs, rw):
        try:
            if node.op == "if":
                return _select(node, inputs, g, names, direction)
            if node.op == "loop":
                return _unroll(node, inputs, params, names, new_params, max_unroll, direction)
        except UnsupportedOperatorError:
            if not keep:
                raise
        return None
    out = rewrite(graph, visit)
    params.update(new_params)
    return out, params


def inline_body(body: Graph, values, names: set, prefix: str) -> list:
    """Copies of ``body``'s nodes computing its outputs from ``values`` (one entry per formal input)."""
    bound = dict(zip(body_inputs(body), values))
    mapped = {}
    for n in body.nodes:
        if n.is_variable:
            if n.name in bound:
                mapped[id(n)] = bound[n.name]
            continue
        copy = Node(n.op, unique_name(f"{prefix}{n.name}", names), [_get(mapped, e) for e in n.inputs], n.attrs,
                    subgraphs=n.subgraphs)
        mapped[id(n)] = Entry(copy, 0)
        mapped[(id(n), "node")] = copy
    return [_get(mapped, e) for e in body.outputs]


def _get(mapped, e):
    if e.node.is_variable:
        return mapped[id(e.node)]
    return Entry(mapped[(id(e.node), "node")], e.index)


def _select(node, inputs, g, names, direction):
    if g is None:
        raise _error(node, "a condition known only at run time, with unknown shapes", direction)
    then = inline_body(node.subgraphs[0], inputs[1:], names, f"{node.name}_then_")
    other = inline_body(node.subgraphs[1], inputs[1:], names, f"{node.name}_else_")
    outs = []
    for k, (t, e) in enumerate(zip(then, other)):
        shape = g.attrs["shape"][g.entry_id(Entry(node, k))]
        dtype = g.attrs["dtype"][g.entry_id(Entry(node, k))]
        if shape is None or any(not isinstance(d, int) and str(d).startswith(f"{node.name}_out") for d in shape):
            raise _error(node, "branches whose outputs differ in shape, with a condition known only at run time",
                         direction)
        cond = Node("cast", unique_name(f"{node.name}_cond", names), [inputs[0]], {"dtype": dtype})
        cond = Node("reshape", unique_name(f"{node.name}_cond", names), [cond[0]],
                    {"shape": str(tuple([1] * len(shape))) if shape else "()"})
        zeros = Node("zeros_like", unique_name(f"{node.name}_zeros", names), [t])
        mask = Node("broadcast_add", unique_name(f"{node.name}_mask", names), [zeros[0], cond[0]])
        outs.append(Entry(Node("where", unique_name(f"{node.name}_out{k}", names), [mask[0], t, e]), 0))
    return outs


def _trips(node, params):
    """The loop's iteration count when it is known and fixed: ``trip_count`` says the loop runs its full
    count, which is an int there or (once folding bound the shapes) the constant trip-count input."""
    from ...ops import node_attrs

    attrs = node_attrs(node)
    if attrs.trip_count is None:
        return None
    d = parse_dim(attrs.trip_count)
    if isinstance(d, int):
        return d
    m = node.inputs[0].node
    if m.is_variable and m.name in params and np.asarray(params[m.name]).size == 1:
        return int(np.asarray(params[m.name]).reshape(-1)[0])
    return None


def _unroll(node, inputs, params, names, new_params, max_unroll, direction):
    from ...ops import node_attrs

    trips = _trips(node, params)
    if trips is None:
        raise _error(node, "a trip count known only at run time (a data-dependent loop); give the symbolic input "
                           "dims values with shape={input: dims} where the count follows from a shape", direction)
    if trips > max_unroll or trips < 1:
        raise _error(node, f"{trips} iterations (this emitter unrolls loops of 1 to {max_unroll})", direction)
    n_carried, _, n_scan = loop_layout(node, node_attrs(node))
    cond, carried, captured = inputs[1], inputs[2:2 + n_carried], inputs[2 + n_carried:]
    scans = [[] for _ in range(n_scan)]
    iteration_shape = _iteration_shape(node.subgraphs[0])
    for k in range(trips):
        it = unique_name(f"{node.name}_iteration{k}", names)
        new_params[it] = np.array(k, dtype=np.int64).reshape(iteration_shape)
        outs = inline_body(node.subgraphs[0], [Entry(variable(it), 0), cond] + carried + captured, names,
                           f"{node.name}_{k}_")
        cond, carried = outs[0], outs[1:1 + n_carried]
        for acc, x in zip(scans, outs[1 + n_carried:]):
            acc.append(Entry(Node("expand_dims", unique_name(f"{node.name}_{k}_scan", names), [x], {"axis": "0"}), 0))
    stacked = [acc[0] if len(acc) == 1 else
               Entry(Node("concatenate", unique_name(f"{node.name}_scan", names), acc,
                          {"axis": "0"}), 0) for acc in scans]
    return list(carried) + stacked


def _iteration_shape(body):
    """The shape the iteration number gets as a constant: (1,), the importer's form of a 0-d constant (MXNet
    has no 0-d arrays), unless the body indexes with it (``take`` of a 0-d index drops the axis)."""
    it = body_inputs(body)[0]
    indexes = any(n.op == "take" and n.inputs[1].node.is_variable and n.inputs[1].node.name == it
                  for n in body.op_nodes())
    return () if indexes else (1,)


def _error(node, what, direction):
    return unsupported_feature(node.op, node.name, what, direction=direction)
