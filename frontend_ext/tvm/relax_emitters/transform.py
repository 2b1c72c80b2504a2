"""Reductions and shape manipulation -> Relax (static shapes from NNVM inference)."""
from __future__ import annotations


import numpy as np


from .. import compat
from .base import _op, emitter
from .elementwise import _truth


# ---------------------------------------------------------------------------------------------
# reductions
def _reduce_axes(a, ndim):
    from nnvm_bridge.ops.reduce import reduce_axes

    return list(reduce_axes(a, ndim))


@emitter("sum", "max", "min", "mean", "prod")
def _reduce(cx, a, x):
    axes = _reduce_axes(a, len(cx.in_shapes[0]))
    if not axes:
        return x[0]
    data = x[0]
    if cx.in_dtypes[0] == "bool":  # TOPI has no min/max identity for bool; reduce 0/1 bytes instead
        data = _op().astype(data, "uint8")
    return getattr(_op(), cx.node.op)(data, axes, keepdims=a.keepdims)


@emitter("argmax", "argmin")
def _argreduce(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axes = _reduce_axes(a, ndim)
    fn = getattr(op, cx.node.op)
    if len(axes) == 1:
        return fn(x[0], axes[0], keepdims=a.keepdims)
    if len(axes) == ndim:
        return fn(op.reshape(x[0], [-1]), 0)
    cx.fail(f"{cx.node.op} over several axes {axes} is not supported")


@emitter("collapse_sum")
def _collapse_sum(cx, a, x):
    return _op().collapse_sum_like(x[0], x[1])



# ---------------------------------------------------------------------------------------------
# shape manipulation: the inferred output shape makes most of these a static reshape
@emitter("flatten", "reshape", "reshape_like")
def _reshape(cx, a, x):
    return _op().reshape(x[0], list(cx.out_shapes[0]))


@emitter("broadcast_to", "expand_like")
def _broadcast_to(cx, a, x):
    op = _op()
    out = list(cx.out_shapes[0])
    src = x[0]
    if cx.node.op == "expand_like":
        n = len(out)
        axes = {v % n for v in a.axis}
        if a.exclude:
            axes = set(range(n)) - axes
        src = op.reshape(src, [1 if i in axes else d for i, d in enumerate(out)])
    return op.broadcast_to(src, out)


@emitter("expand_dims", "squeeze")
def _expand_squeeze(cx, a, x):
    return _op().reshape(x[0], list(cx.out_shapes[0]))


@emitter("concatenate")
def _concat(cx, a, x):
    return _op().concat(list(x), axis=a.axis)


@emitter("stack")
def _stack(cx, a, x):
    return _op().stack(list(x), axis=a.axis)


@emitter("split")
def _split(cx, a, x):
    from nnvm_bridge.ops.transform import split_points

    op = _op()
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    dim = cx.in_shapes[0][axis]
    pts = split_points(a, dim)
    bounds = [0] + list(pts) + [dim]
    if any(b >= e for b, e in zip(bounds[:-1], bounds[1:])):
        # empty pieces: Relax's split wants strictly increasing indices, so slice each piece
        return [op.strided_slice(x[0], [axis], [b], [e], assume_inbound=True) for b, e in zip(bounds[:-1],
                                                                                               bounds[1:])]
    res = cx.emit(op.split(x[0], pts if pts else 1, axis=axis))
    rx = compat.relax()
    return [rx.TupleGetItem(res, i) for i in range(len(pts) + 1)]


@emitter("cast")
def _cast(cx, a, x):
    return _op().astype(x[0], a.dtype)


@emitter("transpose")
def _transpose(cx, a, x):
    return _op().permute_dims(x[0], list(a.axes) if a.axes else None)


@emitter("strided_slice")
def _strided_slice(cx, a, x):
    op = _op()
    shape = cx.in_shapes[0]
    n = len(a.begin)
    strides = list(a.stride) if a.stride else [1] * n
    strides += [1] * (n - len(strides))
    axes, begins, ends, steps, gathers = [], [], [], [], []
    for ax in range(n):
        b, e, s = a.begin[ax], a.end[ax], strides[ax]
        if s == 0:
            cx.fail("strided_slice stride must not be 0")
        start, stop, step = slice(b, e, s).indices(shape[ax])
        if step > 0:
            axes.append(ax)
            begins.append(start)
            ends.append(max(stop, start))
            steps.append(step)
        else:
            gathers.append((ax, np.arange(shape[ax])[slice(b, e, s)]))
    y = x[0]
    if axes:
        y = cx.emit(op.strided_slice(y, axes, begins, ends, steps, assume_inbound=True))
    for ax, idx in gathers:  # negative strides: a gather of the exact indices is unambiguous
        y = cx.emit(op.take(y, cx.const(idx.astype("int64"), "int64"), axis=ax))
    return y


@emitter("slice_like")
def _slice_like(cx, a, x):
    out = cx.out_shapes[0]
    return _op().strided_slice(x[0], list(range(len(out))), [0] * len(out), list(out), assume_inbound=True)


@emitter("flip")
def _flip(cx, a, x):
    return _op().flip(x[0], a.axis % len(cx.in_shapes[0]))


def _index(cx, e, dtype, dim=None):
    """Indices as int64; negative ones wrap around ``dim`` as numpy/ONNX do."""
    op = _op()
    if dtype != "int64":
        e = cx.emit(op.astype(e, "int64"))
    if dim is not None:
        zero = cx.scalar(0, "int64")
        e = cx.emit(op.where(op.less(e, zero), op.add(e, cx.scalar(dim, "int64")), e))
    return e


@emitter("take")
def _take(cx, a, x):
    op = _op()
    data = x[0]
    if a.axis is None:
        data = cx.emit(op.reshape(data, [-1]))
        dim = int(np.prod(cx.in_shapes[0]))
        axis = 0
    else:
        axis = a.axis % len(cx.in_shapes[0])
        dim = cx.in_shapes[0][axis]
    return op.take(data, _index(cx, x[1], cx.in_dtypes[1], dim), axis=axis, mode="clip")


@emitter("gather_nd")
def _gather_nd(cx, a, x):
    # NNVM/MXNet index with the FIRST dim of indices; Relax (like ONNX) with the last
    op = _op()
    idx = _index(cx, x[1], cx.in_dtypes[1])
    k = len(cx.in_shapes[1])
    idx = cx.emit(op.permute_dims(idx, list(range(1, k)) + [0]))
    return op.gather_nd(x[0], idx)


@emitter("where")
def _where(cx, a, x):
    op = _op()
    cond, cshape = x[0], cx.in_shapes[0]
    xshape = cx.in_shapes[1]
    if len(cshape) == 1 and len(xshape) > 1 and cshape[0] == xshape[0]:
        cond = cx.emit(op.reshape(cond, [cshape[0]] + [1] * (len(xshape) - 1)))  # MXNet: 1-D cond picks rows
    return op.where(_truth(cx, cond, cx.in_dtypes[0]), x[1], x[2])


@emitter("tile")
def _tile(cx, a, x):
    # reshape -> broadcast_to -> reshape (exactly np.tile); Relax's own tile left NaNs in its output for
    # large repeat counts on every axis (ONNX test_tile) in TVM 0.27
    op = _op()
    shape = list(cx.in_shapes[0])
    reps = list(a.reps)
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + shape
    reps = [1] * (n - len(reps)) + reps
    inter = [v for d in shape for v in (1, d)]
    wide = [v for r, d in zip(reps, shape) for v in (r, d)]
    y = cx.emit(op.reshape(x[0], inter))
    y = cx.emit(op.broadcast_to(y, wide))
    return op.reshape(y, [r * d for r, d in zip(reps, shape)])


@emitter("repeat")
def _repeat(cx, a, x):
    return _op().repeat(x[0], a.repeats, axis=a.axis)


@emitter("one_hot")
def _one_hot(cx, a, x):
    op = _op()
    idx = _index(cx, x[0], cx.in_dtypes[0], a.depth)
    axis = a.axis % (len(cx.in_shapes[0]) + 1)
    y = cx.emit(op.one_hot(idx, float(a.on_value), float(a.off_value), a.depth, axis=axis))
    return op.astype(y, a.dtype)


@emitter("topk")
def _topk(cx, a, x):
    op = _op()
    rx = compat.relax()
    axis = a.axis % len(cx.in_shapes[0])
    k = a.k if a.k > 0 else cx.in_shapes[0][axis]
    res = cx.emit(op.topk(x[0], k=k, axis=axis, ret_type=a.ret_type, largest=not a.is_ascend, dtype=a.dtype))
    if a.ret_type == "both":
        return [rx.TupleGetItem(res, 0), rx.TupleGetItem(res, 1)]
    return res


@emitter("depth_to_space")
def _depth_to_space(cx, a, x):
    op = _op()
    n, c, h, w = cx.in_shapes[0]
    b = a.block_size
    if a.mode == "DCR":
        y = cx.emit(op.reshape(x[0], [n, b, b, c // (b * b), h, w]))
        y = cx.emit(op.permute_dims(y, [0, 3, 4, 1, 5, 2]))
    else:
        y = cx.emit(op.reshape(x[0], [n, c // (b * b), b, b, h, w]))
        y = cx.emit(op.permute_dims(y, [0, 1, 4, 2, 5, 3]))
    return op.reshape(y, [n, c // (b * b), h * b, w * b])


@emitter("space_to_depth")
def _space_to_depth(cx, a, x):
    op = _op()
    n, c, h, w = cx.in_shapes[0]
    b = a.block_size
    y = cx.emit(op.reshape(x[0], [n, c, h // b, b, w // b, b]))
    y = cx.emit(op.permute_dims(y, [0, 3, 5, 1, 2, 4]))
    return op.reshape(y, [n, c * b * b, h // b, w // b])
