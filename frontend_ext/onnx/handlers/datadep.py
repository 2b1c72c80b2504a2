"""ONNX handlers for the ops whose output length the values decide: each is the ONNX op it came from."""
from __future__ import annotations

from ..registry import ONNX_EXPORT


@ONNX_EXPORT.register("nonzero", since=11)
def _nonzero(ctx, node, attrs, inputs):
    return ctx.b.op("NonZero", inputs[:1])


@ONNX_EXPORT.register("dyn_topk", since=11)
def _dyn_topk(ctx, node, attrs, inputs):
    values, indices = ctx.b.op("TopK", inputs[:2], n_out=2, axis=attrs.axis, largest=int(not attrs.is_ascend),
                               sorted=1)
    return [values, indices]


@ONNX_EXPORT.register("all_class_non_max_suppression", since=11)
def _nms(ctx, node, attrs, inputs):
    return ctx.b.op("NonMaxSuppression", inputs[:5], center_point_box=attrs.center_point_box)


@ONNX_EXPORT.register("unique", since=11)
def _unique(ctx, node, attrs, inputs):
    axis = {} if attrs.axis is None else {"axis": attrs.axis}
    return list(ctx.b.op("Unique", inputs[:1], n_out=4, sorted=int(attrs.sorted), **axis))
