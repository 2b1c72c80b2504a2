"""Converters for ONNX's signal ops: the window functions, MelWeightMatrix, DFT and STFT.

A window or a mel filter bank is a constant (its size must be known). DFT and STFT become one matrix product
with a constant (2n, 2m) Fourier matrix: a signal's samples, flattened as (re, im) pairs, times the matrix
give the spectrum's (re, im) pairs. Truncation and zero padding to ``dft_length``, ``onesided``, the inverse
transform (of a one-sided spectrum too: real samples) are all in the matrix, and so is STFT's window; STFT's
frames come from one ``take``.
"""
from __future__ import annotations

import numpy as np

from ...errors import InvalidModelError, ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


def _window(ctx, attrs, inputs, cosines):
    size = int(ctx.require_const(inputs[0], "the window size").reshape(-1)[0])
    denominator = size if attrs.get("periodic", 1) else size - 1
    n = np.arange(size, dtype=np.float64)
    w = np.zeros(size)
    for k, coeff in enumerate(cosines):
        w += coeff * np.cos(2 * np.pi * k * n / max(denominator, 1))
    return w.astype(_dt.to_numpy(_dt.from_onnx(int(attrs.get("output_datatype", 1)))))


@ONNX_IMPORT.register("HannWindow", since=17)
def hann_window(ctx, node, attrs, inputs):
    return _window(ctx, attrs, inputs, (0.5, -0.5))


@ONNX_IMPORT.register("HammingWindow", since=17)
def hamming_window(ctx, node, attrs, inputs):
    return _window(ctx, attrs, inputs, (25 / 46, -21 / 46))


@ONNX_IMPORT.register("BlackmanWindow", since=17)
def blackman_window(ctx, node, attrs, inputs):
    return _window(ctx, attrs, inputs, (0.42, -0.5, 0.08))


def fourier_matrix(n, length, parts, inverse, onesided, window=None):
    """The (n * parts, 2 * m) real matrix taking ``n`` samples of ``parts`` (1: real, 2: re, im) values to
    the first ``m`` bins of the ``length``-point (inverse) DFT, samples past ``length`` dropped."""
    m = length // 2 + 1 if onesided else length
    k = np.arange(m)[None, :]
    t = np.arange(n)[:, None]
    theta = 2 * np.pi * t * k / length
    sign = 1.0 if inverse else -1.0
    cos, sin = np.cos(theta), sign * np.sin(theta)
    keep = (t < length).astype(np.float64)
    if window is not None:
        keep = keep * np.asarray(window, np.float64).reshape(-1, 1)[:n]
    scale = 1.0 / length if inverse else 1.0
    mat = np.zeros((n, parts, m, 2))
    mat[:, 0, :, 0], mat[:, 0, :, 1] = cos * keep * scale, sin * keep * scale  # re part of the input
    if parts == 2:  # (a + ib)(c + is) = ac - bs + i(as + bc)
        mat[:, 1, :, 0], mat[:, 1, :, 1] = -sin * keep * scale, cos * keep * scale
    return mat.reshape(n * parts, m * 2)


def inverse_real_matrix(n, length, parts):
    """The (n * parts, length) matrix of the inverse real DFT (numpy's irfft): ``n`` one-sided bins to
    ``length`` real samples; bins past length // 2 and the imaginary parts of the real bins drop out."""
    t = np.arange(length)[None, :]
    mat = np.zeros((n, parts, length))
    for k in range(min(n, length // 2 + 1)):
        twice = 1.0 if k == 0 or 2 * k == length else 2.0  # a bin and its mirror image
        theta = 2 * np.pi * k * t / length
        mat[k, 0] = twice * np.cos(theta)[0] / length
        if parts == 2:
            mat[k, 1] = -twice * np.sin(theta)[0] / length
    return mat.reshape(n * parts, length)


def _spectrum(ctx, x, shape, axis, length, inverse, onesided, dtype, window=None):
    """The DFT of ``x`` (shape (..., parts)) along ``axis``: a (..., m, 2) tensor, m at ``axis`` (the inverse
    of a one-sided spectrum: (..., length, 1) real samples)."""
    rank = len(shape)
    parts, n = int(shape[-1]), shape[axis]
    if parts not in (1, 2) or not isinstance(n, (int, np.integer)):
        raise ctx.error(ShapeError, f"a signal of shape {tuple(shape)} along axis {axis}: the last axis must be "
                                    f"1 (real) or 2 (complex) long and the signal axis' length known")
    n = int(n)
    if inverse and onesided:
        length = 2 * (n - 1) if length is None else int(length)
        mat, out_parts = inverse_real_matrix(n, length, parts), 1
    else:
        length = n if length is None else int(length)
        mat, out_parts = fourier_matrix(n, length, parts, inverse, onesided, window), 2
    mat = mat.astype(_dt.to_numpy(dtype))
    m = mat.shape[1] // out_parts
    order = [d for d in range(rank - 1) if d != axis] + [axis, rank - 1]
    moved = x if order == list(range(rank)) else ctx.emit1("transpose", [x], {"axes": tuple(order)})
    rest = [shape[d] for d in order[:-2]]
    rows = ctx.reshape(moved, (-1, n * parts))
    y = ctx.emit1("matmul", [rows, mat])
    y = ctx.reshape(y, rest + [m, out_parts])
    back = list(np.argsort(order))
    return y if back == list(range(rank)) else ctx.emit1("transpose", [y], {"axes": tuple(int(v) for v in back)})


def _dft(ctx, attrs, inputs, axis):
    x = inputs[0]
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "DFT needs the input shape; give the input shapes with shape=")
    axis = axis % len(s)
    if axis == len(s) - 1:
        raise ctx.error(ShapeError, "DFT: the signal axis cannot be the last (re, im) axis")
    length = None
    if inputs[1] is not None:
        length = int(ctx.require_const(inputs[1], "DFT dft_length").reshape(-1)[0])
    inverse, onesided = bool(attrs.get("inverse", 0)), bool(attrs.get("onesided", 0))
    return _spectrum(ctx, x, s, axis, length, inverse, onesided, ctx.dtype(x))


@ONNX_IMPORT.register("DFT", since=17)
def dft_17(ctx, node, attrs, inputs):
    return _dft(ctx, attrs, inputs, int(attrs.get("axis", 1)))


@ONNX_IMPORT.register("DFT", since=20)
def dft(ctx, node, attrs, inputs):
    axis = -2 if inputs[2] is None else int(ctx.require_const(inputs[2], "DFT axis").reshape(-1)[0])
    rank = ctx.require_rank(inputs[0])
    return _dft(ctx, attrs, inputs, axis % rank)


@ONNX_IMPORT.register("STFT", since=17)
def stft(ctx, node, attrs, inputs):
    signal, window = inputs[0], inputs[2]
    s = ctx.shape(signal)
    if s is None or len(s) != 3 or not is_static(s[1:]):
        raise ctx.error(ShapeError, "STFT needs a (batch, length, 1 or 2) signal of known length")
    step = int(ctx.require_const(inputs[1], "STFT frame_step").reshape(-1)[0])
    wv = None if window is None else ctx.require_const(window, "STFT window")
    if inputs[3] is not None:
        frame = int(ctx.require_const(inputs[3], "STFT frame_length").reshape(-1)[0])
    elif wv is not None:
        frame = int(wv.shape[0])
    else:
        raise ctx.error(ShapeError, "STFT needs a window or a frame_length")
    length = int(s[1])
    frames = 1 + (length - frame) // step
    if frames < 1:
        raise ctx.error(ShapeError, f"STFT: a signal of {length} samples holds no frame of {frame}")
    index = (np.arange(frames)[:, None] * step + np.arange(frame)[None, :]).astype(np.int64)
    framed = ctx.emit1("take", [signal, index], {"axis": 1})  # (batch, frames, frame, parts)
    return _spectrum(ctx, framed, (s[0], frames, frame, s[2]), 2, frame, False, bool(attrs.get("onesided", 1)),
                     ctx.dtype(signal), wv)


@ONNX_IMPORT.register("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx, node, attrs, inputs):
    """A constant: the (dft_length // 2 + 1, num_mel_bins) triangular filter bank, computed as ONNX's reference
    does (band edges evenly spaced on the mel scale, rounded down to DFT bins)."""
    num_mel_bins, dft_length, sample_rate, low_hz, high_hz = (
        ctx.require_const(inputs[i], f"MelWeightMatrix input {i}").reshape(-1)[0] for i in range(5))
    num_mel_bins, dft_length = int(num_mel_bins), int(dft_length)
    if num_mel_bins < 1 or dft_length < 1 or sample_rate <= 0:
        raise ctx.error(InvalidModelError, "MelWeightMatrix needs num_mel_bins, dft_length and sample_rate > 0")
    low_mel, high_mel = (2595 * np.log1p(hz / 700) / np.log(10) for hz in (low_hz, high_hz))
    mels = np.arange(num_mel_bins + 2) * ((high_mel - low_mel) / (num_mel_bins + 2)) + low_mel
    edges = (((dft_length + 1) * (700 * np.expm1(mels / 2595 * np.log(10)))) // sample_rate).astype(int)
    out = np.zeros((dft_length // 2 + 1, num_mel_bins))
    for i in range(num_mel_bins):
        left, center, right = edges[i:i + 3]
        if center == left:
            out[center, i] = 1
        else:
            out[left:center + 1, i] = (np.arange(left, center + 1) - left) / (center - left)
        if right > center:
            out[center:right, i] = (right - np.arange(center, right)) / (right - center)
    return out.astype(_dt.to_numpy(_dt.from_onnx(int(attrs.get("output_datatype", 1)))))
