"""Linear quantization (level 6 extensions): the two ops every quantized model decomposes into.

``quantize_linear``:   y = saturate(round_half_even(x / scale) + zero_point), in ``out_dtype``;
``dequantize_linear``: y = (x - zero_point) * scale, in the scale's dtype.
A float8 ``out_dtype`` rounds x / scale + zero_point as Cast does (``saturate``: out of range to +-max).

``scale`` and ``zero_point`` are inputs (a model may compute them, as DynamicQuantizeLinear does):
one element (per tensor) or a 1-d tensor of ``data.shape[axis]`` elements (per axis).  Quantized
ops (QLinearConv, MatMulInteger, ...) import as dequantize -> float op -> quantize.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as _dt
from .common import norm_axis
from .numpy_ref import cast_array
from .registry import Attr, register

QUANT_DTYPES = ("int8", "uint8", "int16", "uint16", "int32") + tuple(_dt.FLOAT8)


def int_range(dtype: str):
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def per_axis(param: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A scale / zero point shaped to broadcast against the data: one element as is, a vector
    along ``axis``."""
    param = np.asarray(param)
    if param.size == 1:
        return param.reshape(())
    shape = [1] * ndim
    shape[norm_axis(axis, ndim, "quantize_linear")] = param.size
    return param.reshape(shape)


def _quantize(attrs, xs):
    x, scale, zp = xs
    scale = per_axis(scale, x.ndim, attrs.axis).astype(np.float32)
    zp = per_axis(zp, x.ndim, attrs.axis).astype(np.float32)
    if _dt.is_float8(attrs.out_dtype):
        return [cast_array(x.astype(np.float32) / scale + zp, attrs.out_dtype, attrs.saturate)]
    low, high = int_range(attrs.out_dtype)
    y = np.rint(x.astype(np.float32) / scale) + zp
    return [np.clip(y, low, high).astype(attrs.out_dtype)]


def _dequantize(attrs, xs):
    x, scale, zp = xs
    s = per_axis(scale, x.ndim, attrs.axis)
    z = per_axis(zp, x.ndim, attrs.axis)
    exact = np.float32 if _dt.is_float8(x.dtype) else np.int64  # float32 holds every float8 value
    return [((x.astype(exact) - z.astype(exact)).astype(s.dtype) * s).astype(scale.dtype)]


def _params_shape(attrs, shapes):
    return [shapes[0]]


register("quantize_linear", inputs=("data", "scale", "zero_point"),
         attrs={"axis": Attr("int", 1), "out_dtype": Attr("dtype", "uint8", choices=QUANT_DTYPES),
                "saturate": Attr("bool", True)},
         infer_shape=_params_shape, infer_type=lambda a, t: [a.out_dtype], compute=_quantize, level=6, ext=True,
         doc="saturate(round_half_even(data / scale) + zero_point); scale/zero_point: 1 element or "
             "data.shape[axis] elements")
register("dequantize_linear", inputs=("data", "scale", "zero_point"), attrs={"axis": Attr("int", 1)},
         infer_shape=_params_shape, infer_type=lambda a, t: [t[1]], compute=_dequantize, level=6, ext=True,
         doc="(data - zero_point) * scale, in the scale's dtype; per tensor or per axis like quantize_linear")
