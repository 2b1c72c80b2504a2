"""Converters for ONNX's random ops: RandomUniform/Normal(Like), Bernoulli, Multinomial.

All are built on the IR's random_uniform/random_normal (nnvm_bridge/ops/random.py). They import and run
with the right shapes, dtypes and distributions; their numbers cannot equal onnxruntime's or the ONNX
test cases' (every runtime has its own generator), and the IR never folds them into constants.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


def _seed(attrs):
    return None if "seed" not in attrs else float(attrs["seed"])


def _float_dtype(ctx, code):
    dtype = _dt.from_onnx(int(code))
    if dtype not in ("float32", "float64", "float16"):
        raise ctx.unsupported(f"dtype {dtype} (random ops make floats)")
    return dtype


def _static_shape(ctx, x, what):
    s = ctx.shape(x)
    if s is None or not is_static(s):
        raise ctx.error(ShapeError, f"{what} needs the static shape of its input; give the input shapes with shape=")
    return tuple(int(d) for d in s)


def _uniform(ctx, shape, dtype, low, high, seed):
    return ctx.emit1("random_uniform", [], {"shape": tuple(shape), "dtype": dtype, "low": float(low),
                                            "high": float(high), "seed": seed})


def _normal(ctx, shape, dtype, mean, scale, seed):
    return ctx.emit1("random_normal", [], {"shape": tuple(shape), "dtype": dtype, "mean": float(mean),
                                           "scale": float(scale), "seed": seed})


def _like_dtype(ctx, attrs, x):
    return _float_dtype(ctx, attrs["dtype"]) if "dtype" in attrs else ctx.dtype(x)


@ONNX_IMPORT.register("RandomUniform", since=(1, 22))
def random_uniform(ctx, node, attrs, inputs):
    return _uniform(ctx, attrs["shape"], _float_dtype(ctx, attrs.get("dtype", 1)), attrs.get("low", 0.0),
                    attrs.get("high", 1.0), _seed(attrs))


@ONNX_IMPORT.register("RandomNormal", since=(1, 22))
def random_normal(ctx, node, attrs, inputs):
    return _normal(ctx, attrs["shape"], _float_dtype(ctx, attrs.get("dtype", 1)), attrs.get("mean", 0.0),
                   attrs.get("scale", 1.0), _seed(attrs))


@ONNX_IMPORT.register("RandomUniformLike", since=(1, 22))
def random_uniform_like(ctx, node, attrs, inputs):
    x = inputs[0]
    return _uniform(ctx, _static_shape(ctx, x, "RandomUniformLike"), _like_dtype(ctx, attrs, x),
                    attrs.get("low", 0.0), attrs.get("high", 1.0), _seed(attrs))


@ONNX_IMPORT.register("RandomNormalLike", since=(1, 22))
def random_normal_like(ctx, node, attrs, inputs):
    x = inputs[0]
    return _normal(ctx, _static_shape(ctx, x, "RandomNormalLike"), _like_dtype(ctx, attrs, x),
                   attrs.get("mean", 0.0), attrs.get("scale", 1.0), _seed(attrs))


@ONNX_IMPORT.register("Bernoulli", since=(15, 22))
def bernoulli(ctx, node, attrs, inputs):
    p = inputs[0]
    u = _uniform(ctx, _static_shape(ctx, p, "Bernoulli"), ctx.dtype(p), 0.0, 1.0, _seed(attrs))
    hit = ctx.emit1("broadcast_less", [u, p])
    dtype = _dt.from_onnx(int(attrs["dtype"])) if "dtype" in attrs else ctx.dtype(p)
    return ctx.cast(hit, dtype)


@ONNX_IMPORT.register("Multinomial", since=(7, 22))
def multinomial(ctx, node, attrs, inputs):
    """``sample_size`` draws per row from the categorical distribution of the row's unnormalised log
    probabilities, by the Gumbel-max trick: argmax(logits - log(-log(u))) with u uniform."""
    logits = inputs[0]
    batch, classes = _static_shape(ctx, logits, "Multinomial")
    draws = int(attrs.get("sample_size", 1))
    dtype = _dt.from_onnx(int(attrs.get("dtype", 6)))
    if dtype not in ("int32", "int64"):
        raise ctx.unsupported(f"dtype {dtype}")
    u = _uniform(ctx, (batch, draws, classes), ctx.dtype(logits), np.finfo(np.float32).tiny, 1.0, _seed(attrs))
    gumbel = ctx.emit1("negative", [ctx.emit1("log", [ctx.emit1("negative", [ctx.emit1("log", [u])])])])
    scores = ctx.emit1("broadcast_add", [ctx.reshape(logits, (batch, 1, classes)), gumbel])
    return ctx.emit1("argmax", [scores], {"axis": (2,), "keepdims": False, "dtype": dtype})
