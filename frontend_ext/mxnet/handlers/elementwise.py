"""Unary math, rounding, clipping, binary, broadcast, comparison and scalar ops."""
from __future__ import annotations

from ..context import same
from ..registry import MXNET_EXPORT

# IR op -> the MXNet op that computes it alone
_SAME = {
    "exp": "exp", "log": "log", "sqrt": "sqrt", "floor": "floor", "ceil": "ceil", "trunc": "trunc", "abs": "abs",
    "negative": "negative", "copy": "_copy", "logical_not": "logical_not", "block_grad": "BlockGrad",
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
    "sinh": "sinh", "cosh": "cosh", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "erf": "erf",
    "rsqrt": "rsqrt", "sign": "sign", "reciprocal": "reciprocal", "square": "square", "log2": "log2",
    "log10": "log10", "log1p": "log1p", "expm1": "expm1", "cbrt": "cbrt",
    "elemwise_add": "elemwise_add", "elemwise_sub": "elemwise_sub", "elemwise_mul": "elemwise_mul",
    "elemwise_div": "elemwise_div", "elemwise_mod": "broadcast_mod", "elemwise_pow": "broadcast_power",
    "logical_and": "broadcast_logical_and", "logical_or": "broadcast_logical_or",
    "logical_xor": "broadcast_logical_xor", "greater": "broadcast_greater", "less": "broadcast_lesser",
    "broadcast_add": "broadcast_add", "broadcast_sub": "broadcast_sub", "broadcast_mul": "broadcast_mul",
    "broadcast_div": "broadcast_div", "broadcast_mod": "broadcast_mod", "broadcast_max": "broadcast_maximum",
    "broadcast_min": "broadcast_minimum", "broadcast_pow": "broadcast_power",
    "broadcast_greater": "broadcast_greater", "broadcast_less": "broadcast_lesser",
    "broadcast_equal": "broadcast_equal", "broadcast_not_equal": "broadcast_not_equal",
    "broadcast_greater_equal": "broadcast_greater_equal", "broadcast_less_equal": "broadcast_lesser_equal",
    "broadcast_logical_and": "broadcast_logical_and", "broadcast_logical_or": "broadcast_logical_or",
    "broadcast_logical_xor": "broadcast_logical_xor",
    "broadcast_bitwise_and": "_npi_bitwise_and", "broadcast_bitwise_or": "_npi_bitwise_or",
    "broadcast_bitwise_xor": "_npi_bitwise_xor", "bitwise_not": "_npi_bitwise_not",
}
for _name, _mx in _SAME.items():
    MXNET_EXPORT.add(_name, same(_mx))


@MXNET_EXPORT.register("round")
def _round_half_even(ctx, node, attrs, inputs):
    """IR round is numpy's (half to even); MXNet's rounds halves away from zero."""
    x, name = inputs[0], node.name
    away = ctx.add("round", name + "_away", [x])
    frac = ctx.add("abs", name + "_frac", [ctx.add("elemwise_sub", name + "_sub", [x, ctx.add(
        "floor", name + "_floor", [x])])])
    half = ctx.add("_equal_scalar", name + "_ishalf", [frac], {"scalar": 0.5})
    even = ctx.add("_mul_scalar", name + "_even", [ctx.add("round", name + "_r2", [
        ctx.add("_div_scalar", name + "_h", [x], {"scalar": 2.0})])], {"scalar": 2.0})
    return [ctx.add("where", name, [half, even, away])]


@MXNET_EXPORT.register("clip")
def _clip(ctx, node, attrs, inputs):
    return [ctx.add("clip", node.name, inputs, {"a_min": attrs.a_min, "a_max": attrs.a_max})]


@MXNET_EXPORT.register("elemwise_sum")
def _elemwise_sum(ctx, node, attrs, inputs):
    return [ctx.add("add_n", node.name, inputs, {"num_args": len(inputs)})]


# ---- scalar ops: IR op -> MXNet op, with the node's scalar -------------------------------------
_SCALAR = {
    "__add_scalar__": "_plus_scalar", "__sub_scalar__": "_minus_scalar", "__rsub_scalar__": "_rminus_scalar",
    "__mul_scalar__": "_mul_scalar", "__div_scalar__": "_div_scalar", "__rdiv_scalar__": "_rdiv_scalar",
    "__pow_scalar__": "_power_scalar", "__rpow_scalar__": "_rpower_scalar", "__max_scalar__": "_maximum_scalar",
    "__min_scalar__": "_minimum_scalar", "__equal_scalar__": "_equal_scalar",
    "__not_equal_scalar__": "_not_equal_scalar", "__greater_scalar__": "_greater_scalar",
    "__greater_equal_scalar__": "_greater_equal_scalar", "__less_scalar__": "_lesser_scalar",
    "__less_equal_scalar__": "_lesser_equal_scalar",
}


def _scalar(op):
    def fn(ctx, node, attrs, inputs):
        return [ctx.add(op, node.name, inputs, {"scalar": attrs.scalar})]
    return fn


for _name, _mx in _SCALAR.items():
    MXNET_EXPORT.add(_name, _scalar(_mx))


# ---- float classification: MXNet has no op of its own (mx.contrib's isnan/isinf are these compositions) ------
@MXNET_EXPORT.register("isnan")
def _isnan(ctx, node, attrs, inputs):
    return [ctx.add("broadcast_not_equal", node.name, [inputs[0], inputs[0]])]


@MXNET_EXPORT.register("isinf")
def _isinf(ctx, node, attrs, inputs):
    magnitude = ctx.add("abs", node.name + "_abs", inputs)
    return [ctx.add("_equal_scalar", node.name, [magnitude], {"scalar": float("inf")})]
