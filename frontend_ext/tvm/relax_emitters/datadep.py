"""Relax emitters for the ops whose output length the values decide (nonzero, NMS, TopK with a tensor k,
unique).

Relax gives their results a shape it cannot know; ``to_relax`` then ``match_cast``s each to the IR's shape,
which binds the node's anonymous symbol (``x_dim1``) to the length computed at run time, so what follows
is compiled for every length.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.symbolic import Dim

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op


@RELAX_EXPORT.register("nonzero")
def _nonzero(ctx, node, attrs, inputs):
    x = inputs[0]
    if not ctx.in_shapes[0]:
        x = relax_op().reshape(x, [1])
    return relax_op().nonzero(x)


def _run_time_length(ctx, tensor, name):
    """A tir.Var bound to the value of the one-element int64 ``tensor`` (a run-time length)."""
    var = compat.tir().Var(name, "int64")
    shape = ctx.emit(relax_op().tensor_to_shape(relax_op().reshape(tensor, [1])))
    ctx.bb.match_cast(shape, compat.shape_type([var]))
    return var


def _known_length(ctx, d):
    """The PrimExpr of ``d`` when the symbols it needs are bound (the importer computed k as min(300, n) of a
    length already known), else None. Reading k from its tensor here instead trips TVM 0.27's CPU build (a
    shape variable used before it is defined) when n itself is data-dependent."""
    if isinstance(d, Dim) and not all(n in ctx.symbols.vars for n in d.symbols()):
        return None
    return ctx.prim(d)


@RELAX_EXPORT.register("dyn_topk")
def _dyn_topk(ctx, node, attrs, inputs):
    op = relax_op()
    x = inputs[0]
    axis = attrs.axis % len(ctx.in_shapes[0])
    k = _known_length(ctx, ctx.out_shapes[0][axis])
    if k is None:
        k = _run_time_length(ctx, op.astype(inputs[1], "int64"), f"{ctx.node.name}_k")
    order = ctx.emit(op.argsort(x, axis=axis, descending=not attrs.is_ascend, dtype="int64"))
    indices = ctx.emit(op.strided_slice(order, axes=[axis], begin=[0], end=[k], assume_inbound=True))  # ONNX: k <= the axis
    return [op.gather_elements(x, indices, axis=axis), indices]


@RELAX_EXPORT.register("all_class_non_max_suppression")
def _nms(ctx, node, attrs, inputs):
    """TVM's all_class_non_max_suppression, whose output has room for ``cap`` boxes per class. A constant
    limit of at most the number of boxes is the cap; otherwise (a run-time limit, a number of boxes known
    only at run time) the cap is every box and the first ``limit`` of each class are kept afterwards
    (greedy selection in score order picks the same first boxes whatever the limit)."""
    op = relax_op()
    rx = compat.relax()
    boxes, scores, limit, iou, score = inputs
    batch, classes, n_boxes = ctx.in_shapes[1]
    fixed = ctx.const_inputs[2]
    fixed = None if fixed is None else max(int(fixed.reshape(-1)[0]), 0)
    boxes = _corner_boxes(ctx, boxes, attrs)
    scores = _rank_scores(ctx, ctx.emit(op.reshape(score, [])), scores, n_boxes)
    iou = _next_float_up(ctx, ctx.emit(op.reshape(iou, [])))
    if isinstance(n_boxes, Dim):
        res = _nms_of_a_run_time_number(ctx, boxes, scores, iou, (batch, classes, n_boxes))
    else:
        cap = n_boxes if fixed is None else min(fixed, n_boxes)
        res = ctx.emit(op.vision.all_class_non_max_suppression(boxes, scores, rx.const(cap, "int64"), iou,
                                                               rx.const(0.0, "float32"), output_format="onnx"))
    n = _run_time_length(ctx, ctx.emit(rx.TupleGetItem(res, 1)), f"{ctx.node.name}_count")
    # the count never exceeds the rows, and saying so keeps if_then_else out of the shapes (FuseOps fails on it)
    rows = ctx.emit(op.strided_slice(ctx.emit(rx.TupleGetItem(res, 0)), axes=[0], begin=[0], end=[n],
                                     assume_inbound=True))
    if fixed is not None and not isinstance(n_boxes, Dim):
        return rows
    limit = limit if fixed is None else ctx.scalar(fixed, "int64")
    return _first_per_class(ctx, rows, n, limit, batch * classes, classes)


def _nms_of_a_run_time_number(ctx, boxes, scores, iou, shape):
    """TOPI's NMS with room for every box, a symbolic number of them. Its lowering clears 10 rows per class
    whatever the room (the fallback of a limit that is not an int), so 10 boxes of score 0 (never selected)
    are appended to make that room."""
    from tvm import topi

    op = relax_op()
    batch, classes, n_boxes = shape
    pad = 10
    boxes = ctx.emit(op.concat([boxes, op.zeros(ctx.shape([batch, pad, 4]), "float32")], axis=1))
    scores = ctx.emit(op.concat([scores, op.zeros(ctx.shape([batch, classes, pad]), "float32")], axis=2))
    room = ctx.prim(n_boxes + pad)
    return ctx.bb.emit_te(topi.vision.all_class_non_max_suppression, boxes, scores, room, iou, 0.0, "onnx",
                          (ctx.prim(batch * classes) * room, 3), primfunc_name_hint="non_max_suppression")


def _rank_scores(ctx, threshold, scores, n_boxes):
    """Scores TVM's NMS ranks like ONNX: N - (position in descending order, ties by lower index) for the boxes
    above ``threshold``, else 0, all exactly representable. TVM takes a score <= 0 for a suppressed box, so
    real scores (logits) at or below 0 would be dropped or never suppressed."""
    op = relax_op()
    order = ctx.emit(op.argsort(scores, axis=2, descending=True, dtype="int64"))
    position = ctx.emit(op.argsort(order, axis=2, dtype="int64"))
    rank = ctx.emit(op.subtract(ctx.dim_tensor(n_boxes, "float32"), op.astype(position, "float32")))
    return ctx.emit(op.where(op.greater(scores, threshold), rank, ctx.scalar(0.0, "float32")))


def _next_float_up(ctx, threshold):
    """The float32 just above ``threshold`` (clamped at 0): TVM suppresses a box at IoU >= its threshold, ONNX
    at IoU > it, and TVM selects nothing at all for a threshold of 0 (ONNX's default)."""
    from tvm import te

    tir = compat.tir()

    def fn(t):
        bits = tir.reinterpret("int32", tir.max(t(), tir.const(0.0, "float32")))
        return te.compute((), lambda: tir.reinterpret("float32", bits + 1), name="next_float_up")

    return ctx.bb.emit_te(fn, threshold, primfunc_name_hint="next_float_up")


def _first_per_class(ctx, rows, n, limit, groups, classes):
    """The rows (b, c, box) of ``rows`` (n of them, grouped by batch and class) that are among the first
    ``limit`` of their group: a row's rank is its position less its group's first position."""
    op = relax_op()
    batch_ids, class_ids = (ctx.emit(op.reshape(op.strided_slice(rows, axes=[1], begin=[k], end=[k + 1]), [n]))
                            for k in (0, 1))
    group = ctx.emit(op.add(op.multiply(batch_ids, ctx.dim_tensor(classes, "int64")), class_ids))
    sizes = ctx.emit(op.scatter_elements(op.zeros(ctx.shape([groups]), "int64"), group,
                                         op.ones(compat.relax().ShapeExpr([n]), "int64"), axis=0, reduction="add"))
    starts = ctx.emit(op.cumsum(sizes, axis=0, dtype="int64", exclusive=True))
    # 0..n-1 as a running sum: an arange to the symbol n loses its shape in an If branch's function
    position = ctx.emit(op.subtract(op.cumsum(op.ones_like(group), axis=0), ctx.scalar(1, "int64")))
    rank = ctx.emit(op.subtract(position, op.take(starts, group, axis=0)))
    keep = ctx.emit(op.less(rank, op.reshape(op.astype(limit, "int64"), [])))
    kept = _output_symbol(ctx, 0)
    kept = compat.tir().Var(f"{ctx.node.name}_kept", "int64") if kept is None else kept
    picked = ctx.bb.match_cast(ctx.emit(op.nonzero(keep)), compat.tensor_type([1, kept], "int64"))
    return op.take(rows, op.reshape(picked, [kept]), axis=0)


def _output_symbol(ctx, axis):
    """The tir.Var of the IR's new symbol for the output length on ``axis`` (unbound so far), or None. Bound
    here by the ``match_cast`` that measures the length: a fresh var of its own, cast to the IR's symbol
    afterwards, is merged into it by CanonicalizeBindings in some uses and not in others, and TVM then cannot
    add the tensors of either length together."""
    d = ctx.out_shapes[0][axis] if ctx.out_shapes and ctx.out_shapes[0] else None
    names = d.symbols() if isinstance(d, Dim) else ()
    if len(names) != 1 or str(d) != next(iter(names)) or next(iter(names)) in ctx.symbols.vars:
        return None
    return ctx.prim(d)


def _corner_boxes(ctx, boxes, attrs):
    """(y1, x1, y2, x2) boxes with y1 <= y2 and x1 <= x2 from either ONNX box format."""
    op = relax_op()
    rx = compat.relax()
    a, b, c, d = (ctx.emit(rx.TupleGetItem(ctx.emit(op.split(boxes, 4, axis=2)), i)) for i in range(4))
    if attrs.center_point_box:  # (xc, yc, w, h)
        half = rx.const(0.5, ctx.in_dtypes[0])
        corners = [op.subtract(b, op.multiply(d, half)), op.subtract(a, op.multiply(c, half)),
                   op.add(b, op.multiply(d, half)), op.add(a, op.multiply(c, half))]
    else:  # ONNX lets either corner come first
        corners = [op.minimum(a, c), op.minimum(b, d), op.maximum(a, c), op.maximum(b, d)]
    return ctx.emit(op.concat([ctx.emit(x) for x in corners], axis=2))


@RELAX_EXPORT.register("unique")
def _unique(ctx, node, attrs, inputs):
    """Unique of the rows of an (L, M) view (M = 1 for the flattened data): a stable lexicographic sort (one
    stable argsort per column, last column first), a new value wherever a row differs from the one before,
    then each group's first row, count and members."""
    op = relax_op()
    shape = ctx.in_shapes[0]
    axis = None if attrs.axis is None else attrs.axis % len(shape)
    if axis is None:
        length, rest, moved = _numel(shape), [], inputs[0]
    else:
        perm = [axis] + [a for a in range(len(shape)) if a != axis]
        length, rest = shape[axis], [shape[a] for a in perm[1:]]
        moved = ctx.emit(op.permute_dims(inputs[0], perm)) if axis else inputs[0]
    columns = _numel(rest)
    ctx.need_static("Unique's slice size (the dims other than axis)", columns)
    rows = ctx.emit(op.reshape(moved, ctx.shape([length, columns])))
    # TVM's argsort orders bfloat16 wrongly (descending); float32 holds every bfloat16 exactly
    keys = ctx.emit(op.astype(rows, "float32")) if ctx.in_dtypes[0] == "bfloat16" else rows
    order = None
    for col in reversed(range(columns)):
        key = ctx.emit(op.reshape(op.strided_slice(keys, axes=[1], begin=[col], end=[col + 1]),
                                  ctx.shape([length])))
        if order is not None:
            key = ctx.emit(op.take(key, order, axis=0))
        step = ctx.emit(op.argsort(key, axis=0, dtype="int64"))
        order = step if order is None else ctx.emit(op.take(order, step, axis=0))
    ranked = ctx.emit(op.take(rows, order, axis=0))
    later = op.strided_slice(ranked, axes=[0], begin=[1], end=[ctx.prim(length)])
    earlier = op.strided_slice(ranked, axes=[0], begin=[0], end=[-1])
    changed = ctx.emit(op.max(op.astype(op.not_equal(later, earlier), "int64"), axis=1))
    is_new = ctx.emit(op.concat([ctx.const(np.ones(1, np.int64), "int64"), changed], axis=0))
    is_new = ctx.emit(op.strided_slice(is_new, axes=[0], begin=[0], end=[ctx.prim(length)]))  # no row: no value
    group = ctx.emit(op.subtract(op.cumsum(is_new, axis=0, dtype="int64"), ctx.scalar(1, "int64")))
    count = compat.tir().Var(f"{ctx.node.name}_unique", "int64")
    starts = ctx.bb.match_cast(ctx.emit(op.nonzero(is_new)), compat.tensor_type([1, count], "int64"))
    starts = ctx.emit(op.reshape(starts, [count]))
    values = ctx.emit(op.take(ranked, starts, axis=0))
    first = ctx.emit(op.take(order, starts, axis=0))
    counts = ctx.emit(op.scatter_elements(op.zeros(compat.relax().ShapeExpr([count]), "int64"), group,
                                          op.ones(ctx.shape([length]), "int64"), axis=0, reduction="add"))
    inverse = ctx.emit(op.scatter_elements(op.zeros(ctx.shape([length]), "int64"), order, group, axis=0))
    if not attrs.sorted:  # renumber the values by first occurrence
        by_first = ctx.emit(op.argsort(first, axis=0, dtype="int64"))
        values, first, counts = (ctx.emit(op.take(v, by_first, axis=0)) for v in (values, first, counts))
        inverse = ctx.emit(op.take(op.argsort(by_first, axis=0, dtype="int64"), inverse, axis=0))
    values = ctx.emit(op.reshape(values, [count] + [ctx.prim(d) for d in rest]))
    if axis:
        values = ctx.emit(op.permute_dims(values, [perm.index(a) for a in range(len(shape))]))
    return [values, first, inverse, counts]


def _numel(shape):
    total = 1
    for d in shape:
        total = total * d
    return total
