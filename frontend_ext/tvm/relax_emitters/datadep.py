"""Relax emitters for the ops whose output length the values decide (nonzero, NMS, TopK with a tensor k).

Relax gives their results a shape it cannot know; ``to_relax`` then ``match_cast``s each to the IR's shape,
which binds the node's anonymous symbol (``x_dim1``) to the length computed at run time, so what follows
is compiled for every length.
"""
from __future__ import annotations

from .. import compat
from ..registry import RELAX_EXPORT
from .context import _op


@RELAX_EXPORT.register("nonzero")
def _nonzero(ctx, node, attrs, inputs):
    x = inputs[0]
    if not ctx.in_shapes[0]:
        x = _op().reshape(x, [1])
    return _op().nonzero(x)


def _run_time_length(ctx, tensor, name):
    """A tir.Var bound to the value of the one-element int64 ``tensor`` (a run-time length)."""
    var = compat.tir().Var(name, "int64")
    shape = ctx.emit(_op().tensor_to_shape(_op().reshape(tensor, [1])))
    ctx.bb.match_cast(shape, compat.shape_type([var]))
    return var


@RELAX_EXPORT.register("dyn_topk")
def _dyn_topk(ctx, node, attrs, inputs):
    op = _op()
    x = inputs[0]
    axis = attrs.axis % len(ctx.in_shapes[0])
    k = _run_time_length(ctx, op.astype(inputs[1], "int64"), f"{ctx.node.name}_k")
    order = ctx.emit(op.argsort(x, axis=axis, descending=not attrs.is_ascend, dtype="int64"))
    indices = ctx.emit(op.strided_slice(order, axes=[axis], begin=[0], end=[k], assume_inbound=True))  # ONNX: k <= the axis
    return [op.gather_elements(x, indices, axis=axis), indices]


@RELAX_EXPORT.register("all_class_non_max_suppression")
def _nms(ctx, node, attrs, inputs):
    """TVM's all_class_non_max_suppression; it applies max_output_boxes_per_class only when that is a
    constant (its lowering reads no tensor limit), so a run-time limit is refused."""
    op = _op()
    rx = compat.relax()
    boxes, scores, limit, iou, score = inputs
    fixed = ctx.const_inputs[2]
    if fixed is None:
        ctx.fail("TVM's NMS takes max_output_boxes_per_class only as a constant; make it an initializer, or "
                 "pass shape= so that it folds")
    limit = rx.const(max(int(fixed.reshape(-1)[0]), 0), "int64")
    iou, score = (ctx.emit(op.reshape(x, [])) for x in (iou, score))
    res = ctx.emit(op.vision.all_class_non_max_suppression(_corner_boxes(ctx, boxes, attrs), scores, limit, iou,
                                                           score, output_format="onnx"))
    n = _run_time_length(ctx, ctx.emit(rx.TupleGetItem(res, 1)), f"{ctx.node.name}_count")
    # the count never exceeds the rows, and saying so keeps if_then_else out of the shapes (FuseOps fails on it)
    return op.strided_slice(ctx.emit(rx.TupleGetItem(res, 0)), axes=[0], begin=[0], end=[n], assume_inbound=True)


def _corner_boxes(ctx, boxes, attrs):
    """(y1, x1, y2, x2) boxes with y1 <= y2 and x1 <= x2 from either ONNX box format."""
    op = _op()
    rx = compat.relax()
    a, b, c, d = (ctx.emit(rx.TupleGetItem(ctx.emit(op.split(boxes, 4, axis=2)), i)) for i in range(4))
    if attrs.center_point_box:  # (xc, yc, w, h)
        half = rx.const(0.5, ctx.in_dtypes[0])
        corners = [op.subtract(b, op.multiply(d, half)), op.subtract(a, op.multiply(c, half)),
                   op.add(b, op.multiply(d, half)), op.add(a, op.multiply(c, half))]
    else:  # ONNX lets either corner come first
        corners = [op.minimum(a, c), op.minimum(b, d), op.maximum(a, c), op.maximum(b, d)]
    return ctx.emit(op.concat([ctx.emit(x) for x in corners], axis=2))
