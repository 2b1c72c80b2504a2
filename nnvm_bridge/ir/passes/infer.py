"""Shape and dtype inference passes (forward, over the NNVM op table)."""
from __future__ import annotations

from ...errors import BridgeError, DTypeError, ShapeError
from .. import control
from .. import dtypes as _dt
from ..graph import Graph
from ..symbolic import as_dim, parse_shape_hint


def infer_shape(graph: Graph, shape=None, params=None, *, strict: bool = False) -> Graph:
    """Set ``graph.attrs["shape"]`` (one tuple or None per entry).

    Variable shapes come from ``shape`` (name -> tuple), then ``params`` (name -> array),
    then the variable's ``__shape__`` hint.  Dims are ints or symbolic :class:`~nnvm_bridge.ir.symbolic.Dim`
    (a hint's names, and MXNet's 0 for an unknown dim); a shape is None only where even the rank is unknown.
    With ``strict`` every entry must end up known.
    """
    from ...ops import get_op, node_attrs

    shape = dict(shape or {})
    params = params or {}
    out = [None] * graph.num_entries
    ptr = graph.node_row_ptr
    for nid, node in enumerate(graph.nodes):
        if node.is_variable:
            s = shape.get(node.name)
            if s is None and node.name in params:
                s = getattr(params[node.name], "shape", None)
            if s is None and "__shape__" in node.attrs:
                try:
                    s = parse_shape_hint(node.attrs["__shape__"], node.name)
                except (ValueError, TypeError):
                    s = None  # an unreadable hint is no hint
            out[ptr[nid]] = None if s is None else tuple(as_dim(d) for d in s)
            continue
        op = get_op(node.op, node.name)
        attrs = node_attrs(node)
        in_shapes = [out[ptr[graph.node_id(e.node)] + e.index] for e in node.inputs]
        n_out = ptr[nid + 1] - ptr[nid]
        if op.subgraphs:
            try:
                res = control.infer_shapes(node, attrs, in_shapes, lambda g, s: infer_shape(g, shape=s))
            except BridgeError as exc:
                if exc.node is not None:
                    raise
                raise ShapeError(exc.bare_message, node=node.name, op=node.op) from None
        elif op.infer_shape is None:
            res = [None] * n_out
        else:
            try:
                res = op.infer_shape(attrs, in_shapes)
            except BridgeError as exc:
                raise ShapeError(exc.bare_message, node=node.name, op=node.op) from None
            except (ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
                raise ShapeError(f"shape inference failed for input shapes {in_shapes}: {exc}", node=node.name,
                                 op=node.op) from None
        if len(res) != n_out:
            raise ShapeError(f"shape rule returned {len(res)} outputs, expected {n_out}", node=node.name, op=node.op)
        for k, s in enumerate(res):
            out[ptr[nid] + k] = None if s is None else tuple(as_dim(d) for d in s)
    if strict:
        for nid, node in enumerate(graph.nodes):
            if out[ptr[nid]] is None:
                raise ShapeError("shape could not be inferred" + (
                    "; give this input's shape" if node.is_variable else ""), node=node.name, op=node.op)
    g = Graph(graph.outputs, dict(graph.attrs), nodes=graph.nodes)
    g.attrs["shape"] = out
    return g


def infer_type(graph: Graph, dtype=None, params=None, default: str | None = "float32") -> Graph:
    """Set ``graph.attrs["dtype"]`` (one dtype name per entry).

    Variable dtypes come from ``dtype`` (a name -> dtype dict or one dtype for all inputs),
    then ``params``, then the ``__dtype__`` hint (an MXNet code, or a float8 name), then ``default``.
    """
    from ...ops import get_op, node_attrs

    params = params or {}
    per_name = dtype if isinstance(dtype, dict) else {}
    common = None if (dtype is None or isinstance(dtype, dict)) else _dt.canonical(dtype)
    out = [None] * graph.num_entries
    ptr = graph.node_row_ptr
    for nid, node in enumerate(graph.nodes):
        if node.is_variable:
            d = per_name.get(node.name)
            if d is None and node.name in params:
                d = getattr(params[node.name], "dtype", None)
            if d is None and common is not None:
                d = common
            if d is None and "__dtype__" in node.attrs:
                try:
                    d = _dt.from_dtype_hint(node.attrs["__dtype__"])
                except (DTypeError, ValueError):
                    d = None
            if d is None:
                d = default
            # canonical() takes names, np.dtype objects and numpy type classes (mx.nd's .dtype)
            try:
                out[ptr[nid]] = None if d is None else _dt.canonical(d)
            except DTypeError as exc:  # say which variable (often a parameter) has it
                raise DTypeError(exc.bare_message, node=node.name, op="null") from None
            continue
        op = get_op(node.op, node.name)
        attrs = node_attrs(node)
        in_types = [out[ptr[graph.node_id(e.node)] + e.index] for e in node.inputs]
        n_out = ptr[nid + 1] - ptr[nid]
        if op.subgraphs:
            res = control.infer_types(node, attrs, in_types, lambda g, d: infer_type(g, dtype=d))
        elif op.infer_type is not None:
            res = op.infer_type(attrs, in_types)
        else:
            res = [in_types[0] if in_types else "float32"] * n_out
        for k, d in enumerate(res):
            out[ptr[nid] + k] = None if d is None else _dt.canonical(d)
    g = Graph(graph.outputs, dict(graph.attrs), nodes=graph.nodes)
    g.attrs["dtype"] = out
    return g
