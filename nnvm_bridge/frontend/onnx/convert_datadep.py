"""Ops whose output length depends on the values: NonZero, Compress, NonMaxSuppression, TopK (k a tensor),
Unique.

Each output length the values decide is a new anonymous symbol named after the node (``data_dependent_dim``);
constants fold as usual, so a k or a mask known at import gives static shapes.
"""
from __future__ import annotations

import re

import numpy as np

from ...ir.symbolic import Dim, anonymous_dim, count_dim, format_shape_hint
from .registry import ONNX_IMPORT


def data_dependent_dim(ctx, axis):
    """The symbol for the length of the current node's output axis ``axis``, which only its values decide."""
    base = re.sub(r"[^0-9A-Za-z_]", "_", ctx.node.name)
    name = anonymous_dim(base if base[:1].isalpha() or base[:1] == "_" else f"n{base}", axis)
    return count_dim(str(name))  # 0 is a real outcome (no box above the threshold)


def run_time_dims(ctx, known=None):
    """The dims of the current node's output where a shape tensor computed at run time decides them: the ``known``
    ones (the shape tensor's elements that shape values give, None elsewhere), else what ONNX's shape inference
    knows, a new symbol for the rest (bound from that tensor when it runs); None without a rank."""
    declared = ctx.declared.dims(ctx.node.outputs[0])
    if known is not None and (declared is None or len(declared) == len(known)):
        declared = [k if k is not None else d for k, d in zip(known, declared or [None] * len(known))]
    if declared is None:
        return None
    return tuple(d if d is not None else data_dependent_dim(ctx, axis) for axis, d in enumerate(declared))


def _nonzero(ctx, x):
    rank = max(ctx.require_rank(x), 1)
    return ctx.runtime_op("nonzero", [x], (rank, data_dependent_dim(ctx, 1)))


@ONNX_IMPORT.register("NonZero", since=(9, 13))
def nonzero(ctx, node, attrs, inputs):
    return _nonzero(ctx, inputs[0])


@ONNX_IMPORT.register("Compress", since=(9, 11, 28))
def compress(ctx, node, attrs, inputs):
    data, condition = inputs[0], inputs[1]
    picked = _nonzero(ctx, condition)
    picked = ctx.reshape(picked, (ctx.shape(picked)[1],))
    axis = attrs.get("axis")
    if axis is None:
        data = ctx.reshape(data, (-1,)) if ctx.rank(data) != 1 else data
        axis = 0
    return ctx.emit1("take", [data, picked], {"axis": int(axis) % ctx.require_rank(data)})


@ONNX_IMPORT.register("NonMaxSuppression", since=(10, 11))
def non_max_suppression(ctx, node, attrs, inputs):
    limit = inputs[2] if inputs[2] else np.zeros(1, dtype=np.int64)
    iou = inputs[3] if inputs[3] else np.zeros(1, dtype=np.float32)
    score = inputs[4] if inputs[4] else np.full(1, -np.inf, dtype=np.float32)
    ins = [inputs[0], inputs[1], ctx.cast(limit, "int64"), ctx.cast(iou, "float32"), ctx.cast(score, "float32")]
    return ctx.runtime_op("all_class_non_max_suppression", ins, (data_dependent_dim(ctx, 0), 3),
                          {"center_point_box": int(attrs.get("center_point_box", 0))})


@ONNX_IMPORT.register("Unique", since=(11, 28))  # 28 adds bfloat16
def unique(ctx, node, attrs, inputs):
    x = inputs[0]
    axis = attrs.get("axis")
    if axis is None:
        out = (data_dependent_dim(ctx, 0),)
    else:
        axis = int(axis) % ctx.require_rank(x)
        out = list(ctx.shape(x))
        out[axis] = data_dependent_dim(ctx, axis)
    return ctx.emit("unique", [x], {"sorted": bool(attrs.get("sorted", 1)), "axis": axis,
                                    "out_shape": format_shape_hint(tuple(out))})


@ONNX_IMPORT.register("TopK", since=1)
def topk_attribute(ctx, node, attrs, inputs):
    return _static_topk(ctx, attrs, inputs[0], int(attrs.get("k")))


@ONNX_IMPORT.register("TopK", since=(10, 11, 24))
def topk(ctx, node, attrs, inputs):
    x, k = inputs[0], inputs[1]
    value = ctx.const(k)
    if value is not None:
        return _static_topk(ctx, attrs, x, int(value.reshape(-1)[0]))
    axis = int(attrs.get("axis", -1)) % ctx.require_rank(x)
    known = ctx.shape_value(k)
    length = known.reshape(-1)[0] if known is not None and isinstance(known.reshape(-1)[0], Dim) else None
    out = list(ctx.shape(x))
    out[axis] = length if length is not None else data_dependent_dim(ctx, axis)
    k = ctx.cast(ctx.reshape(k, (1,)) if ctx.rank(k) != 1 else k, "int64")
    return ctx.emit("dyn_topk", [x, k], {"axis": axis, "is_ascend": not attrs.get("largest", 1),
                                        "out_shape": format_shape_hint(tuple(out))})


def _static_topk(ctx, attrs, x, k):
    axis = int(attrs.get("axis", -1))
    r = ctx.rank(x)
    if r is not None:
        axis %= r
    largest = bool(attrs.get("largest", 1))
    return ctx.emit("topk", [x], {"k": k, "axis": axis, "ret_type": "both", "is_ascend": not largest,
                                  "dtype": "int64"})
