"""Tensor creation, casts, indexing (take, gather_nd, where, one_hot, topk)."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ops.common import norm_axis

from ..registry import handler


def _fill(b, shape_value, value, dtype):
    tensor = numpy_helper.from_array(np.asarray([value], dtype=_dt.to_numpy(dtype)), "value")
    return b.op("ConstantOfShape", [shape_value], value=tensor)


@handler("full", "zeros", "ones")
def _full(ctx):
    a = ctx.attrs
    value = {"zeros": 0, "ones": 1}.get(ctx.node.op, a.get("fill_value"))
    return _fill(ctx.b, ctx.b.i64(list(a.shape)), value, a.dtype)


@handler("full_like", "zeros_like", "ones_like")
def _full_like(ctx):
    value = {"zeros_like": 0, "ones_like": 1}.get(ctx.node.op, ctx.attrs.get("fill_value"))
    return _fill(ctx.b, ctx.b.op("Shape", [ctx.x]), value, ctx.dtype())


@handler("arange")
def _arange(ctx):
    a = ctx.attrs
    values = np.arange(a.start, a.stop, a.step).astype(_dt.to_numpy(a.dtype))
    return ctx.b.op("Constant", [], value=numpy_helper.from_array(values, "value"))


@handler("shape_of")
def _shape_of(ctx):
    s = ctx.b.op("Shape", [ctx.x])
    return s if ctx.attrs.dtype == "int64" else ctx.b.cast(s, ctx.attrs.dtype)


@handler("cast")
def _cast(ctx):
    return ctx.b.cast(ctx.x, ctx.attrs.dtype)


@handler("where")
def _where(ctx):
    b = ctx.b
    cond = b.cast(ctx.inputs[0], "bool")
    cshape, xshape = ctx.shape(0), ctx.shape(1)
    if tuple(cshape) != tuple(xshape):
        # MXNet: a 1-D condition selects whole rows along axis 0
        cond = b.op("Reshape", [cond, b.i64([-1] + [1] * (len(xshape) - 1))])
    return b.op("Where", [cond, ctx.inputs[1], ctx.inputs[2]])


def _indices_int64(b, idx, dtype):
    return idx if dtype == "int64" else b.cast(idx, "int64")


@handler("take")
def _take(ctx):
    b = ctx.b
    data = ctx.x
    shape = ctx.shape(0)
    if ctx.attrs.axis is None:
        data = b.op("Reshape", [data, b.i64([-1])])
        axis, dim = 0, int(np.prod(shape))
    else:
        axis = norm_axis(ctx.attrs.axis, len(shape))
        dim = shape[axis]
    # NNVM/MXNet take clips out-of-range indices; ONNX Gather would fail on them
    idx = ctx.inputs[1]
    if _dt.is_float(ctx.dtype(1)):
        idx = b.clip(idx, 0, dim - 1, ctx.dtype(1))
        idx = b.cast(idx, "int64")
    else:
        idx = b.clip(_indices_int64(b, idx, ctx.dtype(1)), 0, dim - 1, "int64")
    return b.op("Gather", [data, idx], axis=axis)


@handler("gather_nd")
def _gather_nd(ctx):
    # MXNet indexes data dims with the *first* dim of indices, ONNX with the last
    b = ctx.b
    k = ctx.ndim(1)
    idx = _indices_int64(b, ctx.inputs[1], ctx.dtype(1))
    if k > 1:
        idx = b.transpose(idx, list(range(1, k)) + [0])
    else:
        idx = b.op("Reshape", [idx, b.i64([1, -1])])
        y = b.op("GatherND", [ctx.x, idx])
        return b.op("Reshape", [y, b.i64(list(ctx.out_shape(0)))])
    return b.op("GatherND", [ctx.x, idx])


@handler("one_hot")
def _one_hot(ctx):
    b, a = ctx.b, ctx.attrs
    idx = _indices_int64(b, ctx.x, ctx.dtype(0))
    # ONNX wraps negative indices; MXNet gives an all-"off" row: move them out of range instead
    depth = b.i64([a.depth])
    idx = b.op("Where", [b.op("Less", [idx, b.const(np.int64(0))]), depth, idx])
    values = b.const(np.asarray([a.off_value, a.on_value], dtype=_dt.to_numpy(a.dtype)))
    return b.op("OneHot", [idx, depth, values], axis=int(a.axis))


@handler("topk")
def _topk(ctx):
    b, a = ctx.b, ctx.attrs
    shape = ctx.shape(0)
    axis = norm_axis(a.axis, len(shape))
    k = a.k if a.k > 0 else shape[axis]
    values, indices = b.op("TopK", [ctx.x, b.i64([k])], n_out=2, axis=axis, largest=int(not a.is_ascend), sorted=1)
    if a.ret_type == "values":
        return [values]
    indices = indices if a.dtype == "int64" else b.cast(indices, a.dtype)
    if a.ret_type == "indices":
        return [indices]
    return [values, indices]
