"""MXNet export of the detection ops: box_nms is MXNet's own _contrib_box_nms, attribute for attribute."""
from __future__ import annotations

from ..registry import MXNET_EXPORT

_BOX_NMS_ATTRS = ("overlap_thresh", "valid_thresh", "topk", "coord_start", "score_index", "id_index",
                  "background_id", "force_suppress", "in_format", "out_format")


@MXNET_EXPORT.register("box_nms")
def _box_nms(ctx, node, attrs, inputs):
    return [ctx.add("_contrib_box_nms", node.name, inputs[:1], {k: attrs[k] for k in _BOX_NMS_ATTRS})]
