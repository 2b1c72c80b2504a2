"""quantize_linear / dequantize_linear -> MXNet float ops.

MXNet 1.9's own quantize ops have no zero point input, so both are written as float arithmetic:
x / scale, rounded half to even (the IR ``round`` handler: MXNet's ``round`` rounds halves away from
zero), plus the zero point, clipped to the integer range, cast.
"""
from __future__ import annotations

from types import SimpleNamespace

from nnvm_bridge.errors import unsupported_feature
from nnvm_bridge.ops.quantize import int_range

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


def _along_axis(ctx, node, index, entry, axis, suffix, dtype="float32"):
    """A scale / zero point reshaped to broadcast against the data, in ``dtype``."""
    ndim = len(ctx.shape(node.inputs[0]))
    size = 1
    for d in ctx.shape(node.inputs[index]):
        size *= int(d)
    target = [1] * max(ndim, 1)
    if size > 1:
        target[axis % ndim] = size
    name = f"{node.name}_{suffix}"
    shaped = ctx.add("Reshape", name + "_shaped", [entry], {"shape": tuple(target)})
    return ctx.add("Cast", name, [shaped], {"dtype": mx_dtype(dtype)})


def _round_half_even(ctx, name, x):
    handler = MXNET_EXPORT.get("round")
    return handler(ctx, SimpleNamespace(name=name, op="round"), {}, [x])[0]


_NO_MXNET_ARRAYS = ("int16", "uint16")


@MXNET_EXPORT.register("quantize_linear")
def _quantize_linear(ctx, node, attrs, inputs):
    name = node.name
    if attrs.out_dtype in _NO_MXNET_ARRAYS:
        raise unsupported_feature(node.op, name, f"{attrs.out_dtype}: MXNet has no {attrs.out_dtype} arrays",
                                  direction="MXNet")
    x = inputs[0]
    if ctx.dtype(node.inputs[0]) != "float32":
        x = ctx.add("Cast", name + "_float", [x], {"dtype": "float32"})
    scale = _along_axis(ctx, node, 1, inputs[1], attrs.axis, "scale")
    zp = _along_axis(ctx, node, 2, inputs[2], attrs.axis, "zero_point")
    scaled = ctx.add("broadcast_div", name + "_scaled", [x, scale])
    shifted = ctx.add("broadcast_add", name + "_shifted", [_round_half_even(ctx, name + "_round", scaled), zp])
    low, high = int_range(attrs.out_dtype)
    clipped = ctx.add("clip", name + "_clip", [shifted], {"a_min": float(low), "a_max": float(high)})
    return [ctx.add("Cast", name, [clipped], {"dtype": mx_dtype(attrs.out_dtype)})]


@MXNET_EXPORT.register("dequantize_linear")
def _dequantize_linear(ctx, node, attrs, inputs):
    name, dtype = node.name, ctx.dtype(node.inputs[1])  # the result has the scale's dtype
    x = ctx.add("Cast", name + "_float", [inputs[0]], {"dtype": mx_dtype(dtype)})
    scale = _along_axis(ctx, node, 1, inputs[1], attrs.axis, "scale", dtype)
    zp = _along_axis(ctx, node, 2, inputs[2], attrs.axis, "zero_point", dtype)
    y = ctx.add("broadcast_sub", name + "_shifted", [x, zp])
    return [ctx.add("broadcast_mul", name, [y, scale])]
