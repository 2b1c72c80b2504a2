"""Converters that decompose newer or rarer ONNX ops into IR ops: Trilu, Hardmax, LpNormalization,
Swish, RMSNormalization, Shrink, MeanVarianceNormalization."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


@ONNX_IMPORT.register("Trilu", since=14)
def trilu(ctx, node, attrs, inputs):
    x = inputs[0]
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "Trilu needs the input shape")
    k = int(ctx.require_const(inputs[1], "Trilu k").reshape(-1)[0]) if inputs[1] else 0
    n, m = s[-2], s[-1]
    if not is_static((n, m)):  # where, not a product: the kept part may hold infinities (causal masks)
        keep = ctx.broadcast_to(_band_mask(ctx, x, len(s), k, attrs.get("upper", 1)), s,
                                lambda: ctx.shape_tensor(x))
        return ctx.emit1("where", [keep, x, ctx.emit1("zeros_like", [x])])
    mask = np.triu(np.ones((n, m)), k) if attrs.get("upper", 1) else np.tril(np.ones((n, m)), k)
    v = ctx.const(x)
    if v is not None:
        return np.where(mask != 0, v, np.zeros((), v.dtype)).astype(v.dtype)
    return ctx.emit1("broadcast_mul", [x, mask.astype(ctx.dtype(x))])


def _band_mask(ctx, x, rank, k, upper):
    """The (rows, cols) 0/1 mask ``col - row >= k`` (upper) or ``<= k`` (lower) of the last two axes of ``x``,
    built at run time from its shape (the dims are symbolic)."""
    shape = ctx.shape_tensor(x)
    one, zero = np.ones(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    s = ctx.shape(x)
    lines = []
    for axis, spec in ((rank - 2, (-1, 1)), (rank - 1, (1, -1))):
        length = ctx.emit1("take", [shape, np.array([axis], dtype=np.int64)], {"axis": 0})
        line = ctx.runtime_op("dyn_arange", [zero, length, one], (s[axis],), {"dtype": "int64"})
        lines.append(ctx.reshape(line, spec))
    offset = ctx.emit1("broadcast_sub", [lines[1], lines[0]])
    op = "__greater_equal_scalar__" if upper else "__less_equal_scalar__"
    return ctx.emit1(op, [offset], {"scalar": float(k)})


def _hardmax_input(ctx, x):
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "Hardmax needs the input shape")
    return s


@ONNX_IMPORT.register("Hardmax", since=(1, 11))
def hardmax_coerced_2d(ctx, node, attrs, inputs):
    """Before opset 13 the input is coerced to 2-d at ``axis`` (default 1) and the max taken per row."""
    x = inputs[0]
    s = _hardmax_input(ctx, x)
    axis = int(attrs.get("axis", 1)) % len(s)
    if axis == len(s) - 1:
        return _hardmax_along(ctx, x, s, axis)
    flat = ctx.reshape(x, (int(np.prod(s[:axis])), -1))
    depth = int(np.prod(s[axis:]))
    idx = ctx.emit1("argmax", [flat], {"axis": (1,), "keepdims": False, "dtype": "int64"})
    y = ctx.emit1("one_hot", [idx], {"depth": depth, "dtype": ctx.dtype(x)})
    return ctx.reshape(y, s)


@ONNX_IMPORT.register("Hardmax", since=13)
def hardmax(ctx, node, attrs, inputs):
    x = inputs[0]
    s = _hardmax_input(ctx, x)
    return _hardmax_along(ctx, x, s, int(attrs.get("axis", -1)) % len(s))


def _hardmax_along(ctx, x, shape, axis):
    idx = ctx.emit1("argmax", [x], {"axis": (axis,), "keepdims": False, "dtype": "int64"})
    return ctx.emit1("one_hot", [idx], {"depth": int(shape[axis]), "axis": axis, "dtype": ctx.dtype(x)})


@ONNX_IMPORT.register("LpNormalization", since=(1, 22))
def lp_normalization(ctx, node, attrs, inputs):
    x = inputs[0]
    r = ctx.require_rank(x)
    axis = int(attrs.get("axis", -1)) % r
    p = int(attrs.get("p", 2))
    if p == 2:
        sq = ctx.emit1("sum", [ctx.emit1("broadcast_mul", [x, x])], {"axis": (axis,), "keepdims": True})
        norm = ctx.emit1("sqrt", [sq])
    elif p == 1:
        norm = ctx.emit1("sum", [ctx.emit1("abs", [x])], {"axis": (axis,), "keepdims": True})
    else:
        raise ctx.unsupported(f"p={p}")
    return ctx.emit1("broadcast_div", [x, norm])


@ONNX_IMPORT.register("Swish", since=24)
def swish(ctx, node, attrs, inputs):
    x = inputs[0]
    alpha = float(attrs.get("alpha", 1.0))
    z = ctx.emit1("__mul_scalar__", [x], {"scalar": alpha}) if alpha != 1.0 else ctx.entry(x)
    return ctx.emit1("broadcast_mul", [x, ctx.emit1("sigmoid", [z])])


@ONNX_IMPORT.register("RMSNormalization", since=23)
def rms_normalization(ctx, node, attrs, inputs):
    x, scale = inputs[0], inputs[1]
    r = ctx.require_rank(x)
    axis = int(attrs.get("axis", -1)) % r
    eps = float(attrs.get("epsilon", 1e-5))
    dtype = ctx.dtype(x)
    if dtype not in ("float32", "float64"):
        raise ctx.unsupported(f"dtype {dtype}")
    ms = ctx.emit1("mean", [ctx.emit1("broadcast_mul", [x, x])], {"axis": tuple(range(axis, r)), "keepdims": True})
    inv = ctx.emit1("rsqrt", [ctx.emit1("__add_scalar__", [ms], {"scalar": eps})])
    return ctx.emit1("broadcast_mul", [ctx.emit1("broadcast_mul", [x, inv]), scale])


@ONNX_IMPORT.register("Shrink", since=9)
def shrink(ctx, node, attrs, inputs):
    x = inputs[0]
    lambd, bias = float(attrs.get("lambd", 0.5)), float(attrs.get("bias", 0.0))
    if ctx.dtype(x) not in ("float32", "float64", "float16"):
        raise ctx.unsupported(f"dtype {ctx.dtype(x)}")
    hi = ctx.emit1("__greater_scalar__", [x], {"scalar": lambd})
    lo = ctx.emit1("__less_scalar__", [x], {"scalar": -lambd})
    up = ctx.emit1("broadcast_mul", [hi, ctx.emit1("__sub_scalar__", [x], {"scalar": bias})])
    down = ctx.emit1("broadcast_mul", [lo, ctx.emit1("__add_scalar__", [x], {"scalar": bias})])
    return ctx.emit1("broadcast_add", [up, down])


def _gather_class_scores(ctx, x, target, target_shape):
    """x[n, target[n, d...], d...] for x of shape (N, C, d...): gather_nd with a coordinate grid."""
    r = len(target_shape) + 1
    grids = np.indices(target_shape, dtype=np.int64)
    coords = [grids[0], target] + [grids[k] for k in range(1, len(target_shape))]
    stacked = ctx.emit1("stack", [ctx.cast(c, "int64") if not isinstance(c, np.ndarray) else c for c in coords],
                        {"axis": 0, "num_args": r})
    return ctx.emit1("gather_nd", [x, stacked])


def _nll_loss(ctx, node, attrs, x, target, weight):
    ts = ctx.shape(target)
    if ts is None or ctx.shape(x) is None:
        raise ctx.error(ShapeError, f"{node.op_type} needs the input shapes")
    dtype = ctx.dtype(x)
    reduction = attrs.get("reduction", "mean")
    ignore = attrs.get("ignore_index")
    mask = None
    safe = ctx.entry(target)
    if ignore is not None:
        keep = ctx.emit1("__not_equal_scalar__", [target], {"scalar": float(ignore)})
        safe = ctx.emit1("broadcast_mul", [target, keep])
        mask = ctx.cast(keep, dtype)
    picked = _gather_class_scores(ctx, x, safe, tuple(ts))
    w = ctx.emit1("take", [weight, safe], {"axis": 0}) if weight is not None else None
    if mask is not None:
        w = mask if w is None else ctx.emit1("broadcast_mul", [w, mask])
    loss = picked if w is None else ctx.emit1("broadcast_mul", [picked, w])
    loss = ctx.emit1("negative", [loss])
    if reduction == "none":
        return loss
    total = ctx.emit1("sum", [loss], {"axis": (), "keepdims": False})
    if reduction == "sum":
        return total
    if reduction != "mean":
        raise ctx.unsupported(f"reduction={reduction}")
    if w is None:
        return ctx.emit1("__div_scalar__", [total], {"scalar": float(np.prod(ts))})
    return ctx.emit1("broadcast_div", [total, ctx.emit1("sum", [w], {"axis": (), "keepdims": False})])


@ONNX_IMPORT.register("NegativeLogLikelihoodLoss", since=(12, 13, 22))
def negative_log_likelihood_loss(ctx, node, attrs, inputs):
    return _nll_loss(ctx, node, attrs, inputs[0], inputs[1], inputs[2])


@ONNX_IMPORT.register("SoftmaxCrossEntropyLoss", since=(12, 13))
def softmax_cross_entropy_loss(ctx, node, attrs, inputs):
    log_prob = ctx.emit1("log_softmax", [inputs[0]], {"axis": 1})
    return [_nll_loss(ctx, node, attrs, log_prob, inputs[1], inputs[2]), log_prob]


@ONNX_IMPORT.register("MeanVarianceNormalization", since=(9, 13))
def mean_variance_normalization(ctx, node, attrs, inputs):
    """(X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) over ``axes``, as the op's ONNX function body computes it."""
    x = inputs[0]
    r = ctx.require_rank(x)
    axes = tuple(sorted({int(a) % r for a in attrs.get("axes", (0, 2, 3))}))
    mean = ctx.emit1("mean", [x], {"axis": axes, "keepdims": True})
    mean_of_squares = ctx.emit1("mean", [ctx.emit1("broadcast_mul", [x, x])], {"axis": axes, "keepdims": True})
    variance = ctx.emit1("broadcast_sub", [mean_of_squares, ctx.emit1("broadcast_mul", [mean, mean])])
    std = ctx.emit1("__add_scalar__", [ctx.emit1("sqrt", [variance])], {"scalar": 1e-9})
    return ctx.emit1("broadcast_div", [ctx.emit1("broadcast_sub", [x, mean]), std])
