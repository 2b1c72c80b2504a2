"""grid_sample and the random ops."""
from __future__ import annotations

from ..builder import onnx_dtype
from ..registry import ONNX_EXPORT

# GridSample-16 takes 4-d data and PyTorch's mode names; -20 any rank and new names
_MODES_16 = {"linear": "bilinear", "nearest": "nearest", "cubic": "bicubic"}


def _grid_sample_16_check(ctx, node, attrs, inputs):
    if ctx.in_shapes[0] is not None and len(ctx.in_shapes[0]) != 4:
        return f"{len(ctx.in_shapes[0]) - 2}-d sampling (GridSample takes it from opset 20)"
    return None


@ONNX_EXPORT.register("grid_sample", since=16, check=_grid_sample_16_check)
def _grid_sample_16(ctx, node, attrs, inputs):
    return ctx.b.op("GridSample", list(inputs[:2]), mode=_MODES_16[attrs.method], padding_mode=attrs.padding_mode,
                    align_corners=int(attrs.align_corners))


@ONNX_EXPORT.register("grid_sample", since=20)
def _grid_sample(ctx, node, attrs, inputs):
    return ctx.b.op("GridSample", list(inputs[:2]), mode=attrs.method, padding_mode=attrs.padding_mode,
                    align_corners=int(attrs.align_corners))


def _seed(attrs):
    return {} if attrs.seed is None else {"seed": float(attrs.seed)}


@ONNX_EXPORT.register("random_uniform", since=11)
def _random_uniform(ctx, node, attrs, inputs):
    return ctx.b.op("RandomUniform", [], shape=[int(d) for d in attrs.shape], dtype=onnx_dtype(attrs.dtype),
                    low=float(attrs.low), high=float(attrs.high), **_seed(attrs))


@ONNX_EXPORT.register("random_normal", since=11)
def _random_normal(ctx, node, attrs, inputs):
    return ctx.b.op("RandomNormal", [], shape=[int(d) for d in attrs.shape], dtype=onnx_dtype(attrs.dtype),
                    mean=float(attrs.mean), scale=float(attrs.scale), **_seed(attrs))
