"""Converters for image-geometry ONNX ops: GridSample, AffineGrid, CenterCropPad, GroupNormalization."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import is_static
from .convert_nn import padding_attr
from .registry import ONNX_IMPORT

# GridSample-16 spells the modes as PyTorch does; -20 renamed them (and allowed any rank)
_GRID_MODES_16 = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}


def _grid_sample(ctx, attrs, inputs, method):
    rank = ctx.require_rank(inputs[0])
    if method not in ("linear", "nearest", "cubic"):
        raise ctx.unsupported(f"mode={method}")
    if method == "cubic" and rank != 4:
        raise ctx.unsupported(f"cubic mode on {rank - 2}-d data (ONNX defines it for 2-d only)")
    return ctx.emit1("grid_sample", inputs[:2], {"method": method,
                                                 "padding_mode": attrs.get("padding_mode", "zeros"),
                                                 "align_corners": bool(attrs.get("align_corners", 0))})


@ONNX_IMPORT.register("GridSample", since=16)
def grid_sample_16(ctx, node, attrs, inputs):
    mode = attrs.get("mode", "bilinear")
    if ctx.require_rank(inputs[0]) != 4:
        raise ctx.unsupported("GridSample-16 takes 4-d input only")
    return _grid_sample(ctx, attrs, inputs, _GRID_MODES_16.get(mode, mode))


@ONNX_IMPORT.register("GridSample", since=(20, 22))
def grid_sample(ctx, node, attrs, inputs):
    return _grid_sample(ctx, attrs, inputs, attrs.get("mode", "linear"))


def _base_grid(sizes, align_corners):
    """The (prod(sizes), k + 1) homogeneous coordinates [x, y, (z,) 1] of every output position,
    x along the last axis, in [-1, 1]."""
    lines = []
    for n in sizes:
        if align_corners:
            lines.append(np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1))
        else:
            lines.append((2.0 * np.arange(n) + 1.0) / n - 1.0)
    mesh = np.meshgrid(*lines, indexing="ij")  # per spatial axis, in (D,) H, W order
    coords = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(int(np.prod(sizes)))]
    return np.stack(coords, axis=1)


@ONNX_IMPORT.register("AffineGrid", since=20)
def affine_grid(ctx, node, attrs, inputs):
    theta = inputs[0]
    size = [int(v) for v in ctx.require_const(inputs[1], "AffineGrid size").reshape(-1)]
    ts = ctx.shape(theta)
    if ts is None or not is_static(ts):
        raise ctx.error(ShapeError, "AffineGrid needs the shape of theta; give the input shapes with shape=")
    n, k = int(ts[0]), len(size) - 2
    spatial = size[2:]
    base = _base_grid(spatial, bool(attrs.get("align_corners", 0))).astype(ctx.dtype(theta))
    flat = ctx.reshape(theta, (n * k, k + 1))
    grid = ctx.emit1("matmul", [base, flat], {"transpose_b": True})  # (positions, n * k)
    grid = ctx.emit1("transpose", [ctx.reshape(grid, (-1, n, k))], {"axes": (1, 0, 2)})
    return ctx.reshape(grid, [n] + spatial + [k])


@ONNX_IMPORT.register("CenterCropPad", since=18)
def center_crop_pad(ctx, node, attrs, inputs):
    x = inputs[0]
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "CenterCropPad needs the input shape; give the input shapes with shape=")
    target = [int(v) for v in ctx.require_const(inputs[1], "CenterCropPad shape").reshape(-1)]
    axes = [int(a) % len(s) for a in attrs.get("axes", range(len(s)))]
    if len(axes) != len(target):
        raise ctx.error(ShapeError, f"CenterCropPad: {len(target)} sizes for {len(axes)} axes")
    begin, end = [0] * len(s), list(s)
    pads = [(0, 0)] * len(s)
    for axis, want in zip(axes, target):
        have = s[axis]
        if not isinstance(have, (int, np.integer)):
            raise ctx.error(ShapeError, f"CenterCropPad: axis {axis} has the symbolic length {have}; give the "
                                        f"input shapes with shape=")
        if want < have:
            begin[axis] = (have - want) // 2
            end[axis] = begin[axis] + want
        elif want > have:
            before = (want - have) // 2
            pads[axis] = (before, want - have - before)
    y = ctx.entry(x)
    if begin != [0] * len(s) or end != list(s):
        y = ctx.emit1("strided_slice", [y], {"begin": tuple(begin), "end": _slice_ends(end)})
    if any(p != (0, 0) for p in pads):
        y = ctx.emit1("pad", [y], {"pad_width": tuple(pads)})
    return y


def _slice_ends(end):
    """strided_slice ends: a cropped axis' end; an untouched symbolic axis runs to its end (ends clip)."""
    big = np.iinfo(np.int32).max
    return tuple(int(e) if isinstance(e, (int, np.integer)) else big for e in end)


def _group_norm(ctx, attrs, inputs, per_group):
    x, scale, bias = inputs[0], inputs[1], inputs[2]
    s = ctx.shape(x)
    if s is None or not isinstance(s[1], (int, np.integer)):
        raise ctx.error(ShapeError, "GroupNormalization needs the channel count; give the input shapes with shape=")
    groups, channels = int(attrs["num_groups"]), int(s[1])
    if groups <= 0 or channels % groups:
        raise ctx.error(ShapeError, f"GroupNormalization: {channels} channels do not split into {groups} groups")
    if per_group:  # GroupNormalization-18: one scale/bias per group, i.e. per channel repeated
        scale, bias = (ctx.emit1("repeat", [v], {"repeats": channels // groups, "axis": 0}) for v in (scale, bias))
    return ctx.emit1("group_norm", [x, scale, bias], {"num_groups": groups,
                                                      "epsilon": float(attrs.get("epsilon", 1e-5))})


@ONNX_IMPORT.register("GroupNormalization", since=18)
def group_normalization_18(ctx, node, attrs, inputs):
    return _group_norm(ctx, attrs, inputs, per_group=True)


@ONNX_IMPORT.register("GroupNormalization", since=21)
def group_normalization(ctx, node, attrs, inputs):
    return _group_norm(ctx, attrs, inputs, per_group=False)


@ONNX_IMPORT.register("Col2Im", since=18)
def col2im(ctx, node, attrs, inputs):
    """Col2Im sums each column's block back into the image: a grouped transposed convolution (one group
    per channel) whose constant kernel puts block position p of a column at that position."""
    x = inputs[0]
    image = [int(v) for v in ctx.require_const(inputs[1], "Col2Im image_shape").reshape(-1)]
    block = [int(v) for v in ctx.require_const(inputs[2], "Col2Im block_shape").reshape(-1)]
    nsp = len(image)
    s = ctx.shape(x)
    if s is None or len(s) != 3 or not isinstance(s[1], (int, np.integer)) or nsp not in (1, 2, 3):
        raise ctx.error(ShapeError, "Col2Im needs a (N, C * prod(block), L) input of known channels and a 1-3-d "
                                    "image")
    k = int(np.prod(block))
    channels = int(s[1]) // k
    dil = list(attrs.get("dilations", [1] * nsp))
    strides = list(attrs.get("strides", [1] * nsp))
    pads = list(attrs.get("pads", [0] * (2 * nsp)))
    begins, ends = pads[:nsp], pads[nsp:]
    blocks = [(n + b + e - (d * (kk - 1) + 1)) // st + 1 for n, b, e, d, kk, st in
              zip(image, begins, ends, dil, block, strides)]
    if channels * k != s[1] or (isinstance(s[2], (int, np.integer)) and int(np.prod(blocks)) != s[2]):
        raise ctx.error(ShapeError, f"Col2Im: input {tuple(s)} does not hold {blocks} blocks of {block}")
    weight = np.zeros((channels * k, 1) + tuple(block), ctx.dtype(x))
    for c in range(channels):
        weight[c * k:(c + 1) * k, 0].reshape(k, k)[np.arange(k), np.arange(k)] = 1.0
    natural = [(n - 1) * st - b - e + d * (kk - 1) + 1 for n, st, b, e, d, kk in
               zip(blocks, strides, begins, ends, dil, block)]
    ir_attrs = dict(channels=channels, kernel_size=tuple(block), strides=tuple(strides), dilation=tuple(dil),
                    groups=channels, padding=padding_attr(begins, ends), use_bias=False,
                    output_padding=tuple(n - m for n, m in zip(image, natural)))
    cols = ctx.reshape(x, [s[0], channels * k] + blocks)
    return ctx.emit1(f"conv{nsp}d_transpose", [cols, weight], ir_attrs)
