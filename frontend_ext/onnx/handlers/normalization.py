"""batch_norm, layer_norm, instance_norm, group_norm."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir import dtypes as _dt

from ..registry import ONNX_EXPORT


def _channel_vectors(ctx, attrs, inputs, channels):
    """gamma and beta, replaced by ones / zeros when NNVM's scale / center are False."""
    b, dt = ctx.b, ctx.dtype()
    gamma, beta = inputs[1], inputs[2]
    if not attrs.get("scale", True):
        gamma = b.const(np.ones((channels,), _dt.to_numpy(dt)))
    if not attrs.get("center", True):
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


@ONNX_EXPORT.register("batch_norm", since=11)
def _batch_norm(ctx, node, attrs, inputs):
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    axis = attrs.axis % nd
    channels = shape[axis]
    gamma, beta = _channel_vectors(ctx, attrs, inputs, channels)
    mean, var = inputs[3], inputs[4]
    eps = float(attrs.epsilon)
    if axis == 1:
        return b.op("BatchNormalization", [inputs[0], gamma, beta, mean, var], epsilon=eps)
    # ONNX BatchNormalization is channel-first only: spell it out for other axes
    bshape = b.bcast_shape(channels, nd, axis)
    denom = b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, dt)])])
    y = b.op("Div", [b.op("Sub", [inputs[0], b.reshape(mean, bshape)]), b.reshape(denom, bshape)])
    return _affine(b, y, gamma, beta, channels, nd, axis)


@ONNX_EXPORT.register("layer_norm", since=11)
def _layer_norm_decomposed(ctx, node, attrs, inputs):
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    axis = attrs.axis % nd
    gamma, beta = _channel_vectors(ctx, attrs, inputs, shape[axis])
    y = _normalize(b, inputs[0], [axis], float(attrs.epsilon), dt)
    return _affine(b, y, gamma, beta, shape[axis], nd, axis)


@ONNX_EXPORT.register("layer_norm", since=17)
def _layer_norm(ctx, node, attrs, inputs):
    shape = ctx.shape(0)
    nd = len(shape)
    axis = attrs.axis % nd
    if axis != nd - 1:
        # ONNX normalises over all axes from `axis` on; NNVM over that one axis only
        return _layer_norm_decomposed(ctx, node, attrs, inputs)
    gamma, beta = _channel_vectors(ctx, attrs, inputs, shape[axis])
    return ctx.b.op("LayerNormalization", [inputs[0], gamma, beta], axis=-1, epsilon=float(attrs.epsilon))


def _instance_norm_check(ctx, node, attrs, inputs):
    if ctx.in_shapes[0] is not None and attrs.axis % len(ctx.in_shapes[0]) != 1:
        return f"axis {attrs.axis} (channel axis must be 1)"
    return None


@ONNX_EXPORT.register("instance_norm", since=11, check=_instance_norm_check)
def _instance_norm(ctx, node, attrs, inputs):
    return ctx.b.op("InstanceNormalization", list(inputs[:3]), epsilon=float(attrs.epsilon))


@ONNX_EXPORT.register("group_norm", since=11)
def _group_norm(ctx, node, attrs, inputs):
    # Decomposed at every opset: ONNX GroupNormalization-18 takes per-group scale/bias and
    # -21 per-channel ones, so one spelling for all opsets is the safest.
    b, dt = ctx.b, ctx.dtype()
    shape = ctx.shape(0)
    nd = len(shape)
    groups = int(attrs.num_groups)
    grouped = b.op("Reshape", [inputs[0], b.i64([0, groups, -1])])
    y = _normalize(b, grouped, [2], float(attrs.epsilon), dt)
    y = b.op("Reshape", [y, b.op("Shape", [inputs[0]])])
    return _affine(b, y, inputs[1], inputs[2], shape[1], nd, 1)
