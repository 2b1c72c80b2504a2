"""MXNet export of the ops whose output length the values decide.

MXNet 1.9 computes such shapes only in a few ops (``_npx_nonzero``, ``_contrib_boolean_mask``,
``_npi_unique``); nonzero, TopK with a run-time k and Unique are written with them (NonMaxSuppression:
``nms.py``).
"""
from __future__ import annotations

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
        picked = ctx.add("_contrib_boolean_mask", f"{node.name}_pick{k}", [  # (no rows: see spare_row)
            ctx.spare_row(f"{node.name}_rows{k}", moved), ctx.spare_row(f"{node.name}_keep{k}", keep)])
        outs.append(ctx.add("transpose", f"{node.name}_out{k}", [picked], {"axes": back}))
    return outs


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
