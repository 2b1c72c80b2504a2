"""Constant folding with the op table's numpy ``compute`` rules."""
from __future__ import annotations

import warnings

import numpy as np

from ...errors import BridgeError
from .. import control
from ..graph import Entry, Graph, Node, variable
from ..interpreter import run_graph
from ..symbolic import is_static
from .rewrite import rewrite

MAX_FOLD_BYTES = 64 << 20
MAX_FOLD_TRIPS = 1 << 16
# Ops whose output is a bigger (or equal) copy of cheap information: folding them only grows
# the model, so they stay ops (their constant inputs are still folded).
GROWING_OPS = frozenset({"broadcast_to", "tile", "repeat", "ones_like", "zeros_like", "full_like", "expand_like",
                         "one_hot", "full", "zeros", "ones", "arange"})


def fold_constants(graph: Graph, params: dict, *, shape=None, max_bytes: int = MAX_FOLD_BYTES):
    """Evaluate op nodes whose inputs are all constants; return ``(graph, params)``.

    Constants are parameters, input-less ops (``full``, ``zeros``, ``arange`` ...) and, when the
    input shapes are known (``shape`` or ``__shape__`` hints), ``shape_of`` of any tensor.  A
    folded node becomes a new parameter variable named after it.  Nodes are left alone when
    their op has no ``compute``, mutates inputs, would produce more than ``max_bytes``, or only
    grows data (``broadcast_to``, ``tile``, ``*_like`` ...).  Parameters that folding leaves
    unused are dropped from the returned dict; the input dict is not modified.
    """
    from ...ops import get_op, node_attrs

    params = dict(params or {})
    known_shapes = _known_shapes(graph, shape, params)
    values = {}  # id(old node) -> list of output arrays (None where unknown)
    for node in graph.nodes:
        if node.is_variable:
            if node.name in params:
                values[id(node)] = [np.asarray(params[node.name])]
            continue
        op = get_op(node.op, node.name)
        if node.op == "shape_of":
            s = known_shapes.get((id(node.inputs[0].node), node.inputs[0].index))
            if s is not None:
                values[id(node)] = [np.array(s, dtype=node_attrs(node).dtype)]
            continue
        if (op.compute is None and not op.subgraphs) or op.mutate_inputs or op.internal:
            continue
        if not all(id(e.node) in values for e in node.inputs):
            continue
        ins = [values[id(e.node)][e.index] for e in node.inputs]
        outs = _evaluate(node, op, ins, max_bytes)
        if outs is not None:
            values[id(node)] = outs

    # A folded node's own name is free for its parameter; every surviving node keeps its name.
    taken = set(params) | {n.name for n in graph.nodes if n.is_variable or not _folds(n, values)}
    new_params = {}

    def materialise(node: Node):
        outs = values[id(node)]
        entries = []
        for k, arr in enumerate(outs):
            base = node.name if len(outs) == 1 else f"{node.name}_output{k}"
            name = _unique(base, taken)
            taken.add(name)
            new_params[name] = arr
            entries.append(Entry(variable(name), 0))
        return entries

    def visit(node: Node, inputs, rw):
        # A node has a value only if all its inputs do (or it is a shape_of of a known shape).
        # Generators and growing ops stay ops, to keep the model small; every other constant
        # node becomes a variable, and the unused ones disappear below.
        return materialise(node) if _folds(node, values) else None

    old_vars = {n.name for n in graph.variables}
    g = rewrite(graph, visit, keep_unused_variables=lambda n: n.name not in params and n.name not in new_params)
    used = {n.name for n in g.variables}
    out_params = {k: v for k, v in params.items() if k in used or k not in old_vars}
    out_params.update({k: v for k, v in new_params.items() if k in used})
    return g, out_params


def _folds(node, values) -> bool:
    return not (node.is_variable or id(node) not in values or node.op in GROWING_OPS or not node.inputs)


def _unique(base, taken) -> str:
    name = base if base not in taken else f"{base}_const"
    k = 1
    while name in taken:
        name, k = f"{base}_const{k}", k + 1
    return name


def _evaluate(node, op, ins, max_bytes):
    """Outputs of ``node`` on constant inputs, or None when it must not be folded."""
    from ...ops import node_attrs

    attrs = node_attrs(node)
    if op.infer_shape is not None:
        try:
            shapes = op.infer_shape(attrs, [tuple(x.shape) for x in ins])
        except (BridgeError, ValueError, TypeError, IndexError, ZeroDivisionError):
            return None
        itemsize = max([x.dtype.itemsize for x in ins] + [8])
        if any(s is not None and _size(s) * itemsize > max_bytes for s in shapes):
            return None
    if node.op == "loop" and int(np.asarray(ins[0]).reshape(-1)[0]) > MAX_FOLD_TRIPS:
        return None  # an unbounded while loop (ONNX Loop without a trip count) stays a loop
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if op.subgraphs:
                outs = control.run(node, attrs, ins, lambda g, values: run_graph(g, inputs=values))
            else:
                outs = op.compute(attrs, ins)
    except (BridgeError, ValueError, TypeError, IndexError, ZeroDivisionError, ArithmeticError, MemoryError):
        return None
    outs = [np.asarray(o) for o in outs]
    if any(o.nbytes > max_bytes for o in outs):
        return None
    return outs


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _known_shapes(graph, shape, params) -> dict:
    """(id(node), index) -> shape for every entry whose shape inference succeeds."""
    if not any(n.op == "shape_of" for n in graph.nodes):
        return {}
    from .infer import infer_shape

    try:
        g = infer_shape(graph, shape=shape, params=params)
    except BridgeError:
        return {}
    out = {}
    ptr = g.node_row_ptr
    for nid, node in enumerate(g.nodes):
        for k in range(ptr[nid + 1] - ptr[nid]):
            s = g.attrs["shape"][ptr[nid] + k]
            if is_static(s):  # a symbolic dim is not a constant: shape_of stays in the graph
                out[(id(node), k)] = s
    return out
