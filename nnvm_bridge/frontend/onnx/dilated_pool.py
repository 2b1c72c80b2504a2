"""Pooling with dilations (ONNX MaxPool-10+, AveragePool-19+, LpPool-18+), which the IR's pooling ops
(NNVM's, MXNet's) cannot express: one strided slice of the padded input per kernel offset, combined by
max or sum. Sizes must be static; the average's divisor (the window's counted part) is then a constant.
"""
from __future__ import annotations

import itertools

import numpy as np

from ...errors import ShapeError
from ...ops.common import pool_out_dropping_last

_BIG = np.iinfo(np.int32).max


def _lengths(sizes, kernel, strides, dil, begins, ends, ceil):
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    if ceil:
        return [int(pool_out_dropping_last(n, e, s, b, pe)) for n, e, s, b, pe in
                zip(sizes, eff, strides, begins, ends)]
    return [(n + b + pe - e) // s + 1 for n, e, s, b, pe in zip(sizes, eff, strides, begins, ends)]


def _window_slices(ctx, x, kernel, strides, dil, lengths):
    nsp = len(kernel)
    for offsets in itertools.product(*(range(k) for k in kernel)):
        begin = (0, 0) + tuple(o * d for o, d in zip(offsets, dil))
        end = (_BIG, _BIG) + tuple(b + (n - 1) * s + 1 for b, n, s in zip(begin[2:], lengths, strides))
        yield ctx.emit1("strided_slice", [x], {"begin": begin, "end": end, "stride": (1, 1) + tuple(strides)}) \
            if nsp else x


def _counted(sizes, begins, ends, padded, include_pad):
    """The 0/1 mask, over the padded input, of the positions an average counts."""
    mask = np.zeros(padded)
    inner = tuple(slice(0, b + n + e) if include_pad else slice(b, b + n)
                  for n, b, e in zip(sizes, begins, ends))
    mask[inner] = 1.0
    return mask


def dilated_pool(ctx, x, kind, kernel, strides, dil, begins, ends, ceil, include_pad=False, p=2.0):
    """``kind`` max, avg or lp pooling of ``x`` (N, C, *spatial) with dilations ``dil``."""
    s = ctx.shape(x)
    sizes = s[2:] if s is not None else None
    if sizes is None or not all(isinstance(n, (int, np.integer)) for n in sizes):
        raise ctx.error(ShapeError, "pooling with dilations needs static spatial sizes; give the input shapes "
                                    "with shape=")
    sizes = [int(n) for n in sizes]
    lengths = _lengths(sizes, kernel, strides, dil, begins, ends, ceil)
    padded = [(n_out - 1) * st + (k - 1) * d + 1 for n_out, st, k, d in zip(lengths, strides, kernel, dil)]
    tails = [max(0, need - (b + n)) for need, b, n in zip(padded, begins, sizes)]
    padded = [b + n + t for b, n, t in zip(begins, sizes, tails)]
    fill = -np.inf if kind == "max" else 0.0
    width = ((0, 0), (0, 0)) + tuple(zip(begins, tails))
    y = ctx.entry(x)
    if kind == "lp":
        y = ctx.emit1("abs", [y])
        y = ctx.emit1("__pow_scalar__", [y], {"scalar": float(p)}) if p != 1 else y
    if any(begins) or any(tails):
        y = ctx.emit1("pad", [y], {"pad_width": width, "pad_value": fill})
    combine = "broadcast_max" if kind == "max" else "broadcast_add"
    acc = None
    for part in _window_slices(ctx, y, kernel, strides, dil, lengths):
        acc = part if acc is None else ctx.emit1(combine, [acc, part])
    if kind == "lp":
        return acc if p == 1 else ctx.emit1("__pow_scalar__", [acc], {"scalar": 1.0 / p})
    if kind == "avg":
        mask = _counted(sizes, begins, ends, padded, include_pad)
        count = 0.0
        for offsets in itertools.product(*(range(k) for k in kernel)):
            count = count + mask[tuple(slice(o * d, o * d + (n - 1) * st + 1, st)
                                       for o, d, n, st in zip(offsets, dil, lengths, strides))]
        count = np.maximum(count, 1.0).astype(ctx.dtype(x)).reshape((1, 1) + tuple(lengths))
        acc = ctx.emit1("broadcast_div", [acc, count])
    return acc
