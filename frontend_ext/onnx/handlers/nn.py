"""Dense, convolution, pooling, softmax, padding, resizing and other NN ops."""
from __future__ import annotations

import math

import numpy as np

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ops.common import pool_out
from nnvm_bridge.ops.common import expand_pads, per_dim

from ..registry import handler

_NCHW = {"NCW", "NCHW", "NCDHW"}
_OIHW = {"OIW", "OIHW", "OIDHW"}


@handler("dense")
def _dense(ctx):
    b = ctx.b
    x, w = ctx.inputs[0], ctx.inputs[1]
    bias = ctx.inputs[2] if ctx.attrs.use_bias else None
    if ctx.ndim(0) == 2:
        return b.op("Gemm", [x, w] + ([bias] if bias else []), transB=1)
    y = b.op("MatMul", [x, b.transpose(w, [1, 0])])
    return b.op("Add", [y, bias]) if bias else y


def _conv_check(ctx):
    a = ctx.attrs
    if a.layout not in _NCHW or a.kernel_layout not in _OIHW:
        return f"layout {a.layout}/{a.kernel_layout}"
    if getattr(a, "out_layout", "__undef__") not in ("__undef__", a.layout):
        return f"out_layout {a.out_layout}"
    if a.out_dtype not in ("same", "", None) and ctx.in_dtypes and a.out_dtype != ctx.in_dtypes[0]:
        return f"out_dtype {a.out_dtype}"
    return None


def _conv_common(ctx, nsp):
    a = ctx.attrs
    begins, ends = expand_pads(a.padding, nsp)
    return dict(kernel_shape=list(per_dim(a.kernel_size, nsp)), strides=list(per_dim(a.strides, nsp)),
                dilations=list(per_dim(a.dilation, nsp)), pads=list(begins) + list(ends), group=int(a.groups))


def _conv(nsp):
    def fn(ctx):
        ins = ctx.inputs[:3] if ctx.attrs.use_bias else ctx.inputs[:2]
        return ctx.b.op("Conv", ins, **_conv_common(ctx, nsp))
    return fn


def _deconv(nsp):
    def fn(ctx):
        ins = ctx.inputs[:3] if ctx.attrs.use_bias else ctx.inputs[:2]
        attrs = _conv_common(ctx, nsp)
        attrs["output_padding"] = list(per_dim(ctx.attrs.output_padding, nsp))
        return ctx.b.op("ConvTranspose", ins, **attrs)
    return fn


for _n in (1, 2, 3):
    handler(f"conv{_n}d", check=_conv_check)(_conv(_n))
    handler(f"conv{_n}d_transpose", check=_conv_check)(_deconv(_n))


# ---- pooling ---------------------------------------------------------------------------------------
def _pool_check(ctx):
    return None if ctx.attrs.layout in _NCHW else f"layout {ctx.attrs.layout}"


def _onnx_ceil_len(size, k, s, pb, pe):
    """Output length ONNX (and onnxruntime) give with ceil_mode=1: the last window must start
    inside the input or the begin padding."""
    out = int(math.ceil((size + pb + pe - k) / s)) + 1
    if (out - 1) * s >= size + pb:
        out -= 1
    return out


def _avg_pool_full_windows(ctx, k, st, begins, ends, extra, include_pad):
    """The IR's ceil-mode average where ONNX would drop windows: the mean of zero-padded full
    windows times a constant k/count per output, count being what the IR divides by (real
    elements, plus the declared padding with count_include_pad, never the tail; 0 gives 0)."""
    nsp = len(k)
    sizes = ctx.shape(0)[2:]
    xp = ctx.b.pad(ctx.x, [0, 0] + begins, [0, 0] + [e + t for e, t in zip(ends, extra)], 0.0, ctx.dtype())
    mean = ctx.b.op("AveragePool", [xp], kernel_shape=k, strides=st, pads=[0] * (2 * nsp))
    counted = np.pad(np.ones(sizes), list(zip(begins, ends)), constant_values=float(bool(include_pad)))
    counted = np.pad(counted, [(0, t) for t in extra])
    win = np.lib.stride_tricks.sliding_window_view(counted, k)[tuple(slice(None, None, s) for s in st)]
    count = win.sum(axis=tuple(range(nsp, 2 * nsp)))
    scale = np.where(count > 0, float(np.prod(k)) / np.maximum(count, 1), 0.0)
    return ctx.b.op("Mul", [mean, ctx.b.const(scale[None, None], ctx.dtype())])


def _pool(nsp, op_type):
    def fn(ctx):
        a = ctx.attrs
        shape = ctx.shape(0)
        k = list(per_dim(a.pool_size, nsp))
        st = list(per_dim(a.strides, nsp))
        begins, ends = (list(p) for p in expand_pads(a.padding, nsp))
        ceil_mode, x = 0, ctx.x
        if a.ceil_mode:
            ceil_mode = 1
            want = [pool_out(shape[2 + i], k[i], st[i], begins[i], ends[i], True) for i in range(nsp)]
            got = [_onnx_ceil_len(shape[2 + i], k[i], st[i], begins[i], ends[i]) for i in range(nsp)]
            if want != got:
                # MXNet's "full" convention keeps a last window that starts in the end padding
                # (max gives the lowest float there, avg 0); ONNX drops it, and onnxruntime wants
                # pads < kernel.  So pad the missing tail explicitly and pool in floor mode.
                ceil_mode = 0
                extra = [max(0, (want[i] - 1) * st[i] + k[i] - (shape[2 + i] + begins[i] + ends[i]))
                         for i in range(nsp)]
                if op_type == "AveragePool":
                    return _avg_pool_full_windows(ctx, k, st, begins, ends, extra, a.count_include_pad)
                fill = float(np.finfo(_dt.to_numpy(ctx.dtype())).min) if op_type == "MaxPool" else 0.0
                x = ctx.b.pad(x, [0] * (2 + nsp), [0, 0] + extra, fill, ctx.dtype())
        attrs = dict(kernel_shape=k, strides=st, pads=begins + ends, ceil_mode=ceil_mode)
        if op_type == "AveragePool":
            attrs["count_include_pad"] = int(bool(a.count_include_pad))
        return ctx.b.op(op_type, [x], **attrs)
    return fn


for _n in (1, 2, 3):
    handler(f"max_pool{_n}d", check=_pool_check)(_pool(_n, "MaxPool"))
    handler(f"avg_pool{_n}d", check=_pool_check)(_pool(_n, "AveragePool"))
    handler(f"global_max_pool{_n}d")(lambda ctx: ctx.b.op("GlobalMaxPool", [ctx.x]))
    handler(f"global_avg_pool{_n}d")(lambda ctx: ctx.b.op("GlobalAveragePool", [ctx.x]))


def _adaptive_check(ctx):
    if ctx.in_shapes[0] is None:
        return None
    h, w = ctx.in_shapes[0][2:]
    oh, ow = ctx.out_shapes[0][2:]
    if h % oh or w % ow:
        return f"output size {(oh, ow)} does not divide input {(h, w)}"
    return None


@handler("adaptive_avg_pool2d", check=_adaptive_check)
def _adaptive_avg_pool2d(ctx):
    h, w = ctx.shape(0)[2:]
    oh, ow = ctx.out_shape(0)[2:]
    if (oh, ow) == (1, 1):
        return ctx.b.op("GlobalAveragePool", [ctx.x])
    kh, kw = h // oh, w // ow
    return ctx.b.op("AveragePool", [ctx.x], kernel_shape=[kh, kw], strides=[kh, kw])


# ---- softmax ------------------------------------------------------------------------------------------
@handler("softmax")
def _softmax(ctx):
    return ctx.b.softmax("Softmax", ctx.x, ctx.attrs.axis, ctx.ndim(0))


@handler("log_softmax")
def _log_softmax(ctx):
    return ctx.b.softmax("LogSoftmax", ctx.x, ctx.attrs.axis, ctx.ndim(0))


# ---- misc ---------------------------------------------------------------------------------------------
@handler("prelu")
def _prelu(ctx):
    nd = ctx.ndim(0)
    axis = ctx.attrs.axis % nd
    channels = ctx.shape(1)[0] if ctx.in_shapes[1] is not None else ctx.shape(0)[axis]
    slope = ctx.b.reshape(ctx.inputs[1], ctx.b.bcast_shape(channels, nd, axis))
    return ctx.b.op("PRelu", [ctx.x, slope])


@handler("pad")
def _pad(ctx):
    pw = ctx.attrs.pad_width
    return ctx.b.pad(ctx.x, [p[0] for p in pw], [p[1] for p in pw], ctx.attrs.pad_value, ctx.dtype())


@handler("mirror_pad")
def _mirror_pad(ctx):
    pw = ctx.attrs.pad_width
    mode = "reflect" if ctx.attrs.mode == "reflect" else "edge"
    return ctx.b.pad(ctx.x, [p[0] for p in pw], [p[1] for p in pw], 0, ctx.dtype(), mode=mode)


def _lrn_check(ctx):
    if ctx.in_shapes[0] is not None and ctx.attrs.axis % len(ctx.in_shapes[0]) != 1:
        return f"axis {ctx.attrs.axis} (ONNX LRN normalises over axis 1)"
    return None


@handler("lrn", check=_lrn_check)
def _lrn(ctx):
    a = ctx.attrs
    return ctx.b.op("LRN", [ctx.x], size=int(a.size), alpha=float(a.alpha), beta=float(a.beta), bias=float(a.bias))


@handler("l2_normalize")
def _l2_normalize(ctx):
    # y = x / sqrt(max(sum(x^2 over axes), eps)), as NNVM/TOPI define it
    b, x, dt = ctx.b, ctx.x, ctx.dtype()
    nd = ctx.ndim(0)
    axes = sorted({a % nd for a in ctx.attrs.axis}) if ctx.attrs.axis else list(range(nd))
    sq = b.reduce("ReduceSum", b.op("Mul", [x, x]), axes, keepdims=True)
    denom = b.op("Sqrt", [b.op("Max", [sq, b.scalar(ctx.attrs.eps, dt)])])
    return b.op("Div", [x, denom])


@handler("upsampling")
def _upsampling(ctx):
    s = float(ctx.attrs.scale)
    scales = [1.0, 1.0, s, s]
    if ctx.attrs.method == "NEAREST_NEIGHBOR":
        return ctx.b.resize(ctx.x, scales=scales, mode="nearest", coord="asymmetric", nearest_mode="floor")
    return ctx.b.resize(ctx.x, scales=scales, mode="linear", coord="half_pixel")


@handler("resize")
def _resize(ctx):
    a = ctx.attrs
    n, c = ctx.shape(0)[:2]
    sizes = [n, c] + [int(v) for v in a.size]
    if ctx.b.dynamic_batch:
        # static sizes would bake the batch: take N and C from the input's runtime shape
        b = ctx.b
        nc = b.slice(b.op("Shape", [ctx.x]), [0], [2], [0])
        sizes_value = b.op("Concat", [nc, b.i64(sizes[2:])], axis=0)
        kw = dict(sizes_value=sizes_value)
    else:
        kw = dict(sizes=sizes)
    if a.method == "BILINEAR":
        coord = "align_corners" if a.align_corners else "half_pixel"
        return ctx.b.resize(ctx.x, mode="linear", coord=coord, **kw)
    coord = "align_corners" if a.align_corners else "asymmetric"
    nearest = "round_prefer_ceil" if a.align_corners else "floor"
    return ctx.b.resize(ctx.x, mode="nearest", coord=coord, nearest_mode=nearest, **kw)


@handler("depth_to_space")
def _depth_to_space(ctx):
    return ctx.b.op("DepthToSpace", [ctx.x], blocksize=int(ctx.attrs.block_size), mode=ctx.attrs.mode)


@handler("space_to_depth")
def _space_to_depth(ctx):
    return ctx.b.op("SpaceToDepth", [ctx.x], blocksize=int(ctx.attrs.block_size))
