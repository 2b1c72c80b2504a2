"""MXNet export of the region ops: _contrib_ROIAlign, ROIPooling, _contrib_Proposal / _contrib_MultiProposal."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import unsupported_feature

from ..registry import MXNET_EXPORT


def _scaled_rois(ctx, node, attrs, rois):
    """MXNet's spatial_scale must lie in [0, 1]: a larger scale moves into the box columns (the same
    products, as the op scales each coordinate once)."""
    if attrs.spatial_scale <= 1.0:
        return rois, attrs.spatial_scale
    dtype = ctx.dtype(node.inputs[1]) or "float32"
    s = attrs.spatial_scale
    factor = ctx.const(f"{node.name}_scale", np.array([[1.0, s, s, s, s]], dtype=dtype))
    return ctx.add("broadcast_mul", f"{node.name}_scaled_rois", [rois, factor]), 1.0


@MXNET_EXPORT.register("roi_align")
def _roi_align(ctx, node, attrs, inputs):
    if attrs.mode != "avg":
        raise unsupported_feature(node.op, node.name, f"mode={attrs.mode}: MXNet's ROIAlign averages",
                                  direction="MXNet")
    rois, scale = _scaled_rois(ctx, node, attrs, inputs[1])
    return [ctx.add("_contrib_ROIAlign", node.name, [inputs[0], rois], {
        "pooled_size": tuple(attrs.pooled_size), "spatial_scale": scale, "sample_ratio": attrs.sample_ratio,
        "position_sensitive": attrs.position_sensitive, "aligned": attrs.aligned})]


@MXNET_EXPORT.register("roi_pool")
def _roi_pool(ctx, node, attrs, inputs):
    rois, scale = _scaled_rois(ctx, node, attrs, inputs[1])
    return [ctx.add("ROIPooling", node.name, [inputs[0], rois],
                    {"pooled_size": tuple(attrs.pooled_size), "spatial_scale": scale})]


@MXNET_EXPORT.register("proposal")
def _proposal(ctx, node, attrs, inputs):
    shape = ctx.shape(node.inputs[0])
    op = "_contrib_Proposal" if shape is not None and shape[0] == 1 else "_contrib_MultiProposal"
    y = ctx.add(op, node.name, inputs, {key: attrs[key] for key in (
        "rpn_pre_nms_top_n", "rpn_post_nms_top_n", "threshold", "rpn_min_size", "scales", "ratios",
        "feature_stride", "output_score", "iou_loss")})
    return [y, (y[0], 1)]
