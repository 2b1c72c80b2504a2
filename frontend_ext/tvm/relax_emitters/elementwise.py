"""Elementwise, scalar, logical and creation ops -> Relax."""
from __future__ import annotations

import math

import numpy as np


from .base import _op, emitter


# ---------------------------------------------------------------------------------------------
# elementwise
_UNARY = {
    "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "round": "round", "abs": "abs", "negative": "negative", "sin": "sin",
    "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
    "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "erf": "erf", "rsqrt": "rsqrt", "sign": "sign",
    "square": "square", "isnan": "isnan", "isinf": "isinf",
}


@emitter(*_UNARY)
def _unary(cx, a, x):
    return getattr(_op(), _UNARY[cx.node.op])(x[0])


@emitter("copy", "block_grad")
def _identity(cx, a, x):
    return x[0]


@emitter("relu")
def _relu(cx, a, x):
    return _op().nn.relu(x[0])


@emitter("reciprocal")
def _reciprocal(cx, a, x):
    return _op().divide(cx.scalar(1, cx.in_dtypes[0]), x[0])


@emitter("softplus")
def _softplus(cx, a, x):
    return _op().nn.softplus(x[0])


@emitter("softsign")
def _softsign(cx, a, x):
    op = _op()
    return op.divide(x[0], op.add(cx.scalar(1, cx.in_dtypes[0]), op.abs(x[0])))


@emitter("log_sigmoid")
def _log_sigmoid(cx, a, x):
    op = _op()
    return op.negative(op.nn.softplus(op.negative(x[0])))  # stable for large |x|


@emitter("mish")
def _mish(cx, a, x):
    op = _op()
    return op.multiply(x[0], op.tanh(op.nn.softplus(x[0])))


@emitter("silu")
def _silu(cx, a, x):
    return _op().nn.silu(x[0])


@emitter("hard_swish")
def _hard_swish(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    gate = op.clip(op.add(op.divide(x[0], cx.scalar(6, d)), cx.scalar(0.5, d)), 0.0, 1.0)
    return op.multiply(x[0], gate)


@emitter("log2", "log10")
def _log_base(cx, a, x):
    op = _op()
    base = 2.0 if cx.node.op == "log2" else 10.0
    return op.divide(op.log(x[0]), cx.scalar(math.log(base), cx.in_dtypes[0]))


@emitter("log1p")
def _log1p(cx, a, x):
    op = _op()
    return op.log(op.add(x[0], cx.scalar(1, cx.in_dtypes[0])))


@emitter("expm1")
def _expm1(cx, a, x):
    op = _op()
    return op.subtract(op.exp(x[0]), cx.scalar(1, cx.in_dtypes[0]))


@emitter("cbrt")
def _cbrt(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.multiply(op.sign(x[0]), op.power(op.abs(x[0]), cx.scalar(1.0 / 3.0, d)))


@emitter("logical_not")
def _logical_not(cx, a, x):
    op = _op()
    if cx.in_dtypes[0] == "bool":
        return op.logical_not(x[0])
    return op.equal(x[0], cx.scalar(0, cx.in_dtypes[0]))


@emitter("gelu")
def _gelu(cx, a, x):
    op = _op()
    return op.nn.gelu_tanh(x[0]) if a.approximation == "tanh" else op.nn.gelu(x[0])


def _elu_core(cx, x, alpha):
    op = _op()
    d = cx.in_dtypes[0]
    neg = op.multiply(cx.scalar(alpha, d), op.subtract(op.exp(op.minimum(x, cx.scalar(0, d))), cx.scalar(1, d)))
    return op.where(op.greater(x, cx.scalar(0, d)), x, neg)


@emitter("elu")
def _elu(cx, a, x):
    return _elu_core(cx, x[0], a.alpha)


@emitter("selu")
def _selu(cx, a, x):
    return _op().multiply(cx.scalar(a.gamma, cx.in_dtypes[0]), _elu_core(cx, x[0], a.alpha))


@emitter("hard_sigmoid")
def _hard_sigmoid(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.clip(op.add(op.multiply(x[0], cx.scalar(a.alpha, d)), cx.scalar(a.beta, d)), 0.0, 1.0)


@emitter("thresholded_relu")
def _thresholded_relu(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.where(op.greater(x[0], cx.scalar(a.alpha, d)), x[0], op.zeros_like(x[0]))


@emitter("leaky_relu")
def _leaky_relu(cx, a, x):
    return _op().nn.leakyrelu(x[0], a.alpha)


@emitter("prelu")
def _prelu(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    slope = x[1]
    if tuple(cx.in_shapes[1]) != (cx.in_shapes[0][axis],):
        # broadcastable slope (ONNX PRelu): max(x,0) + slope*min(x,0)
        d = cx.in_dtypes[0]
        zero = cx.scalar(0, d)
        return op.add(op.maximum(x[0], zero), op.multiply(slope, op.minimum(x[0], zero)))
    return op.nn.prelu(x[0], slope, axis)


@emitter("clip")
def _clip(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    if np.issubdtype(np.dtype(d), np.floating):
        return op.clip(x[0], float(a.a_min), float(a.a_max))
    return op.minimum(op.maximum(x[0], cx.scalar(a.a_min, d)), cx.scalar(a.a_max, d))


_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "mod": "floor_mod", "pow": "power", "max": "maximum",
    "min": "minimum", "left_shift": "left_shift", "right_shift": "right_shift", "greater": "greater",
    "less": "less", "equal": "equal", "not_equal": "not_equal", "greater_equal": "greater_equal",
    "less_equal": "less_equal",
}


def _div(cx, lhs, rhs):
    op = _op()
    if np.issubdtype(np.dtype(cx.in_dtypes[0]), np.integer):
        return op.floor_divide(lhs, rhs)  # numpy semantics, as the op table's compute rule
    return op.divide(lhs, rhs)


@emitter(*[f"elemwise_{k}" for k in ("add", "sub", "mul", "div", "mod", "pow")],
         *[f"broadcast_{k}" for k in list(_BINARY) + ["div"] if k not in ("add_",)], "greater", "less")
def _binary(cx, a, x):
    kind = cx.node.op.split("_", 1)[1] if "_" in cx.node.op else cx.node.op
    if kind == "div":
        return _div(cx, x[0], x[1])
    if kind == "pow" and not _is_float(cx.in_dtypes[0]):
        return _int_power(x[0], x[1])
    return getattr(_op(), _BINARY[kind])(x[0], x[1])


def _is_float(dtype):
    return dtype in ("float16", "float32", "float64", "bfloat16")


def _int_power(lhs, rhs):
    # TOPI's power is float-only: compute in float64 (exact for the integer range that fits) and cast back
    op = _op()
    return op.power(op.astype(lhs, "float64"), op.astype(rhs, "float64"))


def _truth(cx, x, dtype):
    op = _op()
    if dtype == "bool":
        return x
    return op.not_equal(x, cx.scalar(0, dtype))


@emitter("logical_and", "logical_or", "logical_xor", "broadcast_logical_and", "broadcast_logical_or",
         "broadcast_logical_xor")
def _logical(cx, a, x):
    op = _op()
    fn = {"and": op.logical_and, "or": op.logical_or, "xor": op.logical_xor}[cx.node.op.rsplit("_", 1)[1]]
    return fn(_truth(cx, x[0], cx.in_dtypes[0]), _truth(cx, x[1], cx.in_dtypes[1]))


@emitter("elemwise_sum")
def _elemwise_sum(cx, a, x):
    out = x[0]
    for y in x[1:]:
        out = cx.emit(_op().add(out, y))
    return out


_SCALAR = {
    "__add_scalar__": ("add", False), "__sub_scalar__": ("subtract", False), "__rsub_scalar__": ("subtract", True),
    "__mul_scalar__": ("multiply", False), "__div_scalar__": ("div", False), "__rdiv_scalar__": ("div", True),
    "__pow_scalar__": ("power", False), "__rpow_scalar__": ("power", True),
    "__lshift_scalar__": ("left_shift", False), "__rshift_scalar__": ("right_shift", False),
    "__max_scalar__": ("maximum", False), "__min_scalar__": ("minimum", False),
    "__equal_scalar__": ("equal", False), "__not_equal_scalar__": ("not_equal", False),
    "__greater_scalar__": ("greater", False), "__greater_equal_scalar__": ("greater_equal", False),
    "__less_scalar__": ("less", False), "__less_equal_scalar__": ("less_equal", False),
}


@emitter(*_SCALAR)
def _scalar_op(cx, a, x):
    name, reverse = _SCALAR[cx.node.op]
    d = cx.in_dtypes[0]
    s = cx.scalar(a.scalar, d)
    lhs, rhs = (s, x[0]) if reverse else (x[0], s)
    if name == "power" and not _is_float(d):
        return _int_power(lhs, rhs)
    if name == "div":
        if np.issubdtype(np.dtype(d), np.integer):
            # op table: x / s in numpy gives float, then cast back to the input dtype (truncation)
            fl = "float64"
            q = _op().divide(_op().astype(lhs, fl), _op().astype(rhs, fl))
            return q
        return _op().divide(lhs, rhs)
    return getattr(_op(), name)(lhs, rhs)


# ---------------------------------------------------------------------------------------------
# creation
@emitter("full", "zeros", "ones")
def _full(cx, a, x):
    value = {"zeros": 0, "ones": 1}.get(cx.node.op, a.get("fill_value"))
    return cx.const(np.full(cx.out_shapes[0], value, dtype=cx.out_dtypes[0]))


@emitter("full_like", "zeros_like", "ones_like")
def _full_like(cx, a, x):
    value = {"zeros_like": 0, "ones_like": 1}.get(cx.node.op, a.get("fill_value"))
    return cx.const(np.full(cx.in_shapes[0], value, dtype=cx.in_dtypes[0]))


@emitter("arange")
def _arange(cx, a, x):
    return cx.const(np.arange(a.start, a.stop, a.step).astype(a.dtype))


@emitter("shape_of")
def _shape_of(cx, a, x):
    return cx.const(np.array(cx.in_shapes[0], dtype=a.dtype))
