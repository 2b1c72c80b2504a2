"""ONNX handlers for the scatter/gather ops and einsum: each is the ONNX op it came from."""
from __future__ import annotations

from ..registry import ONNX_EXPORT

_REDUCTION_OPSET = {"none": 11, "add": 16, "mul": 16, "max": 18, "min": 18}


def _reduction_check(ctx, node, attrs, inputs):
    need = _REDUCTION_OPSET[attrs.reduction]
    if ctx.opset < need:
        return f"reduction={attrs.reduction} needs opset {need}"
    return None


def _reduction(attrs):
    return None if attrs.reduction == "none" else attrs.reduction


@ONNX_EXPORT.register("scatter_nd", since=11, check=_reduction_check)
def _scatter_nd(ctx, node, attrs, inputs):
    indices = inputs[1] if ctx.dtype(1) == "int64" else ctx.b.cast(inputs[1], "int64")
    return ctx.b.op("ScatterND", [inputs[0], indices, inputs[2]], reduction=_reduction(attrs))


@ONNX_EXPORT.register("scatter_elements", since=11, check=_reduction_check)
def _scatter_elements(ctx, node, attrs, inputs):
    return ctx.b.op("ScatterElements", inputs[:3], axis=attrs.axis, reduction=_reduction(attrs))


@ONNX_EXPORT.register("gather_elements", since=11)
def _gather_elements(ctx, node, attrs, inputs):
    return ctx.b.op("GatherElements", inputs[:2], axis=attrs.axis)


@ONNX_EXPORT.register("einsum", since=12)
def _einsum(ctx, node, attrs, inputs):
    return ctx.b.op("Einsum", list(inputs), equation=attrs.equation)
