"""DeformConv (2-d) as IR ops: bilinear sampling at the offset kernel positions, then a 1x1 convolution.

As ONNX's reference computes it: each kernel tap k of output position (i, j) reads the input at
(i * stride - pad + k * dilation + offset) with bilinear interpolation, zero outside the input
(GridSample, align_corners=1), scaled by the mask.  One ``grid_sample`` reads every tap of every offset
group (the groups folded into the batch); the samples, arranged as (N, C * K, oH, oW) channels c-major, are
what the kernel multiplies, so a grouped 1x1 ``conv2d`` with the kernel flattened to (oC, C/group * K)
finishes the convolution, bias included.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


@ONNX_IMPORT.register("DeformConv", since=(19, 22))
def deform_conv(ctx, node, attrs, inputs):
    x, w, offset, bias, mask = (inputs[i] for i in range(5))
    xs, ws, offs = ctx.shape(x), ctx.shape(w), ctx.shape(offset)
    if xs is None or ws is None or offs is None or not is_static(tuple(xs) + tuple(ws) + tuple(offs)):
        raise ctx.error(ShapeError, "DeformConv needs the shapes of X, W and offset; give the input shapes "
                                    "with shape=")
    if len(xs) != 4:
        raise ctx.unsupported(f"{len(xs) - 2}-d convolution (2-d only)")
    n, c, ih, iw = (int(d) for d in xs)
    oc, kh, kw = int(ws[0]), int(ws[2]), int(ws[3])
    oh, ow = int(offs[2]), int(offs[3])
    group, offset_group = int(attrs.get("group", 1)), int(attrs.get("offset_group", 1))
    sh, sw = attrs.get("strides", (1, 1))
    dh, dw = attrs.get("dilations", (1, 1))
    pads = attrs.get("pads", (0, 0, 0, 0))
    taps = kh * kw
    if c % offset_group or int(offs[1]) != offset_group * 2 * taps or c != int(ws[1]) * group:
        raise ctx.error(ShapeError, f"DeformConv shapes X {tuple(xs)}, W {tuple(ws)}, offset {tuple(offs)} do not "
                                    f"fit group={group}, offset_group={offset_group}")
    expected = tuple((side + pads[a] + pads[a + 2] - (k - 1) * d - 1) // st + 1 for a, (side, k, d, st) in
                     enumerate(((ih, kh, dh, sh), (iw, kw, dw, sw))))
    if (oh, ow) != expected:
        raise ctx.error(ShapeError, f"DeformConv offset's spatial size {(oh, ow)} is not the output's {expected}")
    if ih < 2 or iw < 2:
        raise ctx.unsupported("an input side of length 1 (ONNX's sampling divides by side - 1)")
    dtype = ctx.dtype(x)
    # tap positions before the offsets, per (kh, kw, oh, ow), in pixels
    ki, kj, oi, oj = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(oh), np.arange(ow), indexing="ij")
    base = ((oi * sh - pads[0] + ki * dh).reshape(taps, oh, ow), (oj * sw - pads[1] + kj * dw).reshape(taps, oh, ow))
    # offset (N, G * K * 2, oH, oW) holds (dh, dw) pairs per tap: split them, add the base, normalise to [-1, 1]
    # (at most 5-d tensors: MXNet's slicing and broadcasting stop there)
    pairs = ctx.reshape(offset, (n * offset_group, taps, 2, oh, ow))
    normalised = []
    for axis, (side, start) in enumerate(((ih, base[0]), (iw, base[1]))):
        delta = ctx.emit1("squeeze", [ctx.emit1("strided_slice", [pairs], {
            "begin": (0, 0, axis), "end": (n * offset_group, taps, axis + 1)})], {"axis": (2,)})
        pixels = ctx.emit1("broadcast_add", [delta, start.astype(dtype)])
        normalised.append(ctx.emit1("__sub_scalar__", [ctx.emit1("__mul_scalar__", [pixels], {
            "scalar": 2.0 / (side - 1)})], {"scalar": 1.0}))
    grid = ctx.emit1("stack", [normalised[1], normalised[0]], {"axis": 4, "num_args": 2})  # (x, y) order
    grid = ctx.reshape(grid, (n * offset_group, taps * oh, ow, 2))
    per_group = ctx.reshape(x, (n * offset_group, c // offset_group, ih, iw))
    samples = ctx.emit1("grid_sample", [per_group, grid], {"method": "linear", "padding_mode": "zeros",
                                                          "align_corners": True})
    samples = ctx.reshape(samples, (n * offset_group, c // offset_group, taps, oh, ow))
    if mask is not None:
        samples = ctx.emit1("broadcast_mul", [samples, ctx.reshape(mask, (n * offset_group, 1, taps, oh, ow))])
    columns = ctx.reshape(samples, (n, c * taps, oh, ow))
    kernel = ctx.reshape(w, (oc, (c // group) * taps, 1, 1))
    conv_inputs = [columns, kernel] + ([bias] if bias is not None else [])
    return ctx.emit1("conv2d", conv_inputs, {"channels": oc, "kernel_size": (1, 1), "groups": group,
                                             "use_bias": bias is not None})
