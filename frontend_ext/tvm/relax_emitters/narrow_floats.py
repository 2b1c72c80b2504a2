"""Casts to and from float8 and bfloat16 as integer arithmetic on the bits, in TE.

TVM 0.27 has the dtypes (tensors of them pass to and from ml_dtypes numpy arrays) but its LLVM casts are
wrong for them: float8 values come out garbled, and float32 -> bfloat16 turns some NaNs into inf. So these
casts reinterpret the float32 bits as uint32 and round to nearest even by hand, with ONNX's rules for NaN,
inf and out-of-range values (``saturate``); bfloat16 -> float32 is TVM's own cast, which is exact. Every
other dtype goes through float32, exact for float16, bfloat16 and the float8 types.
"""
from __future__ import annotations

from nnvm_bridge.ir import dtypes as _dt

from .. import compat


def needs_bit_cast(src: str, dst: str) -> bool:
    """Whether a cast from ``src`` to ``dst`` must take this module's path instead of TVM's own."""
    if src == dst:
        return False
    return _dt.is_float8(src) or _dt.is_float8(dst) or dst == "bfloat16"


def cast(ctx, x, src: str, dst: str, saturate: bool = True):
    """The Relax value of ``x`` (dtype ``src``) cast to ``dst``."""
    from tvm import te

    def compute(t):
        return te.compute(t.shape, lambda *i: _cast_scalar(t(*i), src, dst, saturate), name="narrow_cast")

    return ctx.bb.emit_te(compute, x, primfunc_name_hint=f"cast_{src}_{dst}")


def _cast_scalar(v, src, dst, saturate):
    tir = compat.tir()
    if _dt.is_float8(src):
        v = float32_from_float8(v, src)
    elif src != "float32":
        v = tir.Cast("float32", v)
    if _dt.is_float8(dst):
        return float8_from_float32(v, dst, saturate)
    if dst == "bfloat16":
        return bfloat16_from_float32(v)
    return v if dst == "float32" else tir.Cast(dst, v)


def _consts(dtype):
    tir = compat.tir()
    return lambda value: tir.const(value, dtype)


def float8_from_float32(v, dtype: str, saturate: bool):
    """A float32 TIR value as ``dtype`` (a float8 type): round to nearest even; NaN to NaN; inf and values past
    the largest finite one to +-max when ``saturate``, else to inf (float8_e5m2) or NaN (the others)."""
    tir = compat.tir()
    fmt = _dt.FLOAT8[dtype]
    u, i = _consts("uint32"), _consts("int32")
    bits = tir.reinterpret("uint32", v)
    mag = tir.bitwise_and(bits, u(0x7FFFFFFF))
    sign = tir.Cast("int32", tir.bitwise_and(tir.shift_right(bits, u(24)), u(0x80)))
    # the float8 exponent (biased); at 0 and below the value is subnormal there, on a grid of fixed step
    exp8 = tir.Cast("int32", tir.shift_right(mag, u(23))) - i(127 - fmt.bias)
    significand = tir.bitwise_or(tir.bitwise_and(mag, u(0x7FFFFF)), u(0x800000))
    drop = tir.Cast("uint32", tir.min(i(23 - fmt.mantissa) + tir.max(i(1) - exp8, i(0)), i(31)))
    odd = tir.bitwise_and(tir.shift_right(significand, drop), u(1))
    half = tir.shift_right(u(1 << 31), u(32) - drop)
    kept = tir.shift_right(significand + half - u(1) + odd, drop)  # round half to even
    # codes are ordered by magnitude, so a rounding carry into the exponent lands on the right code
    code = tir.shift_left(tir.max(exp8 - i(1), i(0)), i(fmt.mantissa)) + tir.Cast("int32", kept)
    nan = i(fmt.nan_code) if fmt.unsigned_zero else i(fmt.nan_code) + sign
    if saturate:
        overflow = i(fmt.max_code) + sign
    else:
        overflow = nan if fmt.inf_code is None else i(fmt.inf_code) + sign
    signed = tir.Select(code == i(0), i(0), code + sign) if fmt.unsigned_zero else code + sign
    too_big = tir.any(code > i(fmt.max_code), mag == u(0x7F800000))
    result = tir.Select(mag > u(0x7F800000), nan, tir.Select(too_big, overflow, signed))
    return tir.reinterpret(dtype, tir.Cast("uint8", result))


def float32_from_float8(v, dtype: str):
    """A float8 TIR value as float32 (exact)."""
    tir = compat.tir()
    fmt = _dt.FLOAT8[dtype]
    i = _consts("int32")
    code = tir.Cast("int32", tir.reinterpret("uint8", v))
    sign = tir.shift_left(tir.bitwise_and(code, i(0x80)), i(24))
    mag = tir.bitwise_and(code, i(0x7F))
    exp8 = tir.shift_right(mag, i(fmt.mantissa))
    mantissa = tir.bitwise_and(mag, i((1 << fmt.mantissa) - 1))
    normal = tir.bitwise_or(tir.shift_left(exp8 + i(127 - fmt.bias), i(23)),
                            tir.shift_left(mantissa, i(23 - fmt.mantissa)))
    step = tir.const(2.0 ** (1 - fmt.bias - fmt.mantissa), "float32")  # the subnormals' spacing
    subnormal = tir.reinterpret("int32", tir.Cast("float32", mantissa) * step)
    value = tir.reinterpret("float32", tir.bitwise_or(tir.Select(exp8 == i(0), subnormal, normal), sign))
    if fmt.unsigned_zero:
        is_nan = code == i(0x80)
    elif fmt.inf_code is None:
        is_nan = mag == i(fmt.nan_code)
    else:
        is_nan = mag > i(fmt.inf_code)
        inf = tir.reinterpret("float32", tir.bitwise_or(i(0x7F800000), sign))
        value = tir.Select(mag == i(fmt.inf_code), inf, value)
    return tir.Select(is_nan, tir.const(float("nan"), "float32"), value)


def bfloat16_from_float32(v):
    """A float32 TIR value as bfloat16: round to nearest even, NaN kept a NaN."""
    tir = compat.tir()
    u = _consts("uint32")
    bits = tir.reinterpret("uint32", v)
    odd = tir.bitwise_and(tir.shift_right(bits, u(16)), u(1))
    rounded = tir.shift_right(bits + u(0x7FFF) + odd, u(16))
    quiet_nan = tir.bitwise_or(tir.shift_right(bits, u(16)), u(0x40))
    is_nan = tir.bitwise_and(bits, u(0x7FFFFFFF)) > u(0x7F800000)
    return tir.reinterpret("bfloat16", tir.Cast("uint16", tir.Select(is_nan, quiet_nan, rounded)))
