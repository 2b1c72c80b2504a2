"""Pooling by window slices, for what the IR's pooling ops (NNVM's, MXNet's) cannot express: dilations
(ONNX MaxPool-10+, AveragePool-19+, LpPool-18+) and MaxPool's Indices output.  One strided slice of the
padded input per kernel offset, combined by max or sum (or stacked, for the arg max).  Sizes must be
static; the average's divisor (the window's counted part) and the index tables are then constants.
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


def _static_sizes(ctx, x, what):
    s = ctx.shape(x)
    sizes = s[2:] if s is not None else None
    if sizes is None or not all(isinstance(n, (int, np.integer)) for n in sizes):
        raise ctx.error(ShapeError, f"{what} needs static spatial sizes; give the input shapes with shape=")
    return [int(n) for n in sizes]


def _padding(sizes, kernel, strides, dil, begins, ends, ceil):
    """(output lengths, end padding the last windows reach, padded sizes)."""
    lengths = _lengths(sizes, kernel, strides, dil, begins, ends, ceil)
    padded = [(n_out - 1) * st + (k - 1) * d + 1 for n_out, st, k, d in zip(lengths, strides, kernel, dil)]
    tails = [max(0, need - (b + n)) for need, b, n in zip(padded, begins, sizes)]
    return lengths, tails, [b + n + t for b, n, t in zip(begins, sizes, tails)]


def _lowest(dtype):
    """The padding a max never picks: -inf, or the integer type's minimum (MaxPool-12 takes int8/uint8)."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).min) if dtype.kind in "iu" else -np.inf


def _padded(ctx, y, begins, tails, fill):
    if not (any(begins) or any(tails)):
        return y
    width = ((0, 0), (0, 0)) + tuple(zip(begins, tails))
    return ctx.emit1("pad", [y], {"pad_width": width, "pad_value": fill})


def dilated_pool(ctx, x, kind, kernel, strides, dil, begins, ends, ceil, include_pad=False, p=2.0):
    """``kind`` max, avg or lp pooling of ``x`` (N, C, *spatial) with dilations ``dil``."""
    sizes = _static_sizes(ctx, x, "pooling with dilations")
    lengths, tails, padded = _padding(sizes, kernel, strides, dil, begins, ends, ceil)
    y = ctx.entry(x)
    if kind == "lp":
        y = ctx.emit1("abs", [y])
        y = ctx.emit1("__pow_scalar__", [y], {"scalar": float(p)}) if p != 1 else y
    y = _padded(ctx, y, begins, tails, _lowest(ctx.dtype(x)) if kind == "max" else 0.0)
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


def max_pool_with_indices(ctx, x, kernel, strides, dil, begins, ends, ceil, storage_order):
    """MaxPool's (Y, Indices): the window slices stacked on a new axis 2, their max and (first) arg max;
    the arg max k at output position p picks the input position p * stride + offset_k * dilation - begin,
    numbered over the whole input (N, C, *spatial) row-major, or with the spatial dims column-major
    (``storage_order=1``)."""
    sizes = _static_sizes(ctx, x, "MaxPool's Indices output")
    s = ctx.shape(x)
    if not isinstance(s[0], (int, np.integer)) or not isinstance(s[1], (int, np.integer)):
        raise ctx.error(ShapeError, "MaxPool's Indices output needs a static batch and channel count")
    lengths, tails, _ = _padding(sizes, kernel, strides, dil, begins, ends, ceil)
    y = _padded(ctx, ctx.entry(x), begins, tails, _lowest(ctx.dtype(x)))
    parts = list(_window_slices(ctx, y, kernel, strides, dil, lengths))
    windows = ctx.emit1("stack", parts, {"axis": 2, "num_args": len(parts)})
    values = ctx.emit1("max", [windows], {"axis": (2,)})
    # position_of[k, *p]: the spatial index that kernel offset k reads at output position p
    out_pos = np.indices(lengths).reshape(len(lengths), 1, *lengths)
    offsets = np.array(list(itertools.product(*(range(k) for k in kernel)))).T.reshape(len(kernel), -1,
                                                                                       *[1] * len(lengths))
    coords = [out_pos[i] * strides[i] + offsets[i] * dil[i] - begins[i] for i in range(len(sizes))]
    inside = np.logical_and.reduce([(c >= 0) & (c < n) for c, n in zip(coords, sizes)])
    # the first offset inside the input that holds the max: a padded slot ties when the inputs equal the padding
    hits = ctx.emit1("broadcast_equal", [windows, ctx.emit1("expand_dims", [values], {"axis": 2})])
    hits = ctx.emit1("broadcast_mul", [hits, inside.astype(ctx.dtype(x))[None, None]])
    choice = ctx.emit1("argmax", [hits], {"axis": (2,), "keepdims": True, "dtype": "int64"})
    coords = [np.clip(c, 0, n - 1) for c, n in zip(coords, sizes)]
    position_of = np.ravel_multi_index(coords, sizes, order="F" if storage_order else "C")
    n, c = int(s[0]), int(s[1])
    # position_of[choice, *p], read from the flat table at choice * prod(lengths) + p (a small constant)
    per_offset = int(np.prod(lengths))
    flat = ctx.emit1("broadcast_add", [ctx.emit1("broadcast_mul", [choice, np.array([per_offset], np.int64)]),
                                       np.arange(per_offset, dtype=np.int64).reshape(lengths)])
    spatial = ctx.emit1("take", [position_of.reshape(-1).astype(np.int64), flat], {"axis": 0})
    planes = (np.arange(n * c, dtype=np.int64) * int(np.prod(sizes))).reshape((n, c, 1) + (1,) * len(sizes))
    indices = ctx.emit1("squeeze", [ctx.emit1("broadcast_add", [spatial, planes])], {"axis": (2,)})
    return values, indices
