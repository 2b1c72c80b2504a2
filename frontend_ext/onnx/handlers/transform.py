"""Shape manipulation: reshape, transpose, slicing, split, concat, broadcast, matmul, tile ..."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.symbolic import SymbolicDimError, is_symbolic
from nnvm_bridge.ops.common import norm_axis, prod
from nnvm_bridge.ops.transform import transpose_axes, slice_bounds, split_points

from ..builder import INT64_MIN
from ..registry import ONNX_EXPORT


@ONNX_EXPORT.register("flatten", since=11)
def _flatten(ctx, node, attrs, inputs):
    return ctx.b.op("Flatten", [inputs[0]], axis=1)


@ONNX_EXPORT.register("concatenate", since=11)
def _concatenate(ctx, node, attrs, inputs):
    return ctx.b.op("Concat", list(inputs), axis=norm_axis(attrs.axis, ctx.ndim(0)))


@ONNX_EXPORT.register("stack", since=11)
def _stack(ctx, node, attrs, inputs):
    axis = norm_axis(attrs.axis, ctx.ndim(0), extra=1)
    parts = [ctx.b.unsqueeze(x, [axis]) for x in inputs]
    return ctx.b.op("Concat", parts, axis=axis)


@ONNX_EXPORT.register("expand_dims", since=11)
def _expand_dims(ctx, node, attrs, inputs):
    axis = norm_axis(attrs.axis, ctx.ndim(0), extra=1)
    return ctx.b.unsqueeze(inputs[0], list(range(axis, axis + attrs.num_newaxis)))


@ONNX_EXPORT.register("squeeze", since=11)
def _squeeze(ctx, node, attrs, inputs):
    shape = ctx.shape(0)
    if attrs.axis:
        axes = sorted({norm_axis(a, len(shape)) for a in attrs.axis})
    else:
        axes = [i for i, d in enumerate(shape) if d == 1]
    if not axes:
        return ctx.b.op("Identity", [inputs[0]])
    return ctx.b.squeeze(inputs[0], axes)


@ONNX_EXPORT.register("split", since=11)
def _split(ctx, node, attrs, inputs):
    shape = ctx.shape(0)
    axis = norm_axis(attrs.axis, len(shape))
    pts = [0] + split_points(attrs, shape[axis]) + [shape[axis]]
    sizes = [e - s for s, e in zip(pts[:-1], pts[1:])]
    return ctx.b.split(inputs[0], sizes, axis)


@ONNX_EXPORT.register("reshape", since=11)
def _reshape(ctx, node, attrs, inputs):
    return ctx.b.reshape(inputs[0], ctx.out_shape(0), ctx.shape(0))


@ONNX_EXPORT.register("reshape_like", since=11)
def _reshape_like(ctx, node, attrs, inputs):
    return ctx.b.op("Reshape", [inputs[0], ctx.b.op("Shape", [inputs[1]])])


@ONNX_EXPORT.register("transpose", since=11)
def _transpose(ctx, node, attrs, inputs):
    return ctx.b.transpose(inputs[0], transpose_axes(attrs, ctx.ndim(0)))


@ONNX_EXPORT.register("strided_slice", since=11)
def _strided_slice(ctx, node, attrs, inputs):
    shape = ctx.shape(0)
    starts, ends, axes, steps = [], [], [], []
    for i, (b, e, s) in enumerate(slice_bounds(attrs, shape)[:len(attrs.begin)]):
        if ctx.b.dynamic_batch and i == 0:
            # keep the user's bounds so nothing depends on the export-time batch size
            b, e, s = attrs.begin[0], attrs.end[0], (attrs.stride[0] if attrs.stride else 1)
        elif is_symbolic(shape[i]):  # the user's bounds too: ONNX Slice clamps them as python does
            b, e, s = _symbolic_axis_bounds(attrs, i, node)
        elif not len(range(b, e, s)):
            b, e, s = 0, 0, 1  # empty along this axis (ONNX would clamp a start of -1 to 0)
        elif s < 0 and e < 0:
            e = INT64_MIN  # python's "before index 0"
        starts.append(b)
        ends.append(e)
        axes.append(i)
        steps.append(s)
    if not axes:
        return ctx.b.op("Identity", [inputs[0]])
    return ctx.b.slice(inputs[0], starts, ends, axes, steps)


def _symbolic_axis_bounds(attrs, i, node):
    b, e, s = attrs.begin[i], attrs.end[i], (attrs.stride[i] if attrs.stride else 1)
    if s < 0 and b < -1:  # python clamps a start before index 0 to "empty", ONNX to index 0
        raise SymbolicDimError(f"strided_slice from {b} backwards on a symbolic axis {i}: give the input shapes "
                               "with shape=", node=node.name, op=node.op)
    return b, e, s


@ONNX_EXPORT.register("slice_like", since=11)
def _slice_like(ctx, node, attrs, inputs):
    b = ctx.b
    nd, nd_like = ctx.ndim(0), ctx.ndim(1)
    axes = sorted({norm_axis(x, nd) for x in attrs.axis}) if attrs.axis else list(range(min(nd, nd_like)))
    ends = b.op("Gather", [b.op("Shape", [inputs[1]]), b.i64(axes)], axis=0)
    return b.op("Slice", [inputs[0], b.i64([0] * len(axes)), ends, b.i64(axes)])


@ONNX_EXPORT.register("flip", since=11)
def _flip(ctx, node, attrs, inputs):
    axis = norm_axis(attrs.axis, ctx.ndim(0))
    return ctx.b.slice(inputs[0], [-1], [INT64_MIN], [axis], [-1])


@ONNX_EXPORT.register("broadcast_to", since=11)
def _broadcast_to(ctx, node, attrs, inputs):
    shape = ctx.shape(0)
    target = list(ctx.out_shape(0))
    off = len(target) - len(shape)
    # 1 where the input already has the size: Expand keeps it (and a dynamic batch stays dynamic)
    spec = [1 if i >= off and shape[i - off] == t else t for i, t in enumerate(target)]
    return ctx.b.op("Expand", [inputs[0], ctx.b.i64(spec)])


@ONNX_EXPORT.register("expand_like", since=11)
def _expand_like(ctx, node, attrs, inputs):
    b = ctx.b
    nd_like = ctx.ndim(1)
    axes = sorted({norm_axis(x, nd_like) for x in attrs.axis})
    if attrs.exclude:
        axes = [i for i in range(nd_like) if i not in axes]
    x = b.unsqueeze(inputs[0], axes) if axes else inputs[0]
    return b.op("Expand", [x, b.op("Shape", [inputs[1]])])


def _last_two_swapped(nd):
    return list(range(nd - 2)) + [nd - 1, nd - 2]


@ONNX_EXPORT.register("matmul", "batch_matmul", since=11)
def _matmul(ctx, node, attrs, inputs):
    b = ctx.b
    x, y = inputs[0], inputs[1]
    if attrs.transpose_a:
        x = b.transpose(x, _last_two_swapped(ctx.ndim(0)))
    if attrs.transpose_b:
        y = b.transpose(y, _last_two_swapped(ctx.ndim(1)))
    return b.op("MatMul", [x, y])


@ONNX_EXPORT.register("tile", since=11)
def _tile(ctx, node, attrs, inputs):
    b = ctx.b
    nd = ctx.ndim(0)
    reps = list(attrs.reps)
    x = inputs[0]
    if len(reps) < nd:
        reps = [1] * (nd - len(reps)) + reps
    elif len(reps) > nd:
        x = b.unsqueeze(x, list(range(len(reps) - nd)))
    return b.op("Tile", [x, b.i64(reps)])


@ONNX_EXPORT.register("repeat", since=11)
def _repeat(ctx, node, attrs, inputs):
    b = ctx.b
    shape = ctx.shape(0)
    x = inputs[0]
    if attrs.axis is None:
        x = b.op("Reshape", [x, b.i64([-1])])
        shape, axis = (prod(shape),), 0
    else:
        axis = norm_axis(attrs.axis, len(shape))
    r = int(attrs.repeats)
    # each element repeated r times in place: add an axis after it, tile it, merge back
    y = b.unsqueeze(x, [axis + 1])
    reps = [1] * (len(shape) + 1)
    reps[axis + 1] = r
    y = b.op("Tile", [y, b.i64(reps)])
    target = list(shape)
    target[axis] *= r
    if any(is_symbolic(d) for d in target):  # the merged shape at run time: x's shape, the axis times r
        scale = np.ones(len(shape), np.int64)
        scale[axis] = r
        return b.op("Reshape", [y, b.op("Mul", [b.op("Shape", [x]), b.i64(list(scale))])])
    return b.reshape(y, target, list(shape[:axis + 1]) + [1] + list(shape[axis + 1:]))


@ONNX_EXPORT.register("cumsum", since=11)
def _cumsum(ctx, node, attrs, inputs):
    b = ctx.b
    axis = b.const(np.asarray(attrs.axis, dtype=np.int64))
    return b.op("CumSum", [inputs[0], axis], exclusive=int(attrs.exclusive), reverse=int(attrs.reverse))
