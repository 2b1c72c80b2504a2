"""Relax emitter of ``dyn_resize``: the run-time taps of nnvm_bridge.ops.runtime_resize, as Relax ops.

The lengths are the IR's Dims (``tir`` expressions of the input symbols), so one compiled library resizes
every input size; each resized axis is an ``arange`` of its output length, float32 coordinate arithmetic
and ``take`` with clipped indices.
"""
from __future__ import annotations

from nnvm_bridge.ops.runtime_resize import resize_axis, resized_axes

from ..registry import RELAX_EXPORT
from .context import relax_op


class _RelaxOps:
    """The tensor-ops adapter resize_axis computes with; python floats become float32 constants."""

    def __init__(self, ctx, dtype):
        self.ctx, self.op, self.dtype = ctx, relax_op(), dtype

    def _t(self, v):
        return self.ctx.scalar(v, "float32") if isinstance(v, float) else v

    def _emit(self, fn, *args):
        return self.ctx.emit(fn(*(self._t(a) for a in args)))

    def length(self, d):
        return self.ctx.dim_tensor(d, "float32")

    def arange(self, m):
        return self.ctx.emit(self.op.arange(0, self.ctx.prim(m), 1, dtype="float32"))

    def add(self, a, b):
        return self._emit(self.op.add, a, b)

    def sub(self, a, b):
        return self._emit(self.op.subtract, a, b)

    def mul(self, a, b):
        return self._emit(self.op.multiply, a, b)

    def div(self, a, b):
        return self._emit(self.op.divide, a, b)

    def floor(self, x):
        return self._emit(self.op.floor, x)

    def ceil(self, x):
        return self._emit(self.op.ceil, x)

    def maximum(self, x, v):
        return self._emit(self.op.maximum, x, v)

    def greater(self, x, v):
        return self.ctx.emit(self.op.astype(self.op.greater(x, self._t(v)), "float32"))

    def greater_equal(self, x, v):
        return self.ctx.emit(self.op.astype(self.op.greater_equal(x, self._t(v)), "float32"))

    def take(self, x, index, axis):
        return self.ctx.emit(self.op.take(x, self.op.astype(index, "int64"), axis=axis, mode="clip"))

    def along(self, w, axis, rank):
        w = self.op.astype(w, self.dtype) if self.dtype != "float32" else w
        trailing = rank - axis - 1
        return self.ctx.emit(self.op.expand_dims(w, list(range(1, trailing + 1))) if trailing else w)


@RELAX_EXPORT.register("dyn_resize")
def _dyn_resize(ctx, node, attrs, inputs):
    data, out = ctx.in_shapes[0], ctx.out_shapes[0]
    if data is None or out is None:
        ctx.fail("the input or output shape is unknown; pass shape={input: dims}")
    if len(inputs) > 1:  # sizes computed at run time may hold lengths only they tell
        ctx.bind_run_time_dims(inputs[1], out)
    t = _RelaxOps(ctx, ctx.in_dtypes[0])
    y = inputs[0]
    for axis in resized_axes(data, out, attrs.scales):
        scale = None if attrs.scales is None else attrs.scales[axis]
        y = resize_axis(t, y, axis, len(data), data[axis], out[axis], scale, attrs)
    return y
