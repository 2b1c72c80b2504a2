"""conv2d -> channel-blocked TE computes, for every stride, dilation, padding, group count and channel count.

Three computes, chosen from the layouts ``layout.py`` gave the call:

* ``conv2d_nchwc``: data ``NCHW{a}c`` -> out ``NCHW{b}c`` (or ``NCHW`` through an in-kernel unpack when the
  output channels have no block); groups allowed when blocks do not straddle groups. Reduce
  ``(icc, kh, kw, icb)``; weight ``[Kc, Cg/a, R, S, a, b]``.
* ``dwconv2d_nchwc``: depthwise (groups == C == K) in ``NCHW{b}c``; weight ``[C/b, R, S, b]``.
* ``conv2d_nchw_packed`` (same block name ``conv2d_nchwc``): data ``NCHW`` of any channel count and any group
  count (the stem's 3 channels, 27, ResNeXt's 4 per group, a channel multiplier), output channels padded
  up to whole blocks; out ``NCHW{b}c`` directly, or ``NCHW`` through the unpack.

Weights that are constants (the usual case: parameters bound) are packed here with numpy, so the library
holds them packed; others are packed by a separate PrimFunc at run time. Everything else (other dtypes,
symbolic dims other than the batch, other layouts) goes to TVM's own legalization; a symbolic batch stays a
variable of the compute (the schedules loop over it).
"""
from __future__ import annotations

import re

import numpy as np

from .layout import static_but_batch

CONV_BLOCK = "conv2d_nchwc"
DW_BLOCK = "dwconv2d_nchwc"
PAD_BLOCK = "data_pad"
UNPACK_BLOCK = "conv_unpack"


def _ints(v):
    return [int(x) for x in v]


def _block_of(layout):
    m = re.fullmatch(r"NCHW(\d+)c", layout)
    return int(m.group(1)) if m else None


def _default(bb, call):
    import tvm

    return tvm.ir.Op.get("relax.nn.conv2d").get_attr("FLegalize")(bb, call)


def _const_array(expr):
    from .fold import const_value

    return const_value(expr)


def _pack_weight_np(w, kind, groups, cb, ob, kc):
    """OIHW numpy weight -> the blocking of ``kind``."""
    K, Cg, R, S = w.shape
    if kind == "dw":
        return np.ascontiguousarray(w.reshape(K // ob, ob, R, S).transpose(0, 2, 3, 1))
    if kind == "blocked":  # [Kc, Cg/cb, R, S, cb, ob]
        wp = np.zeros((kc * ob, Cg, R, S), w.dtype)
        wp[:K] = w
        wp = wp.reshape(kc, ob, Cg // cb, cb, R, S).transpose(0, 2, 4, 5, 3, 1)
        return np.ascontiguousarray(wp)
    wp = np.zeros((kc * ob, Cg, R, S), w.dtype)  # nchw: [Kc, Cg, R, S, ob]
    wp[:K] = w
    return np.ascontiguousarray(wp.reshape(kc, ob, Cg, R, S).transpose(0, 2, 3, 4, 1))


def _pack_weight_te(kind, shape, groups, cb, ob, kc):
    """The same packing as a TE function (weights that are not constants)."""
    from tvm import te, tirx

    K, Cg, R, S = shape

    def f(w):
        zero = tirx.const(0.0, w.dtype)
        if kind == "dw":
            return te.compute((K // ob, R, S, ob), lambda c, r, s, b: w[c * ob + b, 0, r, s], name="wpack")
        if kind == "blocked":
            return te.compute((kc, Cg // cb, R, S, cb, ob), lambda o, i, r, s, ib, b: tirx.if_then_else(
                o * ob + b < K, w[tirx.min(o * ob + b, K - 1), i * cb + ib, r, s], zero), name="wpack")
        return te.compute((kc, Cg, R, S, ob), lambda o, i, r, s, b: tirx.if_then_else(
            o * ob + b < K, w[tirx.min(o * ob + b, K - 1), i, r, s], zero), name="wpack")

    return f


def legalize_conv2d(facts):
    """A ``customize_legalize_map`` entry for relax.nn.conv2d."""

    def legalize(bb, call):
        from tvm import relax

        a = call.attrs
        data, weight = call.args
        dl, kl, ol = str(a.data_layout), str(a.kernel_layout), str(a.out_layout) or str(a.data_layout)
        dshape = static_but_batch(data.ty.shape)  # a symbolic batch stays a tir var of the compute
        try:
            wshape = _ints(weight.ty.shape)
        except (TypeError, ValueError):
            return _default(bb, call)
        if dshape is None:
            return _default(bb, call)
        out_dtype = str(a.out_dtype) if str(a.out_dtype) not in ("", "void", "None") else str(data.ty.dtype)
        if (kl != "OIHW" or str(data.ty.dtype) != "float32" or str(weight.ty.dtype) != "float32"
                or out_dtype != "float32"):
            return _default(bb, call)
        cb = None if dl == "NCHW" else _block_of(dl)
        ob = None if ol == "NCHW" else _block_of(ol)
        if (dl != "NCHW" and cb is None) or (ol != "NCHW" and ob is None):
            return _default(bb, call)
        groups = int(a.groups)
        K, Cg, R, S = wshape
        if cb:
            N, Cc, H, W, _ = dshape
            C = Cc * cb
        else:
            N, C, H, W = dshape
        lanes = facts.block(32)
        if cb and groups == C == K and Cg == 1:
            kind, ob = "dw", cb
            if ol != dl:
                return _default(bb, call)
        elif cb:
            kind = "blocked"
            if ob is None:  # unblocked output channels: pad them to whole blocks, unpack at the end
                if groups != 1:
                    return _default(bb, call)
                ob = lanes
            if Cg % cb or (K // groups) % ob and groups != 1:
                return _default(bb, call)
        else:
            kind = "nchw"
            ob = ob or lanes
        kc = -(-K // ob)
        wnp = _const_array(weight)
        if wnp is not None:
            wp = relax.const(_pack_weight_np(wnp, kind, groups, cb, ob, kc), "float32")
        else:
            wp = bb.emit(bb.call_te(_pack_weight_te(kind, wshape, groups, cb, ob, kc), weight,
                                    primfunc_name_hint="conv2d_weight_pack"))
        spec = dict(kind=kind, N=N, C=C, H=H, W=W, K=K, Cg=Cg, R=R, S=S, groups=groups, cb=cb, ob=ob, kc=kc,
                    strides=_ints(a.strides), dilation=_ints(a.dilation), padding=_ints(a.padding),
                    unpack=(ol == "NCHW"))
        return bb.call_te(_conv_te(spec), data, wp, primfunc_name_hint="conv2d_nchwc")

    return legalize


def _conv_te(p):
    from tvm import te, tirx

    N, C, H, W, K, Cg, R, S = (p[k] for k in ("N", "C", "H", "W", "K", "Cg", "R", "S"))
    (sh, sw), (dh, dw) = p["strides"], p["dilation"]
    pt, pl, pb, pr = p["padding"]
    cb, ob, kc, groups, kind = p["cb"], p["ob"], p["kc"], p["groups"], p["kind"]
    OH = (H + pt + pb - (R - 1) * dh - 1) // sh + 1
    OW = (W + pl + pr - (S - 1) * dw - 1) // sw + 1
    Kg = K // groups

    def padded(d):
        if not (pt or pl or pb or pr):
            return d
        zero = tirx.const(0.0, d.dtype)
        shape = list(d.shape)
        shape[2], shape[3] = H + pt + pb, W + pl + pr

        def at(*idx):
            n, c, h, w = idx[:4]
            inside = tirx.all(h >= pt, h < H + pt, w >= pl, w < W + pl)
            return tirx.if_then_else(inside, d[(n, c, h - pt, w - pl) + tuple(idx[4:])], zero)

        return te.compute(shape, at, name=PAD_BLOCK)

    def f(d, w):
        dp = padded(d)
        rh = te.reduce_axis((0, R), "kh")
        rw = te.reduce_axis((0, S), "kw")
        if kind == "dw":
            return te.compute((N, C // ob, OH, OW, ob), lambda n, c, oh, ow, b: te.sum(
                dp[n, c, oh * sh + rh * dh, ow * sw + rw * dw, b] * w[c, rh, rw, b], axis=[rh, rw]), name=DW_BLOCK)
        if kind == "blocked":
            icc = te.reduce_axis((0, Cg // cb), "icc")
            icb = te.reduce_axis((0, cb), "icb")
            gblocks = Kg // ob if groups > 1 else 0

            def body(n, o, oh, ow, b):
                ci = icc if groups == 1 else (o // gblocks) * (Cg // cb) + icc
                return te.sum(dp[n, ci, oh * sh + rh * dh, ow * sw + rw * dw, icb] * w[o, icc, rh, rw, icb, b],
                              axis=[icc, rh, rw, icb])
        else:
            ic = te.reduce_axis((0, Cg), "ic")

            def body(n, o, oh, ow, b):
                if groups == 1:
                    ci = ic
                else:
                    ci = (tirx.min(o * ob + b, K - 1) // Kg) * Cg + ic
                return te.sum(dp[n, ci, oh * sh + rh * dh, ow * sw + rw * dw] * w[o, ic, rh, rw, b],
                              axis=[ic, rh, rw])
        conv = te.compute((N, kc, OH, OW, ob), body, name=CONV_BLOCK)
        if p["unpack"]:
            return te.compute((N, K, OH, OW), lambda n, k, oh, ow: conv[n, k // ob, oh, ow, k % ob],
                              name=UNPACK_BLOCK)
        return conv

    return f


def fast_math_legalizations():
    """float32 erf / exp / tanh (and softmax over the last axis) with TOPI's polynomial forms, which
    vectorize; the default lowering calls libm once per lane (a GELU epilogue over 197x768 took 8 ms
    instead of ~1, a softmax over 3x197x197 1 ms)."""
    from tvm import topi

    def make(fn, default_op):
        def legalize(bb, call):
            import tvm

            if str(call.args[0].ty.dtype) != "float32":
                return tvm.ir.Op.get(default_op).get_attr("FLegalize")(bb, call)
            return bb.call_te(fn, call.args[0])

        return legalize

    def softmax(bb, call):
        import tvm

        ndim = len(call.args[0].ty.shape)
        axis = int(call.attrs.axis)
        axis = axis + ndim if axis < 0 else axis
        if str(call.args[0].ty.dtype) != "float32" or axis != ndim - 1:
            return tvm.ir.Op.get("relax.nn.softmax").get_attr("FLegalize")(bb, call)

        def f(x):
            m = topi.max(x, axis=axis, keepdims=True)
            e = topi.fast_exp(topi.subtract(x, m))
            return topi.divide(e, topi.sum(e, axis=axis, keepdims=True))

        return bb.call_te(f, call.args[0], primfunc_name_hint="softmax")

    return {"relax.erf": make(topi.fast_erf, "relax.erf"), "relax.exp": make(topi.fast_exp, "relax.exp"),
            "relax.tanh": make(topi.fast_tanh, "relax.tanh"), "relax.nn.softmax": softmax}
