"""Symbolic values of small integer tensors computed from shapes (as TVM's Relax ONNX frontend tracks them).

``Shape`` of a tensor with symbolic dims gives an int64 vector such as ``[N, S, 768]``; Gather, Slice,
Squeeze, Unsqueeze, Concat, Cast, Add, Sub, Mul, Div, Mod, Neg, Floor, Ceil, Sqrt, Pow (by 0.5), Min, Max, Equal,
Where, Reshape and Identity on such vectors keep computing with the dims.  A result without Dims is a plain constant
(the chain folds, as it did for static shapes); one with Dims stays an IR computation, and its symbolic value lets
Reshape, Expand, Range, ConstantOfShape and Slice know their output dims.  Rules follow the ONNX semantics of the op
on 1-D (or 0-d) integer tensors and return None where they do not apply.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ...ir import dtypes as _dt
from ...ir.graph import Entry
from ...ir.symbolic import Dim, dim_isqrt, dim_max, dim_min, lower_bound, slice_indices, slice_length

_MAX_ELEMENTS = 64
_RULES = {}


def _rule(*ops):
    def add(fn):
        for op in ops:
            _RULES[op] = fn
        return fn
    return add


class Ratio:
    """A symbolic float ``num / den`` (``float(H) * 1.5``, how torch's interpolate recomputes an output size)
    until Floor, Ceil or a Cast to an integer type makes it a dim again."""

    __slots__ = ("num", "den")

    def __init__(self, num, den):
        self.num, self.den = num, den

    def floor(self):
        return self.num // self.den

    def ceil(self):
        return -((-self.num) // self.den)


class Root(Ratio):
    """The float ``sqrt(x)`` of a dim ``x`` (DPT's ``int(num_patches ** 0.5)``) until a floor (or a Cast to an
    integer type) makes it ``isqrt(x)``: the model's float32 root floors to that below 2**23."""

    __slots__ = ()

    def __init__(self, x):
        super().__init__(x, 1)

    def floor(self):
        return dim_isqrt(self.num)

    def ceil(self):
        raise ArithmeticError("the ceil of a root is no polynomial of isqrt")


def has_dims(v) -> bool:
    return v is not None and v.dtype == object and any(isinstance(d, (Dim, Ratio)) for d in v.reshape(-1))


def evaluate(ctx, node):
    """(value, onnx dtype name) of ``node``'s first output when a rule computes it from symbolic inputs;
    None when no input is symbolic or no rule applies."""
    rule = _RULES.get(node.op_type)
    if rule is None or node.domain or len(node.outputs) != 1:
        return None
    if node.op_type not in ("Shape", "Size") and not any(x in ctx.shape_values or x in ctx.aranges
                                                         for x in node.inputs if x):
        return None
    try:
        out = rule(ctx, node, node.attrs, node.inputs)
    except (ValueError, TypeError, IndexError, ZeroDivisionError, ArithmeticError):
        return None
    if out is None:
        return None
    value, dtype = out
    value = np.asarray(value, dtype=object)
    if value.ndim > 2 or value.size > _MAX_ELEMENTS:  # 2-D: torch's pads, reshaped to (rank, 2) and flipped
        return None
    return value, dtype


def as_constant(value, dtype):
    """A rule's result without Dims as the numpy constant it is."""
    return np.asarray(value.tolist(), dtype=_dt.to_numpy(dtype)).reshape(value.shape)


def _operand(ctx, name):
    v = ctx.shape_value(name)
    if v is None:
        raise ValueError("operand has no known value")
    return np.asarray(v, dtype=object) if v.dtype != object else v


def _dtype(ctx, name):
    return ctx.dtype(name)


@_rule("Shape")
def _shape(ctx, node, attrs, inputs):
    s = ctx.shape(inputs[0])
    if s is None or not any(isinstance(d, Dim) for d in s):
        return None
    return np.asarray(list(s), dtype=object)[slice(attrs.get("start", 0), attrs.get("end"))], "int64"


@_rule("Size")
def _size(ctx, node, attrs, inputs):
    s = ctx.shape(inputs[0])
    if s is None or not any(isinstance(d, Dim) for d in s):
        return None
    return np.asarray(math.prod(s), dtype=object), "int64"


@_rule("Identity")
def _identity(ctx, node, attrs, inputs):
    return _operand(ctx, inputs[0]), _dtype(ctx, inputs[0])


@_rule("Gather")
def _gather(ctx, node, attrs, inputs):
    if inputs[0] in ctx.aranges:
        return _arange_elements(ctx, inputs[0], ctx.const(inputs[1]))
    data, idx = _operand(ctx, inputs[0]), ctx.const(inputs[1])
    if idx is None or data.ndim != 1:
        return None
    idx = np.where(idx < 0, idx + data.shape[0], idx)
    return np.take(data, idx), _dtype(ctx, inputs[0])


# ---- run-time aranges (ctx.aranges) ------------------------------------------------------------------------
# A Range over symbolic bounds is a run-time tensor, but each of its elements is a dim: start + i * step. Its
# Casts, constant Slices and Concats with small constants stay such values, kept as pieces (start, step, length)
# end to end (a constant element is a piece of length 1), so that a Gather of a constant index gives a dim
# (Funnel bounds its relative-position ranges by elements of its pooled position ranges).
def _arange_elements(ctx, name, idx):
    """Elements ``idx`` (constant) of the run-time arange ``name``, counted from the end where negative."""
    pieces = ctx.aranges[name]
    if idx is None or idx.size > _MAX_ELEMENTS:
        return None

    def one(i):
        seq = pieces if i >= 0 else [(b + (n - 1) * st, -st, n) for b, st, n in reversed(pieces)]
        i = i if i >= 0 else -1 - i
        for b, st, n in seq:
            known = lower_bound(n) if isinstance(n, Dim) else n
            if known is not None and i < known:
                return b + i * st
            if isinstance(n, Dim):
                raise ArithmeticError("which piece holds the element is not known")
            i -= n
        raise IndexError("index out of range")

    return np.frompyfunc(one, 1, 1)(np.asarray(idx, dtype=object)), _dtype(ctx, name)


def _note_sliced_arange(ctx, node, inputs):
    """A Slice of a one-piece arange with constant bounds and a positive step is an arange too."""
    given = [x for x in inputs[1:5] if x]
    consts = [ctx.const(x) if x else None for x in inputs[1:5]]
    pieces = ctx.aranges[inputs[0]]
    if len(pieces) != 1 or any(ctx.const(x) is None for x in given) or len(given) < 2 or consts[0].size != 1 or \
            (consts[2] is not None and int(consts[2].reshape(-1)[0]) not in (0, -1)):
        return
    b, e = int(consts[0].reshape(-1)[0]), int(consts[1].reshape(-1)[0])
    st = 1 if consts[3] is None else int(consts[3].reshape(-1)[0])
    start, step, n = pieces[0]
    if st <= 0 or (b < 0 and isinstance(n, Dim)):
        return
    lo, hi, _ = slice_indices(n, b, e, st)
    # a begin past the end leaves no element, so its start is never read
    ctx.aranges[node.outputs[0]] = [(start + (b if b >= 0 else lo) * step, step * st, slice_length(lo, hi, st, n))]


def _note_concatenated_aranges(ctx, node, inputs):
    """A Concat of aranges and small 1-D constants or shape values is an arange of pieces."""
    pieces = []
    for x in (x for x in inputs if x):
        if x in ctx.aranges:
            pieces += ctx.aranges[x]
            continue
        v = ctx.shape_value(x)
        if v is None or v.ndim != 1 or not _integral(np.asarray(v, dtype=object)):
            return
        pieces += [(d, 0, 1) for d in _whole(np.asarray(v, dtype=object)).tolist()]
    ctx.aranges[node.outputs[0]] = pieces


def _slice_of(data, starts, ends, axes, steps):
    axis = int(axes[0]) % data.ndim if data.ndim else None
    if axis is None or data.ndim > 2:
        return None
    b, e, st = int(starts[0]), int(ends[0]), int(steps[0]) if steps is not None else 1
    n = data.shape[axis]
    index = [slice(None)] * data.ndim
    index[axis] = slice(max(min(b, n), -n - 1), max(min(e, n), -n - 1), st)
    return data[tuple(index)]


@_rule("Slice")
def _slice(ctx, node, attrs, inputs):
    if inputs[0] in ctx.aranges:
        return _note_sliced_arange(ctx, node, inputs) if "starts" not in attrs else None
    data = _operand(ctx, inputs[0])
    if "starts" in attrs:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes", [0]), None
    else:
        consts = [ctx.const(inputs[i]) if inputs[i] else None for i in range(1, 5)]
        if consts[0] is None or consts[1] is None or (inputs[3] and consts[2] is None) or \
                (inputs[4] and consts[3] is None):
            return None
        starts, ends = consts[0].reshape(-1), consts[1].reshape(-1)
        axes = [0] if consts[2] is None else consts[2].reshape(-1)
        steps = None if consts[3] is None else consts[3].reshape(-1)
    if len(starts) != 1:
        return None
    out = _slice_of(data, starts, ends, axes, steps)
    return None if out is None else (out, _dtype(ctx, inputs[0]))


def _axes(ctx, attrs, inputs):
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if inputs[1] is None:
        return None
    v = ctx.const(inputs[1])
    if v is None:
        raise ValueError("axes are not constant")
    return [int(a) for a in v.reshape(-1)]


@_rule("Squeeze")
def _squeeze(ctx, node, attrs, inputs):
    data = _operand(ctx, inputs[0])
    if data.ndim != 1 or data.shape[0] != 1:
        return None
    return data.reshape(()), _dtype(ctx, inputs[0])


@_rule("Unsqueeze")
def _unsqueeze(ctx, node, attrs, inputs):
    data = _operand(ctx, inputs[0])
    if data.ndim != 0 or _axes(ctx, attrs, inputs) not in ([0], [-1]):
        return None
    return data.reshape(1), _dtype(ctx, inputs[0])


@_rule("Concat")
def _concat(ctx, node, attrs, inputs):
    if any(x in ctx.aranges for x in inputs if x):
        return _note_concatenated_aranges(ctx, node, inputs)
    parts = [_operand(ctx, x) for x in inputs if x]
    if any(p.ndim != 1 for p in parts):
        return None
    return np.concatenate(parts), _dtype(ctx, next(x for x in inputs if x))


def record_partial(ctx, node):
    """For a Concat of 1-D integer vectors some of which only run time computes (torchvision's ``zeros(y0, w)``
    with ``y0`` a box's corner): the elements that shape values or constants give, None for the others, kept in
    ``ctx.partial_shape_values`` so the shape it builds keeps the dims it knows."""
    if node.op_type != "Concat" or node.domain or not node.outputs:
        return
    if not isinstance(ctx.vals.get(node.outputs[0]), Entry):  # a constant
        return
    parts = []
    for x in (x for x in node.inputs if x):
        v, shape = ctx.shape_value(x), ctx.shape(x)
        if v is not None and v.ndim == 1:
            parts += [d if isinstance(d, Dim) else int(d) for d in v]
        elif shape is not None and len(shape) == 1 and isinstance(shape[0], int) and ctx.dtype(x) in _INTS:
            parts += [None] * shape[0]
        else:
            return
    if any(p is not None for p in parts) and len(parts) <= _MAX_ELEMENTS:
        ctx.partial_shape_values[node.outputs[0]] = parts


_INTS = ("int64", "int32")


@_rule("Reshape")
def _reshape(ctx, node, attrs, inputs):
    data, spec = _operand(ctx, inputs[0]), ctx.const(inputs[1]) if len(inputs) > 1 and inputs[1] else None
    if spec is None:
        return None
    spec = [int(v) for v in spec.reshape(-1)]
    if len(spec) > 2 or any(v == 0 for v in spec):
        return None
    return data.reshape(tuple(spec)), _dtype(ctx, inputs[0])


@_rule("Transpose")
def _transpose(ctx, node, attrs, inputs):
    data = _operand(ctx, inputs[0])
    return data.transpose(attrs.get("perm")), _dtype(ctx, inputs[0])


@_rule("ReduceMax", "ReduceMin")
def _reduce(ctx, node, attrs, inputs):
    """The max/min of a 1-D value (torchvision's batch_images: the largest size of the batch's images)."""
    data = _operand(ctx, inputs[0])
    axes = _axes(ctx, attrs, inputs) if len(inputs) > 1 or "axes" in attrs else None
    if data.ndim != 1 or axes not in (None, [0], [-1]) or not data.size:
        return None
    pick = dim_max if node.op_type == "ReduceMax" else dim_min
    out = data[0]
    for d in data[1:]:
        out = pick(out, d)
    out = np.asarray(out, dtype=object)
    return (out.reshape(1) if attrs.get("keepdims", 1) else out), _dtype(ctx, inputs[0])


@_rule("Cast")
def _cast(ctx, node, attrs, inputs):
    to = _dt.from_onnx(attrs["to"])
    if to not in ("int64", "int32", "float32", "float64"):  # torch.arange(seq, dtype=float) casts the length
        return None
    if inputs[0] in ctx.aranges:  # a cast arange of whole numbers is that arange (its value stays run-time)
        ctx.aranges[node.outputs[0]] = ctx.aranges[inputs[0]]
        return None
    v = _operand(ctx, inputs[0])
    if to.startswith("int"):  # a cast truncates: floor, for the sizes these are
        v = np.frompyfunc(lambda x: x.floor() if isinstance(x, Ratio) else x, 1, 1)(v)
    return v, to


def _rounding(method, exact):
    def one(x):
        if isinstance(x, Ratio):
            return getattr(x, method)()
        return x if isinstance(x, Dim) else exact(x)

    def rule(ctx, node, attrs, inputs):
        return np.frompyfunc(one, 1, 1)(_operand(ctx, inputs[0])), _dtype(ctx, inputs[0])
    return rule


_rule("Floor")(_rounding("floor", math.floor))
_rule("Ceil")(_rounding("ceil", math.ceil))


def small_fraction(value):
    """The float32 ``value`` as a Fraction p / q with q <= 64 (a scale factor such as 0.5 or 1.5), else None."""
    frac = Fraction(float(value)).limit_denominator(64)
    return frac if np.float32(frac.numerator / frac.denominator) == np.float32(value) else None


def _scale(x, y):
    """float(dim) * c for a constant c that is a small fraction p / q: dim * p / q (a Ratio unless q is 1)."""
    if isinstance(x, Ratio) or isinstance(y, Ratio):
        raise ArithmeticError("a product with a symbolic fraction")
    if isinstance(y, Dim):
        x, y = y, x
    if not isinstance(x, Dim) or isinstance(y, Dim):
        return x * y
    frac = small_fraction(y)
    if frac is None:
        raise ArithmeticError("not a small fraction")
    return x * frac.numerator if frac.denominator == 1 else Ratio(x * frac.numerator, frac.denominator)


@_rule("Mul")
def _mul(ctx, node, attrs, inputs):
    dtype = _dtype(ctx, inputs[0])
    if dtype.startswith("float"):  # one side may be a fractional constant (a scale factor)
        a, b = (ctx.shape_value(x) if ctx.shape_value(x) is not None else ctx.const(x) for x in inputs[:2])
        if a is None or b is None or a.size > _MAX_ELEMENTS or b.size > _MAX_ELEMENTS:
            return None
        return np.frompyfunc(_scale, 2, 1)(np.asarray(a, dtype=object), np.asarray(b, dtype=object)), dtype
    return _operand(ctx, inputs[0]) * _operand(ctx, inputs[1]), dtype


def _integral(v):
    return all(isinstance(x, Dim) or float(x).is_integer() for x in v.reshape(-1))


def _whole(v):
    return np.frompyfunc(lambda x: x if isinstance(x, Dim) else int(x), 1, 1)(v)


def _arith(fn, exact_in_floats=True):
    """A binary rule; on float tensors only while every value is a whole number (a dim cast to float), and
    never a division there (it would not truncate)."""
    def rule(ctx, node, attrs, inputs):
        a, b = _operand(ctx, inputs[0]), _operand(ctx, inputs[1])
        dtype = _dtype(ctx, inputs[0])
        if dtype.startswith("float"):
            if not (exact_in_floats and _integral(a) and _integral(b)):
                return None
            a, b = _whole(a), _whole(b)  # a Dim takes ints, not floats
        return fn(a, b), dtype
    return rule


def _divide(a, b):
    def one(x, y):
        if isinstance(x, Dim) or isinstance(y, Dim):
            if lower_bound(x) is None or lower_bound(y) is None:
                raise ArithmeticError("signs unknown")
            return x // y  # both sizes: truncation is floor division
        q = abs(int(x)) // abs(int(y))
        return q if (x >= 0) == (y >= 0) else -q
    return np.frompyfunc(one, 2, 1)(a, b)


def _float_divide(x, y):
    """float(dim) / c for a constant c that is a small fraction p / q: dim * q / p (a Ratio unless p is 1)."""
    if isinstance(x, Ratio) or isinstance(y, (Dim, Ratio)) or not isinstance(x, Dim):
        raise ArithmeticError("only a dim divided by a constant")
    frac = small_fraction(y)
    if frac is None or frac == 0:
        raise ArithmeticError("not a small fraction")
    return x * frac.denominator if frac.numerator == 1 else Ratio(x * frac.denominator, frac.numerator)


_int_divide = _arith(_divide, exact_in_floats=False)


def _modulo(fmod):
    """Dim modulo is floor modulo (the sign of the divisor), which ONNX's fmod=0 is; fmod=1 (the dividend's sign)
    agrees with it where the dividend is not negative."""
    def one(x, y):
        if not isinstance(x, Dim) and not isinstance(y, Dim):
            return int(math.fmod(int(x), int(y))) if fmod else int(x) % int(y)
        if lower_bound(y) is None or lower_bound(y) < 1 or (fmod and (lower_bound(x) is None or lower_bound(x) < 0)):
            raise ArithmeticError("signs unknown")
        return x % y
    return np.frompyfunc(one, 2, 1)


@_rule("Mod")
def _mod(ctx, node, attrs, inputs):
    """A size modulo a window (Swin pads each axis to a multiple of its window: ``(w - h % w) % w``)."""
    if _dtype(ctx, inputs[0]).startswith("float"):
        return None
    a, b = _operand(ctx, inputs[0]), _operand(ctx, inputs[1])
    return _modulo(attrs.get("fmod", 0))(a, b), _dtype(ctx, inputs[0])


@_rule("Div")
def _div(ctx, node, attrs, inputs):
    """Integer division, or a whole float divided by a constant (``ceil(h / 32)``: a size rounded up)."""
    if not _dtype(ctx, inputs[0]).startswith("float"):
        return _int_divide(ctx, node, attrs, inputs)
    a, b = _operand(ctx, inputs[0]), ctx.const(inputs[1])
    if b is None or b.size != 1 or not _integral(a):
        return None
    return np.frompyfunc(_float_divide, 2, 1)(a, b.reshape(-1)[0]), _dtype(ctx, inputs[0])


def _sqrt(x):
    if isinstance(x, Ratio) or lower_bound(x) is None:
        raise ArithmeticError("the root of a fraction, or of a dim whose sign is unknown")
    root = dim_isqrt(x) if isinstance(x, Dim) else math.sqrt(x)
    return root if isinstance(root, Dim) and root * root == x else Root(x)  # a square's root is exact in floats


@_rule("Sqrt", "Pow")
def _root(ctx, node, attrs, inputs):
    if not _dtype(ctx, inputs[0]).startswith("float"):
        return None
    if node.op_type == "Pow":
        exponent = ctx.const(inputs[1])
        if exponent is None or exponent.size != 1 or float(exponent.reshape(-1)[0]) != 0.5:
            return None
    a = _operand(ctx, inputs[0])
    if not _integral(a) or not any(isinstance(x, Dim) for x in a.reshape(-1)):
        return None
    return np.frompyfunc(_sqrt, 1, 1)(a), _dtype(ctx, inputs[0])


_rule("Add")(_arith(lambda a, b: a + b))
_rule("Sub")(_arith(lambda a, b: a - b))


@_rule("Neg")
def _neg(ctx, node, attrs, inputs):  # T5's relative position bias, sliced from -seq
    return -_operand(ctx, inputs[0]), _dtype(ctx, inputs[0])


def _equal(x, y):
    if isinstance(x, Dim) and isinstance(y, Dim):
        if x == y:
            return True
        raise ArithmeticError("two different symbolic dims may be equal")
    d, c = (x, y) if isinstance(x, Dim) else (y, x)
    if not isinstance(d, Dim):
        return x == y
    lb = lower_bound(d)
    if lb is not None and int(c) < lb:  # a size is never below its lower bound
        return False
    raise ArithmeticError("undecided")


@_rule("Min", "Max")
def _min_max(ctx, node, attrs, inputs):
    """min(300, n) over a data-dependent count (torchvision's detectors keep the top min(k, n) scores)."""
    parts = [_operand(ctx, x) for x in inputs if x]
    if _dtype(ctx, inputs[0]).startswith("float") and not all(_integral(p) for p in parts):
        return None
    pick = np.frompyfunc(dim_min if node.op_type == "Min" else dim_max, 2, 1)
    out = parts[0]
    for p in parts[1:]:
        out = pick(out, p)
    return out, _dtype(ctx, inputs[0])


@_rule("Equal")
def _equal_rule(ctx, node, attrs, inputs):
    a, b = _operand(ctx, inputs[0]), _operand(ctx, inputs[1])
    return np.frompyfunc(_equal, 2, 1)(a, b), "bool"


@_rule("Where")
def _where(ctx, node, attrs, inputs):
    cond = ctx.const(inputs[0])
    if cond is None:
        return None
    x, y = _operand(ctx, inputs[1]), _operand(ctx, inputs[2])
    return np.where(cond, x, y), _dtype(ctx, inputs[1])
