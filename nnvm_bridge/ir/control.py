"""Control flow in the IR: nodes that carry subgraphs (``if``, ``loop``).

A subgraph (a *body*) is a :class:`Graph` whose formal inputs are named, in order, by
``body.attrs["input_order"]``; its variables are those formals only (an outer-scope value or a
constant it uses is passed to the node as an explicit input), so a body never needs the outer
graph or its parameters.  The node binds its inputs to the formals by position:

- ``if``:   inputs ``(cond, *args)``; both branches take the formals ``args``; outputs = a branch's outputs.
- ``loop``: inputs ``(max_trip_count, cond, *carried, *captured)``; the body takes
  ``(iteration, cond, *carried, *captured)`` and returns ``(cond, *carried, *scan_elements)``; the node
  returns the final carried values and the scan elements stacked on a new leading axis (ONNX Loop).

The shape, dtype and numpy rules need the bodies, so they live here rather than in the op table's
per-node rules; the passes call them with themselves as the ``infer`` / ``run`` callback (this module
imports no pass, which keeps the import graph acyclic).
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidModelError, ShapeError
from .graph import Graph, Node, topo_order
from .symbolic import count_dim, parse_dim

CONTROL_OPS = ("if", "loop")


def body_inputs(body: Graph) -> list:
    """The formal input names of a body, in the order the node binds them."""
    return list(body.attrs.get("input_order", ()))


def make_body(outputs, formals) -> Graph:
    """A body over ``outputs`` whose formal inputs are the variable nodes ``formals`` (used or not)."""
    used = topo_order(outputs)
    reached = {id(n) for n in used}
    nodes = [f for f in formals if id(f) not in reached] + used
    return Graph(outputs, {"input_order": [f.name for f in formals]}, nodes=nodes)


def check_body(node: Node, body: Graph, n_inputs: int, file=None):
    """InvalidModelError unless ``body`` has ``n_inputs`` formals and no other variable."""
    formals = body_inputs(body)
    if len(formals) != n_inputs:
        raise InvalidModelError(f"a subgraph declares {len(formals)} inputs, the node binds {n_inputs}",
                                node=node.name, op=node.op, file=file)
    extra = sorted(v.name for v in body.variables if v.name not in set(formals))
    if extra:
        raise InvalidModelError(f"a subgraph uses {extra}, which are none of its declared inputs",
                                node=node.name, op=node.op, file=file)


def expected_subgraphs(node: Node) -> int:
    return {"if": 2, "loop": 1}.get(node.op, 0)


def _bind(body, values) -> dict:
    return dict(zip(body_inputs(body), values))


def join_shapes(a, b, fresh):
    """One shape for a value that is ``a`` on one path and ``b`` on another: equal dims stay, a dim that
    differs becomes the new symbol ``fresh(axis)``; None where the ranks differ."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else fresh(axis) for axis, (x, y) in enumerate(zip(a, b)))


def _body_shapes(body, shapes, infer):
    g = infer(body, {k: v for k, v in _bind(body, shapes).items() if v is not None})
    return [g.shape_of(e) for e in body.outputs]


def _body_types(body, dtypes, infer):
    g = infer(body, _bind(body, dtypes))
    return [g.dtype_of(e) for e in body.outputs]


def loop_layout(node: Node, attrs) -> tuple:
    """(number of carried values, number of captured inputs, number of scan outputs) of a loop node."""
    n_carried = attrs.num_carried
    return n_carried, len(node.inputs) - 2 - n_carried, attrs.num_scan


def trip_dim(node: Node, attrs):
    """The length of a loop's scan outputs: the importer's known trip count, else a new symbol."""
    if attrs.trip_count is not None:
        return parse_dim(attrs.trip_count)
    return count_dim(f"{node.name}_trips")


def infer_shapes(node: Node, attrs, in_shapes, infer) -> list:
    """Output shapes of a control node; ``infer(graph, shapes_by_name)`` is the shape pass."""
    def fresh(k):
        return lambda axis: count_dim(f"{node.name}_out{k}_dim{axis}")

    if node.op == "if":
        then_s = _body_shapes(node.subgraphs[0], in_shapes[1:], infer)
        else_s = _body_shapes(node.subgraphs[1], in_shapes[1:], infer)
        return [join_shapes(a, b, fresh(k)) for k, (a, b) in enumerate(zip(then_s, else_s))]
    body = node.subgraphs[0]
    n_carried, _, n_scan = loop_layout(node, attrs)
    carried = list(in_shapes[2:2 + n_carried])
    captured = list(in_shapes[2 + n_carried:])
    for _ in range(3):  # a carried value whose dims change per iteration gets symbols: one more pass settles
        outs = _body_shapes(body, [(), in_shapes[1]] + carried + captured, infer)
        joined = [join_shapes(a, b, fresh(k)) for k, (a, b) in enumerate(zip(carried, outs[1:1 + n_carried]))]
        if joined == carried:
            break
        carried = joined
    trips = trip_dim(node, attrs)
    scans = [None if s is None else (trips,) + tuple(s) for s in outs[1 + n_carried:1 + n_carried + n_scan]]
    return carried + scans


def infer_types(node: Node, attrs, in_types, infer) -> list:
    """Output dtypes of a control node; ``infer(graph, dtypes_by_name)`` is the dtype pass."""
    if node.op == "if":
        return _body_types(node.subgraphs[0], in_types[1:], infer)
    n_carried, _, _ = loop_layout(node, attrs)
    outs = _body_types(node.subgraphs[0], ["int64", in_types[1]] + list(in_types[2:]), infer)
    return outs[1:]


def _scalar(x, what, node):
    x = np.asarray(x)
    if x.size != 1:
        raise ShapeError(f"{what} must hold one value, got shape {x.shape}", node=node.name, op=node.op)
    return x.reshape(-1)[0]


def run(node: Node, attrs, ins, run_graph) -> list:
    """Evaluate a control node on numpy inputs; ``run_graph(graph, inputs_by_name)`` is the interpreter."""
    if node.op == "if":
        body = node.subgraphs[0 if bool(_scalar(ins[0], "the condition", node)) else 1]
        return list(run_graph(body, _bind(body, ins[1:])))
    body = node.subgraphs[0]
    n_carried, _, n_scan = loop_layout(node, attrs)
    trips = int(_scalar(ins[0], "the trip count", node))
    cond = np.asarray(ins[1])
    carried = list(ins[2:2 + n_carried])
    captured = list(ins[2 + n_carried:])
    scans = [[] for _ in range(n_scan)]
    i = 0
    while i < trips and bool(_scalar(cond, "the loop condition", node)):
        outs = run_graph(body, _bind(body, [np.array(i, dtype=np.int64), cond] + carried + captured))
        cond, carried = np.asarray(outs[0]), list(outs[1:1 + n_carried])
        for acc, x in zip(scans, outs[1 + n_carried:]):
            acc.append(np.asarray(x))
        i += 1
    return carried + [np.stack(acc) if acc else np.zeros((0,), dtype=np.float32) for acc in scans]


__all__ = ["CONTROL_OPS", "body_inputs", "make_body", "check_body", "infer_shapes", "infer_types", "run",
           "loop_layout", "trip_dim"]
