"""Unary, binary, broadcast, scalar and comparison ops."""
from __future__ import annotations

import math

from nnvm_bridge.errors import DTypeError
from nnvm_bridge.ir import dtypes as _dt

from ..registry import ONNX_EXPORT

# ---- unary ops that map one-to-one -------------------------------------------------------------
_SIMPLE_UNARY = {
    "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
    "floor": "Floor", "ceil": "Ceil", "abs": "Abs", "negative": "Neg", "copy": "Identity",
    "block_grad": "Identity", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
    "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
    "erf": "Erf", "sign": "Sign", "reciprocal": "Reciprocal", "softplus": "Softplus", "softsign": "Softsign",
}


def _simple(op_type):
    def fn(ctx, node, attrs, inputs):
        return ctx.b.op(op_type, [inputs[0]])
    return fn


for _name, _op in _SIMPLE_UNARY.items():
    ONNX_EXPORT.add(_name, _simple(_op), since=11)


@ONNX_EXPORT.register("dropout", since=11)
def _dropout(ctx, node, attrs, inputs):
    return ctx.b.op("Identity", [inputs[0]])


@ONNX_EXPORT.register("round", since=11)
def _round(ctx, node, attrs, inputs):
    # NNVM/MXNet round half away from zero; ONNX Round rounds half to even.
    b, x, dt = ctx.b, inputs[0], ctx.dtype()
    mag = b.op("Floor", [b.op("Add", [b.op("Abs", [x]), b.scalar(0.5, dt)])])
    return b.op("Mul", [b.op("Sign", [x]), mag])


@ONNX_EXPORT.register("trunc", since=11)
def _trunc(ctx, node, attrs, inputs):
    b, x = ctx.b, inputs[0]
    neg = b.op("Less", [x, b.scalar(0, ctx.dtype())])
    return b.op("Where", [neg, b.op("Ceil", [x]), b.op("Floor", [x])])


@ONNX_EXPORT.register("rsqrt", since=11)
def _rsqrt(ctx, node, attrs, inputs):
    return ctx.b.op("Reciprocal", [ctx.b.op("Sqrt", [inputs[0]])])


@ONNX_EXPORT.register("square", since=11)
def _square(ctx, node, attrs, inputs):
    return ctx.b.op("Mul", [inputs[0], inputs[0]])


@ONNX_EXPORT.register("log2", "log10", since=11)
def _log_base(ctx, node, attrs, inputs):
    base = 2.0 if node.op == "log2" else 10.0
    return ctx.b.op("Div", [ctx.b.op("Log", [inputs[0]]), ctx.b.scalar(math.log(base), ctx.dtype())])


@ONNX_EXPORT.register("log1p", since=11)
def _log1p(ctx, node, attrs, inputs):
    return ctx.b.op("Log", [ctx.b.op("Add", [inputs[0], ctx.b.scalar(1, ctx.dtype())])])


@ONNX_EXPORT.register("expm1", since=11)
def _expm1(ctx, node, attrs, inputs):
    return ctx.b.op("Sub", [ctx.b.op("Exp", [inputs[0]]), ctx.b.scalar(1, ctx.dtype())])


@ONNX_EXPORT.register("cbrt", since=11)
def _cbrt(ctx, node, attrs, inputs):
    b, x, dt = ctx.b, inputs[0], ctx.dtype()
    mag = b.op("Pow", [b.op("Abs", [x]), b.scalar(1.0 / 3.0, dt)])
    return b.op("Mul", [b.op("Sign", [x]), mag])


@ONNX_EXPORT.register("isnan", "isinf", since=11)
def _isnan(ctx, node, attrs, inputs):
    flag = ctx.b.op("IsNaN" if node.op == "isnan" else "IsInf", [inputs[0]])
    return ctx.b.cast(flag, ctx.out_dtype())


@ONNX_EXPORT.register("logical_not", since=11)
def _logical_not(ctx, node, attrs, inputs):
    zero = ctx.b.op("Equal", [inputs[0], ctx.b.scalar(0, ctx.dtype())])
    return ctx.b.cast(zero, ctx.out_dtype())


# ---- activations with parameters ----------------------------------------------------------------
@ONNX_EXPORT.register("leaky_relu", since=11)
def _leaky_relu(ctx, node, attrs, inputs):
    return ctx.b.op("LeakyRelu", [inputs[0]], alpha=float(attrs.alpha))


@ONNX_EXPORT.register("elu", since=11)
def _elu(ctx, node, attrs, inputs):
    return ctx.b.op("Elu", [inputs[0]], alpha=float(attrs.alpha))


@ONNX_EXPORT.register("selu", since=11)
def _selu(ctx, node, attrs, inputs):
    return ctx.b.op("Selu", [inputs[0]], alpha=float(attrs.alpha), gamma=float(attrs.gamma))


@ONNX_EXPORT.register("hard_sigmoid", since=11)
def _hard_sigmoid(ctx, node, attrs, inputs):
    return ctx.b.op("HardSigmoid", [inputs[0]], alpha=float(attrs.alpha), beta=float(attrs.beta))


@ONNX_EXPORT.register("thresholded_relu", since=11)
def _thresholded_relu(ctx, node, attrs, inputs):
    return ctx.b.op("ThresholdedRelu", [inputs[0]], alpha=float(attrs.alpha))


@ONNX_EXPORT.register("silu", since=11)
def _silu(ctx, node, attrs, inputs):
    return ctx.b.op("Mul", [inputs[0], ctx.b.op("Sigmoid", [inputs[0]])])


@ONNX_EXPORT.register("log_sigmoid", since=11)
def _log_sigmoid(ctx, node, attrs, inputs):
    b = ctx.b
    return b.op("Neg", [b.op("Softplus", [b.op("Neg", [inputs[0]])])])


@ONNX_EXPORT.register("hard_swish", since=11)
def _hard_swish_decomposed(ctx, node, attrs, inputs):
    hs = ctx.b.op("HardSigmoid", [inputs[0]], alpha=1.0 / 6.0, beta=0.5)
    return ctx.b.op("Mul", [inputs[0], hs])


@ONNX_EXPORT.register("hard_swish", since=14)
def _hard_swish(ctx, node, attrs, inputs):
    return ctx.b.op("HardSwish", [inputs[0]])


@ONNX_EXPORT.register("mish", since=11)
def _mish_decomposed(ctx, node, attrs, inputs):
    b = ctx.b
    return b.op("Mul", [inputs[0], b.op("Tanh", [b.op("Softplus", [inputs[0]])])])


@ONNX_EXPORT.register("mish", since=18)
def _mish(ctx, node, attrs, inputs):
    return ctx.b.op("Mish", [inputs[0]])


@ONNX_EXPORT.register("gelu", since=11)
def _gelu_decomposed(ctx, node, attrs, inputs):
    b, x, dt = ctx.b, inputs[0], ctx.dtype()
    half = b.op("Mul", [x, b.scalar(0.5, dt)])
    if attrs.approximation == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar(0.044715, dt)])])
        t = b.op("Tanh", [b.op("Mul", [inner, b.scalar(math.sqrt(2.0 / math.pi), dt)])])
    else:
        t = b.op("Erf", [b.op("Div", [x, b.scalar(math.sqrt(2.0), dt)])])
    return b.op("Mul", [half, b.op("Add", [t, b.scalar(1.0, dt)])])


@ONNX_EXPORT.register("gelu", since=20)
def _gelu(ctx, node, attrs, inputs):
    return ctx.b.op("Gelu", [inputs[0]], approximate=attrs.approximation)


@ONNX_EXPORT.register("clip", since=11)
def _clip(ctx, node, attrs, inputs):
    return ctx.b.clip(inputs[0], attrs.a_min, attrs.a_max, ctx.dtype())


# ---- binary ops ---------------------------------------------------------------------------------
_BINARY = {
    "elemwise_add": "Add", "broadcast_add": "Add", "elemwise_sub": "Sub", "broadcast_sub": "Sub",
    "elemwise_mul": "Mul", "broadcast_mul": "Mul", "elemwise_div": "Div", "broadcast_div": "Div",
    "elemwise_pow": "Pow", "broadcast_pow": "Pow",
}


def _binary(op_type):
    def fn(ctx, node, attrs, inputs):
        return ctx.b.op(op_type, [inputs[0], inputs[1]])
    return fn


for _name, _op in _BINARY.items():
    ONNX_EXPORT.add(_name, _binary(_op), since=11)


def max_min(b, op_type, x, y, dtype):
    """Max/Min; before opset 12 they take floats only, so integers go through Where."""
    if b.opset >= 12 or _dt.is_float(dtype):
        return b.op(op_type, [x, y])
    pick_x = b.op("Greater" if op_type == "Max" else "Less", [x, y])
    return b.op("Where", [pick_x, x, y])


def _max_min(op_type):
    def fn(ctx, node, attrs, inputs):
        return max_min(ctx.b, op_type, inputs[0], inputs[1], ctx.dtype())
    return fn


ONNX_EXPORT.add("broadcast_max", _max_min("Max"), since=11)
ONNX_EXPORT.add("broadcast_min", _max_min("Min"), since=11)


def python_mod(b, x, y, dtype):
    """x mod y with the divisor's sign (numpy/MXNet), for floats and ints."""
    if not _dt.is_float(dtype):
        return b.op("Mod", [x, y], fmod=0)
    r = b.op("Mod", [x, y], fmod=1)
    zero = b.scalar(0, dtype)
    wrong_sign = b.op("And", [b.op("Not", [b.op("Equal", [r, zero])]),
                              b.op("Less", [b.op("Mul", [r, y]), zero])])
    return b.op("Where", [wrong_sign, b.op("Add", [r, y]), r])


@ONNX_EXPORT.register("elemwise_mod", "broadcast_mod", since=11)
def _mod(ctx, node, attrs, inputs):
    return python_mod(ctx.b, inputs[0], inputs[1], ctx.dtype())


@ONNX_EXPORT.register("elemwise_sum", since=11)
def _elemwise_sum(ctx, node, attrs, inputs):
    return ctx.b.op("Sum", list(inputs))


_COMPARE = {"greater": "Greater", "less": "Less", "equal": "Equal", "greater_equal": "GreaterOrEqual",
            "less_equal": "LessOrEqual", "not_equal": None}


def compare(b, kind, x, y, out_dtype):
    """ONNX comparison returning NNVM's convention: 0/1 in the input dtype."""
    if kind == "not_equal":
        flag = b.op("Not", [b.op("Equal", [x, y])])
    elif b.opset < 12 and kind in ("greater_equal", "less_equal"):  # the OrEqual ops came in 12
        flag = b.op("Not", [b.op("Less" if kind == "greater_equal" else "Greater", [x, y])])
    else:
        flag = b.op(_COMPARE[kind], [x, y])
    return b.cast(flag, out_dtype)


def _compare_handler(kind):
    def fn(ctx, node, attrs, inputs):
        return compare(ctx.b, kind, inputs[0], inputs[1], ctx.out_dtype())
    return fn


_BINARY_COMPARE = {
    "broadcast_greater": "greater", "broadcast_less": "less", "broadcast_equal": "equal",
    "broadcast_greater_equal": "greater_equal", "broadcast_less_equal": "less_equal",
    "broadcast_not_equal": "not_equal", "greater": "greater", "less": "less",
}
for _name, _kind in _BINARY_COMPARE.items():
    ONNX_EXPORT.add(_name, _compare_handler(_kind), since=11)


def _logical(op_type):
    def fn(ctx, node, attrs, inputs):
        b = ctx.b
        x = b.cast(inputs[0], "bool")
        y = b.cast(inputs[1], "bool")
        return b.cast(b.op(op_type, [x, y]), ctx.out_dtype())
    return fn


_LOGICAL = {
    "logical_and": "And", "broadcast_logical_and": "And", "logical_or": "Or", "broadcast_logical_or": "Or",
    "logical_xor": "Xor", "broadcast_logical_xor": "Xor",
}
for _name, _op in _LOGICAL.items():
    ONNX_EXPORT.add(_name, _logical(_op), since=11)


def shift(b, x, y, dtype, direction):
    """Bit shift; ONNX BitShift takes unsigned ints only, so signed ints go through their
    unsigned twin (exact for left shifts and for right shifts of non-negative values)."""
    if dtype.startswith("uint"):
        return b.op("BitShift", [x, y], direction=direction)
    if not dtype.startswith("int"):
        raise DTypeError(f"bit shifts need an integer dtype, got {dtype}")
    udt = "u" + dtype
    r = b.op("BitShift", [b.cast(x, udt), b.cast(y, udt)], direction=direction)
    return b.cast(r, dtype)


_BITWISE = {"broadcast_bitwise_and": "BitwiseAnd", "broadcast_bitwise_or": "BitwiseOr",
            "broadcast_bitwise_xor": "BitwiseXor"}
for _name, _op in _BITWISE.items():
    ONNX_EXPORT.add(_name, (lambda op_type: lambda ctx, node, attrs, inputs: ctx.b.op(op_type, inputs[:2]))(_op),
                    since=18)


@ONNX_EXPORT.register("bitwise_not", since=18)
def _bitwise_not(ctx, node, attrs, inputs):
    return ctx.b.op("BitwiseNot", inputs[:1])


@ONNX_EXPORT.register("broadcast_left_shift", "broadcast_right_shift", since=11)
def _shift(ctx, node, attrs, inputs):
    direction = "LEFT" if "left" in node.op else "RIGHT"
    return shift(ctx.b, inputs[0], inputs[1], ctx.dtype(), direction)


# ---- scalar ops: the op with a constant of the input dtype --------------------------------------
def _scalar_value(ctx, attrs):
    s = attrs.scalar
    dt = ctx.dtype()
    if not _dt.is_float(dt) and float(s).is_integer():
        s = int(s)
    return ctx.b.scalar(s, dt)


_SCALAR = {
    "__add_scalar__": ("Add", False), "__sub_scalar__": ("Sub", False), "__rsub_scalar__": ("Sub", True),
    "__mul_scalar__": ("Mul", False), "__div_scalar__": ("Div", False), "__rdiv_scalar__": ("Div", True),
    "__pow_scalar__": ("Pow", False), "__rpow_scalar__": ("Pow", True),
}


def _scalar_handler(op_type, reverse):
    def fn(ctx, node, attrs, inputs):
        c = _scalar_value(ctx, attrs)
        ins = [c, inputs[0]] if reverse else [inputs[0], c]
        return ctx.b.op(op_type, ins)
    return fn


for _name, (_op, _rev) in _SCALAR.items():
    ONNX_EXPORT.add(_name, _scalar_handler(_op, _rev), since=11)


@ONNX_EXPORT.register("__max_scalar__", "__min_scalar__", since=11)
def _max_min_scalar(ctx, node, attrs, inputs):
    op_type = "Max" if node.op == "__max_scalar__" else "Min"
    return max_min(ctx.b, op_type, inputs[0], _scalar_value(ctx, attrs), ctx.dtype())


def _scalar_compare(kind):
    def fn(ctx, node, attrs, inputs):
        return compare(ctx.b, kind, inputs[0], _scalar_value(ctx, attrs), ctx.out_dtype())
    return fn


_SCALAR_COMPARE = {
    "__greater_scalar__": "greater", "__less_scalar__": "less", "__equal_scalar__": "equal",
    "__greater_equal_scalar__": "greater_equal", "__less_equal_scalar__": "less_equal",
    "__not_equal_scalar__": "not_equal",
}
for _name, _kind in _SCALAR_COMPARE.items():
    ONNX_EXPORT.add(_name, _scalar_compare(_kind), since=11)


@ONNX_EXPORT.register("__lshift_scalar__", "__rshift_scalar__", since=11)
def _shift_scalar(ctx, node, attrs, inputs):
    direction = "LEFT" if "lshift" in node.op else "RIGHT"
    return shift(ctx.b, inputs[0], _scalar_value(ctx, attrs), ctx.dtype(), direction)
