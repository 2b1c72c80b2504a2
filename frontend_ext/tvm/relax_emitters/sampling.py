"""grid_sample and the random ops -> Relax.

The random ops are a counter-based generator written as a TE compute: each element's flat index, mixed
with the seed, goes through the murmur3 finaliser (a 32-bit hash), whose top 24 bits are a uniform
sample in [0, 1); normal samples come from two such streams by Box-Muller. No state, no threads to
order: a compiled model gives the same numbers on every run and every target.
"""
from __future__ import annotations

import math

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op

_TVM_METHODS = {"linear": "bilinear", "nearest": "nearest", "cubic": "bicubic"}
_DEFAULT_SEED = 0


@RELAX_EXPORT.register("grid_sample")
def _grid_sample(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    if ndim not in (4, 5):
        ctx.fail(f"grid_sample on {ndim - 2}-d data (TVM samples 2-d and 3-d)")
    if ndim == 5 and attrs.method == "cubic":
        ctx.fail("cubic grid_sample on 3-d data (TVM's is linear or nearest)")
    # TVM's grid is (N, k, *out): the coordinate axis second
    grid = ctx.emit(op.permute_dims(inputs[1], [0, ndim - 1] + list(range(1, ndim - 1))))
    return op.image.grid_sample(inputs[0], grid, method=_TVM_METHODS[attrs.method],
                                layout="NCHW" if ndim == 4 else "NCDHW", padding_mode=attrs.padding_mode,
                                align_corners=bool(attrs.align_corners))


def _uniform_compute(shape, seed, stream, dtype):
    """A TE tensor of ``shape`` with uniform samples in [0, 1) from stream ``stream`` of ``seed``.

    The 32-bit hash runs in int64 with every product kept below 2**63 (multiplier split in 16-bit
    halves, masks after each step): TVM's simplifier does not keep uint32 products wrapping."""
    from tvm import te

    tir = compat.tir()
    key = (int(seed) * 0x9E3779B9 + stream * 0x7F4A7C15 + 0x2545F491) & 0xFFFFFFFF

    def c(v):
        return tir.const(v, "int64")

    def mul32(x, k):
        low = x * c(k & 0xFFFF)
        high = tir.bitwise_and(x * c(k >> 16), c(0xFFFF))
        return tir.bitwise_and(low + tir.shift_left(high, c(16)), c(0xFFFFFFFF))

    def mix(x, shift):
        return tir.bitwise_xor(x, tir.shift_right(x, c(shift)))

    def sample(*idx):
        flat = c(0)
        for i, n in zip(idx, shape):
            flat = flat * c(n) + tir.Cast("int64", i)
        x = tir.bitwise_and(mul32(tir.bitwise_and(flat, c(0xFFFFFFFF)), 0x9E3779B1) + c(key), c(0xFFFFFFFF))
        x = mix(mul32(mix(mul32(mix(x, 16), 0x85EBCA6B), 13), 0xC2B2AE35), 16)
        return tir.Cast(dtype, tir.shift_right(x, c(8))) * tir.const(1.0 / (1 << 24), dtype)

    return te.compute(tuple(shape), sample, name="uniform")


def _seed(attrs):
    return _DEFAULT_SEED if attrs.seed is None else int(attrs.seed)


def _static_shape(ctx, attrs):
    shape = tuple(int(d) for d in attrs.shape)
    if any(d == 0 for d in shape):
        ctx.fail("a random tensor with a zero-length axis")
    return shape


@RELAX_EXPORT.register("random_uniform")
def _random_uniform(ctx, node, attrs, inputs):
    shape, dtype = _static_shape(ctx, attrs), attrs.dtype
    low, high = attrs.low, attrs.high

    def fn():
        from tvm import te

        tir = compat.tir()
        u = _uniform_compute(shape, _seed(attrs), 0, "float32")
        return te.compute(shape, lambda *i: tir.Cast(dtype, u(*i) * (high - low) + low), name="random_uniform")

    return ctx.bb.emit_te(fn)


@RELAX_EXPORT.register("random_normal")
def _random_normal(ctx, node, attrs, inputs):
    shape, dtype = _static_shape(ctx, attrs), attrs.dtype
    mean, scale = attrs.mean, attrs.scale

    def fn():
        from tvm import te

        tir = compat.tir()
        u1 = _uniform_compute(shape, _seed(attrs), 1, "float32")
        u2 = _uniform_compute(shape, _seed(attrs), 2, "float32")

        def normal(*i):  # Box-Muller; 1 - u1 is in (0, 1], so its log is finite
            radius = tir.sqrt(tir.const(-2.0, "float32") * tir.log(tir.const(1.0, "float32") - u1(*i)))
            z = radius * tir.cos(tir.const(2 * math.pi, "float32") * u2(*i))
            return tir.Cast(dtype, z * scale + mean)

        return te.compute(shape, normal, name="random_normal")

    return ctx.bb.emit_te(fn)
