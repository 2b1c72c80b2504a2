"""Einsum -> transpose / sum / batch_matmul / reshape where the equation allows, else the IR's einsum op.

Operands are contracted left to right; each step sums out the letters no one needs any more, lines the two
operands up as (batch..., rows, k) x (batch..., k, cols) and multiplies them (matmul without batch letters).  Equations with a repeated
letter in one operand (diagonals), letters whose dims differ (broadcast 1s), a scalar result, or merged
dims that a reshape cannot express with symbolic sizes keep the einsum op, which every emitter also has.
"""
from __future__ import annotations

from ...errors import ShapeError
from ...ops.einsum import letter_dims, parse_equation
from .registry import ONNX_IMPORT


class _NotLowered(Exception):
    pass


@ONNX_IMPORT.register("Einsum", since=(12, 28))
def einsum(ctx, node, attrs, inputs):
    equation = attrs["equation"]
    shapes = [ctx.shape(x) for x in inputs]
    if any(s is None for s in shapes):
        raise ctx.error(ShapeError, "Einsum needs the ranks of its operands")
    terms, out = parse_equation(equation, [len(s) for s in shapes])
    try:
        return _lower(ctx, list(inputs), terms, shapes, out)
    except _NotLowered:
        return ctx.emit1("einsum", list(inputs), {"equation": equation})


def _lower(ctx, xs, terms, shapes, out):
    if not out or any(len(set(t)) != len(t) for t in terms):
        raise _NotLowered
    dims = letter_dims(terms, shapes)
    if any(d != dims[c] for t, s in zip(terms, shapes) for c, d in zip(t, s)):
        raise _NotLowered  # a letter broadcasts (1 against n)
    operands = list(zip(xs, terms))
    while len(operands) > 1:
        (a, ta), (b, tb) = operands[0], operands[1]
        needed = set(out).union(*(t for _, t in operands[2:]))
        operands[:2] = [_contract(ctx, dims, a, ta, b, tb, needed)]
    x, t = operands[0]
    x, t = _sum_out(ctx, x, t, set(out))
    return _transpose(ctx, x, t, out)


def _contract(ctx, dims, a, ta, b, tb, needed):
    a, ta = _sum_out(ctx, a, ta, needed | set(tb))
    b, tb = _sum_out(ctx, b, tb, needed | set(ta))
    batch = [c for c in ta if c in tb and c in needed]
    inner = [c for c in ta if c in tb and c not in needed]
    rows = [c for c in ta if c not in tb]
    cols = [c for c in tb if c not in ta]
    a = _merge(ctx, _transpose(ctx, a, ta, batch + rows + inner), dims, batch, [rows, inner])
    b = _merge(ctx, _transpose(ctx, b, tb, batch + inner + cols), dims, batch, [inner, cols])
    y = ctx.emit1("batch_matmul" if batch else "matmul", [a, b])
    return _reshape(ctx, y, [dims[c] for c in batch + rows + cols]), "".join(batch + rows + cols)


def _sum_out(ctx, x, term, keep):
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    if len(axes) == len(term):
        raise _NotLowered  # a full reduction to a scalar
    return ctx.emit1("sum", [x], {"axis": axes}), "".join(c for c in term if c in keep)


def _transpose(ctx, x, term, order):
    perm = tuple(term.index(c) for c in order)
    return x if perm == tuple(range(len(perm))) else ctx.emit1("transpose", [x], {"axes": perm})


def _merge(ctx, x, dims, batch, groups):
    """``x`` (batch letters, then the groups' letters) reshaped to batch dims + one dim per group."""
    target = [dims[c] for c in batch]
    for group in groups:
        size = 1
        for c in group:
            size = size * dims[c]
        target.append(size)
    return _reshape(ctx, x, target)


def _reshape(ctx, x, target):
    if tuple(ctx.shape(x)) == tuple(target):
        return x
    try:
        return ctx.reshape(x, target)
    except ShapeError:
        raise _NotLowered from None
