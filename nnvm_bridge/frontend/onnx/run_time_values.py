"""Symbols for small integer values that only run time computes (issue 10: torchvision's detection transform).

torchvision scales an image by ``min(320 / min(H, W), 640 / max(H, W))`` in floats and truncates ``H * scale``
to the resized height; no shape-value rule keeps that symbolic. Such a truncation (a Cast from float to an
integer type of a small tensor) gets one new symbol per element, so the lengths computed from it (the padded
``ceil(h / 32) * 32``, a Slice to ``h``) stay expressions of it. The symbol is named by the computation that
produces the value, so the same expression written twice (the legacy exporter recomputes sizes per use) gives
the same symbol, and TVM can broadcast the tensors of those lengths together. A ``bind_dims`` node binds the
symbols from the value when it runs.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ...ir.symbolic import Dim, count_dim, format_shape_hint, sym

_MAX_ELEMENTS = 8
_MAX_NODES = 400  # a value computed from a whole network's data is no size: it keeps no symbol
_VALUE = "value_"  # the prefix of the symbols this module names values with


def name_run_time_ints(ctx, n):
    """After ONNX node ``n`` converted: give its output a symbolic value when it is a float-to-integer Cast of a
    small run-time tensor computed from the input shapes."""
    if n.op_type != "Cast" or n.domain or not n.outputs or ctx.dtype(n.inputs[0])[:5] != "float":
        return
    out = ctx.vals.get(n.outputs[0])
    shape = ctx.shape(n.outputs[0]) if out is not None and not isinstance(out, np.ndarray) else None
    if shape is None or len(shape) > 1 or not all(isinstance(d, int) for d in shape) \
            or int(np.prod(shape)) > _MAX_ELEMENTS or ctx.dtype(out) not in ("int64", "int32"):
        return
    key = _Keys(ctx).key(ctx.entry(out))
    if key is None:
        return
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
    dims = np.asarray([count_dim(f"{_VALUE}{digest}_{i}") for i in range(int(np.prod(shape)))], dtype=object)
    bound = ctx.emit1("bind_dims", [out], {"dims": format_shape_hint(tuple(dims))})
    scalar = ctx.onnx_rank(n.outputs[0]) == 0  # the IR holds an ONNX 0-d value as (1,)
    ctx.vals[n.outputs[0]] = ctx.scalar(bound) if scalar else bound
    ctx.shape_values[n.outputs[0]] = dims.reshape(() if scalar else shape)


def opaque_sizes(dims):
    """``dims`` with each length that rounds a run-time value (``32 * ceil(h / 32)``: a floor division, min or max
    of a symbol named here) replaced by a size symbol named by its text: TVM binds such a symbol from the op's
    shape tensor (it cannot bind an expression), the same expression gives the same symbol, and what is
    computed from it (the strided convolutions of a padded image) stays as simple as for an input size."""
    return tuple(sym(f"size_{hashlib.sha1(str(d).encode()).hexdigest()[:8]}") if _rounds_a_value(d)
                 else d for d in dims)


def _rounds_a_value(d):
    return isinstance(d, Dim) and "(" in str(d) and any(n.startswith(_VALUE) for n in d.symbols())


class _Keys:
    """A structural key of an IR entry's computation: ops, attributes, constants' bytes, and each ``shape_of``
    as the (symbolic) shape it reads; None when the computation reads tensor data or is too large."""

    def __init__(self, ctx):
        self.ctx, self.memo, self.visited = ctx, {}, 0

    def key(self, e):
        k = (id(e.node), e.index)
        if k not in self.memo:
            self.visited += 1
            self.memo[k] = None if self.visited > _MAX_NODES else self._key(e)
        return self.memo[k]

    def _key(self, e):
        node, ctx = e.node, self.ctx
        if node.is_variable:
            value = ctx.const(e)
            if value is None:
                return None  # a graph input's data
            return ("const", str(value.dtype), value.shape, hashlib.sha1(np.ascontiguousarray(value)).hexdigest())
        if node.op == "shape_of":
            shape = ctx.shape(node.inputs[0])
            return None if shape is None else ("shape", tuple(str(d) for d in shape), node.attrs.get("dtype"))
        parts = [self.key(x) for x in node.inputs]
        if any(p is None for p in parts):
            return None
        return (node.op, tuple(sorted((a, str(v)) for a, v in node.attrs.items())), e.index, tuple(parts))
