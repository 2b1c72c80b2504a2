"""Reductions: sum/max/min/mean/prod, argmax/argmin, norm."""
from __future__ import annotations

from nnvm_bridge.ops.reduce import reduce_axes

from ..registry import handler

_REDUCE = {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin", "mean": "ReduceMean", "prod": "ReduceProd"}


def _finish(ctx, y):
    """NNVM returns shape (1,) where ONNX returns a scalar (everything reduced, no keepdims)."""
    if ctx.out_shapes[0] is not None and ctx.out_shape(0) == (1,) and not ctx.attrs.keepdims:
        return ctx.b.op("Reshape", [y, ctx.b.i64([1])])
    return y


def _reduce(op_type):
    def fn(ctx):
        nd = ctx.ndim(0)
        axes = reduce_axes(ctx.attrs, nd)
        if not axes:
            return ctx.b.op("Identity", [ctx.x])
        return _finish(ctx, ctx.b.reduce(op_type, ctx.x, list(axes), ctx.attrs.keepdims))
    return fn


for _name, _op in _REDUCE.items():
    handler(_name)(_reduce(_op))


@handler("norm")
def _norm(ctx):
    op_type = {1: "ReduceL1", 2: "ReduceL2"}.get(ctx.attrs.ord)
    if op_type is None:
        from nnvm_bridge.errors import AttributeParseError

        raise AttributeParseError(f"norm ord={ctx.attrs.ord} has no ONNX equivalent (1 or 2)")
    nd = ctx.ndim(0)
    axes = reduce_axes(type(ctx.attrs)(ctx.attrs, exclude=False), nd)
    return _finish(ctx, ctx.b.reduce(op_type, ctx.x, list(axes), ctx.attrs.keepdims))


def _arg_check(ctx):
    if ctx.in_shapes[0] is None:
        return None
    nd = len(ctx.in_shapes[0])
    axes = reduce_axes(ctx.attrs, nd)
    if len(axes) != 1 and len(axes) != nd:
        return f"over several axes {axes}"
    return None


def _arg(op_type):
    def fn(ctx):
        b = ctx.b
        nd = ctx.ndim(0)
        axes = reduce_axes(ctx.attrs, nd)
        keep = bool(ctx.attrs.keepdims)
        if len(axes) == 1:
            y = b.op(op_type, [ctx.x], axis=axes[0], keepdims=int(keep))
            if not keep and nd == 1:
                y = b.op("Reshape", [y, b.i64([1])])
        else:  # every axis: over the flattened tensor
            flat = b.op("Reshape", [ctx.x, b.i64([-1])])
            y = b.op(op_type, [flat], axis=0, keepdims=1)
            if keep and nd > 1:
                y = b.op("Reshape", [y, b.i64([1] * nd)])
        return b.cast(y, ctx.out_dtype())
    return fn


handler("argmax", check=_arg_check)(_arg("ArgMax"))
handler("argmin", check=_arg_check)(_arg("ArgMin"))
