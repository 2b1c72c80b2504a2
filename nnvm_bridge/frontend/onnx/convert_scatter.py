"""ScatterND, ScatterElements (and the old Scatter), GatherElements -> the IR's scatter/gather ops.

ONNX lets indices be negative (counted from the end of their axis); the IR ops take them in range, so a
negative index is wrapped here: ``i + dim * (i < 0)``, folded when the indices are constants and computed
from the data's run-time shape when the dims are symbolic.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


def wrap_negative(ctx, indices, data, axes):
    """``indices`` with negative values moved into range; ``axes`` are the data axes the indices' last axis
    addresses (ScatterND), or the one axis that every index addresses (a scalar broadcast)."""
    shape = ctx.shape(data)
    dims = [shape[a] for a in axes]
    value = ctx.const(indices)
    if value is not None and is_static(dims):
        dims = np.asarray(dims, dtype=value.dtype)
        return np.where(value < 0, value + dims, value).astype(value.dtype)
    dtype = ctx.dtype(indices)
    if is_static(dims):
        dims_t = np.asarray(dims, dtype=np.dtype(dtype))
    else:
        begin, end = min(axes), max(axes) + 1  # ScatterND's axes are the leading ones, in order
        dims_t = ctx.cast(ctx.emit1("strided_slice", [ctx.shape_tensor(data)], {"begin": (begin,), "end": (end,)}),
                          dtype)
    negative = ctx.emit1("__less_scalar__", [indices], {"scalar": 0.0})
    return ctx.emit1("broadcast_add", [indices, ctx.emit1("broadcast_mul", [negative, dims_t])])


def _reduction(ctx, attrs, allowed):
    reduction = attrs.get("reduction", "none")
    if reduction not in allowed:
        raise ctx.unsupported(f"reduction={reduction!r}")
    return reduction


def _scatter_nd(ctx, inputs, reduction):
    data, indices, updates = inputs[0], inputs[1], inputs[2]
    ishape = ctx.shape(indices)
    if ishape is None or not isinstance(ishape[-1], int):
        raise ctx.error(ShapeError, "ScatterND needs the length of the indices' last axis")
    indices = wrap_negative(ctx, indices, data, list(range(ishape[-1])))
    return ctx.emit1("scatter_nd", [data, indices, updates], {"reduction": reduction})


@ONNX_IMPORT.register("ScatterND", since=(11, 13))
def scatter_nd(ctx, node, attrs, inputs):
    return _scatter_nd(ctx, inputs, "none")


@ONNX_IMPORT.register("ScatterND", since=16)
def scatter_nd_16(ctx, node, attrs, inputs):
    return _scatter_nd(ctx, inputs, _reduction(ctx, attrs, ("none", "add", "mul")))


@ONNX_IMPORT.register("ScatterND", since=18)
def scatter_nd_18(ctx, node, attrs, inputs):
    return _scatter_nd(ctx, inputs, _reduction(ctx, attrs, ("none", "add", "mul", "max", "min")))


def _element_axis(ctx, attrs, data):
    return int(attrs.get("axis", 0)) % ctx.require_rank(data, "data")


def _scatter_elements(ctx, attrs, inputs, reduction):
    data, indices, updates = inputs[0], inputs[1], inputs[2]
    axis = _element_axis(ctx, attrs, data)
    indices = wrap_negative(ctx, indices, data, [axis])
    return ctx.emit1("scatter_elements", [data, indices, updates], {"axis": axis, "reduction": reduction})


# Scatter-9/11 is ScatterElements under its old name (deprecated in opset 11)
@ONNX_IMPORT.register("Scatter", since=(9, 11))
def scatter(ctx, node, attrs, inputs):
    return _scatter_elements(ctx, attrs, inputs, "none")


@ONNX_IMPORT.register("ScatterElements", since=(11, 13))
def scatter_elements(ctx, node, attrs, inputs):
    return _scatter_elements(ctx, attrs, inputs, "none")


@ONNX_IMPORT.register("ScatterElements", since=16)
def scatter_elements_16(ctx, node, attrs, inputs):
    return _scatter_elements(ctx, attrs, inputs, _reduction(ctx, attrs, ("none", "add", "mul")))


@ONNX_IMPORT.register("ScatterElements", since=18)
def scatter_elements_18(ctx, node, attrs, inputs):
    return _scatter_elements(ctx, attrs, inputs, _reduction(ctx, attrs, ("none", "add", "mul", "max", "min")))


@ONNX_IMPORT.register("GatherElements", since=(11, 13))
def gather_elements(ctx, node, attrs, inputs):
    data, indices = inputs[0], inputs[1]
    axis = _element_axis(ctx, attrs, data)
    return ctx.emit1("gather_elements", [data, wrap_negative(ctx, indices, data, [axis])], {"axis": axis})
