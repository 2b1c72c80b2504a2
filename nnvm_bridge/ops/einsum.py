"""The einsum extension op (ONNX Einsum, numpy.einsum) and the equation parser its users share.

The ONNX importer lowers the equations it can to transpose / sum / batch_matmul (frontend/onnx/
convert_einsum.py); what is left (diagonals, broadcasting letters) stays this op.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import broadcast_shapes, known
from .registry import Attr, register

_ELLIPSIS_LETTERS = "0123456789"  # stand-ins for the dims "..." covers; never einsum letters


def parse_equation(equation: str, ranks):
    """``(operand terms, output term)`` of an einsum equation, each a string of one letter per axis; the dims
    of ``...`` become the digits ``0``-``9`` (aligned on the right, as they broadcast).  An implicit output
    (no ``->``) is the ``...`` dims, then the letters used once, in alphabetical order."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ShapeError(f"einsum {equation!r} names {len(terms)} operands, got {len(ranks)}")
    n_ell = 0
    out_terms = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            k = rank - (len(term) - 3)
            if k < 0:
                raise ShapeError(f"einsum term {term!r} has more letters than its operand's rank {rank}")
            n_ell = max(n_ell, k)
            term = term.replace("...", _ELLIPSIS_LETTERS[len(_ELLIPSIS_LETTERS) - k:] if k else "")
        if len(term) != rank or not all(c.isalpha() or c.isdigit() for c in term):
            raise ShapeError(f"einsum term {term!r} does not fit an operand of rank {rank}")
        out_terms.append(term)
    ell = _ELLIPSIS_LETTERS[len(_ELLIPSIS_LETTERS) - n_ell:] if n_ell else ""
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(out_terms)
        out = ell + "".join(sorted(c for c in set(letters) if c.isalpha() and letters.count(c) == 1))
    if len(set(out)) != len(out) or any(c not in "".join(out_terms) for c in out):
        raise ShapeError(f"einsum output {rhs!r} repeats a letter or has one no operand has")
    return out_terms, out


def letter_dims(terms, shapes):
    """Each letter's dim across the operands (1 broadcasts, as numpy does for ``...`` dims)."""
    dims = {}
    for term, shape in zip(terms, shapes):
        for c, d in zip(term, shape):
            dims[c] = broadcast_shapes((dims[c],), (d,), "einsum")[0] if c in dims else d
    return dims


def _einsum_shape(a, shapes):
    if not known(shapes):
        return [None]
    terms, out = parse_equation(a.equation, [len(s) for s in shapes])
    dims = letter_dims(terms, shapes)
    return [tuple(dims[c] for c in out)]


def _einsum(a, xs):
    return [np.asarray(np.einsum(a.equation, *xs))]


register("einsum", inputs=(), variadic=True, attrs={"equation": Attr("str")}, infer_shape=_einsum_shape,
         compute=_einsum, level=6, ext=True, doc="numpy.einsum / ONNX Einsum with the equation as written")
