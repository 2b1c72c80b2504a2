"""Reductions: sum/max/min/mean/prod, argmax/argmin, norm."""
from __future__ import annotations

from nnvm_bridge.errors import AttributeParseError
from nnvm_bridge.ops.reduce import reduce_axes

from ..registry import ONNX_EXPORT

_REDUCE = {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin", "mean": "ReduceMean", "prod": "ReduceProd"}


def _finish(ctx, attrs, y):
    """NNVM returns shape (1,) where ONNX returns a scalar (everything reduced, no keepdims)."""
    if ctx.out_shapes[0] is not None and ctx.out_shape(0) == (1,) and not attrs.keepdims:
        return ctx.b.op("Reshape", [y, ctx.b.i64([1])])
    return y


def _reduce(op_type):
    def fn(ctx, node, attrs, inputs):
        nd = ctx.ndim(0)
        axes = reduce_axes(attrs, nd)
        if not axes:
            return ctx.b.op("Identity", [inputs[0]])
        return _finish(ctx, attrs, ctx.b.reduce(op_type, inputs[0], list(axes), attrs.keepdims))
    return fn


for _name, _op in _REDUCE.items():
    ONNX_EXPORT.add(_name, _reduce(_op), since=11)


@ONNX_EXPORT.register("norm", since=11)
def _norm(ctx, node, attrs, inputs):
    op_type = {1: "ReduceL1", 2: "ReduceL2"}.get(attrs.ord)
    if op_type is None:
        raise AttributeParseError(f"norm ord={attrs.ord} has no ONNX equivalent (1 or 2)")
    nd = ctx.ndim(0)
    axes = reduce_axes(type(attrs)(attrs, exclude=False), nd)
    return _finish(ctx, attrs, ctx.b.reduce(op_type, inputs[0], list(axes), attrs.keepdims))


def _arg_check(ctx, node, attrs, inputs):
    if ctx.in_shapes[0] is None:
        return None
    nd = len(ctx.in_shapes[0])
    axes = reduce_axes(attrs, nd)
    if len(axes) != 1 and len(axes) != nd:
        return f"over several axes {axes}"
    return None


def _arg(op_type):
    def fn(ctx, node, attrs, inputs):
        b, x = ctx.b, inputs[0]
        nd = ctx.ndim(0)
        axes = reduce_axes(attrs, nd)
        keep = bool(attrs.keepdims)
        if len(axes) == 1:
            y = b.op(op_type, [x], axis=axes[0], keepdims=int(keep))
            if not keep and nd == 1:
                y = b.op("Reshape", [y, b.i64([1])])
        else:  # every axis: over the flattened tensor
            flat = b.op("Reshape", [x, b.i64([-1])])
            y = b.op(op_type, [flat], axis=0, keepdims=1)
            if keep and nd > 1:
                y = b.op("Reshape", [y, b.i64([1] * nd)])
        return b.cast(y, ctx.out_dtype())
    return fn


ONNX_EXPORT.add("argmax", _arg("ArgMax"), since=11, check=_arg_check)
ONNX_EXPORT.add("argmin", _arg("ArgMin"), since=11, check=_arg_check)
