"""ONNX handlers for the ops whose shape comes from a tensor at run time: each is the ONNX op it came from."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from nnvm_bridge.ir import dtypes as _dt

from ..registry import ONNX_EXPORT


@ONNX_EXPORT.register("dyn_reshape", since=11)
def _dyn_reshape(ctx, node, attrs, inputs):
    return ctx.b.op("Reshape", inputs[:2])


@ONNX_EXPORT.register("dyn_broadcast_to", since=11)
def _dyn_broadcast_to(ctx, node, attrs, inputs):
    return ctx.b.op("Expand", inputs[:2])


@ONNX_EXPORT.register("dyn_full", since=11)
def _dyn_full(ctx, node, attrs, inputs):
    value = numpy_helper.from_array(np.asarray([attrs.value], dtype=_dt.to_numpy(attrs.dtype)), "value")
    return ctx.b.op("ConstantOfShape", inputs[:1], value=value)


@ONNX_EXPORT.register("dyn_arange", since=11)
def _dyn_arange(ctx, node, attrs, inputs):
    b = ctx.b
    scalars = []
    for i, x in enumerate(inputs[:3]):
        x = b.op("Reshape", [x, b.i64([])])  # Range takes 0-d bounds of the output's type
        scalars.append(x if ctx.dtype(i) == attrs.dtype else b.op("Cast", [x], to=_dt.to_onnx(attrs.dtype)))
    return b.op("Range", scalars)


@ONNX_EXPORT.register("dyn_slice", since=11)
def _dyn_slice(ctx, node, attrs, inputs):
    return ctx.b.op("Slice", inputs[:5])


@ONNX_EXPORT.register("bind_dims", since=11)
def _bind_dims(ctx, node, attrs, inputs):
    return ctx.b.op("Identity", inputs[:1])


@ONNX_EXPORT.register("dyn_pad", since=11)
def _dyn_pad(ctx, node, attrs, inputs):
    b = ctx.b
    value = [b.scalar(attrs.pad_value, ctx.dtype())] if attrs.mode == "constant" else []
    return b.op("Pad", [inputs[0], inputs[1]] + value, mode=attrs.mode)
