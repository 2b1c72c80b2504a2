"""Handlers for MXNet's neural-network ops (convolution, pooling, normalisation, activations, ...)."""
from __future__ import annotations

import math

from ...errors import InvalidModelError, ShapeError
from ...ops.common import prod
from .op_map import handler

_NC_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def need_inputs(ins, n, ctx):
    if len(ins) < n:
        raise InvalidModelError(f"expects at least {n} inputs, got {len(ins)}", node=ctx.node_name, op=ctx.op_name,
                                file=ctx.file)


def _spatial(a, key, nsp, fill):
    v = tuple(a[key]) or (fill,) * nsp
    if len(v) == 1 and nsp > 1:
        v = v * nsp
    if len(v) != nsp:
        raise a.error(f"attribute {key!r}={v} does not match a {nsp}-d kernel")
    return v


def _check_layout(a, nsp):
    layout = a["layout"]
    if layout not in (None, "None", _NC_LAYOUTS.get(nsp)):
        raise a.error(f"layout {layout!r} is not supported (only {_NC_LAYOUTS.get(nsp)}; MXNet's CPU ops "
                      f"also need channel-first data)")


# ---- convolution ---------------------------------------------------------------------------------
def _conv_common(a, ins, ctx):
    """Checks shared by Convolution and Deconvolution: (kernel, spatial dims, no_bias, num_filter, num_group)."""
    kernel = tuple(a["kernel"])
    nsp = len(kernel)
    if nsp not in (1, 2, 3):
        raise a.error(f"kernel {kernel} must have 1, 2 or 3 dims")
    _check_layout(a, nsp)
    no_bias = a["no_bias"]
    need_inputs(ins, 2 if no_bias else 3, ctx)
    return kernel, nsp, no_bias, a["num_filter"], a["num_group"]


@handler("Convolution", "Convolution_v1", table="Convolution", weights=(1, 2))
def convolution(node, a, ins, ctx):
    kernel, nsp, no_bias, nf, g = _conv_common(a, ins, ctx)
    d = ctx.shape(ins[0])
    if d is not None and len(d) == nsp + 2:
        if g <= 0 or d[1] % g:
            raise a.error(f"{d[1]} input channels are not divisible by num_group={g}")
        ctx.expect(ins[1], (nf, d[1] // g) + kernel, "weight")
    else:
        ctx.expect(ins[1], None, "weight")
    if not no_bias:
        ctx.expect(ins[2], (nf,), "bias")
    attrs = dict(channels=nf, kernel_size=kernel, strides=_spatial(a, "stride", nsp, 1),
                 padding=_spatial(a, "pad", nsp, 0), dilation=_spatial(a, "dilate", nsp, 1), groups=g,
                 use_bias=not no_bias)
    return ctx.out(f"conv{nsp}d", ins[:2] if no_bias else ins[:3], attrs, name=node.name)


@handler("Deconvolution", weights=(1, 2))
def deconvolution(node, a, ins, ctx):
    kernel, nsp, no_bias, nf, g = _conv_common(a, ins, ctx)
    stride, dilate = _spatial(a, "stride", nsp, 1), _spatial(a, "dilate", nsp, 1)
    pad, adj = _spatial(a, "pad", nsp, 0), _spatial(a, "adj", nsp, 0)
    d = ctx.shape(ins[0])
    if g <= 0 or nf % g:
        raise a.error(f"num_filter={nf} is not divisible by num_group={g}")
    if d is not None and len(d) == nsp + 2:
        ctx.expect(ins[1], (d[1], nf // g) + kernel, "weight")
    else:
        ctx.expect(ins[1], None, "weight")
    if not no_bias:
        ctx.expect(ins[2], (nf,), "bias")
    target = tuple(a["target_shape"])
    if target and any(target):
        # MXNet's DeconvolutionParam::InferPad: pad/adj chosen so the output is exactly target_shape
        d = ctx.need_shape(ins[0], "Deconvolution target_shape")
        if len(target) != nsp:
            raise a.error(f"target_shape {target} does not match a {nsp}-d kernel")
        pad, adj = [], []
        for i in range(nsp):
            full = stride[i] * (d[2 + i] - 1) + dilate[i] * (kernel[i] - 1) + 1
            if full < target[i]:
                raise a.error(f"target_shape {target} is too big for input {d}")
            total = full - target[i]
            adj.append(total % 2)
            pad.append((total + 1) // 2)
        pad, adj = tuple(pad), tuple(adj)
    attrs = dict(channels=nf, kernel_size=kernel, strides=stride, padding=pad, dilation=dilate, groups=g,
                 output_padding=adj, use_bias=not no_bias)
    return ctx.out(f"conv{nsp}d_transpose", ins[:2] if no_bias else ins[:3], attrs, name=node.name)


# ---- pooling ---------------------------------------------------------------------------------------
@handler("Pooling", "Pooling_v1", table="Pooling")
def pooling(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    data = ins[0]
    ptype = a.choice("pool_type", ("max", "avg", "sum", "lp"))
    p = a["p_value"]
    if ptype == "lp" and (p is None or p <= 0):
        raise a.error("lp pooling needs a positive p_value")
    kernel = tuple(a["kernel"])
    if a["global_pool"]:
        nsp = ctx.ndim(data, "global Pooling") - 2 if not kernel or ctx.shape(data) else len(kernel)
        if nsp not in (1, 2, 3):
            raise a.error(f"global pooling needs 3-d to 5-d data, got {nsp + 2}-d")
        _check_layout(a, nsp)
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
        raise a.error(f"kernel {kernel} must have 1, 2 or 3 dims")
    _check_layout(a, nsp)
    conv = a.choice("pooling_convention", ("valid", "full", "same"))
    if conv == "same":
        raise a.error("pooling_convention='same' is not supported")
    common = dict(pool_size=kernel, strides=_spatial(a, "stride", nsp, 1), padding=_spatial(a, "pad", nsp, 0),
                  ceil_mode=conv == "full")
    if ptype == "max":
        return ctx.out(f"max_pool{nsp}d", [data], common, name=node.name)
    cip = a["count_include_pad"]
    if ptype == "avg":
        return ctx.out(f"avg_pool{nsp}d", [data], dict(common, count_include_pad=True if cip is None else cip),
                       name=node.name)
    # sum / lp: the window sum is an average over the (padded) window times its size, which holds
    # exactly when no window is clipped, i.e. with the 'valid' convention
    if conv != "valid":
        raise a.error(f"pool_type={ptype!r} is only supported with pooling_convention='valid'")
    x = data
    if ptype == "lp":
        x = ctx.aux("__pow_scalar__", [ctx.aux("abs", [data])], dict(scalar=float(p)))
    avg = ctx.aux(f"avg_pool{nsp}d", [x], dict(common, count_include_pad=True))
    if ptype == "sum":
        return ctx.out("__mul_scalar__", [avg], dict(scalar=float(prod(kernel))), name=node.name)
    s = ctx.aux("__mul_scalar__", [avg], dict(scalar=float(prod(kernel))))
    return ctx.out("__pow_scalar__", [s], dict(scalar=1.0 / p), name=node.name)


@handler("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pool(node, a, ins, ctx):
    size = tuple(a["output_size"]) or (1,)
    if size in ((1,), (1, 1)):
        return ctx.out("global_avg_pool2d", ins[:1], {}, name=node.name)
    return ctx.out("adaptive_avg_pool2d", ins[:1], dict(output_size=size), name=node.name)


# ---- normalisation -------------------------------------------------------------------------------
@handler("BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm", table="BatchNorm", weights=(1, 2, 3, 4))
def batch_norm(node, a, ins, ctx):
    need_inputs(ins, 5, ctx)
    data, gamma, beta, mean, var = ins[:5]
    axis = a["axis"]
    d = ctx.shape(data)
    c = None
    if d is not None:
        if not -len(d) <= axis < len(d):
            raise a.error(f"axis {axis} out of range for data of shape {d}")
        c = (d[axis],)
    for e, role in ((gamma, "gamma"), (beta, "beta"), (mean, "moving_mean"), (var, "moving_var")):
        ctx.expect(e, c, role)
    if a["fix_gamma"]:
        gamma = ctx.set_ones(gamma, beta)
    # inference always normalises with the moving statistics (use_global_stats only matters in training)
    out = ctx.emit("batch_norm", [data, gamma, beta, mean, var], dict(axis=axis, epsilon=a["eps"]), name=node.name)
    return [out[0]]


@handler("InstanceNorm", weights=(1, 2))
def instance_norm(node, a, ins, ctx):
    need_inputs(ins, 3, ctx)
    d = ctx.shape(ins[0])
    for e, role in ((ins[1], "gamma"), (ins[2], "beta")):
        ctx.expect(e, None if d is None else (d[1],), role)
    return ctx.out("instance_norm", ins[:3], dict(epsilon=a["eps"]), name=node.name)


@handler("LayerNorm", weights=(1, 2))
def layer_norm(node, a, ins, ctx):
    need_inputs(ins, 3, ctx)
    d = ctx.shape(ins[0])
    axis = a["axis"]
    for e, role in ((ins[1], "gamma"), (ins[2], "beta")):
        ctx.expect(e, None if d is None else (d[axis],), role)
    out = ctx.out("layer_norm", ins[:3], dict(axis=axis, epsilon=a["eps"]), name=node.name)
    return [out]


@handler("LRN")
def lrn(node, a, ins, ctx):
    # MXNet: x / (knorm + alpha/nsize * sum(x^2))^beta, the same form as NNVM/ONNX LRN
    return ctx.out("lrn", ins[:1], dict(size=a["nsize"], axis=1, alpha=a["alpha"], beta=a["beta"], bias=a["knorm"]),
                   name=node.name)


@handler("L2Normalization")
def l2_normalization(node, a, ins, ctx):
    # MXNet divides by sqrt(sum(x^2) + eps) (NNVM's l2_normalize uses max(sum, eps) instead)
    mode = a.choice("mode", ("instance", "channel", "spatial"))
    data = ins[0]
    red = {"instance": dict(axis=(0,), exclude=True), "channel": dict(axis=(1,)),
           "spatial": dict(axis=(0, 1), exclude=True)}[mode]
    sq = ctx.aux("square", [data])
    s = ctx.aux("sum", [sq], dict(red, keepdims=True))
    s = ctx.aux("__add_scalar__", [s], dict(scalar=a["eps"]))
    norm = ctx.aux("sqrt", [s])
    return ctx.out("broadcast_div", [data, norm], {}, name=node.name)


@handler("GroupNorm", weights=(1, 2))
def group_norm(node, a, ins, ctx):
    # MXNet's gamma/beta are per *group* (shape (num_groups,)), unlike ONNX: decompose.
    need_inputs(ins, 3, ctx)
    data, gamma, beta = ins[:3]
    g = a["num_groups"]
    d = ctx.need_shape(data, "GroupNorm")
    if len(d) < 2 or d[1] % g:
        raise a.error(f"{d} channels are not divisible by num_groups={g}")
    ctx.expect(gamma, (g,), "gamma")
    ctx.expect(beta, (g,), "beta")
    x = ctx.aux("reshape", [data], dict(shape=(d[0], g, -1)))
    mean = ctx.aux("mean", [x], dict(axis=(2,), keepdims=True))
    xc = ctx.aux("broadcast_sub", [x, mean])
    var = ctx.aux("mean", [ctx.aux("square", [xc])], dict(axis=(2,), keepdims=True))
    std = ctx.aux("sqrt", [ctx.aux("__add_scalar__", [var], dict(scalar=a["eps"]))])
    y = ctx.aux("broadcast_div", [xc, std])
    gr = ctx.aux("reshape", [gamma], dict(shape=(1, g, 1)))
    br = ctx.aux("reshape", [beta], dict(shape=(1, g, 1)))
    y = ctx.aux("broadcast_add", [ctx.aux("broadcast_mul", [y, gr]), br])
    return [ctx.out("reshape", [y], dict(shape=d), name=node.name)]


# ---- dense / embedding -----------------------------------------------------------------------------
@handler("FullyConnected", weights=(1, 2))
def fully_connected(node, a, ins, ctx):
    no_bias = a["no_bias"]
    need_inputs(ins, 2 if no_bias else 3, ctx)
    units = a["num_hidden"]
    data = ins[0]
    d = ctx.shape(data)
    if a["flatten"]:
        if d is None or len(d) != 2:
            data = ctx.aux("flatten", [data])
        in_dim = None if d is None else (prod(d[1:]) if len(d) > 1 else 1)
    else:
        in_dim = None if d is None else d[-1]
    ctx.expect(ins[1], None if in_dim is None else (units, in_dim), "weight")
    if not no_bias:
        ctx.expect(ins[2], (units,), "bias")
    inputs = [data, ins[1]] + ([] if no_bias else [ins[2]])
    return ctx.out("dense", inputs, dict(units=units, use_bias=not no_bias), name=node.name)


@handler("Embedding", weights=(1,))
def embedding(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    n, dim = a["input_dim"], a["output_dim"]
    ctx.expect(ins[1], (n, dim), "weight")
    # MXNet truncates float indices and clips them into range
    idx = ctx.aux("clip", [ins[0]], dict(a_min=0.0, a_max=float(n - 1)))
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("take", [ins[1], idx], dict(axis=0), name=node.name)


# ---- activations -----------------------------------------------------------------------------------
_ACT = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softrelu": "softplus", "softsign": "softsign",
        "log_sigmoid": "log_sigmoid", "mish": "mish"}


@handler("Activation")
def activation(node, a, ins, ctx):
    act = a.choice("act_type", tuple(_ACT))
    return ctx.out(_ACT[act], ins[:1], {}, name=node.name)


@handler("LeakyReLU", weights=(1,))
def leaky_relu(node, a, ins, ctx):
    act = a.choice("act_type", ("leaky", "prelu", "elu", "selu", "gelu", "rrelu"))
    data = ins[0]
    if act == "leaky":
        return ctx.out("leaky_relu", [data], dict(alpha=a["slope"]), name=node.name)
    if act == "rrelu":  # inference uses the mean of the random slope range
        return ctx.out("leaky_relu", [data], dict(alpha=(a["lower_bound"] + a["upper_bound"]) / 2), name=node.name)
    if act == "elu":
        return ctx.out("elu", [data], dict(alpha=a["slope"]), name=node.name)
    if act == "selu":
        return ctx.out("selu", [data], {}, name=node.name)
    if act == "gelu":
        return ctx.out("gelu", [data], {}, name=node.name)
    need_inputs(ins, 2, ctx)
    d = ctx.shape(data)
    g = ctx.shape(ins[1])
    if ins[1].node.is_variable:
        ctx.weight_vars.add(ins[1].node.name)
    if d is not None and g is not None and tuple(g) not in ((1,), (d[1],) if len(d) > 1 else (1,)):
        raise ShapeError(f"prelu gamma {ins[1].node.name!r} has shape {tuple(g)}, expected (1,) or "
                         f"({d[1] if len(d) > 1 else 1},)", node=ins[1].node.name, op=node.op, file=ctx.file)
    return ctx.out("prelu", [data, ins[1]], dict(axis=1), name=node.name)


@handler("hard_sigmoid")
def hard_sigmoid(node, a, ins, ctx):
    return ctx.out("hard_sigmoid", ins[:1], dict(alpha=a["alpha"], beta=a["beta"]), name=node.name)


def _softmax_like(op, node, a, ins, ctx, negate=False):
    if a["use_length"]:
        raise a.error("use_length=True is not supported")
    x = ins[0]
    if a["dtype"] not in (None, "None"):
        x = ctx.aux("cast", [x], dict(dtype=a["dtype"]))
    if negate:
        x = ctx.aux("negative", [x])
    t = a["temperature"]
    if t is not None and t != 1.0:
        x = ctx.aux("__div_scalar__", [x], dict(scalar=t), suffix="temperature")
    return ctx.out(op, [x], dict(axis=a["axis"]), name=node.name)


@handler("softmax")
def softmax(node, a, ins, ctx):
    return _softmax_like("softmax", node, a, ins, ctx)


@handler("log_softmax")
def log_softmax(node, a, ins, ctx):
    return _softmax_like("log_softmax", node, a, ins, ctx)


@handler("softmin")
def softmin(node, a, ins, ctx):
    return _softmax_like("softmax", node, a, ins, ctx, negate=True)


def _softmax_flat(node, data, ctx):
    """MXNet 1.9.1's 'instance' softmax (SoftmaxOutput, SoftmaxActivation): checked against its forward,
    it normalises over the last axis for any rank (not over all non-batch axes as older docs say)."""
    return ctx.out("softmax", [data], dict(axis=-1), name=node.name)


@handler("SoftmaxOutput", "Softmax", table="SoftmaxOutput", labels=(1,))
def softmax_output(node, a, ins, ctx):
    if a["multi_output"]:
        return ctx.out("softmax", ins[:1], dict(axis=1), name=node.name)
    if a["preserve_shape"]:
        return ctx.out("softmax", ins[:1], dict(axis=-1), name=node.name)
    return _softmax_flat(node, ins[0], ctx)


@handler("SoftmaxActivation")
def softmax_activation(node, a, ins, ctx):
    if a.choice("mode", ("instance", "channel")) == "channel":
        return ctx.out("softmax", ins[:1], dict(axis=1), name=node.name)
    return _softmax_flat(node, ins[0], ctx)


@handler("LinearRegressionOutput", "MAERegressionOutput", "SVMOutput", labels=(1,))
def regression_identity(node, a, ins, ctx):
    return ins[0]  # the forward pass is the identity


@handler("LogisticRegressionOutput", labels=(1,))
def logistic_regression(node, a, ins, ctx):
    return ctx.out("sigmoid", ins[:1], {}, name=node.name)


@handler("Dropout", "BlockGrad", "stop_gradient", "MakeLoss", "make_loss", "identity", "_copy", "_identity")
def passthrough(node, a, ins, ctx):
    # inference-time identities: dropout (mode='always' would be random; treated as identity too),
    # gradient blockers and loss markers
    need_inputs(ins, 1, ctx)
    return ins[0]


# ---- resampling / padding --------------------------------------------------------------------------
@handler("UpSampling")
def upsampling(node, a, ins, ctx):
    scale = a["scale"]
    kind = a.choice("sample_type", ("nearest", "bilinear"))
    if kind == "bilinear":
        # MXNet implements bilinear UpSampling as a grouped Deconvolution with a given weight
        need_inputs(ins, 2, ctx)
        k = 2 * scale - scale % 2
        pad = int(math.ceil((scale - 1) / 2.0))
        c = a["num_filter"]
        d = ctx.shape(ins[0])
        if c <= 0 and d is not None:
            c = d[1]
        if c <= 0:
            raise a.error("bilinear UpSampling needs num_filter or a known input shape")
        ctx.expect(ins[1], (c, 1, k, k), "weight")
        return ctx.out("conv2d_transpose", ins[:2],
                       dict(channels=c, kernel_size=(k, k), strides=(scale, scale), padding=(pad, pad), groups=c,
                            use_bias=False), name=node.name)
    if len(ins) == 1:
        return ctx.out("upsampling", ins[:1], dict(scale=scale), name=node.name)
    # several inputs: each is scaled to the first one's output size, then concatenated or summed
    d0 = ctx.need_shape(ins[0], "UpSampling with several inputs")
    target = d0[2] * scale
    ups = []
    for i, e in enumerate(ins):
        di = ctx.need_shape(e, "UpSampling with several inputs")
        s = target // di[2]
        ups.append(e if s == 1 else ctx.aux("upsampling", [e], dict(scale=s), suffix=f"up{i}"))
    if a.choice("multi_input_mode", ("concat", "sum")) == "sum":
        return ctx.out("elemwise_sum", ups, dict(num_args=len(ups)), name=node.name)
    return ctx.out("concatenate", ups, dict(axis=1), name=node.name)


@handler("Pad", "pad", table="Pad")
def pad(node, a, ins, ctx):
    mode = a.choice("mode", ("constant", "edge", "reflect"))
    flat = tuple(a["pad_width"])
    if len(flat) % 2:
        raise a.error(f"pad_width {flat} must have an even length")
    pw = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    if mode == "constant":
        return ctx.out("pad", ins[:1], dict(pad_width=pw, pad_value=a["constant_value"]), name=node.name)
    return ctx.out("mirror_pad", ins[:1], dict(pad_width=pw, mode=mode), name=node.name)
