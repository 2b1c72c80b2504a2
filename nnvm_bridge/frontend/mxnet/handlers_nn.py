"""Handlers for MXNet's neural-network ops (convolution, pooling, normalisation, activations, ...)."""
from __future__ import annotations

import math

from ...errors import InvalidModelError, ShapeError
from ...ops.common import DATA_LAYOUTS, prod
from . import defaults
from .registry import MXNET_IMPORT


def need_inputs(inputs, n, ctx):
    if len(inputs) < n:
        raise InvalidModelError(f"expects at least {n} inputs, got {len(inputs)}", node=ctx.node_name, op=ctx.op_name,
                                file=ctx.file)


def _spatial(attrs, key, nsp, fill):
    v = tuple(attrs[key]) or (fill,) * nsp
    if len(v) == 1 and nsp > 1:
        v = v * nsp
    if len(v) != nsp:
        raise attrs.error(f"attribute {key!r}={v} does not match a {nsp}-d kernel")
    return v


def _check_layout(attrs, nsp):
    layout = attrs["layout"]
    if layout not in (None, "None", DATA_LAYOUTS.get(nsp)):
        raise attrs.error(f"layout {layout!r} is not supported (only {DATA_LAYOUTS.get(nsp)}; MXNet's CPU ops "
                          f"also need channel-first data)")


# ---- convolution ---------------------------------------------------------------------------------
def _conv_common(attrs, inputs, ctx):
    """Checks shared by Convolution and Deconvolution: (kernel, spatial dims, no_bias, num_filter, num_group)."""
    kernel = tuple(attrs["kernel"])
    nsp = len(kernel)
    if nsp not in (1, 2, 3):
        raise attrs.error(f"kernel {kernel} must have 1, 2 or 3 dims")
    _check_layout(attrs, nsp)
    no_bias = attrs["no_bias"]
    need_inputs(inputs, 2 if no_bias else 3, ctx)
    return kernel, nsp, no_bias, attrs["num_filter"], attrs["num_group"]


@MXNET_IMPORT.register("Convolution", "Convolution_v1", attrs=defaults.CONVOLUTION, weights=(1, 2))
def convolution(ctx, node, attrs, inputs):
    kernel, nsp, no_bias, nf, g = _conv_common(attrs, inputs, ctx)
    d = ctx.shape(inputs[0])
    if d is not None and len(d) == nsp + 2:
        if g <= 0 or d[1] % g:
            raise attrs.error(f"{d[1]} input channels are not divisible by num_group={g}")
        ctx.expect(inputs[1], (nf, d[1] // g) + kernel, "weight")
    else:
        ctx.expect(inputs[1], None, "weight")
    if not no_bias:
        ctx.expect(inputs[2], (nf,), "bias")
    ir_attrs = dict(channels=nf, kernel_size=kernel, strides=_spatial(attrs, "stride", nsp, 1),
                    padding=_spatial(attrs, "pad", nsp, 0), dilation=_spatial(attrs, "dilate", nsp, 1), groups=g,
                    use_bias=not no_bias)
    return ctx.out(f"conv{nsp}d", inputs[:2] if no_bias else inputs[:3], ir_attrs, name=node.name)


@MXNET_IMPORT.register("Deconvolution", attrs=defaults.DECONVOLUTION, weights=(1, 2))
def deconvolution(ctx, node, attrs, inputs):
    kernel, nsp, no_bias, nf, g = _conv_common(attrs, inputs, ctx)
    stride, dilate = _spatial(attrs, "stride", nsp, 1), _spatial(attrs, "dilate", nsp, 1)
    pad, adj = _spatial(attrs, "pad", nsp, 0), _spatial(attrs, "adj", nsp, 0)
    d = ctx.shape(inputs[0])
    if g <= 0 or nf % g:
        raise attrs.error(f"num_filter={nf} is not divisible by num_group={g}")
    if d is not None and len(d) == nsp + 2:
        ctx.expect(inputs[1], (d[1], nf // g) + kernel, "weight")
    else:
        ctx.expect(inputs[1], None, "weight")
    if not no_bias:
        ctx.expect(inputs[2], (nf,), "bias")
    target = tuple(attrs["target_shape"])
    if target and any(target):
        # MXNet's DeconvolutionParam::InferPad: pad/adj chosen so the output is exactly target_shape
        d = ctx.need_shape(inputs[0], "Deconvolution target_shape")
        if len(target) != nsp:
            raise attrs.error(f"target_shape {target} does not match a {nsp}-d kernel")
        pad, adj = [], []
        for i in range(nsp):
            full = stride[i] * (d[2 + i] - 1) + dilate[i] * (kernel[i] - 1) + 1
            if full < target[i]:
                raise attrs.error(f"target_shape {target} is too big for input {d}")
            total = full - target[i]
            adj.append(total % 2)
            pad.append((total + 1) // 2)
        pad, adj = tuple(pad), tuple(adj)
    ir_attrs = dict(channels=nf, kernel_size=kernel, strides=stride, padding=pad, dilation=dilate, groups=g,
                    output_padding=adj, use_bias=not no_bias)
    return ctx.out(f"conv{nsp}d_transpose", inputs[:2] if no_bias else inputs[:3], ir_attrs, name=node.name)


# ---- pooling ---------------------------------------------------------------------------------------
@MXNET_IMPORT.register("Pooling", "Pooling_v1", attrs=defaults.POOLING)
def pooling(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    data = inputs[0]
    ptype = attrs["pool_type"]
    p = attrs["p_value"]
    if ptype == "lp" and (p is None or p <= 0):
        raise attrs.error("lp pooling needs a positive p_value")
    kernel = tuple(attrs["kernel"])
    if attrs["global_pool"]:
        nsp = ctx.ndim(data, "global Pooling") - 2 if not kernel or ctx.shape(data) else len(kernel)
        if nsp not in (1, 2, 3):
            raise attrs.error(f"global pooling needs 3-d to 5-d data, got {nsp + 2}-d")
        _check_layout(attrs, nsp)
        if ptype in ("max", "avg"):
            return ctx.out(f"global_{ptype}_pool{nsp}d", [data], {}, name=node.name)
        axes = tuple(range(2, 2 + nsp))
        if ptype == "sum":
            return ctx.out("sum", [data], dict(axis=axes, keepdims=True), name=node.name)
        x = ctx.aux("__pow_scalar__", [ctx.aux("abs", [data])], dict(scalar=float(p)))
        s = ctx.aux("sum", [x], dict(axis=axes, keepdims=True))
        return ctx.out("__pow_scalar__", [s], dict(scalar=1.0 / p), name=node.name)
    nsp = len(kernel)
    if nsp not in (1, 2, 3):
        raise attrs.error(f"kernel {kernel} must have 1, 2 or 3 dims")
    _check_layout(attrs, nsp)
    conv = attrs["pooling_convention"]
    if conv == "same":
        raise attrs.error("pooling_convention='same' is not supported")
    common = dict(pool_size=kernel, strides=_spatial(attrs, "stride", nsp, 1), padding=_spatial(attrs, "pad", nsp, 0),
                  ceil_mode=conv == "full")
    if ptype == "max":
        return ctx.out(f"max_pool{nsp}d", [data], common, name=node.name)
    cip = attrs["count_include_pad"]
    if ptype == "avg":
        return ctx.out(f"avg_pool{nsp}d", [data], dict(common, count_include_pad=True if cip is None else cip),
                       name=node.name)
    # sum / lp: the window sum is an average over the (padded) window times its size, which holds
    # exactly when no window is clipped, i.e. with the 'valid' convention
    if conv != "valid":
        raise attrs.error(f"pool_type={ptype!r} is only supported with pooling_convention='valid'")
    x = data
    if ptype == "lp":
        x = ctx.aux("__pow_scalar__", [ctx.aux("abs", [data])], dict(scalar=float(p)))
    avg = ctx.aux(f"avg_pool{nsp}d", [x], dict(common, count_include_pad=True))
    if ptype == "sum":
        return ctx.out("__mul_scalar__", [avg], dict(scalar=float(prod(kernel))), name=node.name)
    s = ctx.aux("__mul_scalar__", [avg], dict(scalar=float(prod(kernel))))
    return ctx.out("__pow_scalar__", [s], dict(scalar=1.0 / p), name=node.name)


@MXNET_IMPORT.register("_contrib_AdaptiveAvgPooling2D", attrs=defaults.ADAPTIVE_AVG_POOLING)
def adaptive_avg_pool(ctx, node, attrs, inputs):
    size = tuple(attrs["output_size"]) or (1,)
    if size in ((1,), (1, 1)):
        return ctx.out("global_avg_pool2d", inputs[:1], {}, name=node.name)
    return ctx.out("adaptive_avg_pool2d", inputs[:1], dict(output_size=size), name=node.name)


# ---- normalisation -------------------------------------------------------------------------------
@MXNET_IMPORT.register("BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm", attrs=defaults.BATCH_NORM,
                       weights=(1, 2, 3, 4))
def batch_norm(ctx, node, attrs, inputs):
    need_inputs(inputs, 5, ctx)
    data, gamma, beta, mean, var = inputs[:5]
    axis = attrs["axis"]
    d = ctx.shape(data)
    c = None
    if d is not None:
        if not -len(d) <= axis < len(d):
            raise attrs.error(f"axis {axis} out of range for data of shape {d}")
        c = (d[axis],)
    for e, role in ((gamma, "gamma"), (beta, "beta"), (mean, "moving_mean"), (var, "moving_var")):
        ctx.expect(e, c, role)
    if attrs["fix_gamma"]:
        gamma = ctx.set_ones(gamma, beta)
    # inference always normalises with the moving statistics (use_global_stats only matters in training)
    out = ctx.emit("batch_norm", [data, gamma, beta, mean, var], dict(axis=axis, epsilon=attrs["eps"]), name=node.name)
    return [out[0]]


@MXNET_IMPORT.register("InstanceNorm", attrs=defaults.INSTANCE_NORM, weights=(1, 2))
def instance_norm(ctx, node, attrs, inputs):
    need_inputs(inputs, 3, ctx)
    d = ctx.shape(inputs[0])
    for e, role in ((inputs[1], "gamma"), (inputs[2], "beta")):
        ctx.expect(e, None if d is None else (d[1],), role)
    return ctx.out("instance_norm", inputs[:3], dict(epsilon=attrs["eps"]), name=node.name)


@MXNET_IMPORT.register("LayerNorm", attrs=defaults.LAYER_NORM, weights=(1, 2))
def layer_norm(ctx, node, attrs, inputs):
    need_inputs(inputs, 3, ctx)
    d = ctx.shape(inputs[0])
    axis = attrs["axis"]
    for e, role in ((inputs[1], "gamma"), (inputs[2], "beta")):
        ctx.expect(e, None if d is None else (d[axis],), role)
    out = ctx.out("layer_norm", inputs[:3], dict(axis=axis, epsilon=attrs["eps"]), name=node.name)
    return [out]


@MXNET_IMPORT.register("LRN", attrs=defaults.LRN)
def lrn(ctx, node, attrs, inputs):
    # MXNet: x / (knorm + alpha/nsize * sum(x^2))^beta, the same form as NNVM/ONNX LRN
    return ctx.out("lrn", inputs[:1], dict(size=attrs["nsize"], axis=1, alpha=attrs["alpha"], beta=attrs["beta"],
                                           bias=attrs["knorm"]), name=node.name)


@MXNET_IMPORT.register("L2Normalization", attrs=defaults.L2_NORMALIZATION)
def l2_normalization(ctx, node, attrs, inputs):
    # MXNet divides by sqrt(sum(x^2) + eps) (NNVM's l2_normalize uses max(sum, eps) instead)
    mode = attrs["mode"]
    data = inputs[0]
    red = {"instance": dict(axis=(0,), exclude=True), "channel": dict(axis=(1,)),
           "spatial": dict(axis=(0, 1), exclude=True)}[mode]
    sq = ctx.aux("square", [data])
    s = ctx.aux("sum", [sq], dict(red, keepdims=True))
    s = ctx.aux("__add_scalar__", [s], dict(scalar=attrs["eps"]))
    norm = ctx.aux("sqrt", [s])
    return ctx.out("broadcast_div", [data, norm], {}, name=node.name)


@MXNET_IMPORT.register("GroupNorm", attrs=defaults.GROUP_NORM, weights=(1, 2))
def group_norm(ctx, node, attrs, inputs):
    # MXNet's gamma/beta are per *group* (shape (num_groups,)), unlike ONNX: decompose.
    need_inputs(inputs, 3, ctx)
    data, gamma, beta = inputs[:3]
    g = attrs["num_groups"]
    d = ctx.need_shape(data, "GroupNorm")
    if len(d) < 2 or d[1] % g:
        raise attrs.error(f"{d} channels are not divisible by num_groups={g}")
    ctx.expect(gamma, (g,), "gamma")
    ctx.expect(beta, (g,), "beta")
    x = ctx.aux("reshape", [data], dict(shape=(d[0], g, -1)))
    mean = ctx.aux("mean", [x], dict(axis=(2,), keepdims=True))
    xc = ctx.aux("broadcast_sub", [x, mean])
    var = ctx.aux("mean", [ctx.aux("square", [xc])], dict(axis=(2,), keepdims=True))
    std = ctx.aux("sqrt", [ctx.aux("__add_scalar__", [var], dict(scalar=attrs["eps"]))])
    y = ctx.aux("broadcast_div", [xc, std])
    gr = ctx.aux("reshape", [gamma], dict(shape=(1, g, 1)))
    br = ctx.aux("reshape", [beta], dict(shape=(1, g, 1)))
    y = ctx.aux("broadcast_add", [ctx.aux("broadcast_mul", [y, gr]), br])
    return [ctx.out("reshape", [y], dict(shape=d), name=node.name)]


# ---- dense / embedding -----------------------------------------------------------------------------
@MXNET_IMPORT.register("FullyConnected", attrs=defaults.FULLY_CONNECTED, weights=(1, 2))
def fully_connected(ctx, node, attrs, inputs):
    no_bias = attrs["no_bias"]
    need_inputs(inputs, 2 if no_bias else 3, ctx)
    units = attrs["num_hidden"]
    data = inputs[0]
    d = ctx.shape(data)
    if attrs["flatten"]:
        if d is None or len(d) != 2:
            data = ctx.aux("flatten", [data])
        in_dim = None if d is None else (prod(d[1:]) if len(d) > 1 else 1)
    else:
        in_dim = None if d is None else d[-1]
    ctx.expect(inputs[1], None if in_dim is None else (units, in_dim), "weight")
    if not no_bias:
        ctx.expect(inputs[2], (units,), "bias")
    operands = [data, inputs[1]] + ([] if no_bias else [inputs[2]])
    return ctx.out("dense", operands, dict(units=units, use_bias=not no_bias), name=node.name)


@MXNET_IMPORT.register("Embedding", attrs=defaults.EMBEDDING, weights=(1,))
def embedding(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    n, dim = attrs["input_dim"], attrs["output_dim"]
    ctx.expect(inputs[1], (n, dim), "weight")
    # MXNet truncates float indices and clips them into range
    idx = ctx.aux("clip", [inputs[0]], dict(a_min=0.0, a_max=float(n - 1)))
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("take", [inputs[1], idx], dict(axis=0), name=node.name)


# ---- activations -----------------------------------------------------------------------------------
_ACT = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softrelu": "softplus", "softsign": "softsign",
        "log_sigmoid": "log_sigmoid", "mish": "mish"}


@MXNET_IMPORT.register("Activation", attrs=defaults.ACTIVATION)
def activation(ctx, node, attrs, inputs):
    act = attrs["act_type"]
    return ctx.out(_ACT[act], inputs[:1], {}, name=node.name)


@MXNET_IMPORT.register("LeakyReLU", attrs=defaults.LEAKY_RELU, weights=(1,))
def leaky_relu(ctx, node, attrs, inputs):
    act = attrs["act_type"]
    data = inputs[0]
    if act == "leaky":
        return ctx.out("leaky_relu", [data], dict(alpha=attrs["slope"]), name=node.name)
    if act == "rrelu":  # inference uses the mean of the random slope range
        alpha = (attrs["lower_bound"] + attrs["upper_bound"]) / 2
        return ctx.out("leaky_relu", [data], dict(alpha=alpha), name=node.name)
    if act == "elu":
        return ctx.out("elu", [data], dict(alpha=attrs["slope"]), name=node.name)
    if act == "selu":
        return ctx.out("selu", [data], {}, name=node.name)
    if act == "gelu":
        return ctx.out("gelu", [data], {}, name=node.name)
    need_inputs(inputs, 2, ctx)
    d = ctx.shape(data)
    g = ctx.shape(inputs[1])
    if inputs[1].node.is_variable:
        ctx.weight_vars.add(inputs[1].node.name)
    if d is not None and g is not None and tuple(g) not in ((1,), (d[1],) if len(d) > 1 else (1,)):
        raise ShapeError(f"prelu gamma {inputs[1].node.name!r} has shape {tuple(g)}, expected (1,) or "
                         f"({d[1] if len(d) > 1 else 1},)", node=inputs[1].node.name, op=node.op, file=ctx.file)
    return ctx.out("prelu", [data, inputs[1]], dict(axis=1), name=node.name)


@MXNET_IMPORT.register("hard_sigmoid", attrs=defaults.HARD_SIGMOID)
def hard_sigmoid(ctx, node, attrs, inputs):
    return ctx.out("hard_sigmoid", inputs[:1], dict(alpha=attrs["alpha"], beta=attrs["beta"]), name=node.name)


def _softmax_like(op, node, attrs, inputs, ctx, negate=False):
    if attrs["use_length"]:
        raise attrs.error("use_length=True is not supported")
    x = inputs[0]
    if attrs["dtype"] not in (None, "None"):
        x = ctx.aux("cast", [x], dict(dtype=attrs["dtype"]))
    if negate:
        x = ctx.aux("negative", [x])
    t = attrs["temperature"]
    if t is not None and t != 1.0:
        x = ctx.aux("__div_scalar__", [x], dict(scalar=t), suffix="temperature")
    return ctx.out(op, [x], dict(axis=attrs["axis"]), name=node.name)


@MXNET_IMPORT.register("softmax", attrs=defaults.SOFTMAX)
def softmax(ctx, node, attrs, inputs):
    return _softmax_like("softmax", node, attrs, inputs, ctx)


@MXNET_IMPORT.register("log_softmax", attrs=defaults.SOFTMAX)
def log_softmax(ctx, node, attrs, inputs):
    return _softmax_like("log_softmax", node, attrs, inputs, ctx)


@MXNET_IMPORT.register("softmin", attrs=defaults.SOFTMAX)
def softmin(ctx, node, attrs, inputs):
    return _softmax_like("softmax", node, attrs, inputs, ctx, negate=True)


def _softmax_flat(node, data, ctx):
    """MXNet 1.9.1's 'instance' softmax (SoftmaxOutput, SoftmaxActivation): checked against its forward,
    it normalises over the last axis for any rank (not over all non-batch axes as older docs say)."""
    return ctx.out("softmax", [data], dict(axis=-1), name=node.name)


@MXNET_IMPORT.register("SoftmaxOutput", "Softmax", attrs=defaults.SOFTMAX_OUTPUT, labels=(1,))
def softmax_output(ctx, node, attrs, inputs):
    if attrs["multi_output"]:
        return ctx.out("softmax", inputs[:1], dict(axis=1), name=node.name)
    if attrs["preserve_shape"]:
        return ctx.out("softmax", inputs[:1], dict(axis=-1), name=node.name)
    return _softmax_flat(node, inputs[0], ctx)


@MXNET_IMPORT.register("SoftmaxActivation", attrs=defaults.SOFTMAX_ACTIVATION)
def softmax_activation(ctx, node, attrs, inputs):
    if attrs["mode"] == "channel":
        return ctx.out("softmax", inputs[:1], dict(axis=1), name=node.name)
    return _softmax_flat(node, inputs[0], ctx)


@MXNET_IMPORT.register("LinearRegressionOutput", "MAERegressionOutput", "SVMOutput", labels=(1,))
def regression_identity(ctx, node, attrs, inputs):
    return inputs[0]  # the forward pass is the identity


@MXNET_IMPORT.register("LogisticRegressionOutput", labels=(1,))
def logistic_regression(ctx, node, attrs, inputs):
    return ctx.out("sigmoid", inputs[:1], {}, name=node.name)


@MXNET_IMPORT.register("Dropout", attrs=defaults.DROPOUT)
@MXNET_IMPORT.register("BlockGrad", "stop_gradient", "MakeLoss", "make_loss", "identity", "_copy", "_identity")
def passthrough(ctx, node, attrs, inputs):
    # inference-time identities: dropout (mode='always' would be random; treated as identity too),
    # gradient blockers and loss markers
    need_inputs(inputs, 1, ctx)
    return inputs[0]


# ---- resampling / padding --------------------------------------------------------------------------
@MXNET_IMPORT.register("UpSampling", attrs=defaults.UPSAMPLING)
def upsampling(ctx, node, attrs, inputs):
    scale = attrs["scale"]
    kind = attrs["sample_type"]
    if kind == "bilinear":
        # MXNet implements bilinear UpSampling as a grouped Deconvolution with a given weight
        need_inputs(inputs, 2, ctx)
        k = 2 * scale - scale % 2
        pad = int(math.ceil((scale - 1) / 2.0))
        c = attrs["num_filter"]
        d = ctx.shape(inputs[0])
        if c <= 0 and d is not None:
            c = d[1]
        if c <= 0:
            raise attrs.error("bilinear UpSampling needs num_filter or a known input shape")
        ctx.expect(inputs[1], (c, 1, k, k), "weight")
        return ctx.out("conv2d_transpose", inputs[:2],
                       dict(channels=c, kernel_size=(k, k), strides=(scale, scale), padding=(pad, pad), groups=c,
                            use_bias=False), name=node.name)
    if len(inputs) == 1:
        return ctx.out("upsampling", inputs[:1], dict(scale=scale), name=node.name)
    # several inputs: each is scaled to the first one's output size, then concatenated or summed
    d0 = ctx.need_shape(inputs[0], "UpSampling with several inputs")
    target = d0[2] * scale
    ups = []
    for i, e in enumerate(inputs):
        di = ctx.need_shape(e, "UpSampling with several inputs")
        s = target // di[2]
        ups.append(e if s == 1 else ctx.aux("upsampling", [e], dict(scale=s), suffix=f"up{i}"))
    if attrs["multi_input_mode"] == "sum":
        return ctx.out("elemwise_sum", ups, dict(num_args=len(ups)), name=node.name)
    return ctx.out("concatenate", ups, dict(axis=1), name=node.name)


@MXNET_IMPORT.register("Pad", "pad", attrs=defaults.PAD)
def pad(ctx, node, attrs, inputs):
    mode = attrs["mode"]
    flat = tuple(attrs["pad_width"])
    if len(flat) % 2:
        raise attrs.error(f"pad_width {flat} must have an even length")
    pw = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    if mode == "constant":
        return ctx.out("pad", inputs[:1], dict(pad_width=pw, pad_value=attrs["constant_value"]), name=node.name)
    return ctx.out("mirror_pad", inputs[:1], dict(pad_width=pw, mode=mode), name=node.name)
