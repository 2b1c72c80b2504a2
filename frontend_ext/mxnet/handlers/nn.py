"""Dense, convolution, pooling, normalisation, activations, padding and resizing."""
from __future__ import annotations

import math

import numpy as np

from nnvm_bridge.errors import ShapeError, unsupported_feature
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.symbolic import is_static, lower_bound
from nnvm_bridge.ops.common import expand_pads, per_dim

from ..context import mx_dtype, same
from ..registry import MXNET_EXPORT


@MXNET_EXPORT.register("dense")
def _dense(ctx, node, attrs, inputs):
    return [ctx.add("FullyConnected", node.name, inputs, {"num_hidden": attrs.units, "no_bias": not attrs.use_bias,
                                                          "flatten": False})]


# ---- convolution and pooling ---------------------------------------------------------------------
def _pad_input(ctx, node, x, begins, ends, value, nsp):
    """``x`` padded with ``value`` on its spatial axes (MXNet ops pad symmetrically only)."""
    if nsp not in (1, 2, 3):
        raise unsupported_feature(node.op, node.name, f"asymmetric padding, {nsp}-d", direction="MXNet")
    if nsp == 1:  # MXNet's Pad takes 4-d/5-d data only: pad (N, C, 1, W)
        x = ctx.add("expand_dims", node.name + "_pad_2d", [x], {"axis": 2})
        begins, ends = [0] + list(begins), [0] + list(ends)
    width = [0, 0, 0, 0]
    for b, e in zip(begins, ends):
        width += [b, e]
    y = ctx.add("Pad", node.name + "_pad", [x], {"mode": "constant", "pad_width": tuple(width),
                                                 "constant_value": float(value)})
    return ctx.add("squeeze", node.name + "_pad_1d", [y], {"axis": 2}) if nsp == 1 else y


def _conv(nsp):
    def fn(ctx, node, attrs, inputs):
        b, e = expand_pads(attrs.padding, nsp)
        x = inputs[0]
        if b != e:
            common = [min(u, v) for u, v in zip(b, e)]
            x = _pad_input(ctx, node, x, [u - c for u, c in zip(b, common)], [v - c for v, c in zip(e, common)],
                           0.0, nsp)
            b = common
        mx_attrs = dict(kernel=tuple(attrs.kernel_size), stride=per_dim(attrs.strides, nsp),
                        dilate=per_dim(attrs.dilation, nsp), pad=tuple(b), num_filter=attrs.channels,
                        num_group=attrs.groups, no_bias=not attrs.use_bias)
        return [ctx.add("Convolution", node.name, [x] + inputs[1:], mx_attrs)]
    return fn


def _deconv(nsp):
    def fn(ctx, node, attrs, inputs):
        b, e = expand_pads(attrs.padding, nsp)
        common = [min(u, v) for u, v in zip(b, e)]
        mx_attrs = dict(kernel=tuple(attrs.kernel_size), stride=per_dim(attrs.strides, nsp),
                        dilate=per_dim(attrs.dilation, nsp), pad=tuple(common),
                        adj=per_dim(attrs.output_padding, nsp), num_filter=attrs.channels, num_group=attrs.groups,
                        no_bias=not attrs.use_bias)
        y = ctx.add("Deconvolution", node.name, inputs, mx_attrs)
        for i in range(nsp):
            lo, hi = b[i] - common[i], e[i] - common[i]
            if lo or hi:
                y = ctx.add("slice_axis", node.name + f"_crop{i}", [y], {"axis": 2 + i, "begin": lo,
                                                                         "end": -hi if hi else "None"})
        return [y]
    return fn


MXNET_EXPORT.add("conv1d", _conv(1))
MXNET_EXPORT.add("conv2d", _conv(2))
MXNET_EXPORT.add("conv3d", _conv(3))
MXNET_EXPORT.add("conv1d_transpose", _deconv(1))
MXNET_EXPORT.add("conv2d_transpose", _deconv(2))
MXNET_EXPORT.add("conv3d_transpose", _deconv(3))


def _pool(nsp, kind):
    def fn(ctx, node, attrs, inputs):
        dtype = ctx.dtype(node.inputs[0])
        if kind == "max" and dtype is not None and not _dt.is_float(dtype):
            # MXNet pools floats only; the max of integers (int8/uint8 in quantized models) is exact in float32
            x = ctx.add("Cast", node.name + "_float", [inputs[0]], {"dtype": "float32"})
            y = ctx.add("Cast", node.name, [pool(ctx, node, attrs, [x])[0]], {"dtype": mx_dtype(dtype)})
            return [y]
        return pool(ctx, node, attrs, inputs)

    def pool(ctx, node, attrs, inputs):
        b, e = expand_pads(attrs.padding, nsp)
        x = inputs[0]
        strides = per_dim(attrs.strides, nsp)
        if attrs.ceil_mode and _kernel_may_exceed(ctx.shape(node.inputs[0]), attrs.pool_size, b, e):
            return [_ceil_pool_with_tail(ctx, node, attrs, x, b, e, strides, kind, nsp)]
        mx_attrs = dict(kernel=tuple(attrs.pool_size), stride=strides, pool_type=kind,
                        pooling_convention="full" if attrs.ceil_mode else "valid")
        if b == e:
            mx_attrs["pad"] = tuple(b)
            if kind == "avg":
                mx_attrs["count_include_pad"] = bool(attrs.count_include_pad)
            return [ctx.add("Pooling", node.name, [x], mx_attrs)]
        mx_attrs["pad"] = (0,) * nsp
        if kind == "max":
            xp = _pad_input(ctx, node, x, b, e, -math.inf, nsp)
            return [ctx.add("Pooling", node.name, [xp], mx_attrs)]
        mx_attrs["count_include_pad"] = True
        xp = _pad_input(ctx, node, x, b, e, 0.0, nsp)
        s = ctx.add("Pooling", node.name, [xp], mx_attrs)
        if attrs.count_include_pad:
            return [s]
        # average over real elements only: pool(x padded with 0) / pool(ones padded with 0)
        ones = ctx.add("ones_like", node.name + "_ones", [x])
        cnt = ctx.add("Pooling", node.name + "_count", [_pad_input(ctx, node, ones, b, e, 0.0, nsp)], mx_attrs)
        return [ctx.add("elemwise_div", node.name + "_mean", [s, cnt])]
    return fn


def _kernel_may_exceed(shape, kernel, begins, ends):
    """Whether some input size the shape allows is smaller than the kernel even padded (ceil mode keeps such a
    window; MXNet's Pooling refuses it)."""
    if shape is None:
        return True
    for d, k, pb, pe in zip(shape[2:], kernel, begins, ends):
        least = lower_bound(d)
        if least is None or least + pb + pe < k:
            return True
    return False


def _ceil_pool_with_tail(ctx, node, attrs, x, b, e, strides, kind, nsp):
    """Ceil-mode pooling as floor-mode pooling over an end tail of stride - 1 (ceil(a / s) == (a + s - 1) // s
    for every integer a), so that the padded input is never smaller than the kernel (HF EfficientNet's pooler
    pools its last feature map with a kernel of its channel count). The tail is never counted in an average."""
    ends = [pe + s - 1 for pe, s in zip(e, strides)]
    mx_attrs = dict(kernel=tuple(attrs.pool_size), stride=strides, pool_type=kind, pooling_convention="valid",
                    pad=(0,) * nsp)
    if kind == "max":
        return ctx.add("Pooling", node.name, [_pad_input(ctx, node, x, b, ends, -math.inf, nsp)], mx_attrs)
    mx_attrs["count_include_pad"] = True
    total = ctx.add("Pooling", node.name + "_sum", [_pad_input(ctx, node, x, b, ends, 0.0, nsp)], mx_attrs)
    ones = ctx.add("ones_like", node.name + "_ones", [x])
    if attrs.count_include_pad:  # the declared padding counts, the tail does not
        ones = _pad_input(ctx, node, ones, b, e, 1.0, nsp)
        ones = _pad_input(ctx, node, ones, [0] * nsp, [s - 1 for s in strides], 0.0, nsp)
    else:
        ones = _pad_input(ctx, node, ones, b, ends, 0.0, nsp)
    count = ctx.add("Pooling", node.name + "_count", [ones], mx_attrs)
    return ctx.add("elemwise_div", node.name, [total, count])


MXNET_EXPORT.add("max_pool1d", _pool(1, "max"))
MXNET_EXPORT.add("max_pool2d", _pool(2, "max"))
MXNET_EXPORT.add("max_pool3d", _pool(3, "max"))
MXNET_EXPORT.add("avg_pool1d", _pool(1, "avg"))
MXNET_EXPORT.add("avg_pool2d", _pool(2, "avg"))
MXNET_EXPORT.add("avg_pool3d", _pool(3, "avg"))
MXNET_EXPORT.add("global_max_pool1d", same("Pooling", global_pool=True, kernel=(1,), pool_type="max"))
MXNET_EXPORT.add("global_max_pool2d", same("Pooling", global_pool=True, kernel=(1, 1), pool_type="max"))
MXNET_EXPORT.add("global_max_pool3d", same("Pooling", global_pool=True, kernel=(1, 1, 1), pool_type="max"))
MXNET_EXPORT.add("global_avg_pool1d", same("Pooling", global_pool=True, kernel=(1,), pool_type="avg"))
MXNET_EXPORT.add("global_avg_pool2d", same("Pooling", global_pool=True, kernel=(1, 1), pool_type="avg"))
MXNET_EXPORT.add("global_avg_pool3d", same("Pooling", global_pool=True, kernel=(1, 1, 1), pool_type="avg"))


@MXNET_EXPORT.register("adaptive_avg_pool2d")
def _adaptive(ctx, node, attrs, inputs):
    return [ctx.add("_contrib_AdaptiveAvgPooling2D", node.name, inputs, {"output_size": tuple(attrs.output_size)})]


# ---- normalisation -------------------------------------------------------------------------------
@MXNET_EXPORT.register("batch_norm")
def _batch_norm(ctx, node, attrs, inputs):
    if not attrs.center:
        beta = node.inputs[2]
        inputs = list(inputs)
        inputs[2] = ctx.const(beta.node.name + "_zeros",
                              np.zeros(ctx.shape(beta), dtype=_dt.to_numpy(ctx.dtype(beta))))
    y = ctx.add("BatchNorm", node.name, inputs, {"eps": attrs.epsilon, "axis": attrs.axis,
                                                 "fix_gamma": not attrs.scale, "use_global_stats": True})
    return [y, (y[0], 1), (y[0], 2)]


@MXNET_EXPORT.register("layer_norm")
def _layer_norm(ctx, node, attrs, inputs):
    inputs = list(inputs)
    gamma, beta = node.inputs[1], node.inputs[2]
    if not attrs.center:
        inputs[2] = ctx.const(node.name + "_beta0", np.zeros(ctx.shape(beta), _dt.to_numpy(ctx.dtype(beta))))
    if not attrs.scale:
        inputs[1] = ctx.const(node.name + "_gamma1", np.ones(ctx.shape(gamma), _dt.to_numpy(ctx.dtype(gamma))))
    return [ctx.add("LayerNorm", node.name, inputs, {"axis": attrs.axis, "eps": attrs.epsilon})]


@MXNET_EXPORT.register("instance_norm")
def _instance_norm(ctx, node, attrs, inputs):
    return [ctx.add("InstanceNorm", node.name, inputs, {"eps": attrs.epsilon})]


@MXNET_EXPORT.register("lrn")
def _lrn(ctx, node, attrs, inputs):
    return [ctx.add("LRN", node.name, inputs, {"nsize": attrs.size, "alpha": attrs.alpha, "beta": attrs.beta,
                                               "knorm": attrs.bias})]


def _softmax(op):
    def fn(ctx, node, attrs, inputs):
        return [ctx.add(op, node.name, inputs, {"axis": attrs.axis})]
    return fn


MXNET_EXPORT.add("softmax", _softmax("softmax"))
MXNET_EXPORT.add("log_softmax", _softmax("log_softmax"))


# ---- activations ---------------------------------------------------------------------------------
MXNET_EXPORT.add("relu", same("Activation", act_type="relu"))
MXNET_EXPORT.add("softplus", same("Activation", act_type="softrelu"))
MXNET_EXPORT.add("softsign", same("Activation", act_type="softsign"))
MXNET_EXPORT.add("sigmoid", same("sigmoid"))
MXNET_EXPORT.add("tanh", same("tanh"))
MXNET_EXPORT.add("prelu", same("LeakyReLU", act_type="prelu"))


@MXNET_EXPORT.register("dropout")
def _passthrough(ctx, node, attrs, inputs):
    return [inputs[0], None]


@MXNET_EXPORT.register("leaky_relu")
def _leaky(ctx, node, attrs, inputs):
    return [ctx.add("LeakyReLU", node.name, inputs, {"act_type": "leaky", "slope": attrs.alpha})]


@MXNET_EXPORT.register("elu")
def _elu(ctx, node, attrs, inputs):
    return [ctx.add("LeakyReLU", node.name, inputs, {"act_type": "elu", "slope": attrs.alpha})]


@MXNET_EXPORT.register("selu")
def _selu(ctx, node, attrs, inputs):
    y = ctx.add("LeakyReLU", node.name + "_elu", inputs, {"act_type": "elu", "slope": attrs.alpha})
    return [ctx.add("_mul_scalar", node.name, [y], {"scalar": attrs.gamma})]


@MXNET_EXPORT.register("gelu")
def _gelu(ctx, node, attrs, inputs):
    if attrs.approximation == "none":
        return [ctx.add("LeakyReLU", node.name, inputs, {"act_type": "gelu"})]
    x, name = inputs[0], node.name
    cube = ctx.add("_power_scalar", name + "_cube", [x], {"scalar": 3.0})
    inner = ctx.add("elemwise_add", name + "_inner", [x, ctx.add("_mul_scalar", name + "_c", [cube],
                                                                 {"scalar": 0.044715})])
    t = ctx.add("tanh", name + "_tanh", [ctx.add("_mul_scalar", name + "_s", [inner],
                                                 {"scalar": math.sqrt(2 / math.pi)})])
    half = ctx.add("_mul_scalar", name + "_half", [ctx.add("_plus_scalar", name + "_p1", [t], {"scalar": 1.0})],
                   {"scalar": 0.5})
    return [ctx.add("elemwise_mul", name, [x, half])]


@MXNET_EXPORT.register("hard_sigmoid")
def _hard_sigmoid(ctx, node, attrs, inputs):
    return [ctx.add("hard_sigmoid", node.name, inputs, {"alpha": attrs.alpha, "beta": attrs.beta})]


@MXNET_EXPORT.register("hard_swish")
def _hard_swish(ctx, node, attrs, inputs):
    hs = ctx.add("hard_sigmoid", node.name + "_gate", inputs, {"alpha": 1.0 / 6, "beta": 0.5})
    return [ctx.add("elemwise_mul", node.name, [inputs[0], hs])]


@MXNET_EXPORT.register("silu")
def _silu(ctx, node, attrs, inputs):
    gate = ctx.add("sigmoid", node.name + "_gate", inputs)
    return [ctx.add("elemwise_mul", node.name, [inputs[0], gate])]


@MXNET_EXPORT.register("mish")
def _mish(ctx, node, attrs, inputs):
    gate = ctx.add("tanh", node.name + "_gate", [ctx.add("Activation", node.name + "_sp", inputs,
                                                         {"act_type": "softrelu"})])
    return [ctx.add("elemwise_mul", node.name, [inputs[0], gate])]


@MXNET_EXPORT.register("thresholded_relu")
def _thresholded(ctx, node, attrs, inputs):
    gate = ctx.add("_greater_scalar", node.name + "_gate", inputs, {"scalar": attrs.alpha})
    return [ctx.add("elemwise_mul", node.name, [inputs[0], gate])]


@MXNET_EXPORT.register("log_sigmoid")
def _log_sigmoid(ctx, node, attrs, inputs):
    return [ctx.add("log", node.name, [ctx.add("sigmoid", node.name + "_s", inputs)])]


# ---- padding and resizing ------------------------------------------------------------------------
@MXNET_EXPORT.register("pad", "mirror_pad")
def _pad(ctx, node, attrs, inputs):
    width = [p for pair in attrs.pad_width for p in pair]
    mode = getattr(attrs, "mode", "constant")
    mx_attrs = {"mode": mode, "pad_width": tuple(width)}
    if mode == "constant":
        mx_attrs["constant_value"] = attrs.pad_value
    rank = len(attrs.pad_width)
    floats = (ctx.dtype(node.inputs[0]) or "float32").startswith("float")
    if rank not in (4, 5) or any(width[:4]) or not floats:
        shape = ctx.shape(node.inputs[0])
        if mode != "constant" or shape is None:
            raise unsupported_feature(node.op, node.name, "MXNet Pad pads only the spatial axes of 4-d/5-d float "
                                      "data", direction="MXNet")
        return [_concat_pad(ctx, node, inputs[0], shape, attrs.pad_width, attrs.pad_value)]
    return [ctx.add("Pad", node.name, inputs, mx_attrs)]


def _concat_pad(ctx, node, x, shape, pad_width, value):
    """Constant padding of any axis: concatenate filled blocks before and after."""
    dtype = mx_dtype(ctx.dtype(node.inputs[0]) or "float32")
    cur = list(shape)
    for axis, (before, after) in enumerate(pad_width):
        if not before and not after:
            continue
        parts = []
        for k, width in (("b", before), ("a", after)):
            if width:
                parts.append(_fill_block(ctx, f"{node.name}_fill{axis}{k}", x, cur, axis, width, value, dtype))
            if k == "b":
                parts.append(x)
        x = ctx.add("Concat", f"{node.name}_axis{axis}", parts, {"dim": axis, "num_args": len(parts)})
        cur[axis] += before + after
    return x


def _fill_block(ctx, name, x, shape, axis, width, value, dtype):
    """A block of ``value`` shaped like ``x`` but ``width`` long on ``axis``: ``_full`` where ``shape`` is static,
    else from one slice of ``x`` (MXNet's ``_full`` takes numbers only; broadcast_to's 0 keeps x's own dims)."""
    if is_static(shape):
        block = [int(d) for d in shape]
        block[axis] = width
        return ctx.add("_full", name, [], {"shape": tuple(block), "value": float(value), "dtype": dtype})
    one = ctx.add("slice_axis", f"{name}_one", [x], {"axis": axis, "begin": 0, "end": 1})
    one = ctx.add("_plus_scalar", f"{name}_value", [ctx.add("zeros_like", f"{name}_zeros", [one])],
                  {"scalar": float(value)})
    spec = [0] * len(shape)
    spec[axis] = width
    return ctx.add("broadcast_to", name, [one], {"shape": tuple(spec)})


@MXNET_EXPORT.register("upsampling")
def _upsampling(ctx, node, attrs, inputs):
    if attrs.method != "NEAREST_NEIGHBOR":
        raise unsupported_feature("upsampling", node.name, "bilinear", direction="MXNet")
    return [ctx.add("UpSampling", node.name, inputs, {"scale": attrs.scale, "sample_type": "nearest",
                                                      "num_args": 1})]


@MXNET_EXPORT.register("resize")
def _resize(ctx, node, attrs, inputs):
    if attrs.method != "BILINEAR":
        raise unsupported_feature("resize", node.name, "nearest", direction="MXNet")
    return [ctx.add("_contrib_BilinearResize2D", node.name, inputs, {"height": attrs.size[0], "width": attrs.size[1],
                                                                     "align_corners": attrs.align_corners})]


@MXNET_EXPORT.register("depth_to_space")
def _depth_to_space(ctx, node, attrs, inputs):
    if attrs.mode == "DCR":
        return [ctx.add("depth_to_space", node.name, inputs, {"block_size": attrs.block_size})]
    shape = ctx.shape(node.inputs[0])
    if shape is None:
        raise ShapeError("depth_to_space CRD needs the input shape", node=node.name, op=node.op)
    b = attrs.block_size
    n, c, h, w = shape
    y = ctx.add("Reshape", node.name + "_r", inputs, {"shape": (n, c // (b * b), b, b, h, w)})
    y = ctx.add("transpose", node.name + "_t", [y], {"axes": (0, 1, 4, 2, 5, 3)})
    return [ctx.add("Reshape", node.name, [y], {"shape": (n, c // (b * b), h * b, w * b)})]


@MXNET_EXPORT.register("space_to_depth")
def _space_to_depth(ctx, node, attrs, inputs):
    return [ctx.add("space_to_depth", node.name, inputs, {"block_size": attrs.block_size})]
