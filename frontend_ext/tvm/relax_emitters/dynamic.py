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
    ctx.fail("a Slice whose bounds are computed at run time is not supported in Relax yet; pass "
             "shape={input: dims} to fix them")
