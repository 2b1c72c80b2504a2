"""quantize_linear / dequantize_linear -> Relax, as float arithmetic: divide, round (half to even on
LLVM: nearbyint), add the zero point, clip to the integer range, cast. Float8 values convert with
narrow_floats' exact casts."""
from __future__ import annotations

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ops.quantize import int_range

from ..registry import RELAX_EXPORT
from . import narrow_floats
from .context import relax_op


def _along_axis(ctx, param, index, axis):
    """A scale / zero point shaped to broadcast against the data (a vector lies along ``axis``)."""
    shape, ndim = ctx.in_shapes[index], len(ctx.in_shapes[0])
    size = 1
    for d in shape:
        size *= int(d)
    if size == 1 or ndim == 0:
        return relax_op().reshape(param, ()) if shape else param
    target = [1] * ndim
    target[axis % ndim] = size
    return relax_op().reshape(param, target)


@RELAX_EXPORT.register("quantize_linear")
def _quantize_linear(ctx, node, attrs, inputs):
    op = relax_op()
    x = inputs[0] if ctx.in_dtypes[0] == "float32" else op.astype(inputs[0], "float32")
    scale = op.astype(_along_axis(ctx, inputs[1], 1, attrs.axis), "float32")
    zp = _as_float32(ctx, _along_axis(ctx, inputs[2], 2, attrs.axis), ctx.in_dtypes[2])
    if _dt.is_float8(attrs.out_dtype):
        y = ctx.emit(op.add(op.divide(x, scale), zp))
        return narrow_floats.cast(ctx, y, "float32", attrs.out_dtype, attrs.saturate)
    low, high = int_range(attrs.out_dtype)
    y = op.add(op.round(op.divide(x, scale)), zp)
    return op.astype(op.clip(y, float(low), float(high)), attrs.out_dtype)


@RELAX_EXPORT.register("dequantize_linear")
def _dequantize_linear(ctx, node, attrs, inputs):
    op = relax_op()
    dtype = ctx.in_dtypes[1]
    if _dt.is_float8(ctx.in_dtypes[0]):
        x = op.astype(narrow_floats.cast(ctx, inputs[0], ctx.in_dtypes[0], "float32"), dtype)
        zp = op.astype(_as_float32(ctx, _along_axis(ctx, inputs[2], 2, attrs.axis), ctx.in_dtypes[2]), dtype)
    else:
        x = op.astype(inputs[0], dtype)
        zp = op.astype(_along_axis(ctx, inputs[2], 2, attrs.axis), dtype)
    return op.multiply(op.subtract(x, zp), _along_axis(ctx, inputs[1], 1, attrs.axis))


def _as_float32(ctx, x, dtype):
    if _dt.is_float8(dtype):
        return narrow_floats.cast(ctx, ctx.emit(x), dtype, "float32")
    return relax_op().astype(x, "float32")
