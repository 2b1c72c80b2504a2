"""Tensor creation, casts, indexing (take, gather_nd, where, one_hot, topk)."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ops.common import norm_axis

from ..registry import MAX_OPSET, ONNX_EXPORT


def _fill(b, shape_value, value, dtype):
    tensor = numpy_helper.from_array(np.asarray([value], dtype=_dt.to_numpy(dtype)), "value")
    return b.op("ConstantOfShape", [shape_value], value=tensor)


@ONNX_EXPORT.register("full", "zeros", "ones", since=11)
def _full(ctx, node, attrs, inputs):
    value = {"zeros": 0, "ones": 1}.get(node.op, attrs.get("fill_value"))
    return _fill(ctx.b, ctx.b.i64(list(attrs.shape)), value, attrs.dtype)


@ONNX_EXPORT.register("full_like", "zeros_like", "ones_like", since=11)
def _full_like(ctx, node, attrs, inputs):
    value = {"zeros_like": 0, "ones_like": 1}.get(node.op, attrs.get("fill_value"))
    return _fill(ctx.b, ctx.b.op("Shape", [inputs[0]]), value, ctx.dtype())


@ONNX_EXPORT.register("arange", since=11)
def _arange(ctx, node, attrs, inputs):
    values = np.arange(attrs.start, attrs.stop, attrs.step).astype(_dt.to_numpy(attrs.dtype))
    return ctx.b.op("Constant", [], value=numpy_helper.from_array(values, "value"))


@ONNX_EXPORT.register("shape_of", since=11)
def _shape_of(ctx, node, attrs, inputs):
    s = ctx.b.op("Shape", [inputs[0]])
    return s if attrs.dtype == "int64" else ctx.b.cast(s, attrs.dtype)


def _first_opset(dtype):
    """The first opset with this float8 type (and Cast's saturate: 19; round_mode: 24)."""
    return 24 if dtype == _dt.E8M0 else 19


def float8_check(ctx, *dtypes):
    """The reason a node with these dtypes cannot be written at the export opset, or None."""
    for d in sorted({d for d in dtypes if _dt.is_float8(d)}):
        first = _first_opset(d)
        if first > MAX_OPSET:
            return f"{d} needs opset {first}; the exporter writes opsets up to {MAX_OPSET}"
        if ctx.opset < first:
            return f"{d} needs opset {first}; export with opset={first} or later"
    return None


def _cast_check(ctx, node, attrs, inputs):
    return float8_check(ctx, ctx.dtype(0), attrs.dtype)


@ONNX_EXPORT.register("cast", since=11, check=_cast_check)
def _cast(ctx, node, attrs, inputs):
    extra = {}
    if _dt.is_float8(attrs.dtype) and not attrs.saturate:
        extra["saturate"] = 0
    if attrs.dtype == _dt.E8M0 and attrs.round_mode != "up":
        extra["round_mode"] = attrs.round_mode
    return ctx.b.op("Cast", [inputs[0]], to=_dt.to_onnx(attrs.dtype), **extra) if extra else \
        ctx.b.cast(inputs[0], attrs.dtype)


@ONNX_EXPORT.register("where", since=11)
def _where(ctx, node, attrs, inputs):
    b = ctx.b
    cond = b.cast(inputs[0], "bool")
    cshape, xshape = ctx.shape(0), ctx.shape(1)
    if tuple(cshape) != tuple(xshape):
        # MXNet: a 1-D condition selects whole rows along axis 0
        cond = b.op("Reshape", [cond, b.i64([-1] + [1] * (len(xshape) - 1))])
    return b.op("Where", [cond, inputs[1], inputs[2]])


def _indices_int64(b, idx, dtype):
    return idx if dtype == "int64" else b.cast(idx, "int64")


@ONNX_EXPORT.register("take", since=11)
def _take(ctx, node, attrs, inputs):
    b = ctx.b
    data = inputs[0]
    shape = ctx.shape(0)
    if attrs.axis is None:
        data = b.op("Reshape", [data, b.i64([-1])])
        axis, dim = 0, int(np.prod(shape))
    else:
        axis = norm_axis(attrs.axis, len(shape))
        dim = shape[axis]
    # NNVM/MXNet take clips out-of-range indices; ONNX Gather would fail on them
    idx = inputs[1]
    if _dt.is_float(ctx.dtype(1)):
        idx = b.clip(idx, 0, dim - 1, ctx.dtype(1))
        idx = b.cast(idx, "int64")
    else:
        idx = b.clip(_indices_int64(b, idx, ctx.dtype(1)), 0, dim - 1, "int64")
    return b.op("Gather", [data, idx], axis=axis)


@ONNX_EXPORT.register("gather_nd", since=11)
def _gather_nd(ctx, node, attrs, inputs):
    # MXNet indexes data dims with the *first* dim of indices, ONNX with the last
    b = ctx.b
    k = ctx.ndim(1)
    idx = _indices_int64(b, inputs[1], ctx.dtype(1))
    if k > 1:
        idx = b.transpose(idx, list(range(1, k)) + [0])
    else:
        idx = b.op("Reshape", [idx, b.i64([1, -1])])
        y = b.op("GatherND", [inputs[0], idx])
        return b.op("Reshape", [y, b.i64(list(ctx.out_shape(0)))])
    return b.op("GatherND", [inputs[0], idx])


@ONNX_EXPORT.register("one_hot", since=11)
def _one_hot(ctx, node, attrs, inputs):
    b = ctx.b
    idx = _indices_int64(b, inputs[0], ctx.dtype(0))
    # ONNX wraps negative indices; MXNet gives an all-"off" row: move them out of range instead
    depth = b.i64([attrs.depth])
    idx = b.op("Where", [b.op("Less", [idx, b.const(np.int64(0))]), depth, idx])
    values = b.const(np.asarray([attrs.off_value, attrs.on_value], dtype=_dt.to_numpy(attrs.dtype)))
    return b.op("OneHot", [idx, depth, values], axis=int(attrs.axis))


@ONNX_EXPORT.register("topk", since=11)
def _topk(ctx, node, attrs, inputs):
    b = ctx.b
    shape = ctx.shape(0)
    axis = norm_axis(attrs.axis, len(shape))
    k = attrs.k if attrs.k > 0 else shape[axis]
    values, indices = b.op("TopK", [inputs[0], b.i64([k])], n_out=2, axis=axis, largest=int(not attrs.is_ascend),
                           sorted=1)
    if attrs.ret_type == "values":
        return [values]
    indices = indices if attrs.dtype == "int64" else b.cast(indices, attrs.dtype)
    if attrs.ret_type == "indices":
        return [indices]
    return [values, indices]
