"""Per-op export tests: a one-op IR graph, exported at several opsets, full_check, run in
onnxruntime and compared with MXNet's own operator (numpy where MXNet has none)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from frontend_ext.onnx.exporter import to_onnx
from onnx_export_helpers import assert_close, run_ort, single_op

mx = pytest.importorskip("mxnet")
nd = mx.nd

OPSETS = (11, 13, 17, 21)
CASES = {}


def case(name, min_opset=11, tol=1e-4):
    def deco(fn):
        CASES[name] = (fn, min_opset, tol)
        return fn
    return deco


def rnd(*shape, lo=-1.0, hi=1.0, dtype="float32", seed=0):
    return np.random.default_rng(seed + len(shape)).uniform(lo, hi, shape).astype(dtype)


def mxr(fn, *arrays, **kw):
    """Run an mx.nd operator on numpy arrays and return numpy results."""
    out = fn(*[nd.array(a, dtype=a.dtype) for a in arrays], **kw)
    if isinstance(out, (list, tuple)):
        return [o.asnumpy() for o in out]
    return out.asnumpy()


# ---- elementwise --------------------------------------------------------------------------------
_UNARY_MX = {
    "relu": nd.relu, "sigmoid": nd.sigmoid, "tanh": nd.tanh, "exp": nd.exp, "floor": nd.floor, "ceil": nd.ceil,
    "abs": nd.abs, "negative": nd.negative, "copy": nd.identity, "block_grad": nd.BlockGrad, "sin": nd.sin,
    "cos": nd.cos, "tan": nd.tan, "asin": nd.arcsin, "acos": nd.arccos, "atan": nd.arctan, "sinh": nd.sinh,
    "cosh": nd.cosh, "asinh": nd.arcsinh, "atanh": nd.arctanh, "erf": nd.erf, "sign": nd.sign,
    "reciprocal": nd.reciprocal, "square": nd.square, "softsign": nd.softsign, "round": nd.round,
    "trunc": nd.trunc, "cbrt": nd.cbrt, "expm1": nd.expm1,
    "logical_not": nd.logical_not,
}
_POSITIVE_MX = {"log": nd.log, "sqrt": nd.sqrt, "rsqrt": nd.rsqrt, "log2": nd.log2, "log10": nd.log10,
                "log1p": nd.log1p, "acosh": nd.arccosh}
_UNARY_NP = {"softplus": lambda x: np.logaddexp(0, x), "silu": lambda x: x / (1 + np.exp(-x)),
             "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1), "dropout": lambda x: x,
             "log_sigmoid": lambda x: -np.logaddexp(0, -x), "mish": lambda x: x * np.tanh(np.logaddexp(0, x))}


def _unary_case(op, ref, lo, hi):
    def build():
        x = rnd(2, 3, 4, lo=lo, hi=hi)
        if op in ("round", "trunc"):
            x = np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.7, -0.7]], np.float32)
        if op == "logical_not":
            x = np.array([[0.0, 1.0, 0.0, -2.0]], np.float32)
        if op == "atanh":
            x = x * 0.9
        g, p, f = single_op(op, {}, {"x": x})
        want = ref(x) if op in _UNARY_NP else mxr(ref, x)
        return g, p, f, [want]
    return build


for _op, _fn in _UNARY_MX.items():
    case(f"unary_{_op}")(_unary_case(_op, _fn, -1.0, 1.0))
for _op, _fn in _POSITIVE_MX.items():
    case(f"unary_{_op}")(_unary_case(_op, _fn, 1.1, 3.0))
for _op, _fn in _UNARY_NP.items():
    case(f"unary_{_op}")(_unary_case(_op, _fn, -3.0, 3.0))


@case("unary_isnan_isinf")
def _isnan():
    x = np.array([[np.nan, 1.0, np.inf, -np.inf]], np.float32)
    g, p, f = single_op("isnan", {}, {"x": x})
    return g, p, f, [np.isnan(x).astype(np.float32)]


@case("unary_isinf")
def _isinf():
    x = np.array([[np.nan, 1.0, np.inf, -np.inf]], np.float32)
    g, p, f = single_op("isinf", {}, {"x": x})
    return g, p, f, [np.isinf(x).astype(np.float32)]


@case("leaky_relu")
def _leaky():
    x = rnd(2, 3, 4)
    g, p, f = single_op("leaky_relu", {"alpha": 0.1}, {"x": x})
    return g, p, f, [mxr(nd.LeakyReLU, x, act_type="leaky", slope=0.1)]


@case("elu")
def _elu():
    x = rnd(2, 3, 4)
    g, p, f = single_op("elu", {"alpha": 0.7}, {"x": x})
    return g, p, f, [mxr(nd.LeakyReLU, x, act_type="elu", slope=0.7)]


@case("selu")
def _selu():
    x = rnd(2, 3, 4)
    g, p, f = single_op("selu", {}, {"x": x})
    return g, p, f, [mxr(nd.LeakyReLU, x, act_type="selu")]


def _gelu_case(approx):
    def build():
        x = rnd(2, 3, 4, lo=-3, hi=3)
        g, p, f = single_op("gelu", {"approximation": approx}, {"x": x})
        if approx == "none":
            want = mxr(nd.LeakyReLU, x, act_type="gelu")
        else:
            want = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        return g, p, f, [want]
    return build


case("gelu_erf")(_gelu_case("none"))
case("gelu_tanh")(_gelu_case("tanh"))


@case("hard_sigmoid")
def _hard_sigmoid():
    x = rnd(2, 3, 4, lo=-5, hi=5)
    g, p, f = single_op("hard_sigmoid", {"alpha": 0.3, "beta": 0.4}, {"x": x})
    return g, p, f, [mxr(nd.hard_sigmoid, x, alpha=0.3, beta=0.4)]


@case("thresholded_relu")
def _trelu():
    x = rnd(2, 3, 4, lo=-2, hi=2)
    g, p, f = single_op("thresholded_relu", {"alpha": 0.5}, {"x": x})
    return g, p, f, [np.where(x > 0.5, x, 0)]


@case("clip")
def _clip():
    x = rnd(2, 3, 4)
    g, p, f = single_op("clip", {"a_min": -0.3, "a_max": 0.4}, {"x": x})
    return g, p, f, [mxr(nd.clip, x, a_min=-0.3, a_max=0.4)]


_BIN = {"add": nd.broadcast_add, "sub": nd.broadcast_sub, "mul": nd.broadcast_mul, "div": nd.broadcast_div,
        "max": nd.broadcast_maximum, "min": nd.broadcast_minimum, "pow": nd.broadcast_power,
        "mod": nd.broadcast_mod, "greater": nd.broadcast_greater, "less": nd.broadcast_lesser,
        "equal": nd.broadcast_equal, "not_equal": nd.broadcast_not_equal,
        "greater_equal": nd.broadcast_greater_equal, "less_equal": nd.broadcast_lesser_equal,
        "logical_and": nd.broadcast_logical_and, "logical_or": nd.broadcast_logical_or,
        "logical_xor": nd.broadcast_logical_xor}


def _binary_case(op, ref, same_shape):
    def build():
        a = np.round(rnd(2, 3, 4, lo=-3, hi=3), 0)
        b = np.round(rnd(3, 1, lo=-3, hi=3, seed=5), 0) if not same_shape else np.round(rnd(2, 3, 4, seed=7), 0)
        if op in ("pow",):
            a = np.abs(a) + 0.5
        if op in ("div", "mod"):
            b = np.where(b == 0, 1.5, b).astype(np.float32)
        if op == "mod":
            a = a + 0.25
        g, p, f = single_op(op if same_shape and op in ("greater", "less") else (
            f"elemwise_{op}" if same_shape else f"broadcast_{op}"), {}, {"a": a, "b": b})
        return g, p, f, [mxr(ref, a, b)]
    return build


for _op, _fn in _BIN.items():
    case(f"broadcast_{_op}")(_binary_case(_op, _fn, False))
for _op in ("add", "sub", "mul", "div", "mod", "pow"):
    case(f"elemwise_{_op}")(_binary_case(_op, _BIN[_op], True))
for _op in ("greater", "less"):
    case(f"elemwise_compare_{_op}")(_binary_case(_op, _BIN[_op], True))
for _op in ("logical_and", "logical_or", "logical_xor"):
    case(f"elemwise_{_op}")(lambda op=_op: (lambda a, b: (*single_op(op, {}, {"a": a, "b": b}),
                                                          [mxr(_BIN[op], a, b)]))(
        np.array([[0, 1, 2, 0]], np.float32), np.array([[0, 0, 3, 4]], np.float32)))


@case("shifts_int32")
def _shifts():
    from onnx_export_helpers import node
    from nnvm_bridge.ir.graph import Graph
    from onnx_export_helpers import data_var

    a = np.array([[1, 2, 7, 100]], np.int32)
    s = np.array([[1, 2, 0, 3]], np.int32)
    va, vs = data_var("a", a), data_var("s", s)
    n1 = node("broadcast_left_shift", "l", [va, vs])
    n2 = node("broadcast_right_shift", "r", [va, vs])
    n3 = node("__lshift_scalar__", "ls", [va], scalar=2)
    n4 = node("__rshift_scalar__", "rs", [va], scalar=1)
    g = Graph([n1[0], n2[0], n3[0], n4[0]])
    return g, {}, {"a": a, "s": s}, [a << s, a >> s, a << 2, a >> 1]


@case("elemwise_sum")
def _esum():
    a, b, c = rnd(2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)
    g, p, f = single_op("elemwise_sum", {"num_args": 3}, {"a": a, "b": b, "c": c})
    return g, p, f, [mxr(nd.add_n, a, b, c)]


_SCALAR = {"__add_scalar__": lambda x: x + 1.5, "__sub_scalar__": lambda x: x - 1.5,
           "__rsub_scalar__": lambda x: 1.5 - x, "__mul_scalar__": lambda x: x * 1.5,
           "__div_scalar__": lambda x: x / 1.5, "__rdiv_scalar__": lambda x: 1.5 / x,
           "__pow_scalar__": lambda x: x ** 1.5, "__rpow_scalar__": lambda x: 1.5 ** x,
           "__max_scalar__": lambda x: nd.maximum(x, 1.5), "__min_scalar__": lambda x: nd.minimum(x, 1.5),
           "__equal_scalar__": lambda x: x == 1.5, "__not_equal_scalar__": lambda x: x != 1.5,
           "__greater_scalar__": lambda x: x > 1.5, "__greater_equal_scalar__": lambda x: x >= 1.5,
           "__less_scalar__": lambda x: x < 1.5, "__less_equal_scalar__": lambda x: x <= 1.5}


def _scalar_case(op, fn):
    def build():
        x = np.array([[0.5, 1.5, 2.0, 3.25]], np.float32)
        g, p, f = single_op(op, {"scalar": 1.5}, {"x": x})
        return g, p, f, [fn(nd.array(x)).asnumpy()]
    return build


for _op, _fn in _SCALAR.items():
    case(f"scalar{_op}")(_scalar_case(_op, _fn))


@case("scalar_int_dtype")
def _scalar_int():
    from nnvm_bridge.ir.graph import Graph
    from onnx_export_helpers import data_var, node

    x = np.array([[1, 2, 3, 4]], np.int32)
    y = np.array([[3, 1, 5, 0]], np.int32)
    vx, vy = data_var("x", x), data_var("y", y)
    outs = [node("__mul_scalar__", "m", [vx], scalar=3), node("__max_scalar__", "mx", [vx], scalar=2),
            node("__min_scalar__", "mn", [vx], scalar=2), node("broadcast_max", "bm", [vx, vy]),
            node("broadcast_min", "bn", [vx, vy]), node("clip", "c", [vx], a_min=2, a_max=3)]
    want = [mxr(lambda a: a * 3, x), mxr(lambda a: nd.maximum(a, 2), x), mxr(lambda a: nd.minimum(a, 2), x),
            mxr(nd.broadcast_maximum, x, y), mxr(nd.broadcast_minimum, x, y), mxr(nd.clip, x, a_min=2, a_max=3)]
    return Graph([o[0] for o in outs]), {}, {"x": x, "y": y}, want


# ---- nn -------------------------------------------------------------------------------------------
def _dense_case(nd_in):
    def build():
        shape = (4, 5) if nd_in == 2 else (2, 3, 5)
        x, w, b = rnd(*shape), rnd(6, 5, seed=1), rnd(6, seed=2)
        g, p, f = single_op("dense", {"units": 6}, {"x": x}, {"w": w, "b": b})
        return g, p, f, [mxr(nd.FullyConnected, x, w, b, num_hidden=6, flatten=False)]
    return build


case("dense_2d")(_dense_case(2))
case("dense_3d")(_dense_case(3))


@case("dense_no_bias")
def _dense_nobias():
    x, w = rnd(4, 5), rnd(6, 5, seed=1)
    g, p, f = single_op("dense", {"units": 6, "use_bias": False}, {"x": x}, {"w": w})
    return g, p, f, [mxr(nd.FullyConnected, x, w, num_hidden=6, no_bias=True)]


def _conv_case(nsp, pad, stride=1, dilation=1, groups=1, bias=True):
    def build():
        cin, cout = 4, 6
        x = rnd(*((2, cin) + (7,) * nsp))
        w = rnd(*((cout, cin // groups) + (3,) * nsp), seed=1)
        b = rnd(cout, seed=2)
        attrs = {"channels": cout, "kernel_size": (3,) * nsp, "padding": pad, "strides": (stride,) * nsp,
                 "dilation": (dilation,) * nsp, "groups": groups, "use_bias": bias}
        if nsp != 2:
            attrs["layout"] = {1: "NCW", 3: "NCDHW"}[nsp]
            attrs["kernel_layout"] = {1: "OIW", 3: "OIDHW"}[nsp]
        params = {"w": w, "b": b} if bias else {"w": w}
        g, p, f = single_op(f"conv{nsp}d", attrs, {"x": x}, params)
        xin = x
        if len(pad) == 2 * nsp:  # asymmetric: pad explicitly for the reference
            xin = np.pad(x, [(0, 0), (0, 0)] + [(pad[i], pad[nsp + i]) for i in range(nsp)])
            mx_pad = (0,) * nsp
        else:
            mx_pad = tuple(pad) * (nsp if len(pad) == 1 else 1)
        kw = dict(kernel=(3,) * nsp, stride=(stride,) * nsp, pad=mx_pad, dilate=(dilation,) * nsp,
                  num_filter=cout, num_group=groups, no_bias=not bias)
        want = mxr(nd.Convolution, xin, w, b, **kw) if bias else mxr(nd.Convolution, xin, w, **kw)
        return g, p, f, [want]
    return build


case("conv2d")(_conv_case(2, (1, 1)))
case("conv2d_stride_dilate_groups")(_conv_case(2, (2, 1), stride=2, dilation=2, groups=2))
case("conv2d_pad4_no_bias")(_conv_case(2, (1, 0, 2, 1), bias=False))
case("conv1d")(_conv_case(1, (1,)))
case("conv3d")(_conv_case(3, (1, 1, 1)))


def _deconv_case(nsp, stride, pad, adj, groups=1):
    def build():
        cin, cout = 4, 6
        x = rnd(*((1, cin) + (5,) * nsp))
        w = rnd(*((cin, cout // groups) + (3,) * nsp), seed=1)
        b = rnd(cout, seed=2)
        attrs = {"channels": cout, "kernel_size": (3,) * nsp, "padding": (pad,) * nsp,
                 "strides": (stride,) * nsp, "output_padding": (adj,) * nsp, "groups": groups}
        if nsp != 2:
            attrs["layout"] = {1: "NCW", 3: "NCDHW"}[nsp]
            attrs["kernel_layout"] = {1: "OIW", 3: "OIDHW"}[nsp]
        g, p, f = single_op(f"conv{nsp}d_transpose", attrs, {"x": x}, {"w": w, "b": b})
        want = mxr(nd.Deconvolution, x, w, b, kernel=(3,) * nsp, stride=(stride,) * nsp, pad=(pad,) * nsp,
                   adj=(adj,) * nsp, num_filter=cout, num_group=groups, no_bias=False)
        return g, p, f, [want]
    return build


case("conv2d_transpose")(_deconv_case(2, 2, 1, 1, groups=2))
case("conv1d_transpose")(_deconv_case(1, 2, 0, 0))
case("conv3d_transpose")(_deconv_case(3, 1, 1, 0))


def _pool_case(kind, size, k, s, pad, ceil, include_pad=True, nsp=2):
    def build():
        x = rnd(*((1, 2) + (size,) * nsp))
        attrs = {"pool_size": (k,) * nsp, "strides": (s,) * nsp, "padding": (pad,) * nsp, "ceil_mode": ceil}
        if nsp != 2:
            attrs["layout"] = {1: "NCW", 3: "NCDHW"}[nsp]
        if kind == "avg":
            attrs["count_include_pad"] = include_pad
        g, p, f = single_op(f"{kind}_pool{nsp}d", attrs, {"x": x})
        want = mxr(nd.Pooling, x, kernel=(k,) * nsp, stride=(s,) * nsp, pad=(pad,) * nsp, pool_type=kind,
                   pooling_convention="full" if ceil else "valid", count_include_pad=include_pad)
        return g, p, f, [want]
    return build


case("max_pool2d")(_pool_case("max", 7, 3, 2, 1, False))
case("max_pool2d_ceil")(_pool_case("max", 8, 3, 2, 0, True))
case("max_pool2d_ceil_last_window_in_pad")(_pool_case("max", 5, 2, 2, 1, True))
case("avg_pool2d_include_pad")(_pool_case("avg", 7, 3, 2, 1, False, True))
case("avg_pool2d_exclude_pad_ceil")(_pool_case("avg", 8, 3, 2, 1, True, False))
case("avg_pool2d_include_pad_ceil")(_pool_case("avg", 8, 3, 2, 1, True, True))
case("avg_pool2d_include_pad_last_window_in_pad")(_pool_case("avg", 5, 2, 2, 1, True, True))
case("avg_pool2d_exclude_pad_last_window_in_pad")(_pool_case("avg", 5, 2, 2, 1, True, False))
case("avg_pool1d_ceil")(_pool_case("avg", 9, 3, 2, 1, True, True, nsp=1))
case("max_pool3d_ceil")(_pool_case("max", 5, 2, 2, 1, True, nsp=3))
case("max_pool1d")(_pool_case("max", 9, 3, 2, 1, False, nsp=1))
case("avg_pool3d")(_pool_case("avg", 5, 3, 1, 1, False, True, nsp=3))


def _global_pool_case(kind, nsp):
    def build():
        x = rnd(*((2, 3) + (5,) * nsp))
        g, p, f = single_op(f"global_{kind}_pool{nsp}d", {}, {"x": x})
        return g, p, f, [mxr(nd.Pooling, x, kernel=(1,) * nsp, global_pool=True, pool_type=kind)]
    return build


for _k in ("max", "avg"):
    for _n in (1, 2, 3):
        case(f"global_{_k}_pool{_n}d")(_global_pool_case(_k, _n))


@case("adaptive_avg_pool2d")
def _adaptive():
    x = rnd(1, 2, 8, 6)
    g, p, f = single_op("adaptive_avg_pool2d", {"output_size": (4, 3)}, {"x": x})
    return g, p, f, [mxr(nd.contrib.AdaptiveAvgPooling2D, x, output_size=(4, 3))]


def _bn_case(axis, scale, center):
    def build():
        shape = (2, 3, 4, 5)
        c = shape[axis]
        x = rnd(*shape)
        gamma, beta = rnd(c, seed=1) + 1, rnd(c, seed=2)
        mean, var = rnd(c, seed=3), rnd(c, lo=0.5, hi=1.5, seed=4)
        attrs = {"axis": axis, "epsilon": 1e-3, "scale": scale, "center": center}
        g, p, f = single_op("batch_norm", attrs, {"x": x}, {"gamma": gamma, "beta": beta, "mean": mean,
                                                             "var": var})
        mx_beta = beta if center else np.zeros_like(beta)
        want = mxr(nd.BatchNorm, x, gamma, mx_beta, mean, var, eps=1e-3, fix_gamma=not scale,
                   use_global_stats=True, axis=axis)
        return g, p, f, [want]
    return build


case("batch_norm")(_bn_case(1, True, True))
case("batch_norm_fix_gamma_no_center")(_bn_case(1, False, False))
case("batch_norm_axis3")(_bn_case(3, True, True))


def _softmax_case(op, axis, shape):
    def build():
        x = rnd(*shape, lo=-3, hi=3)
        g, p, f = single_op(op, {"axis": axis}, {"x": x})
        return g, p, f, [mxr(nd.softmax if op == "softmax" else nd.log_softmax, x, axis=axis)]
    return build


for _op in ("softmax", "log_softmax"):
    case(f"{_op}_last")(_softmax_case(_op, -1, (2, 3, 4)))
    case(f"{_op}_axis1")(_softmax_case(_op, 1, (2, 3, 4)))
    case(f"{_op}_axis0")(_softmax_case(_op, 0, (3, 4)))


@case("prelu")
def _prelu():
    x, a = rnd(2, 3, 4, 4), rnd(3, lo=0.1, hi=0.5, seed=1)
    g, p, f = single_op("prelu", {}, {"x": x}, {"alpha": a})
    return g, p, f, [mxr(nd.LeakyReLU, x, a, act_type="prelu")]


@case("pad")
def _pad():
    x = rnd(1, 2, 3, 4)
    pw = ((0, 0), (0, 0), (1, 2), (2, 1))
    g, p, f = single_op("pad", {"pad_width": pw, "pad_value": 0.5}, {"x": x})
    flat = tuple(v for pair in pw for v in pair)
    return g, p, f, [mxr(nd.pad, x, mode="constant", pad_width=flat, constant_value=0.5)]


@case("mirror_pad")
def _mirror_pad():
    x = rnd(1, 2, 4, 5)
    pw = ((0, 0), (0, 0), (1, 2), (2, 1))
    g, p, f = single_op("mirror_pad", {"pad_width": pw, "mode": "reflect"}, {"x": x})
    return g, p, f, [mxr(nd.pad, x, mode="reflect", pad_width=tuple(v for q in pw for v in q))]


@case("mirror_pad_edge")
def _edge_pad():
    x = rnd(1, 2, 4, 5)
    pw = ((0, 0), (0, 0), (1, 2), (2, 1))
    g, p, f = single_op("mirror_pad", {"pad_width": pw, "mode": "edge"}, {"x": x})
    return g, p, f, [mxr(nd.pad, x, mode="edge", pad_width=tuple(v for q in pw for v in q))]


@case("lrn")
def _lrn():
    x = rnd(2, 6, 4, 4)
    g, p, f = single_op("lrn", {"size": 3, "axis": 1, "alpha": 1e-3, "beta": 0.75, "bias": 2.0}, {"x": x})
    return g, p, f, [mxr(nd.LRN, x, nsize=3, alpha=1e-3, beta=0.75, knorm=2.0)]


def _l2_case(axes, mode):
    def build():
        x = rnd(2, 3, 4, 5)
        g, p, f = single_op("l2_normalize", {"eps": 1e-10, "axis": axes}, {"x": x})
        return g, p, f, [mxr(nd.L2Normalization, x, mode=mode, eps=1e-10)]
    return build


case("l2_normalize_instance")(_l2_case((1, 2, 3), "instance"))
case("l2_normalize_channel")(_l2_case((1,), "channel"))


@case("upsampling_nearest")
def _up_nearest():
    x = rnd(1, 2, 3, 4)
    g, p, f = single_op("upsampling", {"scale": 2}, {"x": x})
    return g, p, f, [mxr(nd.UpSampling, x, scale=2, sample_type="nearest")]


@case("upsampling_bilinear")
def _up_bilinear():
    import torch

    x = rnd(1, 2, 3, 4)
    g, p, f = single_op("upsampling", {"scale": 2, "method": "BILINEAR"}, {"x": x})
    want = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear",
                                           align_corners=False).numpy()
    return g, p, f, [want]


def _resize_case(align):
    def build():
        x = rnd(1, 2, 5, 7)
        g, p, f = single_op("resize", {"size": (8, 4), "align_corners": align}, {"x": x})
        return g, p, f, [mxr(nd.contrib.BilinearResize2D, x, height=8, width=4, align_corners=align)]
    return build


case("resize_bilinear_align_corners")(_resize_case(True))
case("resize_bilinear_half_pixel")(_resize_case(False))


@case("resize_nearest")
def _resize_nearest():
    x = rnd(1, 2, 3, 4)
    g, p, f = single_op("resize", {"size": (6, 8), "method": "NEAREST_NEIGHBOR"}, {"x": x})
    return g, p, f, [mxr(nd.UpSampling, x, scale=2, sample_type="nearest")]


@case("depth_to_space")
def _d2s():
    x = rnd(1, 8, 2, 3)
    g, p, f = single_op("depth_to_space", {"block_size": 2}, {"x": x})
    return g, p, f, [mxr(nd.depth_to_space, x, block_size=2)]


@case("space_to_depth")
def _s2d():
    x = rnd(1, 2, 4, 6)
    g, p, f = single_op("space_to_depth", {"block_size": 2}, {"x": x})
    return g, p, f, [mxr(nd.space_to_depth, x, block_size=2)]


def _layer_norm_case(axis):
    def build():
        x = rnd(2, 3, 4)
        c = x.shape[axis]
        gamma, beta = rnd(c, seed=1), rnd(c, seed=2)
        g, p, f = single_op("layer_norm", {"axis": axis, "epsilon": 1e-5}, {"x": x}, {"gamma": gamma, "beta": beta})
        return g, p, f, [mxr(nd.LayerNorm, x, gamma, beta, axis=axis, eps=1e-5)]
    return build


case("layer_norm_last")(_layer_norm_case(-1))
case("layer_norm_axis1")(_layer_norm_case(1))


@case("instance_norm")
def _instance_norm():
    x = rnd(2, 3, 4, 5)
    gamma, beta = rnd(3, seed=1), rnd(3, seed=2)
    g, p, f = single_op("instance_norm", {"epsilon": 1e-5}, {"x": x}, {"gamma": gamma, "beta": beta})
    return g, p, f, [mxr(nd.InstanceNorm, x, gamma, beta, eps=1e-5)]


@case("group_norm")
def _group_norm():
    x = rnd(2, 6, 3, 4)
    gamma, beta = rnd(6, seed=1), rnd(6, seed=2)
    g, p, f = single_op("group_norm", {"num_groups": 3, "epsilon": 1e-5}, {"x": x}, {"gamma": gamma, "beta": beta})
    xg = x.reshape(2, 3, -1).astype(np.float64)
    y = (xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)
    y = y.reshape(x.shape) * gamma.reshape(1, 6, 1, 1) + beta.reshape(1, 6, 1, 1)
    return g, p, f, [y]


# ---- transforms ---------------------------------------------------------------------------------
@case("flatten")
def _flatten():
    x = rnd(2, 3, 4)
    g, p, f = single_op("flatten", {}, {"x": x})
    return g, p, f, [mxr(nd.flatten, x)]


@case("concatenate")
def _concat():
    a, b = rnd(2, 3), rnd(2, 5, seed=1)
    g, p, f = single_op("concatenate", {"axis": -1}, {"a": a, "b": b})
    return g, p, f, [mxr(nd.concat, a, b, dim=1)]


@case("stack")
def _stack():
    a, b = rnd(2, 3), rnd(2, 3, seed=1)
    g, p, f = single_op("stack", {"axis": 1, "num_args": 2}, {"a": a, "b": b})
    return g, p, f, [mxr(nd.stack, a, b, axis=1)]


@case("expand_dims")
def _expand_dims():
    x = rnd(2, 3)
    g, p, f = single_op("expand_dims", {"axis": 1, "num_newaxis": 2}, {"x": x})
    return g, p, f, [x.reshape(2, 1, 1, 3)]


@case("squeeze")
def _squeeze():
    x = rnd(2, 1, 3, 1)
    g, p, f = single_op("squeeze", {"axis": (1,)}, {"x": x})
    return g, p, f, [mxr(nd.squeeze, x, axis=1)]


@case("squeeze_all")
def _squeeze_all():
    x = rnd(2, 1, 3, 1)
    g, p, f = single_op("squeeze", {}, {"x": x})
    return g, p, f, [mxr(nd.squeeze, x)]


@case("split_sections")
def _split_sections():
    x = rnd(2, 6, 3)
    g, p, f = single_op("split", {"indices_or_sections": 3, "axis": 1}, {"x": x}, outputs=3)
    return g, p, f, mxr(nd.split, x, num_outputs=3, axis=1)


@case("split_indices")
def _split_indices():
    x = rnd(2, 7)
    g, p, f = single_op("split", {"indices_or_sections": (2, 5), "axis": 1}, {"x": x}, outputs=3)
    return g, p, f, np.split(x, [2, 5], axis=1)


@case("cast")
def _cast():
    x = rnd(2, 3, lo=-5, hi=5)
    g, p, f = single_op("cast", {"dtype": "int32"}, {"x": x})
    return g, p, f, [mxr(nd.cast, x, dtype="int32")]


def _reshape_case(spec, shape):
    def build():
        x = rnd(*shape)
        g, p, f = single_op("reshape", {"shape": spec}, {"x": x})
        return g, p, f, [mxr(nd.reshape, x, shape=spec)]
    return build


case("reshape_basic")(_reshape_case((0, -1), (2, 3, 4)))
case("reshape_minus2")(_reshape_case((0, -2), (2, 3, 4)))
case("reshape_minus3")(_reshape_case((-3, 4), (2, 3, 4)))
case("reshape_minus4")(_reshape_case((0, -4, 1, -1, 0), (2, 6, 4)))


@case("reshape_like")
def _reshape_like():
    x, y = rnd(2, 6), rnd(3, 4, seed=1)
    g, p, f = single_op("reshape_like", {}, {"x": x, "y": y})
    return g, p, f, [mxr(nd.reshape_like, x, y)]


@case("transpose")
def _transpose():
    x = rnd(2, 3, 4)
    g, p, f = single_op("transpose", {"axes": (1, 2, 0)}, {"x": x})
    return g, p, f, [mxr(nd.transpose, x, axes=(1, 2, 0))]


@case("transpose_default")
def _transpose_default():
    x = rnd(2, 3, 4)
    g, p, f = single_op("transpose", {}, {"x": x})
    return g, p, f, [mxr(nd.transpose, x)]


@case("strided_slice")
def _strided_slice():
    x = rnd(4, 5, 6)
    g, p, f = single_op("strided_slice", {"begin": (1, -1), "end": (3, 0), "stride": (1, -2)}, {"x": x})
    return g, p, f, [mxr(nd.slice, x, begin=(1, -1), end=(3, 0), step=(1, -2))]


@case("strided_slice_negative_to_start")
def _strided_slice2():
    x = rnd(6, 3)
    g, p, f = single_op("strided_slice", {"begin": (4,), "end": (-100,), "stride": (-1,)}, {"x": x})
    return g, p, f, [x[4:-100:-1]]


@case("slice_like")
def _slice_like():
    x, y = rnd(4, 5, 6), rnd(2, 3, 9, seed=1)
    g, p, f = single_op("slice_like", {"axis": (0, 1)}, {"x": x, "y": y})
    return g, p, f, [mxr(nd.slice_like, x, y, axes=(0, 1))]


@case("flip")
def _flip():
    x = rnd(2, 3, 4)
    g, p, f = single_op("flip", {"axis": 1}, {"x": x})
    return g, p, f, [mxr(nd.reverse, x, axis=1)]


def _take_case(axis, idx_dtype):
    def build():
        x = rnd(4, 5)
        idx = np.array([[0, 3], [5, -1]], idx_dtype)  # out of range: clipped, as MXNet's mode="clip"
        g, p, f = single_op("take", {"axis": axis}, {"x": x, "i": idx})
        if axis is None:
            want = np.take(x.reshape(-1), idx.astype(np.int64), mode="clip")
        else:
            want = mxr(nd.take, x, idx, axis=axis, mode="clip")
        return g, p, f, [want]
    return build


case("take_axis0_float_indices")(_take_case(0, "float32"))
case("take_axis1_int_indices")(_take_case(1, "int32"))
case("take_axis_none")(_take_case(None, "int64"))


@case("gather_nd")
def _gather_nd():
    x = rnd(3, 4, 5)
    idx = np.array([[0, 2, 1], [3, 1, 0]], np.int32)  # MXNet: first dim indexes data dims
    g, p, f = single_op("gather_nd", {}, {"x": x, "i": idx})
    return g, p, f, [mxr(nd.gather_nd, x, idx)]


@case("gather_nd_1d_indices")
def _gather_nd_1d():
    x = rnd(3, 4, 5)
    idx = np.array([2, 1], np.float32)  # MXNet refuses 1-D indices; the IR allows them: numpy reference
    g, p, f = single_op("gather_nd", {}, {"x": x, "i": idx})
    return g, p, f, [x[2, 1]]


def _where_case(one_d):
    def build():
        x, y = rnd(3, 4), rnd(3, 4, seed=1)
        c = np.array([1, 0, 2], np.float32) if one_d else (rnd(3, 4, seed=2) > 0).astype(np.float32)
        g, p, f = single_op("where", {}, {"c": c, "x": x, "y": y})
        return g, p, f, [mxr(nd.where, c, x, y)]
    return build


case("where")(_where_case(False))
case("where_1d_condition")(_where_case(True))


@case("expand_like")
def _expand_like():
    x, y = rnd(2, 4), rnd(2, 3, 4, seed=1)
    g, p, f = single_op("expand_like", {"axis": (1,)}, {"x": x, "y": y})
    return g, p, f, [np.broadcast_to(x[:, None, :], (2, 3, 4))]


@case("broadcast_to")
def _broadcast_to():
    x = rnd(3, 1)
    g, p, f = single_op("broadcast_to", {"shape": (2, 3, 4)}, {"x": x})
    return g, p, f, [np.broadcast_to(x, (2, 3, 4))]


@case("broadcast_to_keep")
def _broadcast_to_keep():
    x = rnd(2, 1, 4)
    g, p, f = single_op("broadcast_to", {"shape": (0, 3, 0)}, {"x": x})
    return g, p, f, [mxr(nd.broadcast_to, x, shape=(0, 3, 0))]


def _matmul_case(ta, tb):
    def build():
        a = rnd(4, 3) if ta else rnd(3, 4)
        b = rnd(5, 4, seed=1) if tb else rnd(4, 5, seed=1)
        g, p, f = single_op("matmul", {"transpose_a": ta, "transpose_b": tb}, {"a": a, "b": b})
        return g, p, f, [mxr(nd.dot, a, b, transpose_a=ta, transpose_b=tb)]
    return build


case("matmul")(_matmul_case(False, False))
case("matmul_transposed")(_matmul_case(True, True))


@case("batch_matmul")
def _batch_matmul():
    a, b = rnd(2, 4, 3), rnd(2, 5, 4, seed=1)
    g, p, f = single_op("batch_matmul", {"transpose_a": True, "transpose_b": True}, {"a": a, "b": b})
    return g, p, f, [mxr(nd.batch_dot, a, b, transpose_a=True, transpose_b=True)]


@case("tile")
def _tile():
    x = rnd(2, 3)
    g, p, f = single_op("tile", {"reps": (2, 1, 3)}, {"x": x})
    return g, p, f, [mxr(nd.tile, x, reps=(2, 1, 3))]


@case("repeat")
def _repeat():
    x = rnd(2, 3)
    g, p, f = single_op("repeat", {"repeats": 3, "axis": 1}, {"x": x})
    return g, p, f, [mxr(nd.repeat, x, repeats=3, axis=1)]


@case("repeat_flat")
def _repeat_flat():
    x = rnd(2, 3)
    g, p, f = single_op("repeat", {"repeats": 2}, {"x": x})
    return g, p, f, [mxr(nd.repeat, x, repeats=2)]


# ---- creation, indexing ---------------------------------------------------------------------------
@case("full_zeros_ones")
def _full():
    from nnvm_bridge.ir.graph import Graph
    from onnx_export_helpers import node

    a = node("full", "f", [], shape=(2, 3), fill_value=2.5)
    b = node("zeros", "z", [], shape=(2,), dtype="int32")
    c = node("ones", "o", [], shape=(1, 2), dtype="float64")
    g = Graph([a[0], b[0], c[0]])
    return g, {}, {}, [mxr(lambda: nd.full((2, 3), 2.5)), np.zeros(2, np.int32), np.ones((1, 2))]


@case("like_ops")
def _likes():
    from nnvm_bridge.ir.graph import Graph
    from onnx_export_helpers import data_var, node

    x = rnd(2, 3)
    v = data_var("x", x)
    g = Graph([node("full_like", "f", [v], fill_value=3)[0], node("zeros_like", "z", [v])[0],
               node("ones_like", "o", [v])[0]])
    return g, {}, {"x": x}, [np.full_like(x, 3), mxr(nd.zeros_like, x), mxr(nd.ones_like, x)]


@case("arange")
def _arange():
    from nnvm_bridge.ir.graph import Graph
    from onnx_export_helpers import node

    g = Graph([node("arange", "r", [], start=1, stop=7, step=1.5)[0]])
    return g, {}, {}, [mxr(lambda: nd.arange(1, 7, 1.5))]


@case("shape_of")
def _shape_of():
    x = rnd(2, 3, 4)
    g, p, f = single_op("shape_of", {"dtype": "int32"}, {"x": x})
    return g, p, f, [np.array([2, 3, 4], np.int32)]


@case("one_hot")
def _one_hot():
    idx = np.array([[0, 2], [-1, 5]], np.float32)  # out of range (both signs): an all-off row in MXNet
    g, p, f = single_op("one_hot", {"depth": 4, "on_value": 2.0, "off_value": -1.0}, {"i": idx})
    return g, p, f, [mxr(nd.one_hot, idx, depth=4, on_value=2.0, off_value=-1.0)]


@case("topk_both")
def _topk():
    x = rnd(3, 6)
    g, p, f = single_op("topk", {"k": 2, "axis": 1, "ret_type": "both", "dtype": "int32"}, {"x": x}, outputs=2)
    v, i = mxr(nd.topk, x, k=2, axis=1, ret_typ="both", dtype="int32")
    return g, p, f, [v, i]


@case("topk_indices_ascend")
def _topk_idx():
    x = rnd(3, 6)
    g, p, f = single_op("topk", {"k": 3, "axis": 0, "ret_type": "indices", "is_ascend": True,
                                 "dtype": "float32"}, {"x": x})
    return g, p, f, [mxr(nd.topk, x, k=3, axis=0, ret_typ="indices", is_ascend=True)]


# ---- reductions -----------------------------------------------------------------------------------
_RED_MX = {"sum": nd.sum, "max": nd.max, "min": nd.min, "mean": nd.mean, "prod": nd.prod}


def _reduce_case(op, axis, keepdims, exclude):
    def build():
        x = rnd(2, 3, 4, lo=0.5, hi=1.5)
        attrs = {"keepdims": keepdims, "exclude": exclude}
        if axis is not None:
            attrs["axis"] = axis
        g, p, f = single_op(op, attrs, {"x": x})
        kw = dict(keepdims=keepdims, exclude=exclude)
        if axis is not None:
            kw["axis"] = axis
        return g, p, f, [mxr(_RED_MX[op], x, **kw)]
    return build


for _op in _RED_MX:
    case(f"reduce_{_op}_axis")(_reduce_case(_op, (1,), False, False))
    case(f"reduce_{_op}_all")(_reduce_case(_op, None, False, False))
    case(f"reduce_{_op}_exclude_keepdims")(_reduce_case(_op, (1,), True, True))


def _arg_case(op, axis, keepdims):
    def build():
        x = rnd(3, 4, 5)
        attrs = {"keepdims": keepdims, "dtype": "float32"}
        if axis is not None:
            attrs["axis"] = (axis,)
        g, p, f = single_op(op, attrs, {"x": x})
        if axis is None:
            want = (np.argmax if op == "argmax" else np.argmin)(x.reshape(-1)).reshape(1).astype(np.float32)
        else:
            want = mxr(getattr(nd, op), x, axis=axis, keepdims=keepdims)
        return g, p, f, [want]
    return build


for _op in ("argmax", "argmin"):
    case(f"{_op}")(_arg_case(_op, 1, False))
    case(f"{_op}_keepdims")(_arg_case(_op, -1, True))
    case(f"{_op}_all")(_arg_case(_op, None, False))


def _norm_case(ord_):
    def build():
        x = rnd(2, 3, 4)
        g, p, f = single_op("norm", {"ord": ord_, "axis": (1, 2)}, {"x": x})
        return g, p, f, [mxr(nd.norm, x, ord=ord_, axis=(1, 2))]
    return build


case("norm_l1")(_norm_case(1))
case("norm_l2")(_norm_case(2))


# ---- the parametrized test ------------------------------------------------------------------------
def _params():
    for name, (fn, min_opset, tol) in CASES.items():
        for opset in OPSETS:
            if opset >= min_opset:
                yield pytest.param(name, opset, id=f"{name}-opset{opset}")


@pytest.mark.parametrize("name, opset", list(_params()))
def test_op_matches_mxnet(name, opset):
    fn, _, tol = CASES[name]
    graph, params, feeds, want = fn()
    model = to_onnx(graph, params, opset=opset)  # runs onnx.checker full_check itself
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    got = run_ort(model, feeds)
    assert len(got) == len(want)
    for g_, w_ in zip(got, want):
        w_ = np.asarray(w_)
        if w_.dtype == np.float64 and g_.dtype == np.float32:  # numpy references computed in float64
            w_ = w_.astype(np.float32)
        assert g_.dtype == w_.dtype, f"dtype {g_.dtype} != {w_.dtype}"
        assert_close(g_, w_, tol)
