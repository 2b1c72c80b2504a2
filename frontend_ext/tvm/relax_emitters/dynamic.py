"""Relax emitters for the ops whose shape comes from a tensor at run time.

The IR knows their output shapes as Dim expressions of the input symbols (the importer computed them from
the same shape tensors), so the Relax code is written from those shapes; the shape tensors themselves are
then dead and Relax drops them.
"""
from __future__ import annotations

from nnvm_bridge.ir.symbolic import Dim, parse_shape

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op
from .transform import reshape_checked


def _out(ctx):
    shape = ctx.out_shapes[0]
    if shape is None:
        ctx.fail("the output shape is unknown; pass shape={input: dims}")
    return ctx.shape(shape)


@RELAX_EXPORT.register("dyn_reshape")
def _dyn_reshape(ctx, node, attrs, inputs):
    _out(ctx)
    return reshape_checked(ctx, inputs[0], ctx.out_shapes[0])


@RELAX_EXPORT.register("dyn_broadcast_to")
def _dyn_broadcast_to(ctx, node, attrs, inputs):
    # where the shape holds new symbols, the importer passes the exact output shape (Expand's target broadcast)
    ctx.bind_run_time_dims(relax_op().astype(inputs[1], "int64"), ctx.out_shapes[0])
    return relax_op().broadcast_to(inputs[0], _out(ctx))


@RELAX_EXPORT.register("dyn_full")
def _dyn_full(ctx, node, attrs, inputs):
    ctx.bind_run_time_dims(relax_op().astype(inputs[0], "int64"), ctx.out_shapes[0])
    return relax_op().full(_out(ctx), ctx.scalar(attrs.value, attrs.dtype), attrs.dtype)


@RELAX_EXPORT.register("dyn_arange")
def _dyn_arange(ctx, node, attrs, inputs):
    # start + delta * [0, 1, ..., n): n is the output length the IR knows; the bounds are tensors
    op = relax_op()
    n = _out(ctx)[0]
    start, delta = (ctx.emit(op.astype(op.reshape(x, []), attrs.dtype)) for x in (inputs[0], inputs[2]))
    steps = ctx.emit(op.arange(0, n, 1, dtype=attrs.dtype))
    return op.add(op.multiply(steps, delta), start)


@RELAX_EXPORT.register("dyn_slice")
def _dyn_slice(ctx, node, attrs, inputs):
    """``take(x, start + arange(n), axis)`` per sliced axis (steps are 1: the importer refuses others), with
    ``n`` the output length the IR knows as a Dim, bound here from the bounds where it is a new symbol (bounds
    that only run time knows: python's rules, each clamped onto the axis). ``dynamic_strided_slice`` would give
    fresh shape symbols that TVM 0.27's CPU pipeline then confuses with the inputs' (it reorders the shape
    function after the use)."""
    op = relax_op()
    axes_entry = node.inputs[3]
    axes = ctx.params.get(axes_entry.node.name) if axes_entry.node.is_variable else None
    if axes is None:
        ctx.fail("Slice axes computed at run time cannot be compiled; pass shape={input: dims}")
    data_shape, out_shape = ctx.in_shapes[0], ctx.out_shapes[0]
    rank = len(data_shape)
    starts, ends = (ctx.emit(op.astype(x, "int64")) for x in inputs[1:3])
    zero = ctx.scalar(0, "int64")
    x = inputs[0]
    for i, a in enumerate(int(a) % rank for a in axes.reshape(-1)):
        dim = ctx.dim_tensor(data_shape[a], "int64")

        def placed(bounds):  # python rules: -k counts from the end, then onto [0, dim]
            v = ctx.emit(op.reshape(op.strided_slice(bounds, [0], [i], [i + 1]), []))
            v = ctx.emit(op.add(v, op.multiply(op.astype(op.less(v, zero), "int64"), dim)))
            return ctx.emit(op.minimum(op.maximum(v, zero), dim))
        start = placed(starts)
        length = ctx.emit(op.maximum(op.subtract(placed(ends), start), zero))
        ctx.bind_run_time_dims(op.reshape(length, [1]), [out_shape[a]])
        index = ctx.emit(op.add(op.arange(0, ctx.prim(out_shape[a]), 1, dtype="int64"), start))
        x = ctx.emit(op.take(x, index, axis=a))
    return x


@RELAX_EXPORT.register("bind_dims")
def _bind_dims(ctx, node, attrs, inputs):
    # the symbols that name these values (frontend/onnx/run_time_values.py), bound where they are computed
    dims = parse_shape(attrs.dims)
    ctx.bind_run_time_dims(relax_op().reshape(relax_op().astype(inputs[0], "int64"), [len(dims)]), dims)
    return inputs[0]


@RELAX_EXPORT.register("dyn_pad")
def _dyn_pad(ctx, node, attrs, inputs):
    """Per axis, ``take`` at ``arange(out) - before`` (clipped onto the axis; reflected for mode=reflect), and
    ``value`` where that lies outside (mode=constant): any pads, negative ones too, one gather per axis."""
    op = relax_op()
    data_shape, out_shape = ctx.in_shapes[0], ctx.out_shapes[0]
    if data_shape is None or out_shape is None:
        ctx.fail("the input or output shape is unknown; pass shape={input: dims}")
    rank = len(data_shape)
    pads = ctx.emit(op.astype(inputs[1], "int64"))
    if any(n not in ctx.symbols.vars for d in out_shape if isinstance(d, Dim) for n in d.symbols()):
        # new symbols (pads that only run time knows): bound from the input's shape plus the pads
        begins, ends = (op.strided_slice(pads, [0], [k], [k + rank]) for k in (0, rank))
        sizes = op.add(op.add(op.shape_to_tensor(compat.relax().ShapeExpr(ctx.shape(data_shape))), begins), ends)
        ctx.bind_run_time_dims(ctx.emit(sizes), out_shape)
    x = inputs[0]
    zero = ctx.scalar(0, "int64")
    for a in range(rank):
        n = ctx.dim_tensor(data_shape[a], "int64")
        before = ctx.emit(op.reshape(op.strided_slice(pads, [0], [a], [a + 1]), []))
        index = ctx.emit(op.subtract(op.arange(0, ctx.prim(out_shape[a]), 1, dtype="int64"), before))
        last = ctx.emit(op.subtract(n, ctx.scalar(1, "int64")))
        source = index
        if attrs.mode == "reflect":
            source = ctx.emit(op.abs(index))
            source = ctx.emit(op.where(op.greater_equal(source, n), op.subtract(op.add(last, last), source), source))
        x = ctx.emit(op.take(x, op.minimum(op.maximum(source, zero), last), axis=a))
        if attrs.mode == "constant":
            inside = ctx.emit(op.logical_and(op.greater_equal(index, zero), op.less(index, n)))
            trailing = rank - a - 1
            if trailing:
                inside = ctx.emit(op.expand_dims(inside, list(range(1, trailing + 1))))
            x = ctx.emit(op.where(inside, x, ctx.scalar(attrs.pad_value, ctx.in_dtypes[0])))
    return x
