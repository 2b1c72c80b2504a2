"""Extension ops (level 6): not in NNVM v0.6, needed by today's MXNet and ONNX models.

They use NNVM-style names and string attributes and are flagged ``ext=True`` so a strict
NNVM JSON export can refuse them.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..ir.symbolic import fits, is_symbolic
from . import numpy_ref as ref
from .common import DTYPES, broadcast_shape, known, norm_axis, pad_shape, prod, reduce_shape, same_shape
from .registry import Attr, AttrDict, register

_UNARY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "erf": ref.erf, "rsqrt": lambda x: 1 / np.sqrt(x), "sign": np.sign, "reciprocal": lambda x: 1 / x,
    "square": np.square, "softplus": lambda x: np.logaddexp(0, x), "softsign": lambda x: x / (1 + np.abs(x)),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x), "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "silu": lambda x: x / (1 + np.exp(-x)), "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "expm1": np.expm1, "cbrt": np.cbrt,
    "isnan": np.isnan, "isinf": np.isinf,
}
for _name, _fn in _UNARY.items():
    register(_name, infer_shape=same_shape, compute=ref.unary(_fn), level=6, ext=True)

register("gelu", attrs={"approximation": Attr("str", "none", choices=("none", "tanh"))}, infer_shape=same_shape,
         compute=ref.gelu, level=6, ext=True)
register("elu", attrs={"alpha": Attr("float", 1.0)}, infer_shape=same_shape, compute=ref.elu, level=6, ext=True)
register("selu", attrs={"alpha": Attr("float", 1.6732632423543772), "gamma": Attr("float", 1.0507009873554805)},
         infer_shape=same_shape, compute=ref.selu, level=6, ext=True)
register("hard_sigmoid", attrs={"alpha": Attr("float", 0.2), "beta": Attr("float", 0.5)}, infer_shape=same_shape,
         compute=ref.hard_sigmoid, level=6, ext=True)
register("thresholded_relu", attrs={"alpha": Attr("float", 1.0)}, infer_shape=same_shape,
         compute=ref.thresholded_relu, level=6, ext=True)
register("__max_scalar__", attrs={"scalar": Attr("float")}, infer_shape=same_shape, level=6, ext=True,
         compute=lambda a, xs: [np.maximum(xs[0], a.scalar).astype(xs[0].dtype)])
register("__min_scalar__", attrs={"scalar": Attr("float")}, infer_shape=same_shape, level=6, ext=True,
         compute=lambda a, xs: [np.minimum(xs[0], a.scalar).astype(xs[0].dtype)])
_CMP = {"__equal_scalar__": np.equal, "__not_equal_scalar__": np.not_equal, "__greater_scalar__": np.greater,
        "__greater_equal_scalar__": np.greater_equal, "__less_scalar__": np.less,
        "__less_equal_scalar__": np.less_equal}
for _name, _fn in _CMP.items():
    register(_name, attrs={"scalar": Attr("float")}, infer_shape=same_shape, level=6, ext=True,
             compute=(lambda f: lambda a, xs: [f(xs[0], a.scalar).astype(xs[0].dtype)])(_fn),
             doc="returns the input dtype (0/1), like NNVM comparisons")
register("logical_xor", inputs=("lhs", "rhs"), infer_shape=lambda a, s: [s[0]], compute=ref.logical_xor, level=6,
         ext=True)
register("broadcast_logical_and", inputs=("lhs", "rhs"), infer_shape=broadcast_shape, compute=ref.logical_and,
         level=6, ext=True)
register("broadcast_logical_or", inputs=("lhs", "rhs"), infer_shape=broadcast_shape, compute=ref.logical_or,
         level=6, ext=True)
register("broadcast_logical_xor", inputs=("lhs", "rhs"), infer_shape=broadcast_shape, compute=ref.logical_xor,
         level=6, ext=True)
_BITWISE = {"broadcast_bitwise_and": np.bitwise_and, "broadcast_bitwise_or": np.bitwise_or,
            "broadcast_bitwise_xor": np.bitwise_xor}
for _name, _fn in _BITWISE.items():
    register(_name, inputs=("lhs", "rhs"), infer_shape=broadcast_shape, level=6, ext=True,
             compute=(lambda f: lambda a, xs: [f(xs[0], xs[1].astype(xs[0].dtype))])(_fn), doc="integer inputs")
register("bitwise_not", infer_shape=same_shape, compute=lambda a, xs: [np.invert(xs[0])], level=6, ext=True,
         doc="integer input")


# ---- normalisation ---------------------------------------------------------------------------
def _norm_shape(a, shapes):
    return [shapes[0]]


def _layer_norm_shape(a, shapes):
    data, gamma = shapes[0], shapes[1] if len(shapes) > 1 else None
    if data is not None and gamma is not None and len(gamma) == 1 and data:
        length = data[norm_axis(a.axis, len(data), "layer_norm")]
        if not fits(length, gamma[0]):
            raise ShapeError(f"gamma {tuple(gamma)} does not fit axis {a.axis} of data {tuple(data)}")
    return [data]


register("layer_norm", inputs=("data", "gamma", "beta"),
         attrs={"axis": Attr("int", -1), "epsilon": Attr("float", 1e-5), "center": Attr("bool", True),
                "scale": Attr("bool", True)}, infer_shape=_layer_norm_shape, compute=ref.layer_norm, level=6, ext=True,
         doc="normalises over the single axis `axis`; gamma/beta have that axis' length")
register("instance_norm", inputs=("data", "gamma", "beta"),
         attrs={"epsilon": Attr("float", 1e-5), "axis": Attr("int", 1)}, infer_shape=_norm_shape,
         compute=ref.instance_norm, level=6, ext=True)
register("group_norm", inputs=("data", "gamma", "beta"),
         attrs={"num_groups": Attr("int"), "epsilon": Attr("float", 1e-5)}, infer_shape=_norm_shape,
         compute=ref.group_norm, level=6, ext=True)


# ---- linear algebra --------------------------------------------------------------------------
def _batch_matmul_shape(a, shapes):
    if not known(shapes):
        return [None]
    x, y = shapes
    if len(x) < 2 or len(y) < 2 or len(x) != len(y):
        raise ShapeError(f"batch_matmul needs operands of equal rank >= 2, got {x} and {y}")
    m, k = (x[-1], x[-2]) if a.transpose_a else (x[-2], x[-1])
    k2, n = (y[-1], y[-2]) if a.transpose_b else (y[-2], y[-1])
    # two different symbolic lengths may be equal at run time (a mask's max(total, past + seq) against the
    # keys' past + seq): the run checks them; only different numbers cannot fit
    if (k != k2 and not (is_symbolic(k) or is_symbolic(k2))) or any(
            p != q and not (is_symbolic(p) or is_symbolic(q)) for p, q in zip(x[:-2], y[:-2])):
        raise ShapeError(f"batch_matmul shapes do not fit: {x} x {y}")
    return [tuple(x[:-2]) + (m, n)]


def _batch_matmul_compute(a, xs):
    x, y = xs
    x = np.swapaxes(x, -1, -2) if a.transpose_a else x
    y = np.swapaxes(y, -1, -2) if a.transpose_b else y
    return [np.matmul(x, y)]


register("batch_matmul", inputs=("lhs", "rhs"), attrs={"transpose_a": Attr("bool", False),
                                                      "transpose_b": Attr("bool", False)},
         infer_shape=_batch_matmul_shape, compute=_batch_matmul_compute, level=6, ext=True,
         doc="MXNet batch_dot: equal leading dims, matrix product over the last two")


# ---- shape manipulation ----------------------------------------------------------------------
def _tile_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = tuple(shapes[0])
    reps = tuple(a.reps)
    n = max(len(d), len(reps))
    d = (1,) * (n - len(d)) + d
    reps = (1,) * (n - len(reps)) + reps
    return [tuple(x * r for x, r in zip(d, reps))]


def _repeat_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = list(shapes[0])
    if a.axis is None:
        return [(prod(d) * a.repeats,)]
    ax = norm_axis(a.axis, len(d))
    d[ax] *= a.repeats
    return [tuple(d)]


def _stack_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = list(shapes[0])
    for s in shapes:
        if tuple(s) != tuple(d):
            raise ShapeError(f"stack needs equal shapes, got {shapes}")
    ax = norm_axis(a.axis, len(d), extra=1)
    return [tuple(d[:ax] + [len(shapes)] + d[ax:])]


def _one_hot_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = list(shapes[0])
    ax = norm_axis(a.axis, len(d), extra=1)
    return [tuple(d[:ax] + [a.depth] + d[ax:])]


def _topk_outputs(a):
    return 2 if a.ret_type == "both" else 1


def _topk_shape(a, shapes):
    n = _topk_outputs(a)
    if not known(shapes):
        return [None] * n
    d = list(shapes[0])
    ax = norm_axis(a.axis, len(d))
    d[ax] = a.k if a.k > 0 else d[ax]
    return [tuple(d)] * n


def _topk_type(a, dtypes):
    if a.ret_type == "both":
        return [dtypes[0], a.dtype]
    if a.ret_type == "indices":
        return [a.dtype]
    return [dtypes[0]]


def _arange_shape(a, shapes):
    n = max(0, math.ceil((a.stop - a.start) / a.step))
    return [(n,)]


def _depth_space_shape(to_depth):
    def rule(a, shapes):
        if not known(shapes):
            return [None]
        n, c, h, w = shapes[0]
        b = a.block_size
        if to_depth:
            return [(n, c * b * b, h // b, w // b)]
        return [(n, c // (b * b), h * b, w * b)]
    return rule


def _adaptive_pool_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    size = tuple(a.output_size)
    if len(size) == 1:
        size = size * 2
    return [tuple(d[:2]) + size]


def _lp_norm_shape(a, shapes):
    return reduce_shape(AttrDict(a, exclude=False), shapes)


def _cumsum_shape(a, shapes):
    if shapes[0] is not None:
        norm_axis(a.axis, len(shapes[0]))
    return [shapes[0]]


def _cumsum(a, xs):
    x = xs[0]
    ax = norm_axis(a.axis, x.ndim)
    y = np.flip(x, ax) if a.reverse else x
    s = np.cumsum(y, axis=ax, dtype=x.dtype)
    if a.exclusive:
        s = s - y
    return [np.ascontiguousarray(np.flip(s, ax) if a.reverse else s)]


register("cumsum", attrs={"axis": Attr("int"), "exclusive": Attr("bool", False), "reverse": Attr("bool", False)},
         infer_shape=_cumsum_shape, level=6, ext=True, compute=_cumsum,
         doc="running sum along axis; exclusive leaves each element out of its own sum, reverse sums from the end")
register("tile", attrs={"reps": Attr("shape")}, infer_shape=_tile_shape, level=6, ext=True,
         compute=lambda a, xs: [np.tile(xs[0], a.reps)])
register("repeat", attrs={"repeats": Attr("int"), "axis": Attr("int", None, optional=True)},
         infer_shape=_repeat_shape, level=6, ext=True,
         compute=lambda a, xs: [np.repeat(xs[0], a.repeats, axis=a.axis)])
register("stack", inputs=(), variadic=True, attrs={"axis": Attr("int", 0), "num_args": Attr("int")},
         infer_shape=_stack_shape, level=6, ext=True, compute=lambda a, xs: [np.stack(xs, axis=a.axis)])
register("one_hot", inputs=("indices",), attrs={"depth": Attr("int"), "on_value": Attr("float", 1.0),
                                               "off_value": Attr("float", 0.0), "axis": Attr("int", -1),
                                               "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=_one_hot_shape, infer_type=lambda a, d: [a.dtype], compute=ref.one_hot, level=6, ext=True)
register("topk", attrs={"k": Attr("int", 1), "axis": Attr("int", -1),
                        "ret_type": Attr("str", "both", choices=("both", "values", "indices")),
                        "is_ascend": Attr("bool", False), "dtype": Attr("dtype", "int64", choices=DTYPES)},
         num_outputs=_topk_outputs, output_names=("values", "indices"), infer_shape=_topk_shape,
         infer_type=_topk_type, compute=ref.topk, level=6, ext=True)
register("arange", inputs=(), attrs={"start": Attr("float", 0.0), "stop": Attr("float"), "step": Attr("float", 1.0),
                                     "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=_arange_shape, infer_type=lambda a, d: [a.dtype], level=6, ext=True,
         compute=lambda a, xs: [np.arange(a.start, a.stop, a.step).astype(a.dtype)])
register("shape_of", attrs={"dtype": Attr("dtype", "int64", choices=DTYPES)},
         infer_shape=lambda a, s: [None if s[0] is None else (len(s[0]),)], infer_type=lambda a, d: [a.dtype],
         level=6, ext=True, compute=lambda a, xs: [np.array(xs[0].shape, dtype=a.dtype)])
register("depth_to_space", attrs={"block_size": Attr("int"), "mode": Attr("str", "DCR", choices=("DCR", "CRD"))},
         infer_shape=_depth_space_shape(False), compute=ref.depth_to_space, level=6, ext=True)
register("space_to_depth", attrs={"block_size": Attr("int")}, infer_shape=_depth_space_shape(True),
         compute=ref.space_to_depth, level=6, ext=True)
register("mirror_pad", attrs={"pad_width": Attr("tuple_tuple_int"),
                              "mode": Attr("str", "reflect", choices=("reflect", "edge"))},
         infer_shape=pad_shape, compute=ref.mirror_pad, level=6, ext=True)
register("adaptive_avg_pool2d", attrs={"output_size": Attr("shape")}, infer_shape=_adaptive_pool_shape,
         compute=ref.adaptive_avg_pool2d, level=6, ext=True)
register("norm", attrs={"ord": Attr("int", 2), "axis": Attr("shape", ()), "keepdims": Attr("bool", False)},
         infer_shape=_lp_norm_shape, compute=ref.norm, level=6, ext=True, doc="Lp norm (p = 1 or 2) over axes")
