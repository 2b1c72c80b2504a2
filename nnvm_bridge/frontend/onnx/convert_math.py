"""Converters for elementwise math, comparisons, logic, reductions and casts."""
from __future__ import annotations

import numpy as np

from ...errors import InvalidModelError, ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import Dim
from ...ops.common import broadcast_shapes
from .registry import ONNX_IMPORT
from .sequence_values import is_structured

_FLOATS = ("float16", "float32", "float64")


def _operands(ctx, attrs, inputs, legacy_broadcast):
    """(A, B) of a binary op.  Before opset 7 (``legacy_broadcast``) ``broadcast=1, axis=k`` aligns B
    with A starting at axis k; from opset 7 on broadcasting is numpy's."""
    a, b = inputs[0], inputs[1]
    if not legacy_broadcast or not attrs.get("broadcast", 0) or attrs.get("axis") is None:
        return a, b
    ra, rb = ctx.require_rank(a), ctx.require_rank(b)
    axis = int(attrs.get("axis")) % ra
    tail = ra - axis - rb
    if tail > 0:
        return a, ctx.reshape(b, tuple(ctx.shape(b)) + (1,) * tail)
    return a, b


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


def _arithmetic(kind, legacy_broadcast=False):
    def convert(ctx, node, attrs, inputs):
        a, b = _operands(ctx, attrs, inputs, legacy_broadcast)
        if kind == "div" and ctx.dtype(a) not in _FLOATS:
            av, bv = ctx.const(a), ctx.const(b)
            if av is not None and bv is not None:
                return np.asarray(np.trunc(av / bv)).astype(av.dtype)
        return binary(ctx, kind, a, b)
    return convert


for _onnx, _kind in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")):
    ONNX_IMPORT.add(_onnx, _arithmetic(_kind, legacy_broadcast=True), since=(1, 6))
    ONNX_IMPORT.add(_onnx, _arithmetic(_kind), since=(7, 13, 14))
ONNX_IMPORT.add("Pow", _arithmetic("pow", legacy_broadcast=True), since=1)
ONNX_IMPORT.add("Pow", _arithmetic("pow"), since=(7, 12, 13, 15))


# Mod-28 defines fmod=0 for floats too (floor mod); on non-constant floats it stays unsupported
@ONNX_IMPORT.register("Mod", since=(10, 13, 28))
def mod(ctx, node, attrs, inputs):
    a, b = inputs[0], inputs[1]
    fmod = int(attrs.get("fmod", 0))
    av, bv = ctx.const(a), ctx.const(b)
    if av is not None and bv is not None:
        return np.fmod(av, bv) if fmod else np.mod(av, bv)
    if ctx.dtype(a) in _FLOATS:
        # a - round(a / b) * b, rounding down (Python's mod, the divisor's sign) or to zero (C's fmod)
        ratio = ctx.emit1("broadcast_div", [a, b])
        rest = ctx.emit1("broadcast_sub", [a, ctx.emit1("broadcast_mul", [ctx.emit1("trunc" if fmod else "floor",
                                                                                   [ratio]), b])])
        # |a| far below |b| (a / b is 0; b = inf gave nan above): C's fmod is a, Python's mod a where a and b
        # share a sign (or a is 0), else b
        tiny = ctx.emit1("__equal_scalar__", [ratio], {"scalar": 0.0})
        if not fmod:
            opposite = ctx.emit1("__less_scalar__", [ctx.emit1("broadcast_mul", [a, b])], {"scalar": 0.0})
            a = where(ctx, node, {}, [opposite, b, a])
        return where(ctx, node, {}, [tiny, a, rest])
    if fmod:  # C's remainder takes the dividend's sign: sign(a) * (|a| mod |b|)
        rest = ctx.emit1("broadcast_mod", [ctx.emit1("abs", [a]), ctx.emit1("abs", [b])])
        return ctx.emit1("broadcast_mul", [ctx.emit1("sign", [a]), rest])
    return ctx.emit1("broadcast_mod", [a, b])


def _nary(kind):
    def convert(ctx, node, attrs, inputs):
        ins = [x for x in inputs if x]
        y = ctx.entry(ins[0])
        for x in ins[1:]:
            y = ctx.emit1(f"broadcast_{kind}", [y, x])
        if kind == "add" and node.op_type == "Mean" and len(ins) > 1:
            y = ctx.emit1("__div_scalar__", [y], {"scalar": float(len(ins))})
        if len(ins) == 1:
            return ctx.entry(ins[0])
        return y
    return convert


ONNX_IMPORT.add("Sum", _nary("add"), since=(1, 6, 8, 13))
ONNX_IMPORT.add("Mean", _nary("add"), since=(1, 6, 8, 13))
ONNX_IMPORT.add("Max", _nary("max"), since=(1, 6, 8, 12, 13))
ONNX_IMPORT.add("Min", _nary("min"), since=(1, 6, 8, 12, 13))


def _compare(kind, legacy_broadcast=False):
    def convert(ctx, node, attrs, inputs):
        a, b = _operands(ctx, attrs, inputs, legacy_broadcast)
        if ctx.dtype(a) != ctx.dtype(b):
            b = ctx.cast(b, ctx.dtype(a))
        y = ctx.emit1(f"broadcast_{kind}", [a, b])
        return ctx.cast(y, "bool")
    return convert


for _onnx, _kind in (("Equal", "equal"), ("Greater", "greater"), ("Less", "less")):
    ONNX_IMPORT.add(_onnx, _compare(_kind, legacy_broadcast=True), since=1)
ONNX_IMPORT.add("Equal", _compare("equal"), since=(7, 11, 13, 19))
ONNX_IMPORT.add("Greater", _compare("greater"), since=(7, 9, 13))
ONNX_IMPORT.add("Less", _compare("less"), since=(7, 9, 13))
ONNX_IMPORT.add("GreaterOrEqual", _compare("greater_equal"), since=(12, 16))
ONNX_IMPORT.add("LessOrEqual", _compare("less_equal"), since=(12, 16))


def _logic(kind, legacy_broadcast=False):
    def convert(ctx, node, attrs, inputs):
        a, b = _operands(ctx, attrs, inputs, legacy_broadcast)
        av, bv = ctx.const(a), ctx.const(b)
        if av is not None and bv is not None:
            return {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}[kind](av, bv)
        return ctx.emit1(f"broadcast_logical_{kind}", [a, b])
    return convert


for _onnx, _kind in (("And", "and"), ("Or", "or"), ("Xor", "xor")):
    ONNX_IMPORT.add(_onnx, _logic(_kind, legacy_broadcast=True), since=1)
    ONNX_IMPORT.add(_onnx, _logic(_kind), since=7)


def _bitwise(op):
    def convert(ctx, node, attrs, inputs):
        return ctx.emit1(op, [inputs[0], inputs[1]])
    return convert


ONNX_IMPORT.add("BitwiseAnd", _bitwise("broadcast_bitwise_and"), since=18)
ONNX_IMPORT.add("BitwiseOr", _bitwise("broadcast_bitwise_or"), since=18)
ONNX_IMPORT.add("BitwiseXor", _bitwise("broadcast_bitwise_xor"), since=18)


@ONNX_IMPORT.register("BitwiseNot", since=18)
def bitwise_not(ctx, node, attrs, inputs):
    return ctx.emit1("bitwise_not", [inputs[0]])


@ONNX_IMPORT.register("BitShift", since=(11, 28))  # 28 adds signed types: arithmetic right shifts, as numpy
def bit_shift(ctx, node, attrs, inputs):
    direction = attrs.get("direction", "")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(InvalidModelError, f"direction must be LEFT or RIGHT, got {direction!r}")
    return ctx.emit1("broadcast_left_shift" if direction == "LEFT" else "broadcast_right_shift", [inputs[0], inputs[1]])


@ONNX_IMPORT.register("Not", since=1)
def logical_not(ctx, node, attrs, inputs):
    return ctx.emit1("logical_not", [inputs[0]])


def _unary(op):
    def convert(ctx, node, attrs, inputs):
        return ctx.emit1(op, [inputs[0]])
    return convert


for _onnx, _op in (("Abs", "abs"), ("Neg", "negative"), ("Exp", "exp"), ("Log", "log"), ("Sqrt", "sqrt"),
                   ("Reciprocal", "reciprocal"), ("Floor", "floor"), ("Ceil", "ceil")):
    ONNX_IMPORT.add(_onnx, _unary(_op), since=(1, 6, 13))
for _onnx, _op in (("Sin", "sin"), ("Cos", "cos"), ("Tan", "tan"), ("Asin", "asin"), ("Acos", "acos"),
                   ("Atan", "atan")):
    ONNX_IMPORT.add(_onnx, _unary(_op), since=(7, 22))
for _onnx, _op in (("Sinh", "sinh"), ("Cosh", "cosh"), ("Asinh", "asinh"), ("Acosh", "acosh"),
                   ("Atanh", "atanh")):
    ONNX_IMPORT.add(_onnx, _unary(_op), since=(9, 22))
ONNX_IMPORT.add("Sign", _unary("sign"), since=(9, 13))
ONNX_IMPORT.add("Round", _unary("round"), since=(11, 22))


@ONNX_IMPORT.register("IsNaN", since=(9, 13, 20))
def isnan(ctx, node, attrs, inputs):
    return ctx.cast(ctx.emit1("isnan", [inputs[0]]), "bool")


@ONNX_IMPORT.register("IsInf", since=(10, 20))
def isinf(ctx, node, attrs, inputs):
    x = inputs[0]
    positive, negative = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    if not (positive or negative):
        return ctx.cast(ctx.emit1("zeros_like", [x]), "bool")
    found = ctx.emit1("isinf", [x])
    if not (positive and negative):  # one sign only: keep the infinities of that sign
        sign = ctx.emit1("__greater_scalar__" if positive else "__less_scalar__", [x], {"scalar": 0.0})
        found = ctx.emit1("broadcast_mul", [found, sign])
    return ctx.cast(found, "bool")


@ONNX_IMPORT.register("Clip", since=(1, 6))
def clip_attributes(ctx, node, attrs, inputs):
    return _clip(ctx, inputs[0], attrs.get("min"), attrs.get("max"))


@ONNX_IMPORT.register("Clip", since=(11, 12, 13))
def clip(ctx, node, attrs, inputs):
    lo = ctx.require_const(inputs[1], "Clip min") if inputs[1] else None
    hi = ctx.require_const(inputs[2], "Clip max") if inputs[2] else None
    lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
    hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
    return _clip(ctx, inputs[0], lo, hi)


def _clip(ctx, x, lo, hi):
    """x clipped to [lo, hi]; either bound may be None (absent)."""
    if lo is None and hi is None:
        return ctx.entry(x)
    if lo is None:
        return ctx.emit1("__min_scalar__", [x], {"scalar": hi})
    if hi is None:
        return ctx.emit1("__max_scalar__", [x], {"scalar": lo})
    if hi < lo:
        return ctx.emit1("__min_scalar__", [ctx.emit1("__max_scalar__", [x], {"scalar": lo})], {"scalar": hi})
    return ctx.emit1("clip", [x], {"a_min": float(lo), "a_max": float(hi)})


# later versions add dtypes; 19 adds saturate (float8 targets), 24 round_mode (float8e8m0 targets)
@ONNX_IMPORT.register("Cast", since=(1, 6, 9, 13, 19, 21, 23, 24, 25, 28))
def cast(ctx, node, attrs, inputs):
    to = attrs.get("to")
    try:
        name = _dt.from_onnx(to) if isinstance(to, int) else _dt.canonical(to)
    except Exception:
        raise ctx.unsupported(f"to={to}")
    return _cast(ctx, inputs[0], name, attrs)


@ONNX_IMPORT.register("CastLike", since=(15, 19, 21, 23, 24, 25))
def cast_like(ctx, node, attrs, inputs):
    return _cast(ctx, inputs[0], ctx.dtype(inputs[1]), attrs)


def _cast(ctx, x, dtype, attrs):
    extra = {}
    if _dt.is_float8(dtype) and not attrs.get("saturate", 1):
        extra["saturate"] = False
    if dtype == _dt.E8M0 and attrs.get("round_mode", "up") != "up":
        extra["round_mode"] = attrs["round_mode"]
    return ctx.emit1("cast", [x], {"dtype": dtype, **extra}) if extra else ctx.cast(x, dtype)


@ONNX_IMPORT.register("Identity", since=(1, 13, 14, 16, 19, 21, 23, 24, 25))
def identity(ctx, node, attrs, inputs):
    value = ctx.value(inputs[0])
    return [value] if is_structured(value) else ctx.entry(inputs[0])  # a sequence or optional passes as it is


# ---- reductions -------------------------------------------------------------------------------
def _axes_attribute(ctx, attrs, inputs):
    """Reduction axes before they became an input (ReduceSum-13, the others 18): () reduces all."""
    axes = attrs.get("axes")
    return _normalised_axes(ctx, inputs[0], None if axes is None else tuple(int(a) for a in axes))


def _axes_input(ctx, attrs, inputs):
    """Reduction axes from the second input; none reduces all, or nothing with noop_with_empty_axes."""
    name = inputs[1]
    axes = None if name is None else tuple(int(a) for a in ctx.require_const(name, "axes").reshape(-1))
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return None
    return _normalised_axes(ctx, inputs[0], axes)


def _normalised_axes(ctx, x, axes):
    if not axes:
        return ()
    r = ctx.rank(x)
    if r is not None:
        axes = tuple(sorted({a % r for a in axes}))
    return axes


def _reduce(kind, axes_of, pre=None, post=None):
    def convert(ctx, node, attrs, inputs):
        axes = axes_of(ctx, attrs, inputs)
        x = ctx.entry(inputs[0])
        if pre == "square":
            x = ctx.emit1("broadcast_mul", [x, x])
        elif pre == "abs":
            x = ctx.emit1("abs", [x])
        elif pre == "exp":
            x = ctx.emit1("exp", [x])
        if axes is None:
            y = x
        else:
            keep = bool(attrs.get("keepdims", 1))
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
    return convert


# ONNX op, IR reduction, applied before and after it, versions with the axes attribute, with the axes input
_REDUCTIONS = (
    ("ReduceSum", "sum", None, None, (1, 11), (13,)),
    ("ReduceMean", "mean", None, None, (1, 11, 13), (18,)),
    ("ReduceMax", "max", None, None, (1, 11, 12, 13), (18, 20)),
    ("ReduceMin", "min", None, None, (1, 11, 12, 13), (18, 20)),
    ("ReduceProd", "prod", None, None, (1, 11, 13), (18,)),
    ("ReduceL2", "sum", "square", "sqrt", (1, 11, 13), (18,)),
    ("ReduceL1", "sum", "abs", None, (1, 11, 13), (18,)),
    ("ReduceSumSquare", "sum", "square", None, (1, 11, 13), (18,)),
    ("ReduceLogSum", "sum", None, "log", (1, 11, 13), (18, 28)),
    ("ReduceLogSumExp", "sum", "exp", "log", (1, 11, 13), (18, 28)),
)
for _onnx, _kind, _pre, _post, _attribute_since, _input_since in _REDUCTIONS:
    ONNX_IMPORT.add(_onnx, _reduce(_kind, _axes_attribute, _pre, _post), since=_attribute_since)
    ONNX_IMPORT.add(_onnx, _reduce(_kind, _axes_input, _pre, _post), since=_input_since)


def _arg(kind):
    def convert(ctx, node, attrs, inputs):
        x = inputs[0]
        axis = int(attrs.get("axis", 0))
        r = ctx.rank(x)
        if r is not None:
            axis %= r
        ir_attrs = {"axis": (axis,), "keepdims": bool(attrs.get("keepdims", 1)), "dtype": "int64"}
        if not attrs.get("select_last_index", 0):
            return ctx.emit1(kind, [x], ir_attrs)
        # last occurrence = (dim - 1) - first occurrence in the reversed axis
        s = ctx.shape(x)
        if s is None:
            raise ctx.error(ShapeError, f"{node.op_type} with select_last_index needs the input shape")
        first = ctx.emit1(kind, [ctx.emit1("flip", [x], {"axis": axis})], ir_attrs)
        if isinstance(s[axis], Dim):  # the axis length is known at run time only
            length = ctx.emit1("take", [ctx.shape_tensor(x), np.array([axis], dtype=np.int64)], {"axis": 0})
            last = ctx.emit1("__add_scalar__", [length], {"scalar": -1.0})
            return ctx.emit1("broadcast_sub", [last, first])
        return ctx.emit1("__rsub_scalar__", [first], {"scalar": float(s[axis] - 1)})
    return convert


ONNX_IMPORT.add("ArgMax", _arg("argmax"), since=(1, 11, 12, 13))
ONNX_IMPORT.add("ArgMin", _arg("argmin"), since=(1, 11, 12, 13))


@ONNX_IMPORT.register("Where", since=(9, 16))
def where(ctx, node, attrs, inputs):
    c, x, y = inputs[0], inputs[1], inputs[2]
    cv, xv, yv = ctx.const(c), ctx.const(x), ctx.const(y)
    if cv is not None and xv is not None and yv is not None:
        return np.where(cv, xv, yv)
    shapes = [ctx.shape(v) for v in (c, x, y)]
    if any(s is None for s in shapes):
        if len({tuple(s) if s else None for s in shapes}) != 1:
            raise ctx.error(ShapeError, "Where with broadcasting needs known operand shapes")
        return ctx.emit1("where", [c, x, y])
    out = broadcast_shapes(broadcast_shapes(tuple(shapes[0]), tuple(shapes[1])), tuple(shapes[2]))
    made = []

    def runtime_shape():  # built once, for the first operand that needs it
        made[:] = made or [ctx.broadcast_shape_tensor((c, x, y), len(out))]
        return made[0]
    ins = []
    for v, s in zip((c, x, y), shapes):
        if tuple(s) != out:
            if len(s) < len(out):
                v = ctx.reshape(v, (1,) * (len(out) - len(s)) + tuple(s)) if len(s) else ctx.reshape(
                    v, (1,) * len(out))
            v = ctx.broadcast_to(v, out, runtime_shape)
        ins.append(v)
    return ctx.emit1("where", ins)


@ONNX_IMPORT.register("CumSum", since=(11, 14))
def cumsum(ctx, node, attrs, inputs):
    axis = np.asarray(ctx.require_const(inputs[1], "CumSum axis")).reshape(-1)
    if axis.size != 1:
        raise ctx.error(ShapeError, f"CumSum axis must hold one value, got {axis.size}")
    return ctx.emit1("cumsum", [inputs[0]], {"axis": int(axis[0]), "exclusive": bool(attrs.get("exclusive", 0)),
                                             "reverse": bool(attrs.get("reverse", 0))})
