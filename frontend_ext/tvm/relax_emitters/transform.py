"""Reductions and shape manipulation -> Relax (shapes from NNVM inference, symbolic dims as tir expressions)."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.symbolic import Dim, dim_max, is_static
from nnvm_bridge.ops.common import prod

from .. import compat
from ..registry import RELAX_EXPORT
from . import narrow_floats
from .context import relax_op
from .elementwise import truth


# ---------------------------------------------------------------------------------------------
# reductions
def _reduce_axes(attrs, ndim):
    from nnvm_bridge.ops.reduce import reduce_axes

    return list(reduce_axes(attrs, ndim))


@RELAX_EXPORT.register("sum", "max", "min", "mean", "prod")
def _reduce(ctx, node, attrs, inputs):
    axes = _reduce_axes(attrs, len(ctx.in_shapes[0]))
    if not axes:
        return inputs[0]
    data = inputs[0]
    if ctx.in_dtypes[0] == "bool":  # TOPI has no min/max identity for bool; reduce 0/1 bytes instead
        data = relax_op().astype(data, "uint8")
    if node.op in ("max", "min") and ctx.in_dtypes[0].startswith("float"):
        return ctx.bb.emit_te(_extremum_te(node.op, axes, attrs.keepdims), data, primfunc_name_hint=node.op)
    return getattr(relax_op(), node.op)(data, axes, keepdims=attrs.keepdims)


def _extremum_te(kind, axes, keepdims):
    """max/min whose identity is -inf/+inf: TOPI's is the largest finite value, so a max over only -inf
    gave -3.4e38."""
    from tvm import te

    tir = compat.tir()
    combine = tir.Max if kind == "max" else tir.Min
    sign = -1.0 if kind == "max" else 1.0
    reducer = te.comm_reducer(lambda a, b: combine(a, b), lambda t: tir.const(sign * float("inf"), t), name=kind)

    def compute(x):
        ndim = len(x.shape)
        over = [te.reduce_axis((0, x.shape[a]), name=f"k{a}") for a in axes]
        kept = [i for i in range(ndim) if i not in axes]
        out_shape = [1 if i in axes else x.shape[i] for i in range(ndim)] if keepdims else [x.shape[i] for i in kept]

        def body(*idx):
            at = dict(zip(range(ndim) if keepdims else kept, idx))
            at.update(zip(axes, over))
            return reducer(x[tuple(at[i] for i in range(ndim))], axis=over)

        return te.compute(out_shape, body, name=f"T_{kind}")

    return compute


@RELAX_EXPORT.register("argmax", "argmin")
def _argreduce(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axes = _reduce_axes(attrs, ndim)
    fn = getattr(op, node.op)
    if len(axes) == 1:
        index = fn(inputs[0], axes[0], keepdims=attrs.keepdims)
    elif len(axes) == ndim:
        index = fn(op.reshape(inputs[0], [-1]), 0)
    else:
        ctx.fail(f"{node.op} over several axes {axes} is not supported")
    # TOPI starts from index -1 and the largest finite value, so a row of only -inf (+inf for argmin) kept -1
    index = ctx.emit(index)
    return op.maximum(index, ctx.scalar(0, compat.shape_dtype_of(index)[1]))


@RELAX_EXPORT.register("collapse_sum")
def _collapse_sum(ctx, node, attrs, inputs):
    return relax_op().collapse_sum_like(inputs[0], inputs[1])



# ---------------------------------------------------------------------------------------------
# shape manipulation: the inferred output shape makes most of these a static reshape
@RELAX_EXPORT.register("flatten", "reshape", "reshape_like")
def _reshape(ctx, node, attrs, inputs):
    return reshape_checked(ctx, inputs[0], ctx.out_shapes[0])


def reshape_checked(ctx, x, shape):
    """``x`` (the node's first input) reshaped to ``shape``; where the IR cannot prove the element counts
    equal (a grid of ``isqrt(P)**2`` patches from ``P``), they are taken as equal and checked when it runs."""
    have, want = prod(ctx.in_shapes[0]), prod(shape)
    if have != want:
        ctx.assume_equal([(have, want)])
    return relax_op().reshape(x, ctx.shape(shape))


@RELAX_EXPORT.register("broadcast_to", "expand_like")
def _broadcast_to(ctx, node, attrs, inputs):
    op = relax_op()
    out = list(ctx.out_shapes[0])
    src = inputs[0]
    if node.op == "expand_like":
        n = len(out)
        axes = {v % n for v in attrs.axis}
        if attrs.exclude:
            axes = set(range(n)) - axes
        src = op.reshape(src, ctx.shape([1 if i in axes else d for i, d in enumerate(out)]))
    else:  # TOPI's broadcast_to takes a symbolic source dim to be the target one (a size 1 there is misread)
        src_shape = ctx.in_shapes[0]
        ctx.need_static("broadcasting a symbolic dim to another size",
                        *(d for d, t in zip(src_shape, out[len(out) - len(src_shape):]) if d != t))
    return op.broadcast_to(src, ctx.shape(out))


@RELAX_EXPORT.register("expand_dims", "squeeze")
def _expand_squeeze(ctx, node, attrs, inputs):
    return relax_op().reshape(inputs[0], ctx.shape(ctx.out_shapes[0]))


@RELAX_EXPORT.register("concatenate")
def _concat(ctx, node, attrs, inputs):
    out = ctx.out_shapes[0]
    axis = attrs.axis % len(out)
    # other axes' dims that the IR took as equal (ops/transform.py), made one here and checked when it runs
    parts = [x if s is None else ctx.as_shape(x, s, [d if i == axis else w for i, (d, w) in enumerate(zip(s, out))])
             for x, s in zip(inputs, ctx.in_shapes)]
    return relax_op().concat(parts, axis=attrs.axis)


@RELAX_EXPORT.register("stack")
def _stack(ctx, node, attrs, inputs):
    return relax_op().stack(list(inputs), axis=attrs.axis)


@RELAX_EXPORT.register("split")
def _split(ctx, node, attrs, inputs):
    from nnvm_bridge.ops.transform import split_points

    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axis = attrs.axis % ndim
    dim = ctx.in_shapes[0][axis]
    pts = split_points(attrs, dim)
    bounds = [0] + list(pts) + [dim]
    if not is_static(bounds) or any(b >= e for b, e in zip(bounds[:-1], bounds[1:])):
        # empty pieces (Relax's split wants strictly increasing indices) or symbolic ones: slice each piece
        return [op.strided_slice(inputs[0], [axis], [ctx.prim(b)], [ctx.prim(e)], assume_inbound=True)
                for b, e in zip(bounds[:-1], bounds[1:])]
    res = ctx.emit(op.split(inputs[0], pts if pts else 1, axis=axis))
    rx = compat.relax()
    return [rx.TupleGetItem(res, i) for i in range(len(pts) + 1)]


@RELAX_EXPORT.register("cast")
def _cast(ctx, node, attrs, inputs):
    if narrow_floats.needs_bit_cast(ctx.in_dtypes[0], attrs.dtype):
        return narrow_floats.cast(ctx, inputs[0], ctx.in_dtypes[0], attrs.dtype, attrs.saturate, attrs.round_mode)
    return relax_op().astype(inputs[0], attrs.dtype)


@RELAX_EXPORT.register("transpose")
def _transpose(ctx, node, attrs, inputs):
    return relax_op().permute_dims(inputs[0], list(attrs.axes) if attrs.axes else None)


@RELAX_EXPORT.register("strided_slice")
def _strided_slice(ctx, node, attrs, inputs):
    from nnvm_bridge.ops.transform import slice_bounds

    op = relax_op()
    shape = ctx.in_shapes[0]
    y = inputs[0]
    axes, begins, ends, steps = [], [], [], []
    for ax, (start, stop, step) in enumerate(slice_bounds(attrs, shape)[:len(attrs.begin)]):
        if step < 0:  # a negative stride is a positive one over the flipped axis (unambiguous in Relax)
            y = ctx.emit(op.flip(y, ax))
            start, stop, step = shape[ax] - 1 - start, shape[ax] - 1 - stop, -step
        axes.append(ax)
        begins.append(ctx.prim(start))
        ends.append(ctx.prim(dim_max(stop, start)))
        steps.append(step)
    y = op.strided_slice(y, axes, begins, ends, steps, assume_inbound=True)
    out = ctx.out_shapes[0]
    if any(step != 1 for step in steps) and any(isinstance(d, Dim) for d in out):
        # TVM's legalization derives a strided length its own way (max(1, H // 4) // 2 where the IR has H // 8), so
        # a concatenation of such a slice with parts of the IR's form loses its shape; the reshape keeps the IR's form.
        y = op.reshape(ctx.emit(y), ctx.shape(out))
    return y


@RELAX_EXPORT.register("slice_like")
def _slice_like(ctx, node, attrs, inputs):
    out = ctx.out_shapes[0]
    return relax_op().strided_slice(inputs[0], list(range(len(out))), [0] * len(out), ctx.shape(out), assume_inbound=True)


@RELAX_EXPORT.register("flip")
def _flip(ctx, node, attrs, inputs):
    return relax_op().flip(inputs[0], attrs.axis % len(ctx.in_shapes[0]))


def _index(ctx, e, dtype, dim=None):
    """Indices as int64; negative ones wrap around ``dim`` as numpy/ONNX do."""
    op = relax_op()
    if dtype != "int64":
        e = ctx.emit(op.astype(e, "int64"))
    if dim is not None:
        zero = ctx.scalar(0, "int64")
        e = ctx.emit(op.where(op.less(e, zero), op.add(e, ctx.dim_tensor(dim, "int64")), e))
    return e


@RELAX_EXPORT.register("take")
def _take(ctx, node, attrs, inputs):
    op = relax_op()
    data = inputs[0]
    if attrs.axis is None:
        data = ctx.emit(op.reshape(data, [-1]))
        dim = prod(ctx.in_shapes[0])
        axis = 0
    else:
        axis = attrs.axis % len(ctx.in_shapes[0])
        dim = ctx.in_shapes[0][axis]
    return op.take(data, _index(ctx, inputs[1], ctx.in_dtypes[1], dim), axis=axis, mode="clip")


@RELAX_EXPORT.register("gather_nd")
def _gather_nd(ctx, node, attrs, inputs):
    # NNVM/MXNet index with the FIRST dim of indices; Relax (like ONNX) with the last
    op = relax_op()
    idx = _index(ctx, inputs[1], ctx.in_dtypes[1])
    k, m = len(ctx.in_shapes[1]), int(ctx.in_shapes[1][0])
    dims = ctx.in_shapes[0][:m]  # negative indices count from the end, as numpy's and ONNX's do
    if is_static(dims):
        limits = ctx.const(np.array(dims, "int64"), "int64")
    else:
        limits = ctx.emit(op.shape_to_tensor(compat.relax().ShapeExpr([ctx.prim(d) for d in dims])))
    limits = ctx.emit(op.reshape(limits, [m] + [1] * (k - 1)))
    idx = ctx.emit(op.where(op.less(idx, ctx.scalar(0, "int64")), op.add(idx, limits), idx))
    idx = ctx.emit(op.permute_dims(idx, list(range(1, k)) + [0]))
    return op.gather_nd(inputs[0], idx)


@RELAX_EXPORT.register("where")
def _where(ctx, node, attrs, inputs):
    op = relax_op()
    cond, cshape = inputs[0], ctx.in_shapes[0]
    xshape = ctx.in_shapes[1]
    if len(cshape) == 1 and len(xshape) > 1 and cshape[0] == xshape[0]:
        cshape = [cshape[0]] + [1] * (len(xshape) - 1)  # MXNet: a 1-D cond picks rows
        cond = ctx.emit(op.reshape(cond, ctx.shape(cshape)))
    cond, x, y = ctx.broadcast_operands([cond, inputs[1], inputs[2]], [cshape] + ctx.in_shapes[1:3])
    return op.where(truth(ctx, cond, ctx.in_dtypes[0]), x, y)


@RELAX_EXPORT.register("tile")
def _tile(ctx, node, attrs, inputs):
    # reshape -> broadcast_to -> reshape (exactly np.tile); Relax's own tile left NaNs in its output for
    # large repeat counts on every axis (ONNX test_tile) in TVM 0.27
    op = relax_op()
    shape = list(ctx.in_shapes[0])
    reps = list(attrs.reps)
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + shape
    reps = [1] * (n - len(reps)) + reps
    inter = [v for d in shape for v in (1, d)]
    wide = [v for r, d in zip(reps, shape) for v in (r, d)]
    y = ctx.emit(op.reshape(inputs[0], ctx.shape(inter)))
    y = ctx.emit(op.broadcast_to(y, ctx.shape(wide)))
    return op.reshape(y, ctx.shape([r * d for r, d in zip(reps, shape)]))


@RELAX_EXPORT.register("repeat")
def _repeat(ctx, node, attrs, inputs):
    return relax_op().repeat(inputs[0], attrs.repeats, axis=attrs.axis)


@RELAX_EXPORT.register("one_hot")
def _one_hot(ctx, node, attrs, inputs):
    op = relax_op()
    idx = _index(ctx, inputs[0], ctx.in_dtypes[0], attrs.depth)
    axis = attrs.axis % (len(ctx.in_shapes[0]) + 1)
    y = ctx.emit(op.one_hot(idx, float(attrs.on_value), float(attrs.off_value), attrs.depth, axis=axis))
    return op.astype(y, attrs.dtype)


@RELAX_EXPORT.register("topk")
def _topk(ctx, node, attrs, inputs):
    op = relax_op()
    rx = compat.relax()
    axis = attrs.axis % len(ctx.in_shapes[0])
    k = attrs.k if attrs.k > 0 else ctx.in_shapes[0][axis]
    ctx.need_static("k (the whole axis)", k)
    res = ctx.emit(op.topk(inputs[0], k=k, axis=axis, ret_type=attrs.ret_type, largest=not attrs.is_ascend,
                           dtype=attrs.dtype))
    if attrs.ret_type == "both":
        return [rx.TupleGetItem(res, 0), rx.TupleGetItem(res, 1)]
    return res


@RELAX_EXPORT.register("depth_to_space")
def _depth_to_space(ctx, node, attrs, inputs):
    op = relax_op()
    n, c, h, w = ctx.in_shapes[0]
    b = attrs.block_size
    if attrs.mode == "DCR":
        y = ctx.emit(op.reshape(inputs[0], ctx.shape([n, b, b, c // (b * b), h, w])))
        y = ctx.emit(op.permute_dims(y, [0, 3, 4, 1, 5, 2]))
    else:
        y = ctx.emit(op.reshape(inputs[0], ctx.shape([n, c // (b * b), b, b, h, w])))
        y = ctx.emit(op.permute_dims(y, [0, 1, 4, 2, 5, 3]))
    return op.reshape(y, ctx.shape([n, c // (b * b), h * b, w * b]))


@RELAX_EXPORT.register("space_to_depth")
def _space_to_depth(ctx, node, attrs, inputs):
    op = relax_op()
    n, c, h, w = ctx.in_shapes[0]
    b = attrs.block_size
    y = ctx.emit(op.reshape(inputs[0], ctx.shape([n, c, h // b, b, w // b, b])))
    y = ctx.emit(op.permute_dims(y, [0, 3, 5, 1, 2, 4]))
    return op.reshape(y, ctx.shape([n, c * b * b, h // b, w // b]))


@RELAX_EXPORT.register("cumsum")
def _cumsum(ctx, node, attrs, inputs):
    op = relax_op()
    axis = attrs.axis % len(ctx.in_shapes[0])
    x = ctx.emit(op.flip(inputs[0], axis)) if attrs.reverse else inputs[0]
    y = ctx.emit(op.cumsum(x, axis=axis, dtype=ctx.in_dtypes[0], exclusive=bool(attrs.exclusive)))
    return op.flip(y, axis) if attrs.reverse else y


@RELAX_EXPORT.register("cumprod")
def _cumprod(ctx, node, attrs, inputs):
    op = relax_op()
    axis = attrs.axis % len(ctx.in_shapes[0])
    x = ctx.emit(op.flip(inputs[0], axis)) if attrs.reverse else inputs[0]
    y = ctx.emit(op.cumprod(x, axis=axis, dtype=ctx.in_dtypes[0], exclusive=bool(attrs.exclusive)))
    return op.flip(y, axis) if attrs.reverse else y
