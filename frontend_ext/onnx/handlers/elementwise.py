"""Unary, binary, broadcast, scalar and comparison ops."""
from __future__ import annotations

import math

from nnvm_bridge.ir import dtypes as _dt

from ..registry import handler

# ---- unary ops that map one-to-one -------------------------------------------------------------
_SIMPLE_UNARY = {
    "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
    "floor": "Floor", "ceil": "Ceil", "abs": "Abs", "negative": "Neg", "copy": "Identity",
    "block_grad": "Identity", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
    "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
    "erf": "Erf", "sign": "Sign", "reciprocal": "Reciprocal", "softplus": "Softplus", "softsign": "Softsign",
}


def _simple(op_type):
    return lambda ctx: ctx.b.op(op_type, [ctx.x])


for _name, _op in _SIMPLE_UNARY.items():
    handler(_name)(_simple(_op))


@handler("dropout")
def _dropout(ctx):
    return ctx.b.op("Identity", [ctx.x])


@handler("round")
def _round(ctx):
    # NNVM/MXNet round half away from zero; ONNX Round rounds half to even.
    b, x, dt = ctx.b, ctx.x, ctx.dtype()
    mag = b.op("Floor", [b.op("Add", [b.op("Abs", [x]), b.scalar(0.5, dt)])])
    return b.op("Mul", [b.op("Sign", [x]), mag])


@handler("trunc")
def _trunc(ctx):
    b, x = ctx.b, ctx.x
    neg = b.op("Less", [x, b.scalar(0, ctx.dtype())])
    return b.op("Where", [neg, b.op("Ceil", [x]), b.op("Floor", [x])])


@handler("rsqrt")
def _rsqrt(ctx):
    return ctx.b.op("Reciprocal", [ctx.b.op("Sqrt", [ctx.x])])


@handler("square")
def _square(ctx):
    return ctx.b.op("Mul", [ctx.x, ctx.x])


@handler("log2", "log10")
def _log_base(ctx):
    base = 2.0 if ctx.node.op == "log2" else 10.0
    return ctx.b.op("Div", [ctx.b.op("Log", [ctx.x]), ctx.b.scalar(math.log(base), ctx.dtype())])


@handler("log1p")
def _log1p(ctx):
    return ctx.b.op("Log", [ctx.b.op("Add", [ctx.x, ctx.b.scalar(1, ctx.dtype())])])


@handler("expm1")
def _expm1(ctx):
    return ctx.b.op("Sub", [ctx.b.op("Exp", [ctx.x]), ctx.b.scalar(1, ctx.dtype())])


@handler("cbrt")
def _cbrt(ctx):
    b, x, dt = ctx.b, ctx.x, ctx.dtype()
    mag = b.op("Pow", [b.op("Abs", [x]), b.scalar(1.0 / 3.0, dt)])
    return b.op("Mul", [b.op("Sign", [x]), mag])


@handler("isnan", "isinf")
def _isnan(ctx):
    flag = ctx.b.op("IsNaN" if ctx.node.op == "isnan" else "IsInf", [ctx.x])
    return ctx.b.cast(flag, ctx.out_dtype())


@handler("logical_not")
def _logical_not(ctx):
    zero = ctx.b.op("Equal", [ctx.x, ctx.b.scalar(0, ctx.dtype())])
    return ctx.b.cast(zero, ctx.out_dtype())


# ---- activations with parameters ----------------------------------------------------------------
@handler("leaky_relu")
def _leaky_relu(ctx):
    return ctx.b.op("LeakyRelu", [ctx.x], alpha=float(ctx.attrs.alpha))


@handler("elu")
def _elu(ctx):
    return ctx.b.op("Elu", [ctx.x], alpha=float(ctx.attrs.alpha))


@handler("selu")
def _selu(ctx):
    return ctx.b.op("Selu", [ctx.x], alpha=float(ctx.attrs.alpha), gamma=float(ctx.attrs.gamma))


@handler("hard_sigmoid")
def _hard_sigmoid(ctx):
    return ctx.b.op("HardSigmoid", [ctx.x], alpha=float(ctx.attrs.alpha), beta=float(ctx.attrs.beta))


@handler("thresholded_relu")
def _thresholded_relu(ctx):
    return ctx.b.op("ThresholdedRelu", [ctx.x], alpha=float(ctx.attrs.alpha))


@handler("silu")
def _silu(ctx):
    return ctx.b.op("Mul", [ctx.x, ctx.b.op("Sigmoid", [ctx.x])])


@handler("log_sigmoid")
def _log_sigmoid(ctx):
    b = ctx.b
    return b.op("Neg", [b.op("Softplus", [b.op("Neg", [ctx.x])])])


@handler("hard_swish")
def _hard_swish_decomposed(ctx):
    hs = ctx.b.op("HardSigmoid", [ctx.x], alpha=1.0 / 6.0, beta=0.5)
    return ctx.b.op("Mul", [ctx.x, hs])


@handler("hard_swish", since=14)
def _hard_swish(ctx):
    return ctx.b.op("HardSwish", [ctx.x])


@handler("mish")
def _mish_decomposed(ctx):
    b = ctx.b
    return b.op("Mul", [ctx.x, b.op("Tanh", [b.op("Softplus", [ctx.x])])])


@handler("mish", since=18)
def _mish(ctx):
    return ctx.b.op("Mish", [ctx.x])


@handler("gelu")
def _gelu_decomposed(ctx):
    b, x, dt = ctx.b, ctx.x, ctx.dtype()
    half = b.op("Mul", [x, b.scalar(0.5, dt)])
    if ctx.attrs.approximation == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar(0.044715, dt)])])
        t = b.op("Tanh", [b.op("Mul", [inner, b.scalar(math.sqrt(2.0 / math.pi), dt)])])
    else:
        t = b.op("Erf", [b.op("Div", [x, b.scalar(math.sqrt(2.0), dt)])])
    return b.op("Mul", [half, b.op("Add", [t, b.scalar(1.0, dt)])])


@handler("gelu", since=20)
def _gelu(ctx):
    return ctx.b.op("Gelu", [ctx.x], approximate=ctx.attrs.approximation)


@handler("clip")
def _clip(ctx):
    return ctx.b.clip(ctx.x, ctx.attrs.a_min, ctx.attrs.a_max, ctx.dtype())


# ---- binary ops ---------------------------------------------------------------------------------
_ARITH = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "max": "Max", "min": "Min"}


def _binary(op_type):
    return lambda ctx: ctx.b.op(op_type, [ctx.inputs[0], ctx.inputs[1]])


def max_min(b, op_type, x, y, dtype):
    """Max/Min; before opset 12 they take floats only, so integers go through Where."""
    if b.opset >= 12 or _dt.is_float(dtype):
        return b.op(op_type, [x, y])
    pick_x = b.op("Greater" if op_type == "Max" else "Less", [x, y])
    return b.op("Where", [pick_x, x, y])


for _name, _op in _ARITH.items():
    if _name not in ("max", "min"):
        handler(f"elemwise_{_name}")(_binary(_op))
        handler(f"broadcast_{_name}")(_binary(_op))
for _name, _op in (("max", "Max"), ("min", "Min")):
    handler(f"broadcast_{_name}")(
        (lambda op_type: lambda ctx: max_min(ctx.b, op_type, ctx.inputs[0], ctx.inputs[1], ctx.dtype()))(_op))


def python_mod(b, x, y, dtype):
    """x mod y with the divisor's sign (numpy/MXNet), for floats and ints."""
    if not _dt.is_float(dtype):
        return b.op("Mod", [x, y], fmod=0)
    r = b.op("Mod", [x, y], fmod=1)
    zero = b.scalar(0, dtype)
    wrong_sign = b.op("And", [b.op("Not", [b.op("Equal", [r, zero])]),
                              b.op("Less", [b.op("Mul", [r, y]), zero])])
    return b.op("Where", [wrong_sign, b.op("Add", [r, y]), r])


@handler("elemwise_mod", "broadcast_mod")
def _mod(ctx):
    return python_mod(ctx.b, ctx.inputs[0], ctx.inputs[1], ctx.dtype())


@handler("elemwise_sum")
def _elemwise_sum(ctx):
    return ctx.b.op("Sum", list(ctx.inputs))


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
    return lambda ctx: compare(ctx.b, kind, ctx.inputs[0], ctx.inputs[1], ctx.out_dtype())


for _kind in _COMPARE:
    handler(f"broadcast_{_kind}")(_compare_handler(_kind))
handler("greater")(_compare_handler("greater"))
handler("less")(_compare_handler("less"))


def _logical(op_type):
    def fn(ctx):
        b = ctx.b
        x = b.cast(ctx.inputs[0], "bool")
        y = b.cast(ctx.inputs[1], "bool")
        return b.cast(b.op(op_type, [x, y]), ctx.out_dtype())
    return fn


for _name, _op in (("logical_and", "And"), ("logical_or", "Or"), ("logical_xor", "Xor")):
    handler(_name, f"broadcast_{_name}")(_logical(_op))


def shift(b, x, y, dtype, direction):
    """Bit shift; ONNX BitShift takes unsigned ints only, so signed ints go through their
    unsigned twin (exact for left shifts and for right shifts of non-negative values)."""
    if dtype.startswith("uint"):
        return b.op("BitShift", [x, y], direction=direction)
    if not dtype.startswith("int"):
        from nnvm_bridge.errors import DTypeError

        raise DTypeError(f"bit shifts need an integer dtype, got {dtype}")
    udt = "u" + dtype
    r = b.op("BitShift", [b.cast(x, udt), b.cast(y, udt)], direction=direction)
    return b.cast(r, dtype)


@handler("broadcast_left_shift", "broadcast_right_shift")
def _shift(ctx):
    direction = "LEFT" if "left" in ctx.node.op else "RIGHT"
    return shift(ctx.b, ctx.inputs[0], ctx.inputs[1], ctx.dtype(), direction)


# ---- scalar ops: the op with a constant of the input dtype --------------------------------------
def _scalar_value(ctx):
    s = ctx.attrs.scalar
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
    def fn(ctx):
        c = _scalar_value(ctx)
        ins = [c, ctx.x] if reverse else [ctx.x, c]
        return ctx.b.op(op_type, ins)
    return fn


for _name, (_op, _rev) in _SCALAR.items():
    handler(_name)(_scalar_handler(_op, _rev))


@handler("__max_scalar__", "__min_scalar__")
def _max_min_scalar(ctx):
    op_type = "Max" if ctx.node.op == "__max_scalar__" else "Min"
    return max_min(ctx.b, op_type, ctx.x, _scalar_value(ctx), ctx.dtype())


def _scalar_compare(kind):
    return lambda ctx: compare(ctx.b, kind, ctx.x, _scalar_value(ctx), ctx.out_dtype())


for _kind in _COMPARE:
    handler(f"__{_kind}_scalar__")(_scalar_compare(_kind))


@handler("__lshift_scalar__", "__rshift_scalar__")
def _shift_scalar(ctx):
    direction = "LEFT" if "lshift" in ctx.node.op else "RIGHT"
    return shift(ctx.b, ctx.x, _scalar_value(ctx), ctx.dtype(), direction)

