"""Elementwise, broadcast, scalar and initialisation ops (NNVM elemwise.cc / broadcast.cc)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import DTYPES, broadcast_shape, known, same_shape
from .numpy_ref import unary
from .registry import Attr, register


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
    register(_name, infer_shape=same_shape, compute=unary(_fn), level=_lvl)


def _cast_like(fn):
    def compute(a, xs):
        return [np.asarray(fn(xs[0], xs[1])).astype(xs[0].dtype, copy=False)]
    return compute


def _divide(x, y):
    return np.floor_divide(x, y) if np.issubdtype(x.dtype, np.integer) else np.divide(x, y)


_ELEMWISE = {
    # name: (numpy fn, level)
    "elemwise_add": (np.add, 1), "elemwise_sub": (np.subtract, 1), "elemwise_mul": (np.multiply, 1),
    "elemwise_div": (_divide, 1), "elemwise_mod": (np.mod, 4), "elemwise_pow": (np.power, 4),
}
for _name, (_fn, _lvl) in _ELEMWISE.items():
    register(_name, inputs=("lhs", "rhs"), infer_shape=_same_binary_shape, compute=_cast_like(_fn), level=_lvl)
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
    # name: (numpy fn, the MXNet symbol alias)
    "broadcast_add": (np.add, "__add_symbol__"), "broadcast_sub": (np.subtract, "__sub_symbol__"),
    "broadcast_mul": (np.multiply, "__mul_symbol__"), "broadcast_div": (_divide, "__div_symbol__"),
    "broadcast_mod": (np.mod, "__mod_symbol__"), "broadcast_max": (np.maximum, "__max_symbol__"),
    "broadcast_min": (np.minimum, "__min_symbol__"), "broadcast_pow": (np.power, "__pow_symbol__"),
    "broadcast_left_shift": (np.left_shift, "__left_shift_symbol__"),
    "broadcast_right_shift": (np.right_shift, "__right_shift_symbol__"),
    "broadcast_greater": (np.greater, "__greater_symbol__"), "broadcast_less": (np.less, "__less_symbol__"),
    "broadcast_equal": (np.equal, "__equal_symbol__"), "broadcast_not_equal": (np.not_equal, "__not_equal_symbol__"),
    "broadcast_greater_equal": (np.greater_equal, "__greater_equal_symbol__"),
    "broadcast_less_equal": (np.less_equal, "__less_equal_symbol__"),
}
for _name, (_fn, _alias) in _BROADCAST.items():
    register(_name, inputs=("lhs", "rhs"), infer_shape=broadcast_shape, compute=_cast_like(_fn), aliases=(_alias,),
             level=4, doc="comparisons return the input dtype (0/1), as in NNVM")

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


register("full", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=DTYPES),
                                   "fill_value": Attr("float")},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.full(a.shape, a.fill_value, dtype=a.dtype)], level=4)
register("zeros", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.zeros(a.shape, dtype=a.dtype)], level=4)
register("ones", inputs=(), attrs={"shape": Attr("shape", ()), "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=_init_shape, infer_type=_init_type,
         compute=lambda a, xs: [np.ones(a.shape, dtype=a.dtype)], level=4)
register("full_like", attrs={"fill_value": Attr("float")}, infer_shape=same_shape,
         compute=lambda a, xs: [np.full_like(xs[0], a.fill_value)], level=4)
register("zeros_like", infer_shape=same_shape, compute=lambda a, xs: [np.zeros_like(xs[0])], level=4)
register("ones_like", infer_shape=same_shape, compute=lambda a, xs: [np.ones_like(xs[0])], level=4)
register("__undef__", inputs=(), internal=True)
register("_assign", inputs=("lhs", "rhs"), mutate_inputs=(0,), infer_shape=same_shape, internal=True)
