"""quantize_linear / dequantize_linear -> ONNX QuantizeLinear / DequantizeLinear.

What the schema at the export opset cannot say (per-axis before opset 13, int16/uint16 before 21, int32
results, which QuantizeLinear never makes; DequantizeLinear reads int32) is written as float arithmetic instead: Div, Round (half to
even), Add, Clip, Cast -- and Sub, Mul for dequantizing.
"""
from __future__ import annotations

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ops.quantize import int_range

from ..registry import ONNX_EXPORT
from .tensor import float8_check

_QUANTIZED_AT = {"int8": 10, "uint8": 10, "int16": 21, "uint16": 21,  # dtype -> first opset of its Q/DQ
                 **{name: 19 for name in _dt.FLOAT8}}
_DEQUANTIZED_AT = dict(_QUANTIZED_AT, int32=10)  # DequantizeLinear reads int32 (biases) too


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _param(ctx, i, value):
    """A scale / zero point as the schema wants it: a scalar per tensor, a vector per axis."""
    b = ctx.b
    if _size(ctx.shape(i)) == 1:
        return b.op("Reshape", [value, b.i64([])])
    return value if len(ctx.shape(i)) == 1 else b.op("Reshape", [value, b.i64([-1])])


def _broadcastable(ctx, i, value, axis):
    """A scale / zero point shaped to broadcast against the data (for the float spelling)."""
    ndim = ctx.ndim(0)
    if _size(ctx.shape(i)) == 1 or ndim == 0:
        return ctx.b.op("Reshape", [value, ctx.b.i64([])])
    target = [1] * ndim
    target[axis % ndim] = _size(ctx.shape(i))
    return ctx.b.op("Reshape", [value, ctx.b.i64(target)])


def _native(ctx, dtype, first=_QUANTIZED_AT) -> bool:
    per_axis = _size(ctx.shape(1)) > 1
    return ctx.opset >= first.get(dtype, 10**9) and (ctx.opset >= 13 or not per_axis)


def _axis(ctx, attrs):
    return {"axis": attrs.axis} if ctx.opset >= 13 and _size(ctx.shape(1)) > 1 else {}


def _quantize_check(ctx, node, attrs, inputs):
    return float8_check(ctx, attrs.out_dtype)


@ONNX_EXPORT.register("quantize_linear", since=11, check=_quantize_check)
def _quantize_linear(ctx, node, attrs, inputs):
    b = ctx.b
    x = inputs[0] if ctx.dtype(0) == "float32" else b.cast(inputs[0], "float32")
    if _native(ctx, attrs.out_dtype):  # (a float8 type always is: the check asks for opset 19)
        zp = _param(ctx, 2, inputs[2])
        if ctx.dtype(2) != attrs.out_dtype:
            zp = b.cast(zp, attrs.out_dtype)
        saturate = {} if attrs.saturate or not _dt.is_float8(attrs.out_dtype) else {"saturate": 0}
        return b.op("QuantizeLinear", [x, _param(ctx, 1, inputs[1]), zp], **_axis(ctx, attrs), **saturate)
    scale = b.cast(_broadcastable(ctx, 1, inputs[1], attrs.axis), "float32")
    zp = b.cast(_broadcastable(ctx, 2, inputs[2], attrs.axis), "float32")
    y = b.op("Add", [b.op("Round", [b.op("Div", [x, scale])]), zp])
    low, high = int_range(attrs.out_dtype)
    return b.cast(b.clip(y, float(low), float(high), "float32"), attrs.out_dtype)


def _dequantize_check(ctx, node, attrs, inputs):
    return float8_check(ctx, ctx.dtype(0))


@ONNX_EXPORT.register("dequantize_linear", since=11, check=_dequantize_check)
def _dequantize_linear(ctx, node, attrs, inputs):
    b = ctx.b
    if _native(ctx, ctx.dtype(0), _DEQUANTIZED_AT) and ctx.dtype(1) == "float32":
        zp = _param(ctx, 2, inputs[2])
        if ctx.dtype(2) != ctx.dtype(0):
            zp = b.cast(zp, ctx.dtype(0))
        return b.op("DequantizeLinear", [inputs[0], _param(ctx, 1, inputs[1]), zp], **_axis(ctx, attrs))
    dtype = ctx.dtype(1)
    zp = b.cast(_broadcastable(ctx, 2, inputs[2], attrs.axis), dtype)
    y = b.op("Sub", [b.cast(inputs[0], dtype), zp])
    return b.op("Mul", [y, _broadcastable(ctx, 1, inputs[1], attrs.axis)])
