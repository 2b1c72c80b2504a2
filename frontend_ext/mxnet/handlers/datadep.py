"""MXNet export of the ops whose output length the values decide.

MXNet 1.9 computes such shapes only in a few ops (``_npx_nonzero``, ``_contrib_boolean_mask``,
``_npi_unique``); nonzero, TopK with a run-time k, Unique and NonMaxSuppression are written with them.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import unsupported_feature

from ..registry import MXNET_EXPORT


@MXNET_EXPORT.register("nonzero")
def _nonzero(ctx, node, attrs, inputs):
    found = ctx.add("_npx_nonzero", f"{node.name}_rows", inputs)  # (n, rank)
    return [ctx.add("transpose", node.name, [found], {"axes": (1, 0)})]


@MXNET_EXPORT.register("dyn_topk")
def _dyn_topk(ctx, node, attrs, inputs):
    # a full sort, then the first k along the axis (boolean_mask keeps axis 0: move the axis there and back)
    rank = len(ctx.shape(node.inputs[0]))
    axis = attrs.axis % rank
    order = ctx.add("topk", f"{node.name}_sort", inputs[:1], {"k": 0, "axis": axis, "ret_typ": "both",
                                                              "is_ascend": attrs.is_ascend, "dtype": "int64"})
    first = ctx.add("Cast", f"{node.name}_posf", [ctx.add("_contrib_arange_like", f"{node.name}_pos", [order],
                                                          {"axis": axis})], {"dtype": "float32"})
    keep = ctx.add("broadcast_lesser", f"{node.name}_keep", [first, ctx.add("Cast", f"{node.name}_k", [inputs[1]],
                                                                            {"dtype": "float32"})])
    perm = (axis,) + tuple(a for a in range(rank) if a != axis)
    back = tuple(perm.index(a) for a in range(rank))
    outs = []
    for k, part in enumerate((order, (order[0], 1))):
        moved = ctx.add("transpose", f"{node.name}_in{k}", [part], {"axes": perm})
        picked = ctx.add("_contrib_boolean_mask", f"{node.name}_pick{k}", [moved, keep])
        outs.append(ctx.add("transpose", f"{node.name}_out{k}", [picked], {"axes": back}))
    return outs


def _constant(ctx, node, k, what):
    e = node.inputs[k]
    if not (e.node.is_variable and e.node.name in ctx.params):
        raise unsupported_feature(node.op, node.name, f"a {what} computed at run time: MXNet's box_nms takes it "
                                  "as an attribute; compile it with TVM or keep it in ONNX", direction="MXNet export")
    return float(np.asarray(ctx.params[e.node.name]).reshape(-1)[0])


# box_nms rows: [score, 4 coordinates, batch, class, box]; it keeps a score above valid_thresh
_NMS_WIDTH, _NMS_IDS = 8, 5
_LOWEST = float(np.finfo(np.float32).min)


def _nms_rows(ctx, node, attrs, boxes, scores, score_threshold):
    """The (B, C, N, 8) box_nms input: one box_nms batch per (batch, class); a score not above
    score_threshold becomes -inf, which box_nms drops (valid_thresh is the lowest float)."""
    name = node.name
    scores = ctx.add("Cast", f"{name}_scores", [scores], {"dtype": "float32"})
    boxes = ctx.add("Cast", f"{name}_boxes", [boxes], {"dtype": "float32"})
    if not attrs.center_point_box:  # ONNX corners come in either order; box_nms wants the low one first
        pair = [ctx.add("slice_axis", f"{name}_corner{k}", [boxes], {"axis": 2, "begin": 2 * k, "end": 2 * k + 2})
                for k in range(2)]
        boxes = ctx.add("Concat", f"{name}_corners", [ctx.add("broadcast_minimum", f"{name}_low", pair),
                                                      ctx.add("broadcast_maximum", f"{name}_high", pair)],
                        {"dim": 2, "num_args": 2})
    above = ctx.add("broadcast_greater", f"{name}_above", [scores, ctx.add("Cast", f"{name}_threshold",
                                                                          [score_threshold], {"dtype": "float32"})])
    dropped = ctx.add("_plus_scalar", f"{name}_dropped", [ctx.add("zeros_like", f"{name}_zeros", [scores])],
                      {"scalar": float("-inf")})
    column = ctx.add("expand_dims", f"{name}_score", [ctx.add("where", f"{name}_kept", [above, scores, dropped])],
                     {"axis": 3})  # (B, C, N, 1)
    per_class = ctx.add("broadcast_like", f"{name}_per_class", [
        ctx.add("expand_dims", f"{name}_boxes1", [boxes], {"axis": 1}), column], {"lhs_axes": (1,), "rhs_axes": (1,)})
    ids = []
    for axis, what in enumerate(("batch", "class", "box")):
        along = ctx.add("_contrib_arange_like", f"{name}_{what}", [scores], {"axis": axis})
        shaped = ctx.add("Reshape", f"{name}_{what}_b", [along], {"shape": (1,) * axis + (-1,) + (1,) * (3 - axis)})
        ids.append(ctx.add("broadcast_like", f"{name}_{what}_ids", [shaped, column]))
    return ctx.add("Concat", f"{name}_rows", [column, per_class, *ids], {"dim": 3, "num_args": _NMS_WIDTH - 3})


@MXNET_EXPORT.register("all_class_non_max_suppression")
def _nms(ctx, node, attrs, inputs):
    """box_nms per (batch, class) sorts by score (stable: ties keep the lower box first, as in ONNX), suppresses
    a box whose IoU with a kept one is above the threshold and packs the kept rows first in score order; the
    first max_output_boxes_per_class of them (a running count, so the limit may be a tensor) are listed by
    boolean_mask, whose length MXNet computes at run time."""
    boxes, scores, limit, _, score_threshold = inputs
    name = node.name
    fmt = "center" if attrs.center_point_box else "corner"
    kept = ctx.add("_contrib_box_nms", f"{name}_nms", [_nms_rows(ctx, node, attrs, boxes, scores, score_threshold)], {
        "overlap_thresh": _constant(ctx, node, 3, "IoU threshold"), "valid_thresh": _LOWEST, "topk": -1,
        "coord_start": 1, "score_index": 0, "id_index": -1, "force_suppress": True, "in_format": fmt,
        "out_format": fmt})
    ids = ctx.add("slice_axis", f"{name}_ids", [kept], {"axis": 3, "begin": _NMS_IDS, "end": _NMS_WIDTH})
    box = ctx.add("slice_axis", f"{name}_box", [kept], {"axis": 3, "begin": _NMS_WIDTH - 1, "end": _NMS_WIDTH})
    selected = ctx.add("_greater_equal_scalar", f"{name}_selected", [box], {"scalar": 0.0})  # (B, C, N, 1)
    count = ctx.add("_np_cumsum", f"{name}_count", [selected], {"axis": 2})
    within = ctx.add("broadcast_lesser_equal", f"{name}_within", [
        count, ctx.add("Cast", f"{name}_limit", [limit], {"dtype": "float32"})])
    keep = ctx.add("Reshape", f"{name}_keep", [ctx.add("broadcast_mul", f"{name}_keep4", [selected, within])],
                   {"shape": (-1,)})
    rows = ctx.add("Reshape", f"{name}_id_rows", [ctx.add("Cast", f"{name}_int_ids", [ids], {"dtype": "int64"})],
                   {"shape": (-1, 3)})
    # the last op: MXNet 1.9 runs no op on an empty array (no box selected), but it can return one
    return [ctx.add("_contrib_boolean_mask", name, [rows, keep])]


@MXNET_EXPORT.register("unique")
def _unique(ctx, node, attrs, inputs):
    # _npi_unique (numpy's unique: sorted values) computes its lengths at run time; sorted=0 renumbers the
    # values by first occurrence
    found = ctx.add("_npi_unique", f"{node.name}_sorted" if not attrs.sorted else node.name, inputs[:1],
                    {"return_index": True, "return_inverse": True, "return_counts": True, "axis": attrs.axis})
    values, first, inverse, counts = [(found[0], k) for k in range(4)]
    if attrs.sorted:
        return [values, first, inverse, counts]
    by_first = ctx.add("argsort", f"{node.name}_by_first", [first], {"axis": 0, "dtype": "int64"})
    renumber = ctx.add("argsort", f"{node.name}_renumber", [by_first], {"axis": 0, "dtype": "int64"})
    return [ctx.add("take", node.name, [values, by_first], {"axis": attrs.axis or 0}),
            ctx.add("take", f"{node.name}_first", [first, by_first]),
            ctx.add("take", f"{node.name}_inverse", [renumber, inverse]),
            ctx.add("take", f"{node.name}_counts", [counts, by_first])]
