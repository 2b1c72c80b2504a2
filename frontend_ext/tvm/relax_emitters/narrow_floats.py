"""float8 and bfloat16 in TVM: float8 tensors held as uint8 codes, and the casts to and from both types as
integer arithmetic on the bits, in TE.

TVM 0.27 has the dtypes but its LLVM code for them is wrong: float8 casts come out garbled, vectorized copies
of float8 buffers fail to build, and float32 -> bfloat16 turns NaNs with a small payload into inf. So a float8
tensor is a uint8 tensor of its codes everywhere in the Relax program (function inputs and outputs too: the
CompiledModel views the ml_dtypes arrays as uint8 and back), which only ops that move data
(``FLOAT8_DATA_OPS``) and these casts may touch. The casts reinterpret float32 bits as uint32 and round to
nearest even by hand, with ONNX's rules for NaN, inf and out-of-range values (``saturate``); bfloat16 stays a
TVM bfloat16 tensor, and bfloat16 -> float32 is TVM's own (exact) cast. Other dtypes go through float32,
exact for float16, bfloat16 and the float8 types.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir import dtypes as _dt

from .. import compat
from .context import relax_op

STORAGE = "uint8"  # what holds a float8 code in TVM
# IR ops that only move values (or read their shape): on float8 tensors they run on the uint8 codes as they are
FLOAT8_DATA_OPS = frozenset((
    "cast", "quantize_linear", "dequantize_linear", "reshape", "dyn_reshape", "reshape_like", "transpose",
    "expand_dims", "squeeze", "flatten", "concatenate", "stack", "split", "strided_slice", "dyn_slice",
    "slice_like", "take", "gather_nd", "gather_elements", "broadcast_to", "dyn_broadcast_to", "expand_like",
    "tile", "repeat", "flip", "copy", "block_grad", "dropout", "depth_to_space", "space_to_depth", "shape_of",
    "where", "if", "loop"))


def storage_dtype(dtype):
    """The Relax dtype that holds IR dtype ``dtype``."""
    return STORAGE if dtype is not None and _dt.is_float8(dtype) else dtype


def to_storage(arr):
    """A numpy array as TVM takes it: float8 (ml_dtypes) arrays as their uint8 codes."""
    arr = np.asarray(arr)
    return arr.view(np.uint8) if _dt.is_float8(arr.dtype) else arr


def from_storage(arr, dtype):
    """A TVM result as the IR dtype ``dtype`` says: uint8 codes of a float8 output as its ml_dtypes array."""
    return arr.view(_dt.to_numpy(dtype)) if dtype is not None and _dt.is_float8(dtype) else arr


def needs_bit_cast(src: str, dst: str) -> bool:
    """Whether a cast from ``src`` to ``dst`` must take this module's path instead of TVM's own."""
    if src == dst:
        return False
    return _dt.is_float8(src) or _dt.is_float8(dst) or dst == "bfloat16"


def cast(ctx, x, src: str, dst: str, saturate: bool = True, round_mode: str = "up"):
    """The Relax value of ``x`` (dtype ``src``) cast to ``dst``: a kernel over the flattened tensor."""
    if _dt.is_float8(src) and dst != "float32":
        # float32 first, in a kernel of its own: two bit conversions in one expression do not build
        x, src = cast(ctx, x, src, "float32"), "float32"
        if not needs_bit_cast(src, dst):
            return ctx.emit(relax_op().astype(x, dst))
    rx, op = compat.relax(), relax_op()
    shape, _ = compat.shape_dtype_of(x)
    size = 1
    for d in shape:
        size = size * d
    flat = ctx.emit(op.reshape(x, [size]))
    kernel = ctx.bb.add_func(_kernel(src, dst, saturate, round_mode), f"cast_{src}_{dst}")
    out = compat.tensor_type([size], storage_dtype(dst))
    return ctx.emit(op.reshape(ctx.emit(rx.call_tir(kernel, [flat], out)), list(shape)))


def _kernel(src, dst, saturate, round_mode):
    """The 1-d cast kernel, opaque (never fused): inlined into a neighbour, its bit arithmetic meets TVM's
    simplifier, which widens some of the int32 values to int64 and then cannot build the reinterprets."""
    from tvm import te

    n = compat.tir().Var("n", "int64")
    x = te.placeholder((n,), storage_dtype(src), name="x")
    y = te.compute((n,), lambda i: _cast_scalar(x[i], src, dst, saturate, round_mode), name="narrow_cast")
    return te.create_prim_func([x, y]).with_attr("op_pattern", 8)  # 8: kOpaque


def _cast_scalar(v, src, dst, saturate, round_mode):
    """One element: ``src`` is float32 or a float8 type (then ``dst`` is float32), or another type that
    converts to float32 exactly enough (ints, float16, float64)."""
    tir = compat.tir()
    if src == _dt.E8M0:
        return float32_from_e8m0(v)
    if _dt.is_float8(src):
        return float32_from_float8(v, src)
    if src != "float32":
        v = tir.Cast("float32", v)
    if dst == _dt.E8M0:
        return e8m0_from_float32(v, saturate, round_mode)
    if _dt.is_float8(dst):
        return float8_from_float32(v, dst, saturate)
    return bfloat16_from_float32(v)


def _consts(dtype):
    tir = compat.tir()
    return lambda value: tir.const(value, dtype)


def float8_from_float32(v, dtype: str, saturate: bool):
    """A float32 TIR value as the uint8 code of ``dtype`` (a float8 type): round to nearest even; NaN to NaN;
    inf and values past the largest finite one to +-max when ``saturate``, else to inf (float8_e5m2) or NaN."""
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
    return tir.Cast(STORAGE, result)


def float32_from_float8(v, dtype: str):
    """The uint8 code of a ``dtype`` (float8) value as float32 (exact)."""
    tir = compat.tir()
    fmt = _dt.FLOAT8[dtype]
    i = _consts("int32")
    code = tir.Cast("int32", v)
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


def e8m0_from_float32(v, saturate: bool, round_mode: str):
    """A float32 TIR value as the uint8 code of float8_e8m0fnu, as ops.numpy_ref.to_e8m0 says."""
    tir = compat.tir()
    u = _consts("uint32")
    bits = tir.reinterpret("uint32", v)
    exponent = tir.bitwise_and(tir.shift_right(bits, u(23)), u(0xFF))
    if round_mode == "nearest":
        up = tir.all(tir.bitwise_and(bits, u(0x400000)) > u(0),
                     tir.any(tir.bitwise_and(bits, u(0x3FFFFF)) > u(0), exponent > u(0)))
    elif round_mode == "up":
        up = tir.bitwise_and(bits, u(0x7FFFFF)) > u(0)
    else:
        up = tir.const(False, "bool")
    if saturate:
        up = tir.all(up, exponent != u(0xFE))
    return tir.Cast(STORAGE, tir.Select(exponent == u(0xFF), exponent, exponent + tir.Cast("uint32", up)))


def float32_from_e8m0(v):
    """The uint8 code of a float8_e8m0fnu value as float32: 2**(code - 127), NaN for 255."""
    tir = compat.tir()
    i = _consts("int32")
    code = tir.Cast("int32", v)
    bits = tir.Select(code == i(0), i(0x400000), tir.shift_left(code, i(23)))  # 2**-127 is a float32 subnormal
    return tir.Select(code == i(0xFF), tir.const(float("nan"), "float32"), tir.reinterpret("float32", bits))


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
