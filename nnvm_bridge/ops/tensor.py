"""Elementwise, broadcast, scalar and initialisation ops (NNVM elemwise.cc / broadcast.cc)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import broadcast_shapes, known, same_shape
from .registry import Attr, register


def _np_unary(fn):
    return lambda a, xs: [np.asarray(fn(xs[0])).astype(xs[0].dtype, copy=False)]


def _bcast_shape(a, shapes):
    if not known(shapes):
        return [None]
    return [broadcast_shapes(shapes[0], shapes[1])]


def _same_binary_shape(a, shapes):
    if not known(shapes):
        return [None]
    if tuple(shapes[0]) != tuple(shapes[1]):
        raise ShapeError(f"operands must have the same shape, got {shapes[0]} and {shapes[1]}")
    return [shapes[0]]


def _nary_same_shape(a, shapes):
    if not known(shapes):
        return [None]
    for s in shapes[1:]:
        if tuple(s) != tuple(shapes[0]):
            raise ShapeError(f"operands must have the same shape, got {shapes[0]} and {s}")
    return [shapes[0]]


_UNARY = {
    # name: (numpy fn, level)
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), 1),
    "tanh": (np.tanh, 1),
    "exp": (np.exp, 1),
    "log": (np.log, 1),
    "sqrt": (np.sqrt, 1),
    "floor": (np.floor, 3),
    "ceil": (np.ceil, 3),
    "trunc": (np.trunc, 3),
    "round": (lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5), 3),  # half away from zero, as MXNet/TVM
    "abs": (np.abs, 3),
    "negative": (np.negative, 3),
    "copy": (np.copy, 3),
    "logical_not": (lambda x: (x == 0), 4),
    "block_grad": (np.copy, 4),
}
for _name, (_fn, _lvl) in _UNARY.items():
    register(_name, infer_shape=same_shape, compute=_np_unary(_fn), level=_lvl)


def _cast_like(fn):
    def compute(a, xs):
        return [np.asarray(fn(xs[0], xs[1])).astype(xs[0].dtype, copy=False)]
    return compute


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply,
    "div": lambda x, y: (np.floor_divide(x, y) if np.issubdtype(x.dtype, np.integer) else np.divide(x, y)),
    "mod": np.mod, "pow": np.power,
}
for _name, _fn in _BINARY.items():
    register(f"elemwise_{_name}", inputs=("lhs", "rhs"), infer_shape=_same_binary_shape,
             compute=_cast_like(_fn), level=1 if _name in ("add", "sub", "mul", "div") else 4)
register("logical_and", inputs=("lhs", "rhs"), infer_shape=_same_binary_shape,
         compute=_cast_like(lambda x, y: (x != 0) & (y != 0)), level=4)
register("logical_or", inputs=("lhs", "rhs"), infer_shape=_same_binary_shape,
         compute=_cast_like(lambda x, y: (x != 0) | (y != 0)), level=4)
register("greater", inputs=("lhs", "rhs"), infer_shape=_same_binary_shape, compute=_cast_like(np.greater),
         level=4)
register("less", inputs=("lhs", "rhs"), infer_shape=_same_binary_shape, compute=_cast_like(np.less), level=4)
register("elemwise_sum", inputs=(), variadic=True, attrs={"num_args": Attr("int")}, infer_shape=_nary_same_shape,
         compute=lambda a, xs: [sum(xs[1:], xs[0]).astype(xs[0].dtype)], level=4)

_BROADCAST = {
    "add": (np.add, "add"), "sub": (np.subtract, "sub"), "mul": (np.multiply, "mul"),
    "div": (_BINARY["div"], "div"), "mod": (np.mod, "mod"), "max": (np.maximum, "max"),
    "min": (np.minimum, "min"), "pow": (np.power, "pow"), "left_shift": (np.left_shift, "left_shift"),
    "right_shift": (np.right_shift, "right_shift"), "greater": (np.greater, "greater"),
    "less": (np.less, "less"), "equal": (np.equal, "equal"), "not_equal": (np.not_equal, "not_equal"),
    "greater_equal": (np.greater_equal, "greater_equal"), "less_equal": (np.less_equal, "less_equal"),
}
for _name, (_fn, _sym) in _BROADCAST.items():
    register(f"broadcast_{_name}", inputs=("lhs", "rhs"), infer_shape=_bcast_shape, compute=_cast_like(_fn),
             aliases=(f"__{_sym}_symbol__",), level=4,
             doc="comparisons return the input dtype (0/1), as in NNVM")

_SCALAR = {
    "__add_scalar__": lambda x, s: x + s,
    "__sub_scalar__": lambda x, s: x - s,
    "__rsub_scalar__": lambda x, s: s - x,
    "__mul_scalar__": lambda x, s: x * s,
    "__div_scalar__": lambda x, s: x / s,
    "__rdiv_scalar__": lambda x, s: s / x,
    "__pow_scalar__": lambda x, s: x ** s,
    "__rpow_scalar__": lambda x, s: s ** x,
    "__lshift_scalar__": lambda x, s: np.left_shift(x, int(s)),
    "__rshift_scalar__": lambda x, s: np.right_shift(x, int(s)),
}


def _scalar_compute(fn):
    def compute(a, xs):
        x = xs[0]
        s = a.scalar
        if np.issubdtype(x.dtype, np.integer) and float(s).is_integer():
            s = int(s)
        return [np.asarray(fn(x, s)).astype(x.dtype, copy=False)]
    return compute


for _name, _fn in _SCALAR.items():
    register(_name, attrs={"scalar": Attr("float")}, infer_shape=same_shape, compute=_scalar_compute(_fn), level=3)

register("_max_mask", attrs={"axis": Attr("shape", ()), "exclude": Attr("bool", False)}, infer_shape=same_shape,
         internal=True, level=4)
register("_min_mask", attrs={"axis": Attr("shape", ()), "exclude": Attr("bool", False)}, infer_shape=same_shape,
         internal=True, level=4)
register("clip", attrs={"a_min": Attr("float"), "a_max": Attr("float")}, infer_shape=same_shape,
         compute=lambda a, xs: [np.clip(xs[0], a.a_min, a.a_max).astype(xs[0].dtype)], level=4)


def _init_shape(a, shapes):
    return [tuple(a.shape)]


def _init_type(a, dtypes):
    return [a.dtype]


_DTYPES = ("float32", "float64", "float16", "uint8", "int32", "int8", "int64", "int16", "uint16", "uint32",
           "uint64", "bool", "bfloat16")
register("full", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=_DTYPES),
                                   "fill_value": Attr("float")},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.full(a.shape, a.fill_value, dtype=a.dtype)], level=4)
register("zeros", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=_DTYPES)},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.zeros(a.shape, dtype=a.dtype)], level=4)
register("ones", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=_DTYPES)},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.ones(a.shape, dtype=a.dtype)], level=4)
register("full_like", attrs={"fill_value": Attr("float")}, infer_shape=same_shape,
         compute=lambda a, xs: [np.full_like(xs[0], a.fill_value)], level=4)
register("zeros_like", infer_shape=same_shape, compute=lambda a, xs: [np.zeros_like(xs[0])], level=4)
register("ones_like", infer_shape=same_shape, compute=lambda a, xs: [np.ones_like(xs[0])], level=4)
register("__undef__", inputs=(), internal=True)
register("_assign", inputs=("lhs", "rhs"), mutate_inputs=(0,), infer_shape=same_shape, internal=True)
