"""Shape manipulation: reshape, transpose, slicing, split, concat, broadcast, matmul, tile ..."""
from __future__ import annotations

from nnvm_bridge.ops.common import norm_axis
from nnvm_bridge.ops.transform import _transpose_axes, slice_bounds, split_points

from ..builder import INT64_MIN
from ..registry import handler


@handler("flatten")
def _flatten(ctx):
    return ctx.b.op("Flatten", [ctx.x], axis=1)


@handler("concatenate")
def _concatenate(ctx):
    return ctx.b.op("Concat", list(ctx.inputs), axis=norm_axis(ctx.attrs.axis, ctx.ndim(0)))


@handler("stack")
def _stack(ctx):
    axis = norm_axis(ctx.attrs.axis, ctx.ndim(0), extra=1)
    parts = [ctx.b.unsqueeze(x, [axis]) for x in ctx.inputs]
    return ctx.b.op("Concat", parts, axis=axis)


@handler("expand_dims")
def _expand_dims(ctx):
    axis = norm_axis(ctx.attrs.axis, ctx.ndim(0), extra=1)
    return ctx.b.unsqueeze(ctx.x, list(range(axis, axis + ctx.attrs.num_newaxis)))


@handler("squeeze")
def _squeeze(ctx):
    shape = ctx.shape(0)
    if ctx.attrs.axis:
        axes = sorted({norm_axis(a, len(shape)) for a in ctx.attrs.axis})
    else:
        axes = [i for i, d in enumerate(shape) if d == 1]
    if not axes:
        return ctx.b.op("Identity", [ctx.x])
    return ctx.b.squeeze(ctx.x, axes)


@handler("split")
def _split(ctx):
    shape = ctx.shape(0)
    axis = norm_axis(ctx.attrs.axis, len(shape))
    pts = [0] + split_points(ctx.attrs, shape[axis]) + [shape[axis]]
    sizes = [e - s for s, e in zip(pts[:-1], pts[1:])]
    return ctx.b.split(ctx.x, sizes, axis)


@handler("reshape")
def _reshape(ctx):
    return ctx.b.reshape(ctx.x, ctx.out_shape(0), ctx.shape(0))


@handler("reshape_like")
def _reshape_like(ctx):
    return ctx.b.op("Reshape", [ctx.x, ctx.b.op("Shape", [ctx.inputs[1]])])


@handler("transpose")
def _transpose(ctx):
    return ctx.b.transpose(ctx.x, _transpose_axes(ctx.attrs, ctx.ndim(0)))


@handler("strided_slice")
def _strided_slice(ctx):
    shape = ctx.shape(0)
    a = ctx.attrs
    starts, ends, axes, steps = [], [], [], []
    for i, (b, e, s) in enumerate(slice_bounds(a, shape)[:len(a.begin)]):
        if ctx.b.dynamic_batch and i == 0:
            # keep the user's bounds so nothing depends on the export-time batch size
            b, e, s = a.begin[0], a.end[0], (a.stride[0] if a.stride else 1)
        elif not len(range(b, e, s)):
            b, e, s = 0, 0, 1  # empty along this axis (ONNX would clamp a start of -1 to 0)
        elif s < 0 and e < 0:
            e = INT64_MIN  # python's "before index 0"
        starts.append(b)
        ends.append(e)
        axes.append(i)
        steps.append(s)
    if not axes:
        return ctx.b.op("Identity", [ctx.x])
    return ctx.b.slice(ctx.x, starts, ends, axes, steps)


@handler("slice_like")
def _slice_like(ctx):
    b = ctx.b
    nd, nd_like = ctx.ndim(0), ctx.ndim(1)
    axes = sorted({norm_axis(x, nd) for x in ctx.attrs.axis}) if ctx.attrs.axis else list(range(min(nd, nd_like)))
    ends = b.op("Gather", [b.op("Shape", [ctx.inputs[1]]), b.i64(axes)], axis=0)
    return b.op("Slice", [ctx.x, b.i64([0] * len(axes)), ends, b.i64(axes)])


@handler("flip")
def _flip(ctx):
    axis = norm_axis(ctx.attrs.axis, ctx.ndim(0))
    return ctx.b.slice(ctx.x, [-1], [INT64_MIN], [axis], [-1])


@handler("broadcast_to")
def _broadcast_to(ctx):
    shape = ctx.shape(0)
    target = list(ctx.out_shape(0))
    off = len(target) - len(shape)
    # 1 where the input already has the size: Expand keeps it (and a dynamic batch stays dynamic)
    spec = [1 if i >= off and shape[i - off] == t else t for i, t in enumerate(target)]
    return ctx.b.op("Expand", [ctx.x, ctx.b.i64(spec)])


@handler("expand_like")
def _expand_like(ctx):
    b = ctx.b
    nd_like = ctx.ndim(1)
    axes = sorted({norm_axis(x, nd_like) for x in ctx.attrs.axis})
    if ctx.attrs.exclude:
        axes = [i for i in range(nd_like) if i not in axes]
    x = b.unsqueeze(ctx.x, axes) if axes else ctx.x
    return b.op("Expand", [x, b.op("Shape", [ctx.inputs[1]])])


def _last_two_swapped(nd):
    return list(range(nd - 2)) + [nd - 1, nd - 2]


@handler("matmul", "batch_matmul")
def _matmul(ctx):
    b = ctx.b
    x, y = ctx.inputs[0], ctx.inputs[1]
    if ctx.attrs.transpose_a:
        x = b.transpose(x, _last_two_swapped(ctx.ndim(0)))
    if ctx.attrs.transpose_b:
        y = b.transpose(y, _last_two_swapped(ctx.ndim(1)))
    return b.op("MatMul", [x, y])


@handler("tile")
def _tile(ctx):
    b = ctx.b
    nd = ctx.ndim(0)
    reps = list(ctx.attrs.reps)
    x = ctx.x
    if len(reps) < nd:
        reps = [1] * (nd - len(reps)) + reps
    elif len(reps) > nd:
        x = b.unsqueeze(x, list(range(len(reps) - nd)))
    return b.op("Tile", [x, b.i64(reps)])


@handler("repeat")
def _repeat(ctx):
    b = ctx.b
    shape = ctx.shape(0)
    x = ctx.x
    if ctx.attrs.axis is None:
        x = b.op("Reshape", [x, b.i64([-1])])
        shape, axis = (_prod(shape),), 0
    else:
        axis = norm_axis(ctx.attrs.axis, len(shape))
    r = int(ctx.attrs.repeats)
    # each element repeated r times in place: add an axis after it, tile it, merge back
    y = b.unsqueeze(x, [axis + 1])
    reps = [1] * (len(shape) + 1)
    reps[axis + 1] = r
    y = b.op("Tile", [y, b.i64(reps)])
    target = list(shape)
    target[axis] *= r
    return b.reshape(y, target, list(shape[:axis + 1]) + [1] + list(shape[axis + 1:]))


def _prod(xs):
    p = 1
    for v in xs:
        p *= int(v)
    return p
