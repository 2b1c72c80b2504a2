"""RoiAlign and MaxRoiPool: the IR's roi_align / roi_pool, whose rois carry the batch index in column 0."""
from __future__ import annotations

from .registry import ONNX_IMPORT


def _rois_with_batch_index(ctx, rois, batch_indices):
    """(num_rois, 4) boxes and (num_rois,) indices -> (num_rois, 5) rows (batch_index, x1, y1, x2, y2)."""
    index = ctx.emit1("expand_dims", [batch_indices], {"axis": 1})
    index = ctx.cast(index, ctx.dtype(rois))
    return ctx.emit1("concatenate", [index, rois], {"axis": 1})


# RoiAlign-16 adds coordinate_transformation_mode (default half_pixel; before: output_half_pixel); 22 adds bfloat16
@ONNX_IMPORT.register("RoiAlign", since=(10, 16, 22))
def roi_align(ctx, node, attrs, inputs):
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel" if ctx.opset >= 16 else "output_half_pixel")
    if ctm not in ("half_pixel", "output_half_pixel"):
        raise ctx.unsupported(f"coordinate_transformation_mode={ctm}")
    rois = _rois_with_batch_index(ctx, inputs[1], inputs[2])
    pooled = (int(attrs.get("output_height", 1)), int(attrs.get("output_width", 1)))
    return ctx.emit1("roi_align", [inputs[0], rois], {
        "pooled_size": pooled, "spatial_scale": float(attrs.get("spatial_scale", 1.0)),
        "sample_ratio": int(attrs.get("sampling_ratio", 0)), "mode": attrs.get("mode", "avg"),
        "aligned": ctm == "half_pixel"})


@ONNX_IMPORT.register("MaxRoiPool", since=(1, 22))
def max_roi_pool(ctx, node, attrs, inputs):
    return ctx.emit1("roi_pool", inputs[:2], {"pooled_size": tuple(int(v) for v in attrs.get("pooled_shape")),
                                              "spatial_scale": float(attrs.get("spatial_scale", 1.0))})
