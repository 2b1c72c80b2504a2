"""Converters for neural-network ONNX ops: convolution, pooling, normalisation, dense, activations."""
from __future__ import annotations


import numpy as np

from ...errors import AttributeParseError, ShapeError
from ...ops.common import ceil_may_drop_last, floor_mode_tails, pool_out, pool_out_dropping_last
from ...ir.symbolic import Dim, is_static
from ...ops.common import broadcast_shapes
from .dilated_pool import dilated_pool, max_pool_with_indices
from .registry import ONNX_IMPORT


# ---- padding ----------------------------------------------------------------------------------
def _auto_pads(ctx, attrs, nsp, kernel, strides, dilations, x):
    """Explicit (begins, ends) for ONNX auto_pad / pads."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", "", None):
        pads = list(attrs.get("pads", [0] * (2 * nsp)))
        if len(pads) != 2 * nsp:
            raise ctx.error(ShapeError, f"pads {pads} does not fit {nsp} spatial dims")
        return pads[:nsp], pads[nsp:]
    if auto == "VALID":
        return [0] * nsp, [0] * nsp
    shape = ctx.shape(x)
    if shape is None:
        raise ctx.error(ShapeError, f"auto_pad={auto} needs the input shape; give it with shape=")
    begins, ends = [], []
    for i in range(nsp):
        size = shape[2 + i]
        out = -(-size // strides[i])
        eff = (kernel[i] - 1) * dilations[i] + 1
        total = max(0, (out - 1) * strides[i] + eff - size)
        small, big = total // 2, total - total // 2
        if auto == "SAME_UPPER":
            begins.append(small), ends.append(big)
        else:
            begins.append(big), ends.append(small)
    return begins, ends


def padding_attr(begins, ends):
    begins, ends = tuple(int(b) for b in begins), tuple(int(e) for e in ends)
    return begins if begins == ends else begins + ends


# ---- convolution ------------------------------------------------------------------------------
def _conv_operands(ctx, node, inputs):
    """(x, w, b, weight shape, spatial dims) of Conv/ConvTranspose, with the weight checked against x."""
    x, w, b = inputs[0], inputs[1], inputs[2]
    wshape = ctx.shape(w)
    if wshape is None:
        raise ctx.error(ShapeError, f"{node.op_type} weight shape must be known")
    xshape = ctx.shape(x)
    if len(wshape) < 3 or (xshape is not None and len(xshape) != len(wshape)):
        raise ctx.error(ShapeError, f"weight {w!r} of shape {tuple(wshape)} does not fit the input of shape "
                                    f"{None if xshape is None else tuple(xshape)} (ranks must match and be >= 3)")
    nsp = len(wshape) - 2
    if nsp not in (1, 2, 3):
        raise ctx.unsupported(f"{nsp}-d")
    return x, w, b, wshape, nsp


@ONNX_IMPORT.register("Conv", since=(1, 11, 22))
def conv(ctx, node, attrs, inputs):
    x, w, b, wshape, nsp = _conv_operands(ctx, node, inputs)
    kernel = list(attrs.get("kernel_shape", wshape[2:]))
    strides = list(attrs.get("strides", [1] * nsp))
    dil = list(attrs.get("dilations", [1] * nsp))
    group = int(attrs.get("group", 1))
    begins, ends = _auto_pads(ctx, attrs, nsp, kernel, strides, dil, x)
    ir_attrs = dict(channels=int(wshape[0]), kernel_size=tuple(kernel), strides=tuple(strides),
                    dilation=tuple(dil), groups=group, padding=padding_attr(begins, ends), use_bias=b is not None)
    ins = [x, w] + ([b] if b is not None else [])
    return ctx.emit1(f"conv{nsp}d", ins, ir_attrs)


@ONNX_IMPORT.register("ConvTranspose", since=(1, 11, 22))
def conv_transpose(ctx, node, attrs, inputs):
    x, w, b, wshape, nsp = _conv_operands(ctx, node, inputs)
    group = int(attrs.get("group", 1))
    kernel = list(attrs.get("kernel_shape", wshape[2:]))
    strides = list(attrs.get("strides", [1] * nsp))
    dil = list(attrs.get("dilations", [1] * nsp))
    out_pad = list(attrs.get("output_padding", [0] * nsp))
    out_shape = attrs.get("output_shape")
    auto = attrs.get("auto_pad", "NOTSET")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        xs = ctx.shape(x)
        if xs is None:
            raise ctx.error(ShapeError, "ConvTranspose with output_shape/auto_pad needs the input shape")
        if out_shape is None:
            out_shape = [xs[2 + i] * strides[i] for i in range(nsp)]
        out_shape = list(out_shape)[-nsp:]
        begins, ends = [], []
        for i in range(nsp):
            total = strides[i] * (xs[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1 - out_shape[i]
            if total < 0:
                out_pad[i] -= total  # extra length comes from output_padding
                total = 0
            if auto == "SAME_LOWER":
                begins.append(total - total // 2), ends.append(total // 2)
            else:
                begins.append(total // 2), ends.append(total - total // 2)
    elif auto == "VALID":
        begins, ends = [0] * nsp, [0] * nsp
    else:
        pads = list(attrs.get("pads", [0] * (2 * nsp)))
        begins, ends = pads[:nsp], pads[nsp:]
    ir_attrs = dict(channels=int(wshape[1]) * group, kernel_size=tuple(kernel), strides=tuple(strides),
                    dilation=tuple(dil), groups=group, padding=padding_attr(begins, ends),
                    output_padding=tuple(out_pad), use_bias=b is not None)
    ins = [x, w] + ([b] if b is not None else [])
    return ctx.emit1(f"conv{nsp}d_transpose", ins, ir_attrs)


# ---- pooling ----------------------------------------------------------------------------------
# ONNX (onnxruntime, PyTorch) with ceil_mode=1 drops a last window that would start inside the end
# padding; the IR follows MXNet's "full" convention, which keeps it (ops/common.pool_out).  Where
# the two differ we express ONNX's exact windows in floor mode with extra end padding.
def _ceil_tails(ctx, x, kernel, strides, begins, ends, keep_ceil_ok=True):
    """Per spatial dim, the extra end padding that makes floor mode give ONNX's ceil-mode windows.
    None when ``keep_ceil_ok`` and the IR's own ceil mode gives the same windows."""
    shape = ctx.shape(x)
    # a symbolic size is as unknown here as a missing one: which windows ONNX drops depends on its value
    sizes = [None] * len(kernel) if shape is None else [None if isinstance(d, Dim) else d for d in shape[2:]]
    for size, k, s, pe in zip(sizes, kernel, strides, ends):
        if size is None and (not keep_ceil_ok or ceil_may_drop_last(k, s, pe)):
            raise ctx.unsupported("ceil_mode=1 with an unknown or symbolic spatial size: the last window may fall "
                                  "in the padding; give the input shapes with shape=")
    geometry = list(zip(sizes, kernel, strides, begins, ends))
    lengths = [None if n is None else pool_out_dropping_last(n, k, s, b, e) for n, k, s, b, e in geometry]
    differs = any(n is not None and out != pool_out(n, k, s, b, e, True) for (n, k, s, b, e), out in
                  zip(geometry, lengths))
    if keep_ceil_ok and not differs:
        return None
    if None in sizes:  # floor mode would need the unknown dim's tail too
        raise ctx.unsupported("ceil_mode=1 with an unknown or symbolic spatial size next to a dropped last "
                              "window; give the input shapes with shape=")
    return floor_mode_tails(sizes, kernel, strides, begins, ends, lengths)


def _pool_window(ctx, attrs, inputs):
    """(x, kernel, strides, begins, ends, ceil) of an ONNX MaxPool/AveragePool/LpPool node."""
    x = inputs[0]
    kernel = list(attrs.get("kernel_shape"))
    nsp = len(kernel)
    if nsp not in (1, 2, 3):
        raise ctx.unsupported(f"{nsp}-d")
    strides = list(attrs.get("strides", [1] * nsp))
    if len(strides) != nsp or min(kernel + strides) < 1:
        raise ctx.error(AttributeParseError, f"kernel_shape {kernel} and strides {strides} must be {nsp} "
                                             "positive ints each")
    begins, ends = _auto_pads(ctx, attrs, nsp, kernel, strides, _dilations(attrs, nsp), x)
    return x, kernel, strides, list(begins), list(ends), bool(attrs.get("ceil_mode", 0))


def _dilations(attrs, nsp):
    return list(attrs.get("dilations", [1] * nsp))


def _zero_pad(ctx, x, begins, ends):
    if not any(begins) and not any(ends):
        return x
    width = ((0, 0), (0, 0)) + tuple((int(b), int(e)) for b, e in zip(begins, ends))
    return ctx.emit1("pad", [x], {"pad_width": width, "pad_value": 0.0})


def _pool(ctx, node, attrs, inputs, kind):
    x, kernel, strides, begins, ends, ceil = _pool_window(ctx, attrs, inputs)
    nsp = len(kernel)
    include_pad = kind == "avg" and bool(attrs.get("count_include_pad", 0))
    dil = _dilations(attrs, nsp)
    if kind == "max" and node.output_used(1, ctx.consumers):
        return list(max_pool_with_indices(ctx, x, kernel, strides, dil, begins, ends, ceil,
                                          int(attrs.get("storage_order", 0))))
    if any(d != 1 for d in dil):
        return [dilated_pool(ctx, x, kind, kernel, strides, dil, begins, ends, ceil, include_pad), None]
    tails = _ceil_tails(ctx, x, kernel, strides, begins, ends) if ceil else None
    if tails is not None:
        ceil = False
        if include_pad:
            # ONNX divides by the window's part inside the declared padding only: make that padding
            # real zeros, then the tail (uncounted) is the only padding left
            x = _zero_pad(ctx, x, begins, ends)
            begins, ends, include_pad = [0] * nsp, list(tails), False
        else:  # padding is never counted (max, or average without count_include_pad)
            ends = [e + t for e, t in zip(ends, tails)]
    ir_attrs = dict(pool_size=tuple(kernel), strides=tuple(strides), padding=padding_attr(begins, ends),
                    ceil_mode=ceil)
    if kind == "avg":
        ir_attrs["count_include_pad"] = include_pad
    return [ctx.emit1(f"{kind}_pool{nsp}d", [x], ir_attrs), None]


# the later versions add the Indices output (8), ceil_mode and dilations (10) and int8 (12), which _pool
# converts or refuses
@ONNX_IMPORT.register("MaxPool", since=(1, 8, 10, 11, 12, 22))
def max_pool(ctx, node, attrs, inputs):
    return _pool(ctx, node, attrs, inputs, "max")


@ONNX_IMPORT.register("MaxUnpool", since=(9, 11, 22))
def max_unpool(ctx, node, attrs, inputs):
    """Zeros of the output shape with X's values scattered to the flat positions in I (MaxPool's Indices,
    numbered over that whole output).  With ``output_shape`` the indices address that shape, as in
    onnxruntime and PyTorch (onnx's reference scatters into the inferred shape and pads instead: onnx#2398,
    onnxruntime#2193).  The zeros are made at run time, so no output-sized constant is stored."""
    x, indices = inputs[0], inputs[1]
    s = ctx.shape(x)
    if s is None or not is_static(s):
        raise ctx.error(ShapeError, "MaxUnpool needs the input shape; give the input shapes with shape=")
    if inputs[2]:
        out = tuple(int(d) for d in ctx.require_const(inputs[2], "MaxUnpool output_shape").reshape(-1))
    else:
        kernel = list(attrs.get("kernel_shape"))
        nsp = len(kernel)
        strides = list(attrs.get("strides", [1] * nsp))
        pads = list(attrs.get("pads", [0] * (2 * nsp)))
        out = tuple(s[:2]) + tuple((n - 1) * st + k - pb - pe for n, st, k, pb, pe in
                                   zip(s[2:], strides, kernel, pads[:nsp], pads[nsp:]))
    if len(out) != len(s) or tuple(out[:2]) != tuple(s[:2]) or min(out) < 1:
        raise ctx.error(ShapeError, f"MaxUnpool output shape {out} does not fit the input {tuple(s)}")
    flat_x = ctx.reshape(x, (-1,))
    one_zero = ctx.emit1("zeros_like", [ctx.emit1("strided_slice", [flat_x], {"begin": (0,), "end": (1,)})])
    zeros = ctx.emit1("broadcast_to", [one_zero], {"shape": (int(np.prod(out)),)})
    flat = ctx.emit1("scatter_elements", [zeros, ctx.reshape(indices, (-1,)), flat_x], {"axis": 0})
    return ctx.reshape(flat, out)


# the later versions add count_include_pad (7), ceil_mode (10) and dilations (19), each defaulting to
# the older behaviour
@ONNX_IMPORT.register("AveragePool", since=(1, 7, 10, 11, 19, 22))
def avg_pool(ctx, node, attrs, inputs):
    return _pool(ctx, node, attrs, inputs, "avg")


@ONNX_IMPORT.register("LpPool", since=(1, 2, 11, 18, 22))
def lp_pool(ctx, node, attrs, inputs):
    """(sum of |x|^p over the window)^(1/p), padding counting as 0: a floor-mode average over
    fully declared padding times the window size (ceil mode becomes exact extra end padding)."""
    x, kernel, strides, begins, ends, ceil = _pool_window(ctx, attrs, inputs)
    nsp = len(kernel)
    p = float(attrs.get("p", 2))
    if p <= 0:
        raise ctx.unsupported(f"p={p}")
    dil = _dilations(attrs, nsp)
    if any(d != 1 for d in dil):
        return dilated_pool(ctx, x, "lp", kernel, strides, dil, begins, ends, ceil, p=p)
    if ceil:  # every window must lie inside the declared padding, so always go to floor mode
        tails = _ceil_tails(ctx, x, kernel, strides, begins, ends, keep_ceil_ok=False)
        ends = [e + t for e, t in zip(ends, tails)]
    y = ctx.emit1("abs", [x])
    if p == 2:
        y = ctx.emit1("elemwise_mul", [y, y])
    elif p != 1:
        y = ctx.emit1("__pow_scalar__", [y], {"scalar": p})
    ir_attrs = dict(pool_size=tuple(kernel), strides=tuple(strides), padding=padding_attr(begins, ends),
                    ceil_mode=False, count_include_pad=True)
    y = ctx.emit1(f"avg_pool{nsp}d", [y], ir_attrs)
    y = ctx.emit1("__mul_scalar__", [y], {"scalar": float(np.prod(kernel))})
    if p == 1:
        return y
    return ctx.emit1("sqrt", [y]) if p == 2 else ctx.emit1("__pow_scalar__", [y], {"scalar": 1.0 / p})


def _global_pool(kind):
    def convert(ctx, node, attrs, inputs):
        x = inputs[0]
        r = ctx.rank(x) or 4
        if r not in (3, 4, 5):
            raise ctx.unsupported(f"{r}-d input")
        return ctx.emit1(f"global_{kind}_pool{r - 2}d", [x])
    return convert


ONNX_IMPORT.add("GlobalAveragePool", _global_pool("avg"), since=(1, 22))
ONNX_IMPORT.add("GlobalMaxPool", _global_pool("max"), since=(1, 22))


# ---- normalisation ----------------------------------------------------------------------------
@ONNX_IMPORT.register("BatchNormalization", since=(1, 6, 7, 9, 14, 15))
def batch_norm(ctx, node, attrs, inputs):
    ins = [inputs[i] for i in range(5)]
    eps = float(attrs.get("epsilon", 1e-5))
    if attrs.get("training_mode", 0):
        return _batch_norm_training(ctx, *ins, eps, float(attrs.get("momentum", 0.9)))
    return ctx.emit1("batch_norm", ins, {"epsilon": eps, "axis": 1})


def _batch_norm_training(ctx, x, scale, bias, mean, var, eps, momentum):
    """training_mode=1: normalise with the batch's statistics (biased variance over every axis but 1) and
    return the running statistics blended with them by ``momentum``."""
    r = ctx.require_rank(x)
    axes = (0,) + tuple(range(2, r))
    per_channel = (1, -1) + (1,) * (r - 2)
    batch_mean = ctx.emit1("mean", [x], {"axis": axes})
    centered = ctx.emit1("broadcast_sub", [x, ctx.reshape(batch_mean, per_channel)])
    batch_var = ctx.emit1("mean", [ctx.emit1("broadcast_mul", [centered, centered])], {"axis": axes})
    inv_std = ctx.emit1("rsqrt", [ctx.emit1("__add_scalar__", [batch_var], {"scalar": eps})])
    gain = ctx.reshape(ctx.emit1("broadcast_mul", [scale, inv_std]), per_channel)
    y = ctx.emit1("broadcast_add", [ctx.emit1("broadcast_mul", [centered, gain]), ctx.reshape(bias, per_channel)])

    def blend(running, batch):
        return ctx.emit1("broadcast_add", [ctx.emit1("__mul_scalar__", [running], {"scalar": momentum}),
                                           ctx.emit1("__mul_scalar__", [batch], {"scalar": 1.0 - momentum})])
    return [y, blend(mean, batch_mean), blend(var, batch_var)]


@ONNX_IMPORT.register("InstanceNormalization", since=(1, 6, 22))
def instance_norm(ctx, node, attrs, inputs):
    return ctx.emit1("instance_norm", [inputs[0], inputs[1], inputs[2]],
                     {"epsilon": float(attrs.get("epsilon", 1e-5))})


@ONNX_IMPORT.register("LayerNormalization", since=17)
def layer_norm(ctx, node, attrs, inputs):
    x, scale, bias = inputs[0], inputs[1], inputs[2]
    r = ctx.require_rank(x)
    axis = int(attrs.get("axis", -1)) % r
    eps = float(attrs.get("epsilon", 1e-5))
    if node.output_used(1, ctx.consumers) or node.output_used(2, ctx.consumers):
        return _layer_norm_with_stats(ctx, x, scale, bias, axis, r, eps)
    if bias is None:
        s = ctx.shape(scale)
        bias = np.zeros(s if s is not None else (1,), dtype=ctx.dtype(scale))
    if axis == r - 1:
        sshape = ctx.shape(scale)
        if sshape is not None and len(sshape) > 1:
            scale = ctx.reshape(scale, (-1,))
        bshape = ctx.shape(bias)
        if bshape is not None and len(bshape) > 1:
            bias = ctx.reshape(bias, (-1,))
        return [ctx.emit1("layer_norm", [x, scale, bias], {"axis": -1, "epsilon": eps}), None, None]
    # normalise over several trailing axes: merge them, normalise, restore
    shape = ctx.shape(x)
    if shape is None:
        raise ctx.error(ShapeError, "LayerNormalization over several axes needs the input shape")
    flat = ctx.reshape(x, tuple(shape[:axis]) + (-1,))
    sc = ctx.reshape(ctx.emit1("broadcast_to", [scale], {"shape": tuple(shape[axis:])}), (-1,))
    bi = ctx.reshape(ctx.emit1("broadcast_to", [bias], {"shape": tuple(shape[axis:])}), (-1,))
    y = ctx.emit1("layer_norm", [flat, sc, bi], {"axis": -1, "epsilon": eps})
    return [ctx.reshape(y, shape), None, None]


def _layer_norm_with_stats(ctx, x, scale, bias, axis, r, eps):
    """Decomposed form that also yields the Mean and InvStdDev outputs (keepdims shapes)."""
    axes = tuple(range(axis, r))
    mean = ctx.emit1("mean", [x], {"axis": axes, "keepdims": True})
    centred = ctx.emit1("broadcast_sub", [x, mean])
    var = ctx.emit1("mean", [ctx.emit1("broadcast_mul", [centred, centred])], {"axis": axes, "keepdims": True})
    inv = ctx.emit1("rsqrt", [ctx.emit1("__add_scalar__", [var], {"scalar": eps})])
    y = ctx.emit1("broadcast_mul", [ctx.emit1("broadcast_mul", [centred, inv]), scale])
    if bias is not None:
        y = ctx.emit1("broadcast_add", [y, bias])
    return [y, mean, inv]


@ONNX_IMPORT.register("LRN", since=(1, 13))
def lrn(ctx, node, attrs, inputs):
    return ctx.emit1("lrn", [inputs[0]], dict(size=int(attrs.get("size")), axis=1,
                                              alpha=float(attrs.get("alpha", 1e-4)),
                                              beta=float(attrs.get("beta", 0.75)),
                                              bias=float(attrs.get("bias", 1.0))))


# ---- dense / matmul ---------------------------------------------------------------------------
@ONNX_IMPORT.register("Gemm", since=(1, 6, 7, 9, 11, 13))
def gemm(ctx, node, attrs, inputs):
    a, b, c = inputs[0], inputs[1], inputs[2]
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    if ta:
        a = ctx.emit1("transpose", [a], {"axes": (1, 0)})
    bval = ctx.const(b)
    cval = ctx.const(c) if c is not None else None
    if bval is not None and bval.ndim == 2 and ctx.dtype(a) in ("float32", "float64", "float16"):
        w = bval if tb else bval.T
        if alpha != 1.0:
            w = w * np.asarray(alpha, dtype=w.dtype)
        units = w.shape[0]
        bias = None
        if cval is not None and cval.size in (1, units) and (cval.ndim < 2 or cval.shape[0] == 1):
            bias = np.broadcast_to(cval.reshape(-1) * np.asarray(beta, cval.dtype), (units,)).astype(w.dtype)
        wname = b if tb and alpha == 1.0 else ctx.entry(np.ascontiguousarray(w), f"{b}_T" if not tb else b)
        ins = [a, wname] + ([bias] if bias is not None else [])
        y = ctx.emit1("dense", ins, {"units": units, "use_bias": bias is not None})
        if c is None or bias is not None:
            return y
    else:
        y = ctx.emit1("matmul", [a, b], {"transpose_b": bool(tb)})
        if alpha != 1.0:
            y = ctx.emit1("__mul_scalar__", [y], {"scalar": alpha})
        if c is None:
            return y
    cc = c
    if beta != 1.0:
        cc = ctx.emit1("__mul_scalar__", [c], {"scalar": beta})
    return ctx.emit1("broadcast_add", [y, cc])


@ONNX_IMPORT.register("MatMul", since=(1, 9, 13))
def matmul(ctx, node, attrs, inputs):
    return matmul_entries(ctx, inputs[0], inputs[1])


def matmul_entries(ctx, a, b):
    ra, rb = ctx.require_rank(a, "MatMul A"), ctx.require_rank(b, "MatMul B")
    bval = ctx.const(b)
    squeeze_a = squeeze_b = False
    if ra == 1:
        a, ra, squeeze_a = ctx.emit1("expand_dims", [a], {"axis": 0}), 2, True
    if rb == 1:
        b, rb, squeeze_b = ctx.emit1("expand_dims", [b], {"axis": 1}), 2, True
        bval = ctx.const(b)
    if rb == 2 and bval is not None:
        y = ctx.emit1("dense", [a, np.ascontiguousarray(bval.T)], {"units": int(bval.shape[1]), "use_bias": False})
    elif ra == 2 and rb == 2:
        y = ctx.emit1("matmul", [a, b])
    else:
        sa, sb = ctx.shape(a), ctx.shape(b)
        if sa is None or sb is None:
            raise ctx.error(ShapeError, "batched MatMul needs known operand shapes")
        lead = broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2]))
        n = len(lead)
        if len(sa) - 2 < n:
            a = ctx.reshape(a, (1,) * (n - (len(sa) - 2)) + tuple(sa))
        if len(sb) - 2 < n:
            b = ctx.reshape(b, (1,) * (n - (len(sb) - 2)) + tuple(sb))
        a2 = _broadcast_lead(ctx, a, sa, lead, b)
        b = _broadcast_lead(ctx, b, sb, lead, a)
        y = ctx.emit1("batch_matmul", [a2, b])
    if squeeze_a:
        r = ctx.rank(y)
        y = ctx.emit1("squeeze", [y], {"axis": (r - 2,)})
    if squeeze_b:
        y = ctx.emit1("squeeze", [y], {"axis": (-1 % ctx.rank(y),)})
    return y


def _broadcast_lead(ctx, x, s, lead, other):
    """``x`` with its batch dims broadcast to ``lead``; at run time (a symbolic dim from a 1) to the batch
    dims of ``other`` (both have rank len(lead) + 2)."""
    if tuple(s[:-2]) == tuple(lead):
        return x

    def other_lead():
        dims = ctx.emit1("strided_slice", [ctx.shape_tensor(other)], {"begin": (0,), "end": (len(lead),)})
        return ctx.emit1("concatenate", [dims, np.ones(2, dtype=np.int64)], {"axis": 0})
    return ctx.broadcast_to(x, tuple(lead) + tuple(s[-2:]), other_lead)


# ---- activations ------------------------------------------------------------------------------
def _simple(op, **fixed):
    def convert(ctx, node, attrs, inputs):
        return ctx.emit1(op, [inputs[0]], dict(fixed))
    return convert


for _onnx, _op, _since in (("Relu", "relu", (1, 6, 13, 14)), ("Sigmoid", "sigmoid", (1, 6, 13)),
                           ("Tanh", "tanh", (1, 6, 13)), ("Softplus", "softplus", (1, 22)),
                           ("Softsign", "softsign", (1, 22)), ("Erf", "erf", (9, 13)),
                           ("HardSwish", "hard_swish", (14, 22)), ("Mish", "mish", (18, 22))):
    ONNX_IMPORT.add(_onnx, _simple(_op), since=_since)


@ONNX_IMPORT.register("LeakyRelu", since=(1, 6, 16))
def leaky_relu(ctx, node, attrs, inputs):
    return ctx.emit1("leaky_relu", [inputs[0]], {"alpha": float(attrs.get("alpha", 0.01))})


@ONNX_IMPORT.register("Elu", since=(1, 6, 22))
def elu(ctx, node, attrs, inputs):
    return ctx.emit1("elu", [inputs[0]], {"alpha": float(attrs.get("alpha", 1.0))})


@ONNX_IMPORT.register("Celu", since=(12, 28))
def celu(ctx, node, attrs, inputs):
    # celu(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) = elu(x / alpha) * alpha
    alpha = float(attrs.get("alpha", 1.0))
    x = ctx.emit1("__div_scalar__", [inputs[0]], {"scalar": alpha})
    return ctx.emit1("__mul_scalar__", [ctx.emit1("elu", [x], {"alpha": 1.0})], {"scalar": alpha})


@ONNX_IMPORT.register("Selu", since=(1, 6, 22))
def selu(ctx, node, attrs, inputs):
    return ctx.emit1("selu", [inputs[0]], {"alpha": float(attrs.get("alpha", 1.6732632423543772)),
                                           "gamma": float(attrs.get("gamma", 1.0507009873554805))})


@ONNX_IMPORT.register("HardSigmoid", since=(1, 6, 22))
def hard_sigmoid(ctx, node, attrs, inputs):
    return ctx.emit1("hard_sigmoid", [inputs[0]], {"alpha": float(attrs.get("alpha", 0.2)),
                                                   "beta": float(attrs.get("beta", 0.5))})


@ONNX_IMPORT.register("ThresholdedRelu", since=(10, 22))
def thresholded_relu(ctx, node, attrs, inputs):
    return ctx.emit1("thresholded_relu", [inputs[0]], {"alpha": float(attrs.get("alpha", 1.0))})


@ONNX_IMPORT.register("Gelu", since=20)
def gelu(ctx, node, attrs, inputs):
    approx = attrs.get("approximate", "none")
    return ctx.emit1("gelu", [inputs[0]], {"approximation": approx})


@ONNX_IMPORT.register("PRelu", since=(1, 6, 7, 9, 16))
def prelu(ctx, node, attrs, inputs):
    x, slope = inputs[0], inputs[1]
    sval = ctx.const(slope)
    r = ctx.rank(x)
    if sval is not None and r is not None and r >= 2:
        xs = ctx.shape(x)
        c = xs[1] if xs is not None else None
        sq = sval.reshape(-1) if sval.size else sval
        # slope of shape (C,), (C,1,1) or (1,C,1,1): one value per channel on axis 1
        per_channel = (sval.ndim >= 1 and sval.size == (c if c is not None else sval.shape[0])
                       and (sval.ndim == 1 and r == 2 or sval.ndim >= 1 and
                            all(d == 1 for d in sval.shape[-(r - 2):] if r > 2)
                            and (sval.ndim == r - 1 or sval.ndim == r and sval.shape[0] == 1)))
        if per_channel or sval.size == 1:
            if sval.size == 1 and c is not None:
                sq = np.full((c,), sq[0], dtype=sval.dtype)
            if sval.size == 1 and c is None:
                return ctx.emit1("leaky_relu", [x], {"alpha": float(sq[0])})
            return ctx.emit1("prelu", [x, np.ascontiguousarray(sq)], {"axis": 1})
    # general broadcasting slope: max(x, 0) + min(x, 0) * slope
    pos = ctx.emit1("relu", [x])
    neg = ctx.emit1("__min_scalar__", [x], {"scalar": 0.0})
    return ctx.emit1("broadcast_add", [pos, ctx.emit1("broadcast_mul", [neg, slope])])


def _softmax(op):
    def coerced_2d(ctx, node, attrs, inputs):
        x = inputs[0]
        axis = int(attrs.get("axis", 1))
        r = ctx.require_rank(x)
        axis %= r
        if axis == r - 1:
            return ctx.emit1(op, [x], {"axis": -1})
        # opsets < 13 coerce the input to 2-d at ``axis``
        shape = ctx.shape(x)
        if shape is None:
            raise ctx.error(ShapeError, f"{node.op_type} with axis {axis} < rank-1 needs the input shape")
        flat = ctx.reshape(x, (int(np.prod(shape[:axis])), -1))
        return ctx.reshape(ctx.emit1(op, [flat], {"axis": -1}), shape)

    def along_axis(ctx, node, attrs, inputs):
        return ctx.emit1(op, [inputs[0]], {"axis": int(attrs.get("axis", -1))})
    return coerced_2d, along_axis


for _onnx, _op in (("Softmax", "softmax"), ("LogSoftmax", "log_softmax")):
    _coerced_2d, _along_axis = _softmax(_op)
    ONNX_IMPORT.add(_onnx, _coerced_2d, since=(1, 11))
    ONNX_IMPORT.add(_onnx, _along_axis, since=13)


@ONNX_IMPORT.register("Dropout", since=(1, 6, 7, 10, 12, 13, 22))
def dropout(ctx, node, attrs, inputs):
    if node.output_used(1, ctx.consumers):
        s = ctx.shape(inputs[0])
        if s is None:
            raise ctx.unsupported("mask output with unknown shape")
        if not is_static(s):
            mask = ctx.runtime_op("dyn_full", [ctx.shape_tensor(inputs[0])], s, {"value": 1.0, "dtype": "bool"})
            return [ctx.entry(inputs[0]), mask]
        return [ctx.entry(inputs[0]), np.ones(s, dtype=bool)]
    return [ctx.entry(inputs[0]), None]
