"""Relax emitters for the ops whose shape comes from a tensor at run time.

The IR knows their output shapes as Dim expressions of the input symbols (the importer computed them from
the same shape tensors), so the Relax code is written from those shapes; the shape tensors themselves are
then dead and Relax drops them.
"""
from __future__ import annotations

from ..registry import RELAX_EXPORT
from .context import _op


def _out(ctx):
    shape = ctx.out_shapes[0]
    if shape is None:
        ctx.fail("the output shape is unknown; pass shape={input: dims}")
    return ctx.shape(shape)


@RELAX_EXPORT.register("dyn_reshape")
def _dyn_reshape(ctx, node, attrs, inputs):
    return _op().reshape(inputs[0], _out(ctx))


@RELAX_EXPORT.register("dyn_broadcast_to")
def _dyn_broadcast_to(ctx, node, attrs, inputs):
    return _op().broadcast_to(inputs[0], _out(ctx))


@RELAX_EXPORT.register("dyn_full")
def _dyn_full(ctx, node, attrs, inputs):
    return _op().full(_out(ctx), ctx.scalar(attrs.value, attrs.dtype), attrs.dtype)


@RELAX_EXPORT.register("dyn_arange")
def _dyn_arange(ctx, node, attrs, inputs):
    # start + delta * [0, 1, ..., n): n is the output length the IR knows; the bounds are tensors
    op = _op()
    n = _out(ctx)[0]
    start, delta = (ctx.emit(op.astype(op.reshape(x, []), attrs.dtype)) for x in (inputs[0], inputs[2]))
    steps = ctx.emit(op.arange(0, n, 1, dtype=attrs.dtype))
    return op.add(op.multiply(steps, delta), start)


@RELAX_EXPORT.register("dyn_slice")
def _dyn_slice(ctx, node, attrs, inputs):
    """Full-rank begin/end/strides tensors for dynamic_strided_slice (the sliced axes from the tensors, the
    others whole); to_relax's match_cast binds the lengths it computes to the IR's symbols."""
    op = _op()
    axes, steps = ctx.const_inputs[3], ctx.const_inputs[4]
    if axes is None or steps is None:
        ctx.fail("a Slice whose axes or steps are computed at run time is not supported in Relax")
    axes = [int(a) % len(ctx.in_shapes[0]) for a in axes.reshape(-1)]
    begin, end, stride = [], [], []
    for a, d in enumerate(ctx.in_shapes[0]):
        if a in axes:
            k = ctx.const(axes.index(a), "int64")
            begin.append(op.take(op.astype(inputs[1], "int64"), op.reshape(k, [1]), axis=0))
            end.append(op.take(op.astype(inputs[2], "int64"), op.reshape(k, [1]), axis=0))
            stride.append(ctx.const([int(steps.reshape(-1)[axes.index(a)])], "int64"))
        else:
            begin.append(ctx.const([0], "int64"))
            end.append(op.reshape(ctx.dim_tensor(d, "int64"), [1]))
            stride.append(ctx.const([1], "int64"))
    parts = [ctx.emit(op.concat([ctx.emit(x) for x in xs], axis=0)) for xs in (begin, end, stride)]
    return op.dynamic_strided_slice(inputs[0], *parts)
