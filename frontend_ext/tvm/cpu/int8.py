"""Integer conv2d / matmul kernels for the QDQ rewrite (``qdq.py``): uint8 x int8 -> int32, then back to float.

The computes (TE) take the quantized activations ``xq`` (uint8 or int8; int8 is shifted by 128 to uint8
while it is packed), the activation zero point and scale (0-d float tensors: constants, or run-time
values of a dynamic quantization) and the packed int8 weights, and return
``float32(acc - zp' * sum(w)) * (x_scale * w_scale)``: the dequantized result of the float op, exact up to
the float scale product. Padding holds the zero point, so the correction is the same at every pixel.

Layouts follow the 16x4 VNNI dot product (``vpdpbusd``: 16 int32 lanes += 4 uint8 x 4 int8 each):
activations packed ``[.., C/4, .., 4]``, weights ``[O/16, I/4, (kh, kw), 16, 4]``, accumulators
``[.., O/16, .., 16]``. ``schedule_int8`` tensorizes the 16x4 dot with VNNI where the target has it
(AVX-512 VNNI); elsewhere the same loops run as plain int32 vector code.
"""
from __future__ import annotations

import numpy as np

QCONV_BLOCK = "qconv_acc"
QMATMUL_BLOCK = "qmatmul_acc"
PACK_BLOCK = "qpack"
OUT_BLOCK = "qdequant"
LANES, GROUP = 16, 4  # output channels per accumulator vector, uint8 values per int32 lane
INTRIN = "nnvm_bridge_dot_16x4_vnni"


def _ceil(a, b):
    return -(-a // b)


# ---- weights ---------------------------------------------------------------------------------------
def pack_conv_weight(wq):
    """int8 OIHW -> [O/16, I/4, kh, kw, 16, 4], zero-padded."""
    O, I, R, S = wq.shape
    w = np.zeros((_ceil(O, LANES) * LANES, _ceil(I, GROUP) * GROUP, R, S), np.int8)
    w[:O, :I] = wq
    w = w.reshape(_ceil(O, LANES), LANES, _ceil(I, GROUP), GROUP, R, S)
    return np.ascontiguousarray(w.transpose(0, 2, 4, 5, 1, 3))


def pack_matmul_weight(wq):
    """int8 [K, N] -> [N/16, K/4, 16, 4], zero-padded."""
    K, N = wq.shape
    w = np.zeros((_ceil(K, GROUP) * GROUP, _ceil(N, LANES) * LANES), np.int8)
    w[:K, :N] = wq
    w = w.reshape(_ceil(K, GROUP), GROUP, _ceil(N, LANES), LANES)
    return np.ascontiguousarray(w.transpose(2, 0, 3, 1))


# ---- computes --------------------------------------------------------------------------------------
def _shift(x_dtype):
    return 128 if x_dtype == "int8" else 0


def _as_u8(v, shift):
    from tvm import tirx

    return v if not shift else tirx.Cast("uint8", tirx.Cast("int32", v) + shift)


def _zp_u8(zp, shift):
    """The activation zero point (a 0-d float tensor holding an integer) in the shifted uint8 domain."""
    from tvm import tirx

    return tirx.Cast("uint8", tirx.Cast("int32", zp[()]) + shift)


def conv_compute(spec):
    """TE function (xq, zp, scale, wp, wsum, wscale) -> float32 NCHW; ``spec``: shapes, strides, padding."""
    from tvm import te, tirx

    N, C, H, W, K, R, S = (spec[k] for k in ("N", "C", "H", "W", "K", "R", "S"))
    (sh, sw), (dh, dw) = spec["strides"], spec["dilation"]
    pt, pl, pb, pr = spec["padding"]
    OH = (H + pt + pb - (R - 1) * dh - 1) // sh + 1
    OW = (W + pl + pr - (S - 1) * dw - 1) // sw + 1
    CB, KB = _ceil(C, GROUP), _ceil(K, LANES)
    shift = _shift(spec["x_dtype"])

    def f(xq, zp, scale, wp, wsum, wscale):
        zpu = _zp_u8(zp, shift)

        def pack(n, cb, h, w, c):
            ch, ih, iw = cb * GROUP + c, h - pt, w - pl
            inside = tirx.all(ch < C, ih >= 0, ih < H, iw >= 0, iw < W)
            return tirx.if_then_else(inside, _as_u8(xq[n, tirx.min(ch, C - 1), ih, iw], shift), zpu)

        xp = te.compute((N, CB, H + pt + pb, W + pl + pr, GROUP), pack, name=PACK_BLOCK)
        icb = te.reduce_axis((0, CB), "icb")
        kh = te.reduce_axis((0, R), "kh")
        kw = te.reduce_axis((0, S), "kw")
        ic = te.reduce_axis((0, GROUP), "ic")
        acc = te.compute((N, KB, OH, OW, LANES), lambda n, kb, oh, ow, k: te.sum(
            xp[n, icb, oh * sh + kh * dh, ow * sw + kw * dw, ic].astype("int32")
            * wp[kb, icb, kh, kw, k, ic].astype("int32"), axis=[icb, kh, kw, ic]), name=QCONV_BLOCK)
        zpi = tirx.Cast("int32", zpu)
        return te.compute((N, K, OH, OW), lambda n, k, oh, ow: tirx.Cast(
            "float32", acc[n, k // LANES, oh, ow, k % LANES] - zpi * wsum[k]) * (scale[()] * wscale[k]),
            name=OUT_BLOCK)

    return f


def matmul_compute(spec):
    """TE function (xq [M, K], zp, scale, wp, wsum, wscale) -> float32 [M, N]."""
    from tvm import te, tirx

    M, K, N = spec["M"], spec["K"], spec["N"]
    KB, NB = _ceil(K, GROUP), _ceil(N, LANES)
    shift = _shift(spec["x_dtype"])

    def f(xq, zp, scale, wp, wsum, wscale):
        zpu = _zp_u8(zp, shift)
        xp = te.compute((M, KB, GROUP), lambda m, kb, c: tirx.if_then_else(
            kb * GROUP + c < K, _as_u8(xq[m, tirx.min(kb * GROUP + c, K - 1)], shift), zpu), name=PACK_BLOCK)
        kb = te.reduce_axis((0, KB), "kb")
        ic = te.reduce_axis((0, GROUP), "ic")
        acc = te.compute((M, NB, LANES), lambda m, nb, j: te.sum(
            xp[m, kb, ic].astype("int32") * wp[nb, kb, j, ic].astype("int32"), axis=[kb, ic]), name=QMATMUL_BLOCK)
        zpi = tirx.Cast("int32", zpu)
        return te.compute((M, N), lambda m, n: tirx.Cast("float32", acc[m, n // LANES, n % LANES] - zpi * wsum[n])
                          * (scale[()] * wscale[n]), name=OUT_BLOCK)

    return f


# ---- schedule --------------------------------------------------------------------------------------
def has_vnni(target):
    from tvm.target.codegen import target_has_features

    try:
        return bool(target_has_features(["avx512vnni"], target))
    except Exception:  # not x86, or an LLVM without the feature name
        return False


def _block_names(sch):
    return [sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock("root"))]


def is_int8_kernel(func):
    import tvm

    try:
        names = _block_names(tvm.s_tir.Schedule(func))
    except Exception:  # no root block (an extern or hand-written PrimFunc)
        return False
    return bool(set(names) & {QCONV_BLOCK, QMATMUL_BLOCK})


def schedule_int8(func, facts, vnni):
    """Schedule a (fused) PrimFunc holding a ``qconv_acc`` or ``qmatmul_acc`` block; None if it has none."""
    import tvm

    if not is_int8_kernel(func):
        return None
    sch = tvm.s_tir.Schedule(func)
    blocks = list(sch.get_child_blocks(sch.get_sblock("root")))
    names = _block_names(sch)
    idx = next(i for i, n in enumerate(names) if n in (QCONV_BLOCK, QMATMUL_BLOCK))
    acc, before, after = blocks[idx], blocks[:idx], blocks[idx + 1:]
    for b in after[:-1]:  # the dequantize stage and the fused float epilogue, up to the last one
        sch.compute_inline(b)
    out = after[-1] if after else None
    if names[idx] == QCONV_BLOCK:
        outer, tile, inner = _conv_loops(sch, acc, facts)
    else:
        outer, tile, inner = _matmul_loops(sch, acc, facts)
    if out is not None:
        try:
            sch.reverse_compute_at(out, tile)
        except Exception:  # an epilogue whose region does not follow the tile: a loop nest of its own
            sch.parallel(sch.get_loops(out)[0])
        _vectorize_inner(sch, out)
    sch.parallel(outer)
    lanes_loop, group_loop = sch.get_loops(acc)[-2:]
    if not vnni:  # int32 vectors over the 16 lanes, the 4-group unrolled around them
        sch.reorder(group_loop, lanes_loop)
        sch.unroll(group_loop)
        sch.vectorize(lanes_loop)
    init = sch.decompose_reduction(acc, inner[0])
    sch.vectorize(sch.get_loops(init)[-1])
    if vnni:
        _register_intrin()
        sch.tensorize(sch.get_loops(acc)[-2], INTRIN)
    for b in before:
        _schedule_pack(sch, b)
    return sch.mod["main"]


_REGISTERED = []


def _register_intrin():
    """The 16x4 u8 x i8 dot as ``vpdpbusd``. TVM's own ``dot_16x4_vnni`` passes <16 x i32> operands, which
    the LLVM in the wheel rejects (its vpdpbusd.512 takes <64 x i8>), hence this copy."""
    if _REGISTERED:
        return
    from tvm.s_tir import TensorIntrin
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def desc(A: T.Buffer((4,), "uint8", offset_factor=1), B: T.Buffer((16, 4), "int8", offset_factor=1),
             C: T.Buffer((16,), "int32", offset_factor=1)) -> None:
        with T.sblock("root"):
            T.reads(C[0:16], A[0:4], B[0:16, 0:4])
            T.writes(C[0:16])
            for i in T.serial(0, 16):
                for k in T.serial(0, 4):
                    with T.sblock("update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")

    @T.prim_func(s_tir=True)
    def impl(A: T.Buffer((4,), "uint8", offset_factor=1), B: T.Buffer((16, 4), "int8", offset_factor=1),
             C: T.Buffer((16,), "int32", offset_factor=1)) -> None:
        with T.sblock("root"):
            T.reads(C[0:16], A[0:4], B[0:16, 0:4])
            T.writes(C[0:16])
            a = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
            a64 = T.reinterpret(T.broadcast(a, 16), dtype="uint8x64")
            C[T.ramp(T.int32(0), 1, 16)] = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id("llvm.x86.avx512.vpdpbusd.512"), C.vload([0], dtype="int32x16"), a64,
                B.vload([0, 0], dtype="int8x64"), dtype="int32x16")

    TensorIntrin.register(INTRIN, desc, impl)
    _REGISTERED.append(True)


def _conv_loops(sch, acc, facts):
    """(n, kb, oh) parallel / ow_o / (icb, kh, kw) / ow_i unrolled / 16 lanes x 4."""
    n, kb, oh, ow, k, icb, kh, kw, ic = sch.get_loops(acc)
    ow_extent = int(sch.get(ow).extent)
    rw = max(d for d in range(1, min(ow_extent, max(4, facts.registers - 4)) + 1) if ow_extent % d == 0)
    if rw < 4 and ow_extent > 8:
        rw = min(ow_extent, 8)  # a ragged tail beats a one-column tile
    wo, wi = sch.split(ow, [None, rw])
    sch.reorder(n, kb, oh, wo, icb, kh, kw, wi, k, ic)
    sch.unroll(wi)
    return sch.fuse(n, kb, oh), wo, [icb, kh, kw]


def _matmul_loops(sch, acc, facts):
    """(nb, m_o) parallel / kb / m_i unrolled / 16 lanes x 4."""
    m, nb, j, kb, ic = sch.get_loops(acc)
    M = int(sch.get(m).extent)
    mb = max(d for d in range(1, min(M, 8) + 1) if M % d == 0)
    if mb < 4 and M > 8:
        mb = 8
    mo, mi = sch.split(m, [None, mb])
    sch.reorder(nb, mo, kb, mi, j, ic)
    sch.unroll(mi)
    outer = sch.fuse(nb, mo)
    return outer, outer, [kb]


def _vectorize_inner(sch, blk):
    loops = sch.get_loops(blk)
    try:
        sch.vectorize(loops[-1])
    except Exception:  # a loop the vectorizer cannot take (a non-constant extent): leave it serial
        pass


def _schedule_pack(sch, blk):
    loops = sch.get_loops(blk)
    sch.parallel(sch.fuse(*loops[:2]))
