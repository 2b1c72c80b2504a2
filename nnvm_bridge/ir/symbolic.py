"""Symbolic dimensions: a dim is an ``int`` or a :class:`Dim`, a polynomial over named symbols.

A file's dynamic axes (ONNX ``dim_param``, an ONNX dim with neither value nor name, MXNet's 0) become
symbols; shape rules then compute with them as with ints: ``+ - * // %``, comparisons and ``min``/``max``
(``dim_min``/``dim_max``).  Sums and products stay exact polynomials (``N*S*768 // (N*12)`` is ``64*S``);
what a polynomial cannot express (a floor division that does not divide, a modulo, a min, the integer square
root ``isqrt`` of what is no square) becomes an atom that keeps its structure, so an emitter can rebuild the
expression (TVM ``tir`` expressions, ONNX shapes).

Comparisons between a symbolic dim and a number are decided for *sizes*: a symbol stands for an extent of
at least 1 and below 2**30 that is larger than any small constant a shape rule compares it with (``N > 3``,
``N != 1``, ``N < 2**31 - 1``).  Shape rules written for ints then take the branch that the general case needs,
and the emitted code checks the real sizes when it runs.  Two different symbols are never equal.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import numbers

from ..errors import ShapeError

_PROBE = 1 << 20  # what a symbol is taken to be when the sign of an expression must be decided
_HUGE = 1 << 30  # constants at or above this are "bigger than any size" (slice ends like INT64_MAX)


class SymbolicDimError(ShapeError):
    """An operation needs a concrete value where a dim is symbolic."""


class _Atom:
    __slots__ = ("op", "args", "key")

    def __init__(self, op: str, args: tuple):
        self.op = op  # "sym" (args = (name,)), "floordiv", "mod", "min", "max", "isqrt" (one arg)
        self.args = args
        self.key = args[0] if op == "sym" else f"{op}({', '.join(map(str, args))})"

    def __eq__(self, other):
        return isinstance(other, _Atom) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def probe(self) -> int:
        if self.op == "sym":
            return _PROBE + (sum(map(ord, self.key)) % 97)
        vals = [_probe_value(a) for a in self.args]
        if self.op == "floordiv":
            return vals[0] // vals[1]
        if self.op == "mod":
            return vals[0] % vals[1]
        if self.op == "isqrt":
            return math.isqrt(max(vals[0], 0))
        return min(vals) if self.op == "min" else max(vals)


def _probe_value(x) -> int:
    return x._probe() if isinstance(x, Dim) else int(x)


class Dim:
    """A symbolic dimension: sum of ``coeff * atom * atom ...`` terms (never a plain constant: see ``_make``)."""

    __slots__ = ("terms", "_hash")

    def __init__(self, terms):
        self.terms = terms  # tuple of (monomial, coeff); monomial = tuple of atoms sorted by key; () = constant
        self._hash = None

    # ---- construction -----------------------------------------------------------------------------------
    @staticmethod
    def _make(poly: dict):
        poly = {m: c for m, c in poly.items() if c}
        if not poly:
            return 0
        if set(poly) == {()}:
            return poly[()]
        rounded = _round_up_to_multiple(poly)
        if rounded is not None:
            return rounded
        return Dim(tuple(sorted(poly.items(), key=lambda t: (len(t[0]), [a.key for a in t[0]]))))

    @staticmethod
    def _poly(x) -> dict:
        if isinstance(x, Dim):
            return dict(x.terms)
        if isinstance(x, numbers.Integral) and not isinstance(x, bool):
            return {(): int(x)} if x else {}
        raise TypeError(f"cannot combine a symbolic dim with {x!r}")

    # ---- arithmetic -------------------------------------------------------------------------------------
    def __add__(self, other):
        p = self._poly(self)
        for m, c in self._poly(other).items():
            p[m] = p.get(m, 0) + c
        return self._make(p)

    __radd__ = __add__

    def __neg__(self):
        return self._make({m: -c for m, c in self.terms})

    def __sub__(self, other):
        return self + (-other if isinstance(other, Dim) else -int(other))

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        out = {}
        for m1, c1 in self._poly(self).items():
            for m2, c2 in self._poly(other).items():
                m = tuple(sorted(m1 + m2, key=lambda a: a.key))
                out[m] = out.get(m, 0) + c1 * c2
        return self._make(out)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        return _divide(self, other, "floordiv")

    def __rfloordiv__(self, other):
        return _divide(other, self, "floordiv")

    def __mod__(self, other):
        return _divide(self, other, "mod")

    def __rmod__(self, other):
        return _divide(other, self, "mod")

    def __truediv__(self, other):
        q = _exact_quotient(self, other)
        if q is None:
            raise SymbolicDimError(f"{self} / {other} is not an exact division of dims")
        return q

    # ---- comparisons (decided for sizes, see the module docstring) --------------------------------------------
    def __eq__(self, other):
        if isinstance(other, Dim):
            return self.terms == other.terms
        if isinstance(other, numbers.Integral):
            return False  # never a plain constant (_make folds those)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.terms)
        return self._hash

    def _probe(self) -> int:
        total = 0
        for m, c in self.terms:
            v = c
            for a in m:
                v *= a.probe()
            total += v
        return total

    def _sign_vs(self, other) -> int:
        if isinstance(other, numbers.Integral) and abs(int(other)) >= _HUGE:
            return -1 if other > 0 else 1
        diff = self - other
        if not isinstance(diff, Dim):
            return (diff > 0) - (diff < 0)
        v = diff._probe()
        return (v > 0) - (v < 0)

    def __lt__(self, other):
        return self._sign_vs(other) < 0

    def __le__(self, other):
        return self._sign_vs(other) <= 0

    def __gt__(self, other):
        return self._sign_vs(other) > 0

    def __ge__(self, other):
        return self._sign_vs(other) >= 0

    # ---- conversions ------------------------------------------------------------------------------------
    def __int__(self):
        raise SymbolicDimError(f"the dim {self} is symbolic here; give the input shapes with shape=")

    __index__ = __int__

    def __bool__(self):
        return True  # a size is never 0

    def atoms(self) -> set:
        return {a for m, _ in self.terms for a in m}

    def symbols(self) -> set:
        """Names of the symbols this dim depends on."""
        out = set()
        for a in self.atoms():
            if a.op == "sym":
                out.add(a.key)
            else:
                for x in a.args:
                    if isinstance(x, Dim):
                        out |= x.symbols()
        return out

    def __repr__(self):
        parts = []
        for m, c in self.terms:
            factors = [a.key if a.op == "sym" else a.key for a in m]
            if not factors:
                parts.append(str(c))
            elif c == 1:
                parts.append("*".join(factors))
            elif c == -1:
                parts.append("-" + "*".join(factors))
            else:
                parts.append(f"{c}*" + "*".join(factors))
        return " + ".join(parts).replace("+ -", "- ")

    __str__ = __repr__


def _exact_quotient(a, b):
    """a / b when it is an exact polynomial division (b a single term or a multiple of a), else None."""
    pa, pb = Dim._poly(a), Dim._poly(b)
    if not pb:
        raise ZeroDivisionError("division of a dim by zero")
    if len(pb) == 1:
        (mb, cb), = pb.items()
        out = {}
        for m, c in pa.items():
            rest = list(m)
            for atom in mb:
                if atom not in rest:
                    return None
                rest.remove(atom)
            if c % cb:
                return None
            out[tuple(rest)] = c // cb
        return Dim._make(out)
    return _long_division(pa, pb)


def _long_division(pa, pb):
    """a / b for a polynomial divisor (``64*N*(P + S) // (32*(P + S))`` is ``2*N``): multivariate long division
    in graded lexicographic order; None unless it ends with no remainder and integer coefficients."""
    names = sorted({a.key for m in (*pa, *pb) for a in m})

    def order(m):
        keys = [a.key for a in m]
        return len(m), [keys.count(n) for n in names]

    lead_b = max(pb, key=order)
    rest, out = dict(pa), {}
    while rest:
        lead = max(rest, key=order)
        factors = list(lead)
        for atom in lead_b:
            if atom not in factors:
                return None
            factors.remove(atom)
        if rest[lead] % pb[lead_b]:
            return None
        q_mono, q_coeff = tuple(factors), rest[lead] // pb[lead_b]
        out[q_mono] = out.get(q_mono, 0) + q_coeff
        for m, c in pb.items():
            prod = tuple(sorted(q_mono + m, key=lambda a: a.key))
            rest[prod] = rest.get(prod, 0) - q_coeff * c
            if not rest[prod]:
                del rest[prod]
    return Dim._make(out)


def _divide(a, b, op):
    if not isinstance(a, Dim) and not isinstance(b, Dim):
        return a // b if op == "floordiv" else a % b
    if isinstance(b, numbers.Integral) and b == 0:
        raise ZeroDivisionError(f"{op} of a dim by zero")
    if op == "mod" and isinstance(b, numbers.Integral) and b > 0 and isinstance(a, Dim):
        a = _without_multiples(a, b)  # mod(k - mod(x, k), k) is mod(-x, k)
        if not isinstance(a, Dim):
            return a % b
    q = _exact_quotient(a, b)
    if q is not None:
        return q if op == "floordiv" else 0
    if isinstance(b, numbers.Integral) and b > 0:
        # split off the part that divides, the constant's too: (2*H + 3) // 2 == H + 1 + 1 // 2, so
        # (H - 8) // 8 + 1 (a strided convolution) and H // 8 (a resize to the patch grid) compare equal
        pa = Dim._poly(a)
        const = pa.pop((), 0)
        whole = {m: c // b for m, c in pa.items() if c % b == 0}
        rest = {m: c for m, c in pa.items() if c % b}
        if const % b:
            rest[()] = const % b
        if const // b:
            whole[()] = const // b
        if whole:
            return (Dim._make(whole) if op == "floordiv" else 0) + _divide(Dim._make(rest), b, op)
    if op == "floordiv" and isinstance(b, numbers.Integral) and b > 0:
        pa = Dim._poly(a)
        nested = _nested_floordiv(pa)
        if nested is not None:
            # (x // c + k) // b == (x + k*c) // (c*b): a chain of strided convolutions, written by an exporter
            # as one division, then compares equal to the chain
            x, c, k = nested
            return _divide(x + k * c, c * b, op)
    return Dim._make({(_Atom(op, (a, b)),): 1})


def _round_up_to_multiple(poly):
    """``x + mod(-x, k)`` (a length padded to whole windows: Swin's ``x + (k - x % k) % k``) written as
    ``k * floordiv(x + k - 1, k)``, so that dividing it by ``k`` is exact; None where ``poly`` has no such pair."""
    for m, c in poly.items():
        if len(m) != 1 or m[0].op != "mod" or not isinstance(m[0].args[1], numbers.Integral) or m[0].args[1] <= 0:
            continue
        x, k = -m[0].args[0], m[0].args[1]
        scaled = Dim._poly(c * x)
        if scaled and all(poly.get(t, 0) == v for t, v in scaled.items()):
            rest = {t: v for t, v in poly.items() if t != m}
            for t, v in scaled.items():
                rest[t] -= v
            return Dim._make(rest) + c * k * _divide(x + (k - 1), k, "floordiv")
    return None


def _without_multiples(a, b):
    """``a`` with each ``mod(x, j)`` term whose ``j`` is a multiple of ``b`` read as ``x``: the same modulo ``b``."""
    poly = Dim._poly(a)
    out = {}
    for m, c in poly.items():
        if len(m) == 1 and m[0].op == "mod" and isinstance(m[0].args[1], numbers.Integral) and m[0].args[1] % b == 0:
            for t, v in Dim._poly(m[0].args[0]).items():
                out[t] = out.get(t, 0) + c * v
        else:
            out[m] = out.get(m, 0) + c
    return Dim._make(out)


def _nested_floordiv(poly):
    """(x, c, k) when ``poly`` is ``x // c + k`` (c a positive int, k an int), else None."""
    k = poly.get((), 0)
    terms = [(m, c) for m, c in poly.items() if m]
    if len(terms) != 1 or terms[0][1] != 1 or len(terms[0][0]) != 1:
        return None
    atom = terms[0][0][0]
    if atom.op != "floordiv" or not isinstance(atom.args[1], numbers.Integral) or atom.args[1] <= 0:
        return None
    return atom.args[0], atom.args[1], k


# ---- helpers ----------------------------------------------------------------------------------------------
def sym(name: str) -> Dim:
    """The symbolic dim named ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a symbolic dim needs a non-empty name, got {name!r}")
    return Dim(((((_Atom("sym", (name,))),), 1),))


# Symbols that may be 0: lengths the data decide (a NonZero count, the iterations of a loop). Every other
# symbol is a size the user gives (>= 1). A name shared with a user's dim only makes folding more cautious.
_MAY_BE_ZERO: set = set()


def count_dim(name: str) -> Dim:
    """The symbolic dim ``name`` for a length that the values decide and that may be 0."""
    _MAY_BE_ZERO.add(name)
    return sym(name)


def is_symbolic(d) -> bool:
    return isinstance(d, Dim)


def is_static(shape) -> bool:
    """A shape whose dims are all plain ints."""
    return shape is not None and not any(isinstance(d, Dim) for d in shape)


def as_dim(d):
    """A dim as the IR stores it: ``int`` (numpy ints converted) or :class:`Dim`."""
    if isinstance(d, Dim):
        return d
    if isinstance(d, numbers.Integral) and not isinstance(d, bool):
        return int(d)
    raise TypeError(f"a dim is an int or a symbolic Dim, got {d!r}")


def lower_bound(d):
    """The least value ``d`` takes when every symbol is a size (>= 1; >= 0 for a ``count_dim``), or None when
    that is not evident."""
    if not isinstance(d, Dim):
        return d
    if any(c < 0 for m, c in d.terms if m):
        return 0 if _rest_after_a_cut(d) else None
    total = 0
    for m, c in d.terms:  # non-negative coefficients: increasing in every atom, least at the atoms' least values
        v = c
        for a in m:
            lb = _atom_lower_bound(a)
            if lb is None or lb < 0:
                return None
            v *= lb
        total += v
    return total


def _atom_lower_bound(a):
    if a.op == "sym":
        return 0 if a.args[0] in _MAY_BE_ZERO else 1
    if a.op == "mod":  # floor modulo by a positive number, whatever the dividend's sign
        return 0 if isinstance(a.args[1], int) and a.args[1] > 0 else None
    lbs = [lower_bound(x) for x in a.args]
    if a.op == "max" and any(lb is not None for lb in lbs):  # max(x, 0) >= 0 whatever x is
        return max(lb for lb in lbs if lb is not None)
    if any(lb is None for lb in lbs):
        return None
    if a.op == "floordiv":
        return lbs[0] // a.args[1] if isinstance(a.args[1], int) and a.args[1] > 0 else None
    if a.op == "isqrt":
        return math.isqrt(lbs[0]) if lbs[0] >= 0 else None
    if a.op == "min":
        return min(lbs)
    if a.op == "max":
        return max(lbs)
    return None


def _atom_args(d, op):
    """The arguments of ``d`` when it is one ``op`` atom (``min``/``max``), else ()."""
    if isinstance(d, Dim) and len(d.terms) == 1:
        (monomial, coeff), = d.terms
        if coeff == 1 and len(monomial) == 1 and monomial[0].op == op:
            return monomial[0].args
    return ()


def cut_from(d, e) -> bool:
    """Whether ``d`` is ``min(e, z)``: a length cut down from ``e``. Broadcast against ``e`` it can only be
    ``e`` (a valid pair is equal or has a 1, and ``min(e, z)`` is 1 below ``e`` only where ``z`` is)."""
    return any(e == arg for arg in _atom_args(d, "min"))


_REQUIRED = contextvars.ContextVar("required_equal_dims", default=None)


def fits(a, b) -> bool:
    """Whether dims ``a`` and ``b`` can be one length where an op needs them equal (a convolution's channels, a
    dense layer's inputs): equal, or a plain symbol on either side (an expression such as ``512*(H//32)``
    against a fixed number says the model needs a fixed size). A symbolic pair is recorded where
    ``recording_required_dims`` listens (``ir/passes/unify.py`` makes an input's symbol that length, and the
    compiled model checks it on the inputs)."""
    if a == b:
        return True
    if not (plain_symbol(a) or plain_symbol(b)):
        return False
    required = _REQUIRED.get()
    if required is not None:
        required.append((as_dim(a), as_dim(b)))
    return True


def plain_symbol(d):
    """The name of ``d`` where it is one symbol alone (``S``, not ``S + 1`` or ``2*S``), else None."""
    if isinstance(d, Dim) and len(d.terms) == 1:
        (monomial, coeff), = d.terms
        if coeff == 1 and len(monomial) == 1 and monomial[0].op == "sym":
            return monomial[0].key
    return None


@contextlib.contextmanager
def recording_required_dims():
    """The (a, b) pairs that ``fits`` let through while this is active."""
    required = []
    token = _REQUIRED.set(required)
    try:
        yield required
    finally:
        _REQUIRED.reset(token)


def may_equal(a, b) -> bool:
    """Whether ``a == b`` holds for some sizes: equal, or symbolic and not a constant apart (``S`` and
    ``S + 1`` never are; ``B`` and ``floordiv(B*P, 16)`` are where ``P`` is 16)."""
    if a == b:
        return True
    return (isinstance(a, Dim) or isinstance(b, Dim)) and isinstance(a - b, Dim)


def taken_as_equal(a, b):
    """The one length of two dims a model implies equal (see ``may_equal``): the constant, else the shorter
    expression (an input's own symbol rather than what an exporter computed); a shape rule that takes it
    leaves the check ``a == b`` to run time (the emitters: ``CompiledModel.run``, MXNet's own checks)."""
    if not isinstance(a, Dim) or not isinstance(b, Dim):
        return b if isinstance(a, Dim) else a
    return min(a, b, key=lambda d: (len(str(d)), str(d)))


def clamped_at_zero(d):
    """``x`` when ``d`` is ``max(x, 0)`` (a range's length over symbolic bounds), else None: where some tensor has
    the length ``x``, ``x`` is not negative and ``d`` is ``x``."""
    rest = [a for a in _atom_args(d, "max") if not (isinstance(a, numbers.Integral) and a == 0)]
    return rest[0] if len(rest) == 1 and len(_atom_args(d, "max")) == 2 else None


def dim_min(a, b):
    if not isinstance(a, Dim) and not isinstance(b, Dim):
        return min(a, b)
    if a == b:
        return a
    for x, y in ((a, b), (b, a)):  # absorption: min(x, max(x, z)) is x, min(x, min(x, z)) is min(x, z)
        if any(x == arg for arg in _atom_args(y, "max")):
            return x
        if any(x == arg for arg in _atom_args(y, "min")):
            return y
    for x, y in ((a, b), (b, a)):
        if isinstance(y, numbers.Integral) and abs(y) >= _HUGE:
            return x if y > 0 else y
        if isinstance(y, numbers.Integral) and lower_bound(x) is not None and lower_bound(x) >= y:
            return y
    diff = a - b
    if not isinstance(diff, Dim):  # same symbols, constant apart
        return a if diff < 0 else b
    return Dim._make({(_Atom("min", tuple(sorted((a, b), key=str))),): 1})


def dim_max(a, b):
    if not isinstance(a, Dim) and not isinstance(b, Dim):
        return max(a, b)
    if a == b:
        return a
    for x, y in ((a, b), (b, a)):  # absorption: max(x, min(x, z)) is x (a slice meeting the length it is cut to)
        if any(x == arg for arg in _atom_args(y, "min")):
            return x
        if any(x == arg for arg in _atom_args(y, "max")):
            return y
    for x, y in ((a, b), (b, a)):
        if isinstance(y, numbers.Integral) and lower_bound(x) is not None and lower_bound(x) >= y:
            return x
        if isinstance(y, numbers.Integral) and (y <= -_HUGE or y <= 0 and _rest_after_a_cut(x)):
            return x
    diff = a - b
    if not isinstance(diff, Dim):
        return a if diff > 0 else b
    return Dim._make({(_Atom("max", tuple(sorted((a, b), key=str))),): 1})


def _rest_after_a_cut(d) -> bool:
    """Whether ``d`` is ``e - min(.., z, ..)`` with ``e >= z``, or ``e - max(..)`` with ``e`` at least each of its
    arguments: never negative. Such is the rest of an axis of length ``e`` after a slice of its last places (a roll's
    ``x[:-k]`` beside ``x[-k:]``), and kept unclamped the two lengths add up to ``e`` again."""
    if not isinstance(d, Dim):
        return False
    for monomial, coeff in d.terms:
        if coeff == -1 and len(monomial) == 1 and monomial[0].op in ("min", "max"):
            whole = d + Dim._make({monomial: 1})
            covers = [lower_bound(whole - arg) is not None and lower_bound(whole - arg) >= 0
                      for arg in monomial[0].args]
            if any(covers) if monomial[0].op == "min" else all(covers):
                return True
    return False


def dim_isqrt(d):
    """``floor(sqrt(d))`` of a size (DPT's patch grid side ``int(sqrt(num_patches))``): a square polynomial
    (``4*H*H``) gives its root, anything else an ``isqrt`` atom (that it is a square is for run time to check)."""
    if not isinstance(d, Dim):
        if d < 0:
            raise ValueError(f"isqrt of the negative {d}")
        return math.isqrt(int(d))
    if len(d.terms) == 1:
        (monomial, coeff), = d.terms
        root = math.isqrt(coeff) if coeff > 0 else -1
        keys = [a.key for a in monomial]
        if root * root == coeff and all(keys.count(k) % 2 == 0 for k in keys):
            out = root
            for i in range(0, len(monomial), 2):  # sorted by key: equal atoms are neighbours
                out = out * Dim((((monomial[i],), 1),))
            return out
    return Dim._make({(_Atom("isqrt", (d,)),): 1})


def slice_indices(dim, begin: int, end: int, step: int):
    """``slice(begin, end, step).indices(dim)`` for a dim that may be symbolic (begin/end/step are ints)."""
    if not isinstance(dim, Dim):
        return slice(begin, end, step).indices(dim)
    if step > 0:
        lo, hi = 0, dim
    else:
        lo, hi = -1, dim - 1

    def clamp(v):
        if abs(v) >= _HUGE:  # "to the end" / "from the start"
            return hi if v > 0 else lo
        v = v + dim if v < 0 else v
        v = v if _extent_at_least(hi - v, 0, dim) else dim_min(v, hi)
        return v if _extent_at_least(v, lo, dim) else dim_max(v, lo)
    return clamp(begin), clamp(end), step


def _extent_at_least(v, least, extent) -> bool:
    """Whether ``v`` >= ``least`` follows from ``extent`` being a size (>= 1, as every symbol of it is): the
    bound ``extent - 1`` of ``x[:-1]`` is then >= 0 (wav2vec2's positional convolution, one sample cut)."""
    if not isinstance(extent, Dim) or extent.symbols() & _MAY_BE_ZERO:
        return False
    diff = v - extent
    return isinstance(diff, numbers.Integral) and 1 + diff >= least


def slice_length(start, stop, step: int, extent=None):
    """``len(range(start, stop, step))`` for bounds that may be symbolic (of an axis of length ``extent``)."""
    if not isinstance(start, Dim) and not isinstance(stop, Dim):
        return len(range(start, stop, step))
    span = stop - start if step > 0 else start - stop
    n = (span + abs(step) - 1) // abs(step)
    return n if _extent_at_least(n, 0, extent) else dim_max(n, 0)


def substitute(d, values: dict):
    """``d`` with the symbols in ``values`` (name -> int or Dim) replaced; an int when nothing symbolic is left."""
    if not isinstance(d, Dim):
        return d
    total = 0
    for m, c in d.terms:
        v = c
        for a in m:
            v = v * _substitute_atom(a, values)
        total = total + v
    return total


def _substitute_atom(a, values):
    if a.op == "sym":
        return values.get(a.key, Dim(((((a,)), 1),)))
    args = [substitute(x, values) for x in a.args]
    if a.op == "floordiv":
        return args[0] // args[1]
    if a.op == "mod":
        return args[0] % args[1]
    if a.op == "isqrt":
        return dim_isqrt(args[0])
    return dim_min(*args) if a.op == "min" else dim_max(*args)


def evaluate(d, values: dict) -> int:
    """The value of ``d`` with every symbol bound (SymbolicDimError names the missing ones)."""
    out = substitute(d, values)
    if isinstance(out, Dim):
        raise SymbolicDimError(f"no value for the symbolic dim(s) {sorted(out.symbols())} of {d}")
    return int(out)


def bind_shape(shape, values: dict):
    """A shape with its symbols bound as far as ``values`` allows."""
    return None if shape is None else tuple(substitute(d, values) for d in shape)


def match_dims(declared, actual, values: dict, what: str = "input"):
    """Bind the symbols of ``declared`` from the concrete ``actual`` shape into ``values`` (plain symbols only);
    ShapeError when a fixed dim or an already bound symbol disagrees."""
    if len(declared) != len(actual):
        raise ShapeError(f"{what} has rank {len(actual)}, expected {len(declared)} {tuple(declared)}")
    for axis, (d, n) in enumerate(zip(declared, actual)):
        if isinstance(d, Dim) and len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1 \
                and d.terms[0][0][0].op == "sym":
            name = d.terms[0][0][0].key
            if values.setdefault(name, int(n)) != int(n):
                raise ShapeError(f"{what} dim {axis} is {n}, but {name} is {values[name]} elsewhere")
    for axis, (d, n) in enumerate(zip(declared, actual)):
        want = substitute(d, values)
        if not isinstance(want, Dim) and int(want) != int(n):
            raise ShapeError(f"{what} dim {axis} is {n}, expected {d if isinstance(d, Dim) else want}"
                             + (f" = {want}" if isinstance(d, Dim) else ""))
    return values


def format_dim(d) -> str:
    """The text form of a dim, which :func:`parse_dim` reads back (``3``, ``N``, ``2*N*S + 1``,
    ``floordiv(-3 + H, 2) + 1``)."""
    return str(d)


def parse_dim(text):
    """A dim from its text form: an integer, a symbol name, or an expression of them with ``+ - *``, integer
    constants, parentheses and ``floordiv(a, b)``, ``mod(a, b)``, ``min(a, b)``, ``max(a, b)``, ``isqrt(a)``."""
    if isinstance(text, (int, Dim)) and not isinstance(text, bool):
        return text
    tokens = _tokens(str(text))
    if not tokens:
        raise ValueError("an empty dim")
    value, pos = _parse_sum(tokens, 0)
    if pos != len(tokens):
        raise ValueError(f"cannot read the dim {text!r}")
    return value


_FUNCS = {"floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b, "min": dim_min, "max": dim_max}
_UNARY = {"isqrt": dim_isqrt}


def _tokens(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "+-*(),":
            out.append(c)
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "+-*(),":
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _parse_sum(tokens, pos):
    sign = 1
    if pos < len(tokens) and tokens[pos] in "+-":
        sign = -1 if tokens[pos] == "-" else 1
        pos += 1
    value, pos = _parse_product(tokens, pos)
    value = value * sign
    while pos < len(tokens) and tokens[pos] in "+-":
        op = tokens[pos]
        rhs, pos = _parse_product(tokens, pos + 1)
        value = value + rhs if op == "+" else value - rhs
    return value, pos


def _parse_product(tokens, pos):
    value, pos = _parse_atom(tokens, pos)
    while pos < len(tokens) and tokens[pos] == "*":
        rhs, pos = _parse_atom(tokens, pos + 1)
        value = value * rhs
    return value, pos


def _parse_atom(tokens, pos):
    if pos >= len(tokens):
        raise ValueError("a dim expression ends too early")
    tok = tokens[pos]
    if tok == "(":
        value, pos = _parse_sum(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise ValueError("unbalanced parentheses in a dim")
        return value, pos + 1
    if tok == "-":
        value, pos = _parse_atom(tokens, pos + 1)
        return -value, pos
    if tok in _UNARY and pos + 1 < len(tokens) and tokens[pos + 1] == "(":
        a, pos = _parse_sum(tokens, pos + 2)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise ValueError(f"{tok}() takes one argument")
        return _UNARY[tok](a), pos + 1
    if tok in _FUNCS and pos + 1 < len(tokens) and tokens[pos + 1] == "(":
        a, pos = _parse_sum(tokens, pos + 2)
        if pos >= len(tokens) or tokens[pos] != ",":
            raise ValueError(f"{tok}() takes two arguments")
        b, pos = _parse_sum(tokens, pos + 1)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise ValueError(f"{tok}() takes two arguments")
        return _FUNCS[tok](a, b), pos + 1
    if tok in "+*),":
        raise ValueError(f"unexpected {tok!r} in a dim")
    try:
        return int(tok), pos + 1
    except ValueError:
        pass
    if not (tok[0].isalpha() or tok[0] in "_?") :
        raise ValueError(f"{tok!r} is neither a number nor a symbol name")
    return sym(tok), pos + 1


def anonymous_dim(var: str, axis: int) -> Dim:
    """The symbol of an unknown dim that has no name in the file (ONNX dim without value or param, MXNet 0)."""
    return sym(f"{var}_dim{axis}")


def parse_shape(text) -> tuple:
    """``"(N, 2*S, 4)"`` -> the tuple of dims it writes (the text form of :func:`format_shape_hint`)."""
    body = str(text).strip()
    if len(body) >= 2 and body[0] in "([" and body[-1] in ")]":
        body = body[1:-1]
    parts, depth, cur = [], 0, ""
    for c in body:
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += (c == "(") - (c == ")")
        cur += c
    if cur.strip():
        parts.append(cur)
    return tuple(parse_dim(_without_long_suffix(part.strip())) for part in parts)


def _without_long_suffix(text):
    """``10L`` (Python 2's long, in old MXNet shape texts) is 10; a symbol named ``L`` or ``seq_L`` stays."""
    return text[:-1] if len(text) > 1 and text[-1] == "L" and text[:-1].isdigit() else text


def parse_shape_hint(text, var: str):
    """A variable's ``__shape__`` hint -> tuple of dims: integers, symbol names or expressions, and MXNet's 0
    (or -1) for a dim it does not know, which becomes the anonymous symbol of that axis."""
    return tuple(anonymous_dim(var, axis) if isinstance(d, int) and d <= 0 else d
                 for axis, d in enumerate(parse_shape(text)))


def format_shape_hint(shape, *, mxnet: bool = False) -> str:
    """The ``__shape__`` text of a shape; ``mxnet=True`` writes 0 for symbolic dims, as MXNet does."""
    dims = [("0" if mxnet else format_dim(d)) if isinstance(d, Dim) else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


__all__ = ["parse_shape", "lower_bound", "count_dim", "slice_indices", "slice_length", "anonymous_dim", "parse_shape_hint", "format_shape_hint", "Dim", "SymbolicDimError", "sym", "is_symbolic", "is_static", "as_dim", "dim_min", "dim_max",
           "dim_isqrt", "may_equal", "taken_as_equal",
           "substitute", "evaluate", "bind_shape", "match_dims", "format_dim", "parse_dim"]
