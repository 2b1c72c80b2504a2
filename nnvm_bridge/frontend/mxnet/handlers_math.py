"""Handlers for MXNet's elementwise math: binary (same-shape and broadcast), scalar and unary ops."""
from __future__ import annotations

import math

from ...ir import dtypes as _dt
from . import defaults
from .handlers_nn import need_inputs
from .registry import MXNET_IMPORT


def _simple(ir_op):
    def fn(ctx, node, attrs, inputs):
        need_inputs(inputs, 2, ctx)
        return ctx.out(ir_op, inputs[:2], {}, name=node.name)
    return fn


def _hypot(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    sq = [ctx.aux("square", [e], suffix=f"sq{i}") for i, e in enumerate(inputs[:2])]
    return ctx.out("sqrt", [ctx.aux("broadcast_add", sq)], {}, name=node.name)


# same-shape binary ops (MXNet checks equal shapes; the IR's broadcast ops accept them)
_ELEMWISE = [  # (IR op, MXNet names)
    ("elemwise_add", ("elemwise_add", "_plus", "_add", "_Plus", "_grad_add")),
    ("elemwise_sub", ("elemwise_sub", "_minus", "_sub", "_Minus")),
    ("elemwise_mul", ("elemwise_mul", "_mul", "_Mul")),
    ("elemwise_div", ("elemwise_div", "_div", "_Div")),
    ("elemwise_mod", ("_mod", "_Mod")),
    ("elemwise_pow", ("_power", "_Power")),
    ("broadcast_max", ("_maximum", "_Maximum")),
    ("broadcast_min", ("_minimum", "_Minimum")),
    ("broadcast_equal", ("_equal", "_Equal")),
    ("broadcast_not_equal", ("_not_equal", "_Not_Equal")),
    ("broadcast_greater", ("_greater", "_Greater")),
    ("broadcast_greater_equal", ("_greater_equal", "_Greater_Equal")),
    ("broadcast_less", ("_lesser", "_Lesser")),
    ("broadcast_less_equal", ("_lesser_equal", "_Lesser_Equal")),
    ("logical_and", ("_logical_and", "_Logical_And")),
    ("logical_or", ("_logical_or", "_Logical_Or")),
    ("logical_xor", ("_logical_xor", "_Logical_Xor")),
    # MXNet broadcast_* ops
    ("broadcast_add", ("broadcast_add", "broadcast_plus")),
    ("broadcast_sub", ("broadcast_sub", "broadcast_minus")),
    ("broadcast_mul", ("broadcast_mul",)),
    ("broadcast_div", ("broadcast_div",)),
    ("broadcast_mod", ("broadcast_mod",)),
    ("broadcast_pow", ("broadcast_power",)),
    ("broadcast_max", ("broadcast_maximum",)),
    ("broadcast_min", ("broadcast_minimum",)),
    ("broadcast_equal", ("broadcast_equal",)),
    ("broadcast_not_equal", ("broadcast_not_equal",)),
    ("broadcast_greater", ("broadcast_greater",)),
    ("broadcast_greater_equal", ("broadcast_greater_equal",)),
    ("broadcast_less", ("broadcast_lesser",)),
    ("broadcast_less_equal", ("broadcast_lesser_equal",)),
    ("broadcast_logical_and", ("broadcast_logical_and",)),
    ("broadcast_logical_or", ("broadcast_logical_or",)),
    ("broadcast_logical_xor", ("broadcast_logical_xor",)),
]
for _ir, _names in _ELEMWISE:
    MXNET_IMPORT.register(*_names)(_simple(_ir))
MXNET_IMPORT.register("_hypot", "_Hypot", "broadcast_hypot")(_hypot)

# ---- tensor-scalar ops ----------------------------------------------------------------------------
_SCALAR = {
    "__add_scalar__": ("_plus_scalar", "_PlusScalar"),
    "__sub_scalar__": ("_minus_scalar", "_MinusScalar"),
    "__rsub_scalar__": ("_rminus_scalar", "_RMinusScalar"),
    "__mul_scalar__": ("_mul_scalar", "_MulScalar"),
    "__div_scalar__": ("_div_scalar", "_DivScalar"),
    "__rdiv_scalar__": ("_rdiv_scalar", "_RDivScalar"),
    "__pow_scalar__": ("_power_scalar", "_PowerScalar"),
    "__rpow_scalar__": ("_rpower_scalar", "_RPowerScalar"),
    "__max_scalar__": ("_maximum_scalar", "_MaximumScalar"),
    "__min_scalar__": ("_minimum_scalar", "_MinimumScalar"),
    "__equal_scalar__": ("_equal_scalar", "_EqualScalar"),
    "__not_equal_scalar__": ("_not_equal_scalar", "_NotEqualScalar"),
    "__greater_scalar__": ("_greater_scalar", "_GreaterScalar"),
    "__greater_equal_scalar__": ("_greater_equal_scalar", "_GreaterEqualScalar"),
    "__less_scalar__": ("_lesser_scalar", "_LesserScalar"),
    "__less_equal_scalar__": ("_lesser_equal_scalar", "_LesserEqualScalar"),
}


def _scalar(ir_op):
    def fn(ctx, node, attrs, inputs):
        need_inputs(inputs, 1, ctx)
        return ctx.out(ir_op, inputs[:1], dict(scalar=attrs["scalar"]), name=node.name)
    return fn


for _ir, _names in _SCALAR.items():
    MXNET_IMPORT.register(*_names, attrs=defaults.SCALAR)(_scalar(_ir))


@MXNET_IMPORT.register("_mod_scalar", "_ModScalar", attrs=defaults.SCALAR)
def mod_scalar(ctx, node, attrs, inputs):
    c = ctx.scalar_const("scalar", attrs["scalar"], inputs[0])
    return ctx.out("broadcast_mod", [inputs[0], c], {}, name=node.name)


@MXNET_IMPORT.register("_rmod_scalar", "_RModScalar", attrs=defaults.SCALAR)
def rmod_scalar(ctx, node, attrs, inputs):
    c = ctx.scalar_const("scalar", attrs["scalar"], inputs[0])
    return ctx.out("broadcast_mod", [c, inputs[0]], {}, name=node.name)


@MXNET_IMPORT.register("_hypot_scalar", "_HypotScalar", attrs=defaults.SCALAR)
def hypot_scalar(ctx, node, attrs, inputs):
    s = ctx.aux("__add_scalar__", [ctx.aux("square", inputs[:1])], dict(scalar=attrs["scalar"] ** 2))
    return ctx.out("sqrt", [s], {}, name=node.name)


def _logical_scalar(kind):
    def fn(ctx, node, attrs, inputs):
        on = attrs["scalar"] != 0
        x = inputs[0]
        if kind == "and" and not on:
            return ctx.out("zeros_like", [x], {}, name=node.name)
        if kind == "or" and on:
            return ctx.out("ones_like", [x], {}, name=node.name)
        op = "__equal_scalar__" if (kind == "xor" and on) else "__not_equal_scalar__"
        return ctx.out(op, [x], dict(scalar=0.0), name=node.name)
    return fn


MXNET_IMPORT.register("_logical_and_scalar", "_LogicalAndScalar", attrs=defaults.SCALAR)(_logical_scalar("and"))
MXNET_IMPORT.register("_logical_or_scalar", "_LogicalOrScalar", attrs=defaults.SCALAR)(_logical_scalar("or"))
MXNET_IMPORT.register("_logical_xor_scalar", "_LogicalXorScalar", attrs=defaults.SCALAR)(_logical_scalar("xor"))

# ---- unary ops ------------------------------------------------------------------------------------
_UNARY = {
    "abs": "abs", "arccos": "acos", "arccosh": "acosh", "arcsin": "asin", "arcsinh": "asinh", "arctan": "atan",
    "arctanh": "atanh", "cbrt": "cbrt", "ceil": "ceil", "cos": "cos", "cosh": "cosh", "erf": "erf", "exp": "exp",
    "expm1": "expm1", "floor": "floor", "log": "log", "log10": "log10", "log1p": "log1p", "log2": "log2",
    "logical_not": "logical_not", "negative": "negative", "reciprocal": "reciprocal", "relu": "relu",
    "sigmoid": "sigmoid", "sign": "sign", "sin": "sin", "sinh": "sinh", "softsign": "softsign", "sqrt": "sqrt",
    "square": "square", "tan": "tan", "tanh": "tanh", "trunc": "trunc", "fix": "trunc", "rsqrt": "rsqrt",
    "log_sigmoid": "log_sigmoid", "mish": "mish", "zeros_like": "zeros_like", "ones_like": "ones_like",
}


def _unary(ir_op):
    def fn(ctx, node, attrs, inputs):
        need_inputs(inputs, 1, ctx)
        return ctx.out(ir_op, inputs[:1], {}, name=node.name)
    return fn


for _mx, _ir in _UNARY.items():
    MXNET_IMPORT.add(_mx, _unary(_ir))


@MXNET_IMPORT.register("round")
def round_(ctx, node, attrs, inputs):
    # MXNet rounds half away from zero: sign(x) * floor(|x| + 0.5)
    x = inputs[0]
    f = ctx.aux("floor", [ctx.aux("__add_scalar__", [ctx.aux("abs", [x])], dict(scalar=0.5))])
    return ctx.out("broadcast_mul", [ctx.aux("sign", [x]), f], {}, name=node.name)


@MXNET_IMPORT.register("rint")
def rint(ctx, node, attrs, inputs):
    # MXNet's rint picks floor on ties (mshadow_op::rint), i.e. ceil(x - 0.5)
    x = ctx.aux("__sub_scalar__", inputs[:1], dict(scalar=0.5))
    return ctx.out("ceil", [x], {}, name=node.name)


@MXNET_IMPORT.register("rcbrt")
def rcbrt(ctx, node, attrs, inputs):
    return ctx.out("reciprocal", [ctx.aux("cbrt", inputs[:1])], {}, name=node.name)


@MXNET_IMPORT.register("degrees")
def degrees(ctx, node, attrs, inputs):
    return ctx.out("__mul_scalar__", inputs[:1], dict(scalar=180.0 / math.pi), name=node.name)


@MXNET_IMPORT.register("radians")
def radians(ctx, node, attrs, inputs):
    return ctx.out("__mul_scalar__", inputs[:1], dict(scalar=math.pi / 180.0), name=node.name)


@MXNET_IMPORT.register("add_n", "ElementWiseSum", attrs=defaults.ADD_N)
def add_n(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    if len(inputs) == 1:
        return inputs[0]
    return ctx.out("elemwise_sum", inputs, dict(num_args=len(inputs)), name=node.name)


@MXNET_IMPORT.register("_np_cumsum", attrs=defaults.CUMSUM)
def cumsum(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    x = inputs[0]
    if attrs["dtype"] is not None:
        x = ctx.aux("cast", [x], {"dtype": _dt.canonical(attrs["dtype"])})
    axis = attrs["axis"]
    if axis is None:  # numpy semantics: the flattened array
        x, axis = ctx.aux("reshape", [x], {"shape": (-1,)}), 0
    return ctx.out("cumsum", [x], {"axis": axis}, name=node.name)
