"""batch_norm, layer_norm, instance_norm, group_norm."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir import dtypes as _dt

from ..registry import handler


def _channel_vectors(ctx, channels):
    """gamma and beta, replaced by ones / zeros when NNVM's scale / center are False."""
    b, dt = ctx.b, ctx.dtype()
    gamma, beta = ctx.inputs[1], ctx.inputs[2]
    if not ctx.attrs.get("scale", True):
        gamma = b.const(np.ones((channels,), _dt.to_numpy(dt)))
    if not ctx.attrs.get("center", True):
        beta = b.const(np.zeros((channels,), _dt.to_numpy(dt)))
    return gamma, beta


def _normalize(b, x, axes, eps, dt):
    """(x - mean) / sqrt(var + eps) over ``axes`` (kept dims)."""
    mean = b.reduce("ReduceMean", x, axes, keepdims=True)
    d = b.op("Sub", [x, mean])
    var = b.reduce("ReduceMean", b.op("Mul", [d, d]), axes, keepdims=True)
    return b.op("Div", [d, b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, dt)])])])


def _affine(b, y, gamma, beta, channels, nd, axis):
    shape = b.bcast_shape(channels, nd, axis)
    y = b.op("Mul", [y, b.reshape(gamma, shape)])
    return b.op("Add", [y, b.reshape(beta, shape)])


@handler("batch_norm")
def _batch_norm(ctx):
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    axis = ctx.attrs.axis % nd
    channels = shape[axis]
    gamma, beta = _channel_vectors(ctx, channels)
    mean, var = ctx.inputs[3], ctx.inputs[4]
    eps = float(ctx.attrs.epsilon)
    if axis == 1:
        return b.op("BatchNormalization", [ctx.x, gamma, beta, mean, var], epsilon=eps)
    # ONNX BatchNormalization is channel-first only: spell it out for other axes
    bshape = b.bcast_shape(channels, nd, axis)
    denom = b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, dt)])])
    y = b.op("Div", [b.op("Sub", [ctx.x, b.reshape(mean, bshape)]), b.reshape(denom, bshape)])
    return _affine(b, y, gamma, beta, channels, nd, axis)


@handler("layer_norm")
def _layer_norm_decomposed(ctx):
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    axis = ctx.attrs.axis % nd
    gamma, beta = _channel_vectors(ctx, shape[axis])
    y = _normalize(b, ctx.x, [axis], float(ctx.attrs.epsilon), dt)
    return _affine(b, y, gamma, beta, shape[axis], nd, axis)


@handler("layer_norm", since=17)
def _layer_norm(ctx):
    shape = ctx.shape(0)
    nd = len(shape)
    axis = ctx.attrs.axis % nd
    if axis != nd - 1:
        # ONNX normalises over all axes from `axis` on; NNVM over that one axis only
        return _layer_norm_decomposed(ctx)
    gamma, beta = _channel_vectors(ctx, shape[axis])
    return ctx.b.op("LayerNormalization", [ctx.x, gamma, beta], axis=-1, epsilon=float(ctx.attrs.epsilon))


def _instance_norm_check(ctx):
    if ctx.in_shapes[0] is not None and ctx.attrs.axis % len(ctx.in_shapes[0]) != 1:
        return f"axis {ctx.attrs.axis} (channel axis must be 1)"
    return None


@handler("instance_norm", check=_instance_norm_check)
def _instance_norm(ctx):
    return ctx.b.op("InstanceNormalization", list(ctx.inputs[:3]), epsilon=float(ctx.attrs.epsilon))


@handler("group_norm")
def _group_norm(ctx):
    # Decomposed at every opset: ONNX GroupNormalization-18 takes per-group scale/bias and
    # -21 per-channel ones, so one spelling for all opsets is the safest.
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    groups = int(ctx.attrs.num_groups)
    grouped = b.op("Reshape", [ctx.x, b.i64([0, groups, -1])])
    y = _normalize(b, grouped, [2], float(ctx.attrs.epsilon), dt)
    y = b.op("Reshape", [y, b.op("Shape", [ctx.x])])
    return _affine(b, y, ctx.inputs[1], ctx.inputs[2], shape[1], nd, 1)
