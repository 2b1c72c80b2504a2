"""Dense, convolution, pooling, softmax, padding, resizing and other NN ops."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import unsupported_feature
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.symbolic import is_static
from nnvm_bridge.ops.common import (DATA_LAYOUTS, KERNEL_LAYOUTS, expand_pads, floor_mode_tails, per_dim, pool_out,
                                    pool_out_dropping_last)
from nnvm_bridge.ops.numpy_ref import bilinear_resize_taps

from ..registry import ONNX_EXPORT

_CHANNEL_FIRST = set(DATA_LAYOUTS.values())
_KERNEL_OI = set(KERNEL_LAYOUTS.values())


@ONNX_EXPORT.register("dense", since=11)
def _dense(ctx, node, attrs, inputs):
    b = ctx.b
    x, w = inputs[0], inputs[1]
    bias = inputs[2] if attrs.use_bias else None
    if ctx.ndim(0) == 2:
        return b.op("Gemm", [x, w] + ([bias] if bias else []), transB=1)
    y = b.op("MatMul", [x, b.transpose(w, [1, 0])])
    return b.op("Add", [y, bias]) if bias else y


def _conv_check(ctx, node, attrs, inputs):
    if attrs.layout not in _CHANNEL_FIRST or attrs.kernel_layout not in _KERNEL_OI:
        return f"layout {attrs.layout}/{attrs.kernel_layout}"
    if getattr(attrs, "out_layout", "__undef__") not in ("__undef__", attrs.layout):
        return f"out_layout {attrs.out_layout}"
    if attrs.out_dtype not in ("same", "", None) and ctx.in_dtypes and attrs.out_dtype != ctx.in_dtypes[0]:
        return f"out_dtype {attrs.out_dtype}"
    return None


def _conv_common(attrs, nsp):
    begins, ends = expand_pads(attrs.padding, nsp)
    return dict(kernel_shape=list(per_dim(attrs.kernel_size, nsp)), strides=list(per_dim(attrs.strides, nsp)),
                dilations=list(per_dim(attrs.dilation, nsp)), pads=list(begins) + list(ends),
                group=int(attrs.groups))


def _conv(nsp):
    def fn(ctx, node, attrs, inputs):
        ins = inputs[:3] if attrs.use_bias else inputs[:2]
        return ctx.b.op("Conv", ins, **_conv_common(attrs, nsp))
    return fn


def _deconv(nsp):
    def fn(ctx, node, attrs, inputs):
        ins = inputs[:3] if attrs.use_bias else inputs[:2]
        onnx_attrs = _conv_common(attrs, nsp)
        onnx_attrs["output_padding"] = list(per_dim(attrs.output_padding, nsp))
        return ctx.b.op("ConvTranspose", ins, **onnx_attrs)
    return fn


ONNX_EXPORT.add("conv1d", _conv(1), since=11, check=_conv_check)
ONNX_EXPORT.add("conv2d", _conv(2), since=11, check=_conv_check)
ONNX_EXPORT.add("conv3d", _conv(3), since=11, check=_conv_check)
ONNX_EXPORT.add("conv1d_transpose", _deconv(1), since=11, check=_conv_check)
ONNX_EXPORT.add("conv2d_transpose", _deconv(2), since=11, check=_conv_check)
ONNX_EXPORT.add("conv3d_transpose", _deconv(3), since=11, check=_conv_check)


# ---- pooling ---------------------------------------------------------------------------------------
def _pool_check(ctx, node, attrs, inputs):
    return None if attrs.layout in _CHANNEL_FIRST else f"layout {attrs.layout}"


def _avg_pool_full_windows(ctx, x, k, st, begins, ends, extra, include_pad):
    """The IR's ceil-mode average where ONNX would drop windows: the mean of zero-padded full
    windows times a constant k/count per output, count being what the IR divides by (real
    elements, plus the declared padding with count_include_pad, never the tail; 0 gives 0)."""
    nsp = len(k)
    sizes = ctx.shape(0)[2:]
    xp = ctx.b.pad(x, [0, 0] + begins, [0, 0] + [e + t for e, t in zip(ends, extra)], 0.0, ctx.dtype())
    mean = ctx.b.op("AveragePool", [xp], kernel_shape=k, strides=st, pads=[0] * (2 * nsp))
    counted = np.pad(np.ones(sizes), list(zip(begins, ends)), constant_values=float(bool(include_pad)))
    counted = np.pad(counted, [(0, t) for t in extra])
    win = np.lib.stride_tricks.sliding_window_view(counted, k)[tuple(slice(None, None, s) for s in st)]
    count = win.sum(axis=tuple(range(nsp, 2 * nsp)))
    scale = np.where(count > 0, float(np.prod(k)) / np.maximum(count, 1), 0.0)
    return ctx.b.op("Mul", [mean, ctx.b.const(scale[None, None], ctx.dtype())])


def _pool(nsp, op_type):
    def fn(ctx, node, attrs, inputs):
        sizes = ctx.shape(0)[2:]
        k = list(per_dim(attrs.pool_size, nsp))
        st = list(per_dim(attrs.strides, nsp))
        begins, ends = (list(p) for p in expand_pads(attrs.padding, nsp))
        ceil_mode, x = 0, inputs[0]
        if attrs.ceil_mode and not is_static(sizes):
            # ONNX drops a last window that starts in the end padding, the IR keeps it: they agree for
            # every size when such a window cannot exist, and no fixed padding fixes it otherwise
            if any(e > kk - s for kk, s, e in zip(k, st, ends)):
                raise unsupported_feature(node.op, node.name, "ceil_mode with a symbolic spatial size and end "
                                          "padding where the last window may start", direction="ONNX export")
            ceil_mode = 1
        elif attrs.ceil_mode:
            ceil_mode = 1
            want = [pool_out(*dim, True) for dim in zip(sizes, k, st, begins, ends)]
            got = [pool_out_dropping_last(*dim) for dim in zip(sizes, k, st, begins, ends)]
            if want != got:
                # MXNet's "full" convention keeps a last window that starts in the end padding
                # (max gives the lowest float there, avg 0); ONNX drops it, and onnxruntime wants
                # pads < kernel.  So pad the missing tail explicitly and pool in floor mode.
                ceil_mode = 0
                extra = floor_mode_tails(sizes, k, st, begins, ends, want)
                if op_type == "AveragePool":
                    return _avg_pool_full_windows(ctx, x, k, st, begins, ends, extra, attrs.count_include_pad)
                fill = float(np.finfo(_dt.to_numpy(ctx.dtype())).min) if op_type == "MaxPool" else 0.0
                x = ctx.b.pad(x, [0] * (2 + nsp), [0, 0] + extra, fill, ctx.dtype())
        onnx_attrs = dict(kernel_shape=k, strides=st, pads=begins + ends, ceil_mode=ceil_mode)
        if op_type == "AveragePool":
            onnx_attrs["count_include_pad"] = int(bool(attrs.count_include_pad))
        return ctx.b.op(op_type, [x], **onnx_attrs)
    return fn


ONNX_EXPORT.add("max_pool1d", _pool(1, "MaxPool"), since=11, check=_pool_check)
ONNX_EXPORT.add("max_pool2d", _pool(2, "MaxPool"), since=11, check=_pool_check)
ONNX_EXPORT.add("max_pool3d", _pool(3, "MaxPool"), since=11, check=_pool_check)
ONNX_EXPORT.add("avg_pool1d", _pool(1, "AveragePool"), since=11, check=_pool_check)
ONNX_EXPORT.add("avg_pool2d", _pool(2, "AveragePool"), since=11, check=_pool_check)
ONNX_EXPORT.add("avg_pool3d", _pool(3, "AveragePool"), since=11, check=_pool_check)


@ONNX_EXPORT.register("global_max_pool1d", "global_max_pool2d", "global_max_pool3d", since=11)
def _global_max_pool(ctx, node, attrs, inputs):
    return ctx.b.op("GlobalMaxPool", [inputs[0]])


@ONNX_EXPORT.register("global_avg_pool1d", "global_avg_pool2d", "global_avg_pool3d", since=11)
def _global_avg_pool(ctx, node, attrs, inputs):
    return ctx.b.op("GlobalAveragePool", [inputs[0]])


def _adaptive_weights(n, out):
    """(out, n) averaging matrix of adaptive pooling's bins [floor(i*n/out), ceil((i+1)*n/out))."""
    m = np.zeros((out, n), dtype=np.float32)
    for i in range(out):
        lo, hi = (i * n) // out, -((-(i + 1) * n) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


@ONNX_EXPORT.register("adaptive_avg_pool2d", since=11)
def _adaptive_avg_pool2d(ctx, node, attrs, inputs):
    h, w = ctx.shape(0)[2:]
    oh, ow = ctx.out_shape(0)[2:]
    if (oh, ow) == (1, 1):
        return ctx.b.op("GlobalAveragePool", [inputs[0]])
    if h % oh == 0 and w % ow == 0:
        kh, kw = h // oh, w // ow
        return ctx.b.op("AveragePool", [inputs[0]], kernel_shape=[kh, kw], strides=[kh, kw])
    # uneven bins: the mean over each bin is separable, rows then columns, as two matrix products
    dt = ctx.dtype(0)
    rows = ctx.b.op("MatMul", [ctx.b.const(_adaptive_weights(h, oh), dt), inputs[0]])
    return ctx.b.op("MatMul", [rows, ctx.b.const(_adaptive_weights(w, ow).T, dt)])


# ---- softmax ------------------------------------------------------------------------------------------
@ONNX_EXPORT.register("softmax", since=11)
def _softmax(ctx, node, attrs, inputs):
    return ctx.b.softmax("Softmax", inputs[0], attrs.axis, ctx.ndim(0))


@ONNX_EXPORT.register("log_softmax", since=11)
def _log_softmax(ctx, node, attrs, inputs):
    return ctx.b.softmax("LogSoftmax", inputs[0], attrs.axis, ctx.ndim(0))


# ---- misc ---------------------------------------------------------------------------------------------
@ONNX_EXPORT.register("prelu", since=11)
def _prelu(ctx, node, attrs, inputs):
    nd = ctx.ndim(0)
    axis = attrs.axis % nd
    channels = ctx.shape(1)[0] if ctx.in_shapes[1] is not None else ctx.shape(0)[axis]
    slope = ctx.b.reshape(inputs[1], ctx.b.bcast_shape(channels, nd, axis))
    return ctx.b.op("PRelu", [inputs[0], slope])


@ONNX_EXPORT.register("pad", since=11)
def _pad(ctx, node, attrs, inputs):
    pw = attrs.pad_width
    return ctx.b.pad(inputs[0], [p[0] for p in pw], [p[1] for p in pw], attrs.pad_value, ctx.dtype())


@ONNX_EXPORT.register("mirror_pad", since=11)
def _mirror_pad(ctx, node, attrs, inputs):
    pw = attrs.pad_width
    mode = "reflect" if attrs.mode == "reflect" else "edge"
    return ctx.b.pad(inputs[0], [p[0] for p in pw], [p[1] for p in pw], 0, ctx.dtype(), mode=mode)


def _lrn_check(ctx, node, attrs, inputs):
    if ctx.in_shapes[0] is not None and attrs.axis % len(ctx.in_shapes[0]) != 1:
        return f"axis {attrs.axis} (ONNX LRN normalises over axis 1)"
    return None


@ONNX_EXPORT.register("lrn", since=11, check=_lrn_check)
def _lrn(ctx, node, attrs, inputs):
    return ctx.b.op("LRN", [inputs[0]], size=int(attrs.size), alpha=float(attrs.alpha), beta=float(attrs.beta),
                    bias=float(attrs.bias))


@ONNX_EXPORT.register("l2_normalize", since=11)
def _l2_normalize(ctx, node, attrs, inputs):
    # y = x / sqrt(max(sum(x^2 over axes), eps)), as NNVM/TOPI define it
    b, x, dt = ctx.b, inputs[0], ctx.dtype()
    nd = ctx.ndim(0)
    axes = sorted({a % nd for a in attrs.axis}) if attrs.axis else list(range(nd))
    sq = b.reduce("ReduceSum", b.op("Mul", [x, x]), axes, keepdims=True)
    denom = b.op("Sqrt", [b.op("Max", [sq, b.scalar(attrs.eps, dt)])])
    return b.op("Div", [x, denom])


@ONNX_EXPORT.register("upsampling", since=11)
def _upsampling(ctx, node, attrs, inputs):
    s = float(attrs.scale)
    scales = [1.0, 1.0, s, s]
    if attrs.method == "NEAREST_NEIGHBOR":
        return ctx.b.resize(inputs[0], scales=scales, mode="nearest", coord="asymmetric", nearest_mode="floor")
    return ctx.b.resize(inputs[0], scales=scales, mode="linear", coord="half_pixel")


def _bilinear_gathers(ctx, x, attrs):
    """Bilinear resize as Gathers with MXNet's taps (numpy_ref.bilinear_resize_taps)."""
    b = ctx.b
    for axis, i0, i1, w0, w1 in bilinear_resize_taps(ctx.shape(0), attrs.size, attrs.align_corners,
                                                     _dt.to_numpy(ctx.dtype(0))):
        x = b.op("Add", [b.op("Mul", [b.op("Gather", [x, b.const(i0)], axis=axis), b.const(w0)]),
                         b.op("Mul", [b.op("Gather", [x, b.const(i1)], axis=axis), b.const(w1)])])
    return x


@ONNX_EXPORT.register("resize", since=11)
def _resize(ctx, node, attrs, inputs):
    b, x = ctx.b, inputs[0]
    if attrs.method == "BILINEAR" and is_static(ctx.shape(0)[2:]):
        return _bilinear_gathers(ctx, x, attrs)
    n, c = ctx.shape(0)[:2]
    sizes = [n, c] + [int(v) for v in attrs.size]
    if b.dynamic_batch:
        # static sizes would bake the batch: take N and C from the input's runtime shape
        nc = b.slice(b.op("Shape", [x]), [0], [2], [0])
        sizes_value = b.op("Concat", [nc, b.i64(sizes[2:])], axis=0)
        kw = dict(sizes_value=sizes_value)
    else:
        kw = dict(sizes=sizes)
    if attrs.method == "BILINEAR":
        # symbolic H or W: the runtime's coordinates, within float32's error of MXNet's on one op
        # (pytorch_half_pixel: MXNet samples row 0 for an output of length 1)
        coord = "align_corners" if attrs.align_corners else "pytorch_half_pixel"
        return b.resize(x, mode="linear", coord=coord, **kw)
    coord = "align_corners" if attrs.align_corners else "asymmetric"
    nearest = "round_prefer_ceil" if attrs.align_corners else "floor"
    return b.resize(x, mode="nearest", coord=coord, nearest_mode=nearest, **kw)


@ONNX_EXPORT.register("depth_to_space", since=11)
def _depth_to_space(ctx, node, attrs, inputs):
    return ctx.b.op("DepthToSpace", [inputs[0]], blocksize=int(attrs.block_size), mode=attrs.mode)


@ONNX_EXPORT.register("space_to_depth", since=11)
def _space_to_depth(ctx, node, attrs, inputs):
    return ctx.b.op("SpaceToDepth", [inputs[0]], blocksize=int(attrs.block_size))
