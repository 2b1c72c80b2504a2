"""Sampling ops (extensions, level 6): grid_sample (ONNX GridSample, PyTorch grid_sample).

The numpy rule follows ONNX's reference: normalised coordinates in [-1, 1] become pixel coordinates
(``align_corners`` picks whether -1/1 are the corner pixels' centres or their outer edges), the padding
mode moves out-of-range coordinates (border: clamp, reflection: mirror) and then decides what a neighbour
outside the image reads (zeros: 0, border: the edge, reflection: the mirrored pixel).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import ShapeError
from .registry import Attr, register

METHODS = ("linear", "nearest", "cubic")
PADDING_MODES = ("zeros", "border", "reflection")


def _grid_sample_shape(a, shapes):
    data, grid = shapes
    if data is None or grid is None:
        return [None]
    nsp = len(data) - 2
    if len(grid) != nsp + 2 or grid[-1] != nsp:
        raise ShapeError(f"grid_sample: a grid of shape {grid} does not fit {nsp}-d data {data} "
                         f"(it must be (N, *out, {nsp}))")
    if a.method == "cubic" and nsp != 2:
        raise ShapeError("grid_sample: cubic sampling is defined for 2-d data only")
    return [(data[0], data[1]) + tuple(grid[1:-1])]


def _reflect(x, lo, hi):
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below = x < lo
    dist = np.where(below, lo - x, x - hi)
    n = np.floor(dist / span)
    r = dist - n * span
    even = (n % 2) == 0
    inside = np.where(below, np.where(even, lo + r, hi - r), np.where(even, hi - r, lo + r))
    return np.where((x >= lo) & (x <= hi), x, inside)


def _cubic_weight(t, alpha=-0.75):
    t = np.abs(t)
    near = ((alpha + 2) * t - (alpha + 3)) * t * t + 1
    far = ((alpha * t - 5 * alpha) * t + 8 * alpha) * t - 4 * alpha
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _grid_sample(a, xs):
    data, grid = xs
    nsp = data.ndim - 2
    sizes = data.shape[2:]
    x64 = data.astype(np.float64)
    coords, borders = [], []
    for d in range(nsp):  # the grid's last axis lists x (the last spatial axis) first
        size = sizes[d]
        g = grid[..., nsp - 1 - d].astype(np.float64)
        p = (g + 1) / 2 * (size - 1) if a.align_corners else ((g + 1) * size - 1) / 2
        lo, hi = (0.0, size - 1.0) if a.align_corners else (-0.5, size - 0.5)
        if a.method == "nearest":
            p = np.rint(p)  # half to even, as PyTorch
        if a.padding_mode == "border":  # only coordinates outside the borders move (ONNX's reference)
            p = np.where((p < lo) | (p > hi), np.clip(p, 0, size - 1), p)
        elif a.padding_mode == "reflection":
            p = _reflect(p, lo, hi)
        coords.append(p)
        borders.append((lo, hi))
    n_index = np.arange(data.shape[0]).reshape((-1,) + (1,) * (grid.ndim - 2))
    channels_last = np.moveaxis(x64, 1, -1)

    def read(indices):
        valid = np.ones(indices[0].shape, bool)
        fixed = []
        for d, i in enumerate(indices):
            size = sizes[d]
            if a.padding_mode == "zeros":
                valid &= (i >= 0) & (i < size)
            elif a.padding_mode == "reflection":
                i = np.trunc(_reflect(i.astype(np.float64), *borders[d])).astype(np.int64)
            fixed.append(np.clip(i, 0, size - 1))
        values = channels_last[(n_index,) + tuple(fixed)]
        return values * valid[..., None]

    if a.method == "nearest":
        out = read([np.trunc(p).astype(np.int64) for p in coords])
    else:
        taps = (0, 1) if a.method == "linear" else (-1, 0, 1, 2)
        base = [np.floor(p).astype(np.int64) for p in coords]
        out = 0.0
        for offsets in itertools.product(taps, repeat=nsp):
            idx = [b + o for b, o in zip(base, offsets)]
            w = 1.0
            for p, i in zip(coords, idx):
                w = w * (np.maximum(0.0, 1 - np.abs(p - i)) if a.method == "linear" else _cubic_weight(p - i))
            out = out + read(idx) * w[..., None]
    return [np.moveaxis(np.asarray(out), -1, 1).astype(data.dtype)]


register("grid_sample", inputs=("data", "grid"),
         attrs={"method": Attr("str", "linear", choices=METHODS),
                "padding_mode": Attr("str", "zeros", choices=PADDING_MODES),
                "align_corners": Attr("bool", False)},
         infer_shape=_grid_sample_shape, compute=_grid_sample, level=6, ext=True,
         doc="samples data (N, C, *in) at the normalised coordinates grid (N, *out, k), grid[..., 0] the "
             "last axis; ONNX GridSample's semantics (cubic: 2-d only)")
