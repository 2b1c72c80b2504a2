"""ONNX export of the region ops: roi_align as RoiAlign, roi_pool as MaxRoiPool.

The IR's rois carry the batch index in column 0; RoiAlign takes it as a separate int64 input.
"""
from __future__ import annotations

import numpy as np

from ..registry import ONNX_EXPORT


def _roi_align_check(ctx, node, attrs, inputs):
    if attrs.aligned and ctx.opset < 16:
        return "aligned=True (half_pixel) needs RoiAlign-16: export at opset >= 16"
    return None


def _split_rois(ctx, rois):
    """(num_rois, 5) -> (num_rois, 4) boxes, (num_rois,) int64 batch indices clamped to the batch, and the
    (num_rois, 1, 1, 1) 0/1 mask of the rois whose index names an image: the IR pools nothing for the others
    (GluonCV's FPN marks the rois of other levels with -1, MXNet pools zeros), onnxruntime refuses them."""
    b, dtype = ctx.b, ctx.dtype(1)
    column = b.squeeze(b.slice(rois, [0], [1], [1]), [1])
    n = ctx.in_shapes[0][0]
    last = int(n) - 1 if isinstance(n, (int, np.integer)) else None
    inside = b.op("Not", [b.op("Less", [column, b.scalar(0, dtype)])])
    if last is not None:
        inside = b.op("And", [inside, b.op("Not", [b.op("Greater", [column, b.scalar(last, dtype)])])])
    index = b.cast(b.clip(column, 0, last, dtype), "int64")
    mask = b.op("Reshape", [b.cast(inside, ctx.out_dtype()), b.i64([-1, 1, 1, 1])])
    return b.slice(rois, [1], [5], [1]), index, mask


def _roi_align_10(ctx, node, attrs, inputs):
    b = ctx.b
    boxes, index, mask = _split_rois(ctx, inputs[1])
    ph, pw = attrs.pooled_size
    mode_attrs = {"coordinate_transformation_mode": "half_pixel" if attrs.aligned else "output_half_pixel"} \
        if ctx.opset >= 16 else {}
    y = b.op("RoiAlign", [inputs[0], boxes, index], mode=attrs.mode, output_height=int(ph), output_width=int(pw),
             sampling_ratio=max(int(attrs.sample_ratio), 0), spatial_scale=float(attrs.spatial_scale), **mode_attrs)
    if not attrs.position_sensitive:
        return b.op("Mul", [y, mask])
    # R-FCN: output channel c at bin (i, j) is input channel (c*ph + i)*pw + j at that bin, so pool every
    # channel and gather the diagonal of (channel within the group) x (bin)
    k = ph * pw
    grouped = b.op("Reshape", [y, b.i64([0, -1, k * k])])
    picked = b.op("Gather", [grouped, b.i64(np.arange(k) * (k + 1))], axis=2)
    return b.op("Mul", [b.op("Reshape", [picked, b.i64([0, -1, ph, pw])]), mask])


ONNX_EXPORT.add("roi_align", _roi_align_10, since=11, check=_roi_align_check)


@ONNX_EXPORT.register("roi_pool", since=11)
def _roi_pool(ctx, node, attrs, inputs):
    return ctx.b.op("MaxRoiPool", inputs[:2], pooled_shape=[int(v) for v in attrs.pooled_size],
                    spatial_scale=float(attrs.spatial_scale))
