"""ONNX export of ``dyn_resize``: the Resize node it came from (sizes from the same run-time tensor)."""
from __future__ import annotations

from nnvm_bridge.errors import unsupported_feature

from ..registry import ONNX_EXPORT


@ONNX_EXPORT.register("dyn_resize", since=11)
def _dyn_resize(ctx, node, attrs, inputs):
    b = ctx.b
    if attrs.coordinate_transformation_mode == "half_pixel_symmetric" and b.opset < 19:
        raise unsupported_feature(node.op, node.name, "half_pixel_symmetric before opset 19", direction="ONNX export")
    size = dict(scales=list(attrs.scales)) if attrs.scales is not None else dict(sizes_value=inputs[1])
    cubic = dict(cubic_coeff_a=attrs.cubic_coeff_a, exclude_outside=int(attrs.exclude_outside)) \
        if attrs.method == "cubic" else {}
    return b.resize(inputs[0], mode=attrs.method, coord=attrs.coordinate_transformation_mode,
                    nearest_mode=attrs.nearest_mode, **size, **cubic)
