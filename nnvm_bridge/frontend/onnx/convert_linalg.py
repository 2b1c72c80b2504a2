"""Converters for ONNX's linear-algebra and running-product ops: Det, CumProd."""
from __future__ import annotations

import itertools

import numpy as np

from ...errors import ShapeError
from .registry import ONNX_IMPORT

# the Leibniz sum has n! terms: up to 6 x 6 matrices (720 products of 6)
_LARGEST_DET = 6


def _permutations(n):
    """(n! , n) flat indices i * n + p(i) of every permutation p, and each permutation's sign."""
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    inversions = [sum(p[i] > p[j] for i in range(n) for j in range(i + 1, n)) for p in perms]
    signs = np.where(np.array(inversions) % 2 == 0, 1.0, -1.0)
    return perms + np.arange(n, dtype=np.int64) * n, signs


@ONNX_IMPORT.register("Det", since=(11, 22))
def det(ctx, node, attrs, inputs):
    """det(x) = sum over permutations p of sign(p) * prod_i x[i, p(i)]: one take, a product and a signed sum
    (exact for any matrix, no pivoting to go wrong on a zero pivot)."""
    x = inputs[0]
    s = ctx.shape(x)
    if s is None or len(s) < 2:
        raise ctx.error(ShapeError, "Det needs an input of known rank >= 2; give the input shapes with shape=")
    n = s[-1]
    if not isinstance(n, (int, np.integer)) or s[-2] != n:
        raise ctx.error(ShapeError, f"Det takes square matrices of known size, got shape {tuple(s)}")
    n = int(n)
    if n > _LARGEST_DET:
        raise ctx.unsupported(f"{n} x {n} matrices (the Leibniz expansion is used up to {_LARGEST_DET} x "
                              f"{_LARGEST_DET})")
    index, signs = _permutations(n)
    rank = len(s)
    flat = ctx.reshape(x, list(s[:-2]) + [n * n])
    terms = ctx.emit1("prod", [ctx.emit1("take", [flat, index], {"axis": rank - 2})], {"axis": (rank - 1,)})
    signed = ctx.emit1("broadcast_mul", [terms, signs.astype(ctx.dtype(x))])
    return ctx.emit1("sum", [signed], {"axis": (rank - 2,)})


@ONNX_IMPORT.register("CumProd", since=26)
def cumprod(ctx, node, attrs, inputs):
    axis = np.asarray(ctx.require_const(inputs[1], "CumProd axis")).reshape(-1)
    if axis.size != 1:
        raise ctx.error(ShapeError, f"CumProd axis must hold one value, got {axis.size}")
    return ctx.emit1("cumprod", [inputs[0]], {"axis": int(axis[0]), "exclusive": bool(attrs.get("exclusive", 0)),
                                              "reverse": bool(attrs.get("reverse", 0))})
