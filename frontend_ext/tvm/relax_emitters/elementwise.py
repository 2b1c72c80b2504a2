"""Elementwise, scalar, logical and creation ops -> Relax."""
from __future__ import annotations

import math

import numpy as np

from nnvm_bridge.ir.symbolic import is_static

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op


# ---------------------------------------------------------------------------------------------
# elementwise
_UNARY = {
    "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "round": "round", "abs": "abs", "negative": "negative", "sin": "sin",
    "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
    "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "erf": "erf", "rsqrt": "rsqrt", "sign": "sign",
    "square": "square", "isnan": "isnan", "isinf": "isinf",
}


@RELAX_EXPORT.register(*_UNARY)
def _unary(ctx, node, attrs, inputs):
    return getattr(relax_op(), _UNARY[node.op])(inputs[0])


@RELAX_EXPORT.register("copy", "block_grad")
def _identity(ctx, node, attrs, inputs):
    return inputs[0]


@RELAX_EXPORT.register("relu")
def _relu(ctx, node, attrs, inputs):
    return relax_op().nn.relu(inputs[0])


@RELAX_EXPORT.register("reciprocal")
def _reciprocal(ctx, node, attrs, inputs):
    return relax_op().divide(ctx.scalar(1, ctx.in_dtypes[0]), inputs[0])


@RELAX_EXPORT.register("softplus")
def _softplus(ctx, node, attrs, inputs):
    return relax_op().nn.softplus(inputs[0])


@RELAX_EXPORT.register("softsign")
def _softsign(ctx, node, attrs, inputs):
    op = relax_op()
    return op.divide(inputs[0], op.add(ctx.scalar(1, ctx.in_dtypes[0]), op.abs(inputs[0])))


@RELAX_EXPORT.register("log_sigmoid")
def _log_sigmoid(ctx, node, attrs, inputs):
    op = relax_op()
    return op.negative(op.nn.softplus(op.negative(inputs[0])))  # stable for large |x|


@RELAX_EXPORT.register("mish")
def _mish(ctx, node, attrs, inputs):
    op = relax_op()
    return op.multiply(inputs[0], op.tanh(op.nn.softplus(inputs[0])))


@RELAX_EXPORT.register("silu")
def _silu(ctx, node, attrs, inputs):
    return relax_op().nn.silu(inputs[0])


@RELAX_EXPORT.register("hard_swish")
def _hard_swish(ctx, node, attrs, inputs):
    op = relax_op()
    d = ctx.in_dtypes[0]
    gate = op.clip(op.add(op.divide(inputs[0], ctx.scalar(6, d)), ctx.scalar(0.5, d)), 0.0, 1.0)
    return op.multiply(inputs[0], gate)


@RELAX_EXPORT.register("log2", "log10")
def _log_base(ctx, node, attrs, inputs):
    op = relax_op()
    base = 2.0 if node.op == "log2" else 10.0
    return op.divide(op.log(inputs[0]), ctx.scalar(math.log(base), ctx.in_dtypes[0]))


@RELAX_EXPORT.register("log1p")
def _log1p(ctx, node, attrs, inputs):
    op = relax_op()
    return op.log(op.add(inputs[0], ctx.scalar(1, ctx.in_dtypes[0])))


@RELAX_EXPORT.register("expm1")
def _expm1(ctx, node, attrs, inputs):
    op = relax_op()
    return op.subtract(op.exp(inputs[0]), ctx.scalar(1, ctx.in_dtypes[0]))


@RELAX_EXPORT.register("cbrt")
def _cbrt(ctx, node, attrs, inputs):
    op = relax_op()
    d = ctx.in_dtypes[0]
    return op.multiply(op.sign(inputs[0]), op.power(op.abs(inputs[0]), ctx.scalar(1.0 / 3.0, d)))


@RELAX_EXPORT.register("bitwise_not")
def _bitwise_not(ctx, node, attrs, inputs):
    return relax_op().bitwise_not(inputs[0])


@RELAX_EXPORT.register("logical_not")
def _logical_not(ctx, node, attrs, inputs):
    op = relax_op()
    if ctx.in_dtypes[0] == "bool":
        return op.logical_not(inputs[0])
    return op.equal(inputs[0], ctx.scalar(0, ctx.in_dtypes[0]))


@RELAX_EXPORT.register("gelu")
def _gelu(ctx, node, attrs, inputs):
    op = relax_op()
    return op.nn.gelu_tanh(inputs[0]) if attrs.approximation == "tanh" else op.nn.gelu(inputs[0])


def _elu_core(ctx, x, alpha):
    op = relax_op()
    d = ctx.in_dtypes[0]
    neg = op.multiply(ctx.scalar(alpha, d), op.subtract(op.exp(op.minimum(x, ctx.scalar(0, d))), ctx.scalar(1, d)))
    return op.where(op.greater(x, ctx.scalar(0, d)), x, neg)


@RELAX_EXPORT.register("elu")
def _elu(ctx, node, attrs, inputs):
    return _elu_core(ctx, inputs[0], attrs.alpha)


@RELAX_EXPORT.register("selu")
def _selu(ctx, node, attrs, inputs):
    return relax_op().multiply(ctx.scalar(attrs.gamma, ctx.in_dtypes[0]), _elu_core(ctx, inputs[0], attrs.alpha))


@RELAX_EXPORT.register("hard_sigmoid")
def _hard_sigmoid(ctx, node, attrs, inputs):
    op = relax_op()
    d = ctx.in_dtypes[0]
    scaled = op.multiply(inputs[0], ctx.scalar(attrs.alpha, d))
    return op.clip(op.add(scaled, ctx.scalar(attrs.beta, d)), 0.0, 1.0)


@RELAX_EXPORT.register("thresholded_relu")
def _thresholded_relu(ctx, node, attrs, inputs):
    op = relax_op()
    d = ctx.in_dtypes[0]
    return op.where(op.greater(inputs[0], ctx.scalar(attrs.alpha, d)), inputs[0], op.zeros_like(inputs[0]))


@RELAX_EXPORT.register("leaky_relu")
def _leaky_relu(ctx, node, attrs, inputs):
    return relax_op().nn.leakyrelu(inputs[0], attrs.alpha)


@RELAX_EXPORT.register("prelu")
def _prelu(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axis = attrs.axis % ndim
    slope = inputs[1]
    if tuple(ctx.in_shapes[1]) != (ctx.in_shapes[0][axis],):
        # broadcastable slope (ONNX PRelu): max(x,0) + slope*min(x,0)
        d = ctx.in_dtypes[0]
        zero = ctx.scalar(0, d)
        return op.add(op.maximum(inputs[0], zero), op.multiply(slope, op.minimum(inputs[0], zero)))
    return op.nn.prelu(inputs[0], slope, axis)


@RELAX_EXPORT.register("clip")
def _clip(ctx, node, attrs, inputs):
    op = relax_op()
    d = ctx.in_dtypes[0]
    if np.issubdtype(np.dtype(d), np.floating):
        return op.clip(inputs[0], float(attrs.a_min), float(attrs.a_max))
    return op.minimum(op.maximum(inputs[0], ctx.scalar(attrs.a_min, d)), ctx.scalar(attrs.a_max, d))


_BINARY = {  # NNVM op -> Relax op; "divide" and "power" follow the op table's integer rules (below)
    "elemwise_add": "add", "broadcast_add": "add", "elemwise_sub": "subtract", "broadcast_sub": "subtract",
    "elemwise_mul": "multiply", "broadcast_mul": "multiply", "elemwise_div": "divide", "broadcast_div": "divide",
    "elemwise_mod": "floor_mod", "broadcast_mod": "floor_mod", "elemwise_pow": "power", "broadcast_pow": "power",
    "broadcast_max": "maximum", "broadcast_min": "minimum",
    "broadcast_left_shift": "left_shift", "broadcast_right_shift": "right_shift",
    "broadcast_bitwise_and": "bitwise_and", "broadcast_bitwise_or": "bitwise_or",
    "broadcast_bitwise_xor": "bitwise_xor",
    "greater": "greater", "broadcast_greater": "greater", "less": "less", "broadcast_less": "less",
    "broadcast_equal": "equal", "broadcast_not_equal": "not_equal",
    "broadcast_greater_equal": "greater_equal", "broadcast_less_equal": "less_equal",
}


def _div(ctx, lhs, rhs):
    op = relax_op()
    if np.issubdtype(np.dtype(ctx.in_dtypes[0]), np.integer):
        return op.floor_divide(lhs, rhs)  # numpy semantics, as the op table's compute rule
    return op.divide(lhs, rhs)


@RELAX_EXPORT.register(*_BINARY)
def _binary(ctx, node, attrs, inputs):
    name = _BINARY[node.op]
    inputs = ctx.broadcast_operands(inputs)
    if name == "divide":
        return _div(ctx, inputs[0], inputs[1])
    if name == "power" and not _is_float(ctx.in_dtypes[0]):
        return _int_power(inputs[0], inputs[1])
    return getattr(relax_op(), name)(inputs[0], inputs[1])


def _is_float(dtype):
    return dtype in ("float16", "float32", "float64", "bfloat16")


def _int_power(lhs, rhs):
    # TOPI's power is float-only: compute in float64 (exact for the integer range that fits) and cast back
    op = relax_op()
    return op.power(op.astype(lhs, "float64"), op.astype(rhs, "float64"))


def truth(ctx, x, dtype):
    op = relax_op()
    if dtype == "bool":
        return x
    return op.not_equal(x, ctx.scalar(0, dtype))


@RELAX_EXPORT.register("logical_and", "logical_or", "logical_xor", "broadcast_logical_and",
                       "broadcast_logical_or", "broadcast_logical_xor")
def _logical(ctx, node, attrs, inputs):
    op = relax_op()
    fn = {"and": op.logical_and, "or": op.logical_or, "xor": op.logical_xor}[node.op.rsplit("_", 1)[1]]
    inputs = ctx.broadcast_operands(inputs)
    return fn(truth(ctx, inputs[0], ctx.in_dtypes[0]), truth(ctx, inputs[1], ctx.in_dtypes[1]))


@RELAX_EXPORT.register("elemwise_sum")
def _elemwise_sum(ctx, node, attrs, inputs):
    out = inputs[0]
    for y in inputs[1:]:
        out = ctx.emit(relax_op().add(out, y))
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


@RELAX_EXPORT.register(*_SCALAR)
def _scalar_op(ctx, node, attrs, inputs):
    name, reverse = _SCALAR[node.op]
    d = ctx.in_dtypes[0]
    s = ctx.scalar(attrs.scalar, d)
    lhs, rhs = (s, inputs[0]) if reverse else (inputs[0], s)
    if name == "power" and not _is_float(d):
        return _int_power(lhs, rhs)
    if name == "div":
        if np.issubdtype(np.dtype(d), np.integer):
            # op table: x / s in numpy gives float, then cast back to the input dtype (truncation)
            fl = "float64"
            q = relax_op().divide(relax_op().astype(lhs, fl), relax_op().astype(rhs, fl))
            return q
        return relax_op().divide(lhs, rhs)
    return getattr(relax_op(), name)(lhs, rhs)


# ---------------------------------------------------------------------------------------------
# creation
@RELAX_EXPORT.register("full", "zeros", "ones")
def _full(ctx, node, attrs, inputs):
    value = {"zeros": 0, "ones": 1}.get(node.op, attrs.get("fill_value"))
    shape, dtype = ctx.out_shapes[0], ctx.out_dtypes[0]
    if not is_static(shape):
        return relax_op().full(ctx.shape(shape), ctx.scalar(value, dtype), dtype)
    return ctx.const(np.full(shape, value, dtype=dtype))


@RELAX_EXPORT.register("full_like", "zeros_like", "ones_like")
def _full_like(ctx, node, attrs, inputs):
    value = {"zeros_like": 0, "ones_like": 1}.get(node.op, attrs.get("fill_value"))
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if not is_static(shape):
        return relax_op().full_like(inputs[0], ctx.scalar(value, dtype), dtype)
    return ctx.const(np.full(shape, value, dtype=dtype))


@RELAX_EXPORT.register("arange")
def _arange(ctx, node, attrs, inputs):
    return ctx.const(np.arange(attrs.start, attrs.stop, attrs.step).astype(attrs.dtype))


@RELAX_EXPORT.register("shape_of")
def _shape_of(ctx, node, attrs, inputs):
    shape = ctx.in_shapes[0]
    if not is_static(shape):  # the sizes the function was called with
        op = relax_op()
        return op.astype(op.shape_to_tensor(compat.relax().ShapeExpr(ctx.shape(shape))), attrs.dtype)
    return ctx.const(np.array(shape, dtype=attrs.dtype))
