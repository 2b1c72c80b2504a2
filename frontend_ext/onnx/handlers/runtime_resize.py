"""ONNX export of ``dyn_resize``: the Resize node it came from (sizes from the same run-time tensor)."""
from __future__ import annotations

from ..registry import ONNX_EXPORT


def _dyn_resize_check(ctx, node, attrs, inputs):
    if attrs.coordinate_transformation_mode == "half_pixel_symmetric" and ctx.b.opset < 19:
        return "half_pixel_symmetric before opset 19"
    return None


@ONNX_EXPORT.register("dyn_resize", since=11, check=_dyn_resize_check)
def _dyn_resize(ctx, node, attrs, inputs):
    b = ctx.b
    size = dict(scales=list(attrs.scales)) if attrs.scales is not None else dict(sizes_value=inputs[1])
    cubic = dict(cubic_coeff_a=attrs.cubic_coeff_a, exclude_outside=int(attrs.exclude_outside)) \
        if attrs.method == "cubic" else {}
    return b.resize(inputs[0], mode=attrs.method, coord=attrs.coordinate_transformation_mode,
                    nearest_mode=attrs.nearest_mode, **size, **cubic)
