"""MXNet export of ONNX NonMaxSuppression (the IR's ``all_class_non_max_suppression``).

Each (batch, class) is one greedy selection: by descending score (ties: the lower box first), a box scoring
above score_threshold is kept unless its IoU with a box kept before it is above iou_threshold (both strict).
- A constant IoU threshold: MXNet's ``_contrib_box_nms``, one box_nms batch per (batch, class), which makes the
  same comparisons (its sort is stable, its IoU ``inter / (a1 + a2 - inter) > overlap_thresh``) and packs the
  kept rows first, in score order.
- An IoU threshold given at run time (box_nms takes it as an attribute) and a fixed number of boxes n: the
  selection as the fixed point of "kept = a candidate that no kept box before it overlaps", reached from "kept =
  every candidate" in n - 1 rounds (round r settles the r-th box in score order), on (n, n) matrices.
Both end alike: the first max_output_boxes_per_class kept boxes of each (batch, class) (a running count, so the
limit may be a tensor) listed by ``_contrib_boolean_mask``, whose length MXNet computes at run time.  No boxes at
all run too (under the Gluon block's numpy shape semantics): box_nms gets one more row, dropped, and no op that
fails on an empty array (broadcast_like) sees the (B, C, 0) scores.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import unsupported_feature

from ..registry import MXNET_EXPORT

_LOWEST = float(np.finfo(np.float32).min)
_MOST_ROUNDS = 128  # boxes per class for the run-time-threshold form: its cost grows as n ** 3


def _float(ctx, name, x):
    return ctx.add("Cast", name, [x], {"dtype": "float32"})


def _constant(ctx, entry):
    if entry.node.is_variable and entry.node.name in ctx.params:
        return float(np.asarray(ctx.params[entry.node.name]).reshape(-1)[0])
    return None


def _ordered_corners(ctx, name, boxes):
    """ONNX corners come in either order ([y1, x1, y2, x2] of either diagonal): the low pair, then the high."""
    pair = [ctx.add("slice_axis", f"{name}_corner{k}", [boxes], {"axis": 2, "begin": 2 * k, "end": 2 * k + 2})
            for k in range(2)]
    return ctx.add("Concat", f"{name}_corners", [ctx.add("broadcast_minimum", f"{name}_low", pair),
                                                  ctx.add("broadcast_maximum", f"{name}_high", pair)],
                   {"dim": 2, "num_args": 2})


def _index_grid(ctx, name, scores, like):
    """(B, C, N, 1) float columns of the batch, class and box number of each score, broadcast like ``like``."""
    ids, zeros = [], ctx.add("zeros_like", f"{name}_grid", [like])  # (broadcast_like fails on an empty input)
    for axis, what in enumerate(("batch", "class", "box")):
        along = ctx.add("_contrib_arange_like", f"{name}_{what}", [scores], {"axis": axis})
        shaped = ctx.add("Reshape", f"{name}_{what}_b", [along], {"shape": (1,) * axis + (-1,) + (1,) * (3 - axis)})
        ids.append(ctx.add("broadcast_add", f"{name}_{what}_ids", [shaped, zeros]))
    return ids


def _listed(ctx, name, ids, kept, limit):
    """The [batch, class, box] rows (``ids``: (B, C, N, 3) int64) of the kept boxes (``kept``: (B, C, N, 1), in
    score order along N), at most ``limit`` per (batch, class)."""
    count = ctx.add("_np_cumsum", f"{name}_count", [kept], {"axis": 2})
    within = ctx.add("broadcast_lesser_equal", f"{name}_within", [count, _float(ctx, f"{name}_limit", limit)])
    keep = ctx.add("Reshape", f"{name}_keep", [ctx.add("broadcast_mul", f"{name}_keep4", [kept, within])],
                   {"shape": (-1,)})
    rows = ctx.add("Reshape", f"{name}_id_rows", [ids], {"shape": (-1, 3)})
    return ctx.add("_contrib_boolean_mask", name, [rows, keep])


def _box_nms(ctx, node, attrs, inputs, iou_threshold):
    """box_nms rows [score, 4 coordinates, batch, class, box] per (batch, class); a score not above the score
    threshold becomes -inf, which box_nms drops (its valid_thresh is the lowest float)."""
    boxes, scores, limit, _, score_threshold = inputs
    name = node.name
    scores = _float(ctx, f"{name}_scores", scores)
    boxes = _float(ctx, f"{name}_boxes", boxes)
    if not attrs.center_point_box:
        boxes = _ordered_corners(ctx, name, boxes)
    above = ctx.add("broadcast_greater", f"{name}_above", [scores, _float(ctx, f"{name}_threshold", score_threshold)])
    dropped = ctx.add("_plus_scalar", f"{name}_dropped", [ctx.add("zeros_like", f"{name}_zeros", [scores])],
                      {"scalar": float("-inf")})
    column = ctx.add("expand_dims", f"{name}_score", [ctx.add("where", f"{name}_kept", [above, scores, dropped])],
                     {"axis": 3})  # (B, C, N, 1)
    # (broadcast_like with axes fails on an empty input; broadcast_add does not)
    per_class = ctx.add("broadcast_add", f"{name}_per_class", [ctx.add("expand_dims", f"{name}_boxes1", [boxes],
                                                                        {"axis": 1}),
                                                                ctx.add("zeros_like", f"{name}_zero", [column])])
    rows = ctx.add("Concat", f"{name}_rows", [column, per_class, *_index_grid(ctx, name, scores, column)],
                   {"dim": 3, "num_args": 5})
    # one more row, of score -inf (dropped): box_nms fails on no boxes at all
    dropped_row = ctx.add("_plus_scalar", f"{name}_extra", [ctx.add("sum", f"{name}_extra0", [
        ctx.add("zeros_like", f"{name}_zero_rows", [rows])], {"axis": 2, "keepdims": True})], {"scalar": float("-inf")})
    rows = ctx.add("Concat", f"{name}_padded", [rows, dropped_row], {"dim": 2, "num_args": 2})
    fmt = "center" if attrs.center_point_box else "corner"
    nms = ctx.add("_contrib_box_nms", f"{name}_nms", [rows], {
        "overlap_thresh": iou_threshold, "valid_thresh": _LOWEST, "topk": -1, "coord_start": 1, "score_index": 0,
        "id_index": -1, "force_suppress": True, "in_format": fmt, "out_format": fmt})
    ids = ctx.add("Cast", f"{name}_int_ids", [ctx.add("slice_axis", f"{name}_ids", [nms],
                                                      {"axis": 3, "begin": 5, "end": 8})], {"dtype": "int64"})
    box = ctx.add("slice_axis", f"{name}_box", [nms], {"axis": 3, "begin": 7, "end": 8})
    kept = ctx.add("_greater_equal_scalar", f"{name}_selected", [box], {"scalar": 0.0})  # (suppressed rows: -1)
    return _listed(ctx, name, ids, kept, limit)


def _pairwise_overlap(ctx, name, attrs, boxes, iou_threshold):
    """(B, N, N): IoU(i, j) > threshold, computed as onnxruntime does (no overlap without a positive
    intersection)."""
    boxes = _float(ctx, f"{name}_boxes", boxes)
    sides = [ctx.add("slice_axis", f"{name}_side{k}", [boxes], {"axis": 2, "begin": k, "end": k + 1})
             for k in range(4)]  # (B, N, 1) each
    if attrs.center_point_box:  # [x, y, w, h] -> [y1, x1, y2, x2]
        half = [ctx.add("_mul_scalar", f"{name}_half{k}", [sides[k]], {"scalar": 0.5}) for k in (2, 3)]
        sides = [ctx.add("elemwise_sub", f"{name}_y1", [sides[1], half[1]]),
                 ctx.add("elemwise_sub", f"{name}_x1", [sides[0], half[0]]),
                 ctx.add("elemwise_add", f"{name}_y2", [sides[1], half[1]]),
                 ctx.add("elemwise_add", f"{name}_x2", [sides[0], half[0]])]
    else:
        sides = [ctx.add(op, f"{name}_{op}{k}", [sides[k % 2], sides[k % 2 + 2]])
                 for k, op in enumerate(("broadcast_minimum",) * 2 + ("broadcast_maximum",) * 2)]

    def across(x):  # the same value of box j, along the last axis
        return ctx.add("transpose", f"{name}_across", [x], {"axes": (0, 2, 1)})

    lengths, areas = [], []
    for k in range(2):
        low, high = sides[k], sides[k + 2]
        overlap = ctx.add("elemwise_sub", f"{name}_span{k}", [
            ctx.add("broadcast_minimum", f"{name}_end{k}", [high, across(high)]),
            ctx.add("broadcast_maximum", f"{name}_start{k}", [low, across(low)])])
        lengths.append(ctx.add("relu", f"{name}_length{k}", [overlap]))
        areas.append(ctx.add("elemwise_sub", f"{name}_size{k}", [high, low]))
    inter = ctx.add("elemwise_mul", f"{name}_inter", lengths)
    area = ctx.add("elemwise_mul", f"{name}_area", areas)  # (B, N, 1)
    union = ctx.add("elemwise_sub", f"{name}_union", [
        ctx.add("broadcast_add", f"{name}_areas", [area, across(area)]), inter])
    iou = ctx.add("broadcast_div", f"{name}_iou", [inter, union])
    positive = ctx.add("_greater_scalar", f"{name}_positive", [inter], {"scalar": 0.0})
    iou = ctx.add("where", f"{name}_iou_or_0", [positive, iou, ctx.add("zeros_like", f"{name}_no_iou", [iou])])
    return ctx.add("broadcast_greater", f"{name}_overlaps", [iou, _float(ctx, f"{name}_iou_threshold",
                                                                          iou_threshold)])


def _iterated_nms(ctx, node, attrs, inputs, n):
    boxes, scores, limit, iou_threshold, score_threshold = inputs
    name = node.name
    scores = _float(ctx, f"{name}_scores", scores)  # (B, C, N)
    mine = ctx.add("expand_dims", f"{name}_mine", [scores], {"axis": 3})  # score i along axis 2
    theirs = ctx.add("expand_dims", f"{name}_theirs", [scores], {"axis": 2})  # score j along axis 3
    lower = ctx.const(f"{name}_lower_box", np.tril(np.ones((n, n), np.float32), -1))  # [i, j]: j < i
    before = ctx.add("broadcast_add", f"{name}_before", [  # j is taken before i
        ctx.add("broadcast_greater", f"{name}_higher", [theirs, mine]),
        ctx.add("broadcast_mul", f"{name}_tie_lower", [ctx.add("broadcast_equal", f"{name}_tie", [theirs, mine]),
                                                       lower])])  # (B, C, N, N)
    overlaps = ctx.add("expand_dims", f"{name}_overlaps_c", [
        _pairwise_overlap(ctx, name, attrs, boxes, iou_threshold)], {"axis": 1})
    blocks = ctx.add("broadcast_mul", f"{name}_blocks", [before, overlaps])  # j suppresses i if j is kept
    candidate = ctx.add("broadcast_greater", f"{name}_candidate", [scores, _float(ctx, f"{name}_threshold",
                                                                                  score_threshold)])
    kept = candidate
    for r in range(n - 1):
        blocking = ctx.add("sum", f"{name}_blocking{r}", [ctx.add("broadcast_mul", f"{name}_by_kept{r}", [
            blocks, ctx.add("expand_dims", f"{name}_kept_j{r}", [kept], {"axis": 2})])], {"axis": 3})
        kept = ctx.add("elemwise_mul", f"{name}_kept{r}", [
            candidate, ctx.add("_equal_scalar", f"{name}_free{r}", [blocking], {"scalar": 0.0})])
    # score order: the boxes by how many come before each (distinct numbers: any sort gives the same order)
    order = ctx.add("argsort", f"{name}_order", [ctx.add("sum", f"{name}_rank", [before], {"axis": 3})],
                    {"axis": 2, "dtype": "int64"})
    batch, klass, _ = _index_grid(ctx, name, scores, mine)
    ids = ctx.add("Concat", f"{name}_id_grid", [ctx.add("Cast", f"{name}_int_{k}", [x], {"dtype": "int64"})
                                                 for k, x in enumerate((batch, klass))]
                  + [ctx.add("expand_dims", f"{name}_order1", [order], {"axis": 3})], {"dim": 3, "num_args": 3})
    in_order = ctx.add("gather_nd", f"{name}_kept_in_order", [
        kept, ctx.add("transpose", f"{name}_coords", [ids], {"axes": (3, 0, 1, 2)})])
    return _listed(ctx, name, ids, ctx.add("expand_dims", f"{name}_kept1", [in_order], {"axis": 3}), limit)


@MXNET_EXPORT.register("all_class_non_max_suppression")
def _nms(ctx, node, attrs, inputs):
    iou_threshold = _constant(ctx, node.inputs[3])
    if iou_threshold is not None:
        return [_box_nms(ctx, node, attrs, inputs, iou_threshold)]
    n = (ctx.shape(node.inputs[0]) or (None,) * 3)[1]
    if not isinstance(n, int) or n > _MOST_ROUNDS:
        raise unsupported_feature(node.op, node.name, "an IoU threshold computed at run time over "
                                  f"{'a number of boxes known only at run time' if not isinstance(n, int) else n} "
                                  "boxes: MXNet's box_nms takes the threshold as an attribute (the form without "
                                  f"it needs at most {_MOST_ROUNDS} boxes, a fixed number); compile it with TVM or "
                                  "keep it in ONNX", direction="MXNet export")
    return [_iterated_nms(ctx, node, attrs, inputs, n)]
