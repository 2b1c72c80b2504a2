"""Converters for elementwise math, comparisons, logic, reductions and casts."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError, UnsupportedOperatorError
from ...ir import dtypes as _dt
from .registry import converter

_FLOATS = ("float16", "float32", "float64")


def _unsupported(ctx, node, what):
    return UnsupportedOperatorError({f"{node.op_type} ({what})": [node.name]}, direction="ONNX import",
                                    file=ctx.file)


def _legacy_broadcast(ctx, node, b):
    """Opsets < 7: ``broadcast=1, axis=k`` aligns B with A starting at axis k."""
    if ctx.opset >= 7 or not node.attr("broadcast", 0) or node.attr("axis") is None:
        return b
    ra, rb = ctx.require_rank(node.input(0)), ctx.require_rank(b)
    axis = int(node.attr("axis")) % ra
    tail = ra - axis - rb
    if tail > 0:
        return ctx.reshape(b, tuple(ctx.shape(b)) + (1,) * tail)
    return b


_SCALAR = {"add": ("__add_scalar__", "__add_scalar__"), "sub": ("__sub_scalar__", "__rsub_scalar__"),
           "mul": ("__mul_scalar__", "__mul_scalar__"), "div": ("__div_scalar__", "__rdiv_scalar__"),
           "pow": ("__pow_scalar__", "__rpow_scalar__"), "max": ("__max_scalar__", "__max_scalar__"),
           "min": ("__min_scalar__", "__min_scalar__")}


def binary(ctx, kind, a, b):
    """Broadcasting binary op; a size-1 float constant operand becomes a scalar op."""
    av, bv = ctx.const(a), ctx.const(b)
    da = ctx.dtype(a)
    db = ctx.dtype(b)
    if av is None or bv is None:
        for val, other, idx in ((bv, a, 0), (av, b, 1)):
            if val is None or val.size != 1 or kind not in _SCALAR:
                continue
            r = ctx.rank(other)
            if r is None or val.ndim > r:
                continue
            odt = ctx.dtype(other)
            if odt not in _FLOATS:
                continue
            if kind != "pow" and _dt.canonical(val.dtype) != odt:
                continue
            return ctx.emit1(_SCALAR[kind][idx], [other], {"scalar": float(val.reshape(-1)[0])})
    if kind == "pow" and da != db:
        b = ctx.cast(b, da)
    return ctx.emit1(f"broadcast_{kind}", [a, b])


def _binary_conv(kind):
    def conv_fn(ctx, node):
        a, b = node.input(0), _legacy_broadcast(ctx, node, node.input(1))
        if kind == "div" and ctx.dtype(a) not in _FLOATS:
            av, bv = ctx.const(a), ctx.const(b)
            if av is not None and bv is not None:
                return np.asarray(np.trunc(av / bv)).astype(av.dtype)
        return binary(ctx, kind, a, b)
    return conv_fn


for _onnx, _kind in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")):
    converter(_onnx, 1, 6, 7, 13, 14)(_binary_conv(_kind))
converter("Pow", 1, 7, 12, 13, 15)(_binary_conv("pow"))


@converter("Mod", 10, 13)
def mod(ctx, node):
    a, b = node.input(0), node.input(1)
    fmod = int(node.attr("fmod", 0))
    av, bv = ctx.const(a), ctx.const(b)
    if av is not None and bv is not None:
        return np.fmod(av, bv) if fmod else np.mod(av, bv)
    if fmod or ctx.dtype(a) in _FLOATS:
        # broadcast_mod follows C fmod for floats; integer mod with the divisor's sign differs
        if not fmod:
            raise _unsupported(ctx, node, "fmod=0 on floats")
    return ctx.emit1("broadcast_mod", [a, b])


def _nary(kind):
    def conv_fn(ctx, node):
        ins = [x for x in node.inputs if x]
        y = ctx.entry(ins[0])
        for x in ins[1:]:
            y = ctx.emit1(f"broadcast_{kind}", [y, x])
        if kind == "add" and node.op_type == "Mean" and len(ins) > 1:
            y = ctx.emit1("__div_scalar__", [y], {"scalar": float(len(ins))})
        if len(ins) == 1:
            return ctx.entry(ins[0])
        return y
    return conv_fn


converter("Sum", 1, 6, 8, 13)(_nary("add"))
converter("Mean", 1, 6, 8, 13)(_nary("add"))
converter("Max", 1, 6, 8, 12, 13)(_nary("max"))
converter("Min", 1, 6, 8, 12, 13)(_nary("min"))


def _compare(kind):
    def conv_fn(ctx, node):
        a, b = node.input(0), _legacy_broadcast(ctx, node, node.input(1))
        if ctx.dtype(a) != ctx.dtype(b):
            b = ctx.cast(b, ctx.dtype(a))
        y = ctx.emit1(f"broadcast_{kind}", [a, b])
        return ctx.cast(y, "bool")
    return conv_fn


for _onnx, _kind in (("Equal", "equal"), ("Greater", "greater"), ("Less", "less"),
                     ("GreaterOrEqual", "greater_equal"), ("LessOrEqual", "less_equal")):
    converter(_onnx, 1, 7, 9, 11, 12, 13, 16, 19)(_compare(_kind))


def _logic(kind):
    def conv_fn(ctx, node):
        a, b = node.input(0), _legacy_broadcast(ctx, node, node.input(1))
        av, bv = ctx.const(a), ctx.const(b)
        if av is not None and bv is not None:
            return {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}[kind](av, bv)
        return ctx.emit1(f"broadcast_logical_{kind}", [a, b])
    return conv_fn


for _onnx, _kind in (("And", "and"), ("Or", "or"), ("Xor", "xor")):
    converter(_onnx, 1, 7)(_logic(_kind))


@converter("Not", 1)
def logical_not(ctx, node):
    return ctx.emit1("logical_not", [node.input(0)])


def _unary(op):
    def conv_fn(ctx, node):
        return ctx.emit1(op, [node.input(0)])
    return conv_fn


for _onnx, _op in (("Abs", "abs"), ("Neg", "negative"), ("Exp", "exp"), ("Log", "log"), ("Sqrt", "sqrt"),
                   ("Reciprocal", "reciprocal"), ("Floor", "floor"), ("Ceil", "ceil"), ("Sin", "sin"),
                   ("Cos", "cos"), ("Tan", "tan"), ("Asin", "asin"), ("Acos", "acos"), ("Atan", "atan"),
                   ("Sinh", "sinh"), ("Cosh", "cosh"), ("Asinh", "asinh"), ("Acosh", "acosh"),
                   ("Atanh", "atanh"), ("Sign", "sign"), ("Round", "round")):
    converter(_onnx, 1, 6, 7, 9, 11, 13, 22)(_unary(_op))


@converter("IsNaN", 9, 13, 20)
def isnan(ctx, node):
    return ctx.cast(ctx.emit1("isnan", [node.input(0)]), "bool")


@converter("IsInf", 10, 20)
def isinf(ctx, node):
    if not node.attr("detect_positive", 1) or not node.attr("detect_negative", 1):
        raise _unsupported(ctx, node, "one-sided detection")
    return ctx.cast(ctx.emit1("isinf", [node.input(0)]), "bool")


@converter("Clip", 1, 6, 11, 12, 13)
def clip(ctx, node):
    x = node.input(0)
    if ctx.opset < 11:
        lo, hi = node.attr("min"), node.attr("max")
    else:
        lo = ctx.require_const(node.input(1), "Clip min") if node.input(1) else None
        hi = ctx.require_const(node.input(2), "Clip max") if node.input(2) else None
        lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
        hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
    if lo is None and hi is None:
        return ctx.entry(x)
    if lo is None:
        return ctx.emit1("__min_scalar__", [x], {"scalar": hi})
    if hi is None:
        return ctx.emit1("__max_scalar__", [x], {"scalar": lo})
    if hi < lo:
        return ctx.emit1("__min_scalar__", [ctx.emit1("__max_scalar__", [x], {"scalar": lo})], {"scalar": hi})
    return ctx.emit1("clip", [x], {"a_min": float(lo), "a_max": float(hi)})


@converter("Cast", 1, 6, 9, 13, 19, 21)
def cast(ctx, node):
    to = node.attr("to")
    try:
        name = _dt.from_onnx(to) if isinstance(to, int) else _dt.canonical(to)
    except Exception:
        raise _unsupported(ctx, node, f"to={to}")
    return ctx.cast(node.input(0), name)


@converter("CastLike", 15, 19, 21)
def cast_like(ctx, node):
    return ctx.cast(node.input(0), ctx.dtype(node.input(1)))


@converter("Identity", 1, 13, 14, 16, 19, 21)
def identity(ctx, node):
    return ctx.entry(node.input(0))


# ---- reductions -------------------------------------------------------------------------------
def _reduce_axes(ctx, node, axes_input_since):
    if ctx.opset >= axes_input_since:
        name = node.input(1)
        axes = None if name is None else tuple(int(a) for a in ctx.require_const(name, "axes").reshape(-1))
    else:
        axes = node.attr("axes")
        axes = None if axes is None else tuple(int(a) for a in axes)
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return None
        return ()
    r = ctx.rank(node.input(0))
    if r is not None:
        axes = tuple(sorted({a % r for a in axes}))
    return axes


def _reduce(kind, axes_since=18, pre=None, post=None):
    def conv_fn(ctx, node):
        axes = _reduce_axes(ctx, node, axes_since)
        x = ctx.entry(node.input(0))
        if pre == "square":
            x = ctx.emit1("broadcast_mul", [x, x])
        elif pre == "abs":
            x = ctx.emit1("abs", [x])
        elif pre == "exp":
            x = ctx.emit1("exp", [x])
        if axes is None:
            y = x
        else:
            keep = bool(node.attr("keepdims", 1))
            r = ctx.rank(x)
            if axes == () and r is not None:
                axes = tuple(range(r))
            y = ctx.emit1(kind, [x], {"axis": axes, "keepdims": keep})
            if not keep and r is not None and len(axes) == r:
                v = ctx.const(y)
                if v is not None:
                    return v.reshape(())
        if post == "sqrt":
            y = ctx.emit1("sqrt", [y])
        elif post == "log":
            y = ctx.emit1("log", [y])
        return y
    return conv_fn


_RED_VERSIONS = (1, 11, 13, 18)
converter("ReduceSum", 1, 11, 13)(_reduce("sum", axes_since=13))
converter("ReduceMean", *_RED_VERSIONS)(_reduce("mean"))
converter("ReduceMax", *_RED_VERSIONS, 20)(_reduce("max"))
converter("ReduceMin", *_RED_VERSIONS, 20)(_reduce("min"))
converter("ReduceProd", *_RED_VERSIONS)(_reduce("prod"))
converter("ReduceL2", *_RED_VERSIONS)(_reduce("sum", pre="square", post="sqrt"))
converter("ReduceL1", *_RED_VERSIONS)(_reduce("sum", pre="abs"))
converter("ReduceSumSquare", *_RED_VERSIONS)(_reduce("sum", pre="square"))
converter("ReduceLogSum", *_RED_VERSIONS)(_reduce("sum", post="log"))
converter("ReduceLogSumExp", *_RED_VERSIONS)(_reduce("sum", pre="exp", post="log"))


def _arg(kind):
    def conv_fn(ctx, node):
        x = node.input(0)
        axis = int(node.attr("axis", 0))
        r = ctx.rank(x)
        if r is not None:
            axis %= r
        attrs = {"axis": (axis,), "keepdims": bool(node.attr("keepdims", 1)), "dtype": "int64"}
        if not node.attr("select_last_index", 0):
            return ctx.emit1(kind, [x], attrs)
        # last occurrence = (dim - 1) - first occurrence in the reversed axis
        s = ctx.shape(x)
        if s is None:
            raise ctx.error(ShapeError, f"{node.op_type} with select_last_index needs the input shape")
        first = ctx.emit1(kind, [ctx.emit1("flip", [x], {"axis": axis})], attrs)
        return ctx.emit1("__rsub_scalar__", [first], {"scalar": float(s[axis] - 1)})
    return conv_fn


converter("ArgMax", 1, 11, 12, 13)(_arg("argmax"))
converter("ArgMin", 1, 11, 12, 13)(_arg("argmin"))


@converter("Where", 9, 16)
def where(ctx, node):
    c, x, y = node.input(0), node.input(1), node.input(2)
    cv, xv, yv = ctx.const(c), ctx.const(x), ctx.const(y)
    if cv is not None and xv is not None and yv is not None:
        return np.where(cv, xv, yv)
    shapes = [ctx.shape(v) for v in (c, x, y)]
    if any(s is None for s in shapes):
        if len({tuple(s) if s else None for s in shapes}) != 1:
            raise ctx.error(ShapeError, "Where with broadcasting needs known operand shapes")
        return ctx.emit1("where", [c, x, y])
    out = tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    ins = []
    for v, s in zip((c, x, y), shapes):
        if tuple(s) != out:
            if len(s) < len(out):
                v = ctx.reshape(v, (1,) * (len(out) - len(s)) + tuple(s)) if len(s) else ctx.reshape(
                    v, (1,) * len(out))
            v = ctx.emit1("broadcast_to", [v], {"shape": out})
        ins.append(v)
    return ctx.emit1("where", ins)
