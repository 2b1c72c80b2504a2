"""Handlers for the region ops of MXNet's two-stage detectors: ROIAlign, ROIPooling and the RPN's Proposal.

Each maps one to one onto the IR op of the same meaning (ops/roi.py); Proposal is MultiProposal on one image.
"""
from __future__ import annotations

from ...ops.registry import Attr
from .handlers_nn import need_inputs
from .registry import MXNET_IMPORT

_POOLED = Attr("shape", min=1)
ROI_ALIGN = dict(pooled_size=_POOLED, spatial_scale=Attr("float"), sample_ratio=Attr("int", -1),
                 position_sensitive=Attr("bool", False), aligned=Attr("bool", False))
ROI_POOLING = dict(pooled_size=_POOLED, spatial_scale=Attr("float"))
PROPOSAL = dict(rpn_pre_nms_top_n=Attr("int", 6000), rpn_post_nms_top_n=Attr("int", 300),
                threshold=Attr("float", 0.7), rpn_min_size=Attr("int", 16),
                scales=Attr("tuple_float", (4.0, 8.0, 16.0, 32.0)), ratios=Attr("tuple_float", (0.5, 1.0, 2.0)),
                feature_stride=Attr("int", 16), output_score=Attr("bool", False), iou_loss=Attr("bool", False))


def _pooled(ctx, attrs):
    size = tuple(attrs["pooled_size"])
    if len(size) != 2:
        raise ctx.fail(f"pooled_size={size} must be (height, width)")
    return size


@MXNET_IMPORT.register("_contrib_ROIAlign", attrs=ROI_ALIGN)
def roi_align(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    return ctx.out("roi_align", inputs[:2], dict(pooled_size=_pooled(ctx, attrs), spatial_scale=attrs["spatial_scale"],
                                                 sample_ratio=attrs["sample_ratio"], aligned=attrs["aligned"],
                                                 position_sensitive=attrs["position_sensitive"]), name=node.name)


@MXNET_IMPORT.register("ROIPooling", attrs=ROI_POOLING)
def roi_pooling(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    return ctx.out("roi_pool", inputs[:2], dict(pooled_size=_pooled(ctx, attrs), spatial_scale=attrs["spatial_scale"]),
                   name=node.name)


@MXNET_IMPORT.register("_contrib_Proposal", "_contrib_MultiProposal", attrs=PROPOSAL)
def proposal(ctx, node, attrs, inputs):
    need_inputs(inputs, 3, ctx)
    if node.op == "_contrib_Proposal":
        shape = ctx.shape(inputs[0])
        if shape is not None and shape[0] != 1:
            raise ctx.fail(f"Proposal takes one image (cls_prob batch {shape[0]}); MultiProposal takes a batch")
    if attrs["rpn_post_nms_top_n"] < 1:
        raise ctx.fail(f"rpn_post_nms_top_n={attrs['rpn_post_nms_top_n']} must be positive")
    n = ctx.emit("proposal", inputs[:3], {key: attrs[key] for key in PROPOSAL}, name=node.name)
    return [n[0], n[1]]
