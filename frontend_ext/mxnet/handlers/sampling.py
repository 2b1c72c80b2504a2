"""grid_sample (MXNet's BilinearSampler), the random ops, and group_norm with per-channel scale/bias."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import ShapeError, unsupported_feature
from nnvm_bridge.ir import dtypes as _dt

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


@MXNET_EXPORT.register("grid_sample")
def _grid_sample(ctx, node, attrs, inputs):
    """BilinearSampler reads an (N, 2, H, W) grid with align_corners=True and zeros outside: a
    half-pixel (align_corners=False) grid is rescaled by size / (size - 1) per axis first."""
    if attrs.method != "linear" or attrs.padding_mode != "zeros":
        raise unsupported_feature(node.op, node.name, f"method={attrs.method}, padding_mode={attrs.padding_mode} "
                                  "(MXNet's BilinearSampler is linear with zeros padding)", direction="MXNet")
    shape = ctx.shape(node.inputs[0])
    if shape is None or len(shape) != 4:
        raise unsupported_feature(node.op, node.name, "sampling other than 2-d", direction="MXNet")
    grid = ctx.add("transpose", node.name + "_grid", [inputs[1]], {"axes": (0, 3, 1, 2)})
    if not attrs.align_corners:
        h, w = shape[2], shape[3]
        if not isinstance(h, int) or not isinstance(w, int):
            raise ShapeError("MXNet's BilinearSampler needs the static input size for align_corners=False",
                             node=node.name, op=node.op)
        scale = np.array([w / max(w - 1, 1), h / max(h - 1, 1)]).reshape(1, 2, 1, 1)
        dtype = _dt.to_numpy(ctx.dtype(node.inputs[1]) or "float32")
        grid = ctx.add("broadcast_mul", node.name + "_half_pixel", [grid, ctx.const(node.name + "_scale",
                                                                                    scale.astype(dtype))])
    return [ctx.add("BilinearSampler", node.name, [inputs[0], grid])]


def _random(op, params):
    def fn(ctx, node, attrs, inputs):
        mx_attrs = {"shape": tuple(attrs.shape), "dtype": mx_dtype(attrs.dtype)}
        mx_attrs.update({mx_name: float(attrs[name]) for name, mx_name in params})
        return [ctx.add(op, node.name, [], mx_attrs)]
    return fn


# MXNet has no per-op seed: mx.random.seed() seeds them all
MXNET_EXPORT.add("random_uniform", _random("_random_uniform", (("low", "low"), ("high", "high"))))
MXNET_EXPORT.add("random_normal", _random("_random_normal", (("mean", "loc"), ("scale", "scale"))))


@MXNET_EXPORT.register("group_norm")
def _group_norm(ctx, node, attrs, inputs):
    """Decomposed: MXNet's GroupNorm takes one scale/bias per group, the IR one per channel."""
    shape = ctx.shape(node.inputs[0])
    if shape is None:
        raise ShapeError("group_norm to MXNet needs the input rank", node=node.name, op=node.op)
    x, gamma, beta = inputs[:3]
    name = node.name
    grouped = ctx.add("reshape", name + "_groups", [x], {"shape": (0, attrs.num_groups, -1)})
    mean = ctx.add("mean", name + "_mean", [grouped], {"axis": (2,), "keepdims": True})
    centred = ctx.add("broadcast_sub", name + "_centred", [grouped, mean])
    var = ctx.add("mean", name + "_var", [ctx.add("square", name + "_sq", [centred])], {"axis": (2,),
                                                                                        "keepdims": True})
    std = ctx.add("sqrt", name + "_std", [ctx.add("_plus_scalar", name + "_eps", [var],
                                                  {"scalar": float(attrs.epsilon)})])
    y = ctx.add("reshape_like", name + "_normed", [ctx.add("broadcast_div", name + "_div", [centred, std]), x])
    view = (1, -1) + (1,) * (len(shape) - 2)
    g = ctx.add("reshape", name + "_gamma", [gamma], {"shape": view})
    b = ctx.add("reshape", name + "_beta", [beta], {"shape": view})
    return [ctx.add("broadcast_add", name, [ctx.add("broadcast_mul", name + "_scaled", [y, g]), b])]
