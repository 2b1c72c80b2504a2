"""Neural-network ops (convolution, pooling, normalisation, resize, ...) -> Relax."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.symbolic import is_static
from nnvm_bridge.ops.common import (DATA_LAYOUTS, ceil_may_drop_last, expand_pads, floor_mode_tails, per_dim,
                                    pool_out, pool_out_dropping_last)
from nnvm_bridge.ops.numpy_ref import bilinear_resize_taps

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op


# ---------------------------------------------------------------------------------------------
# neural network
def _expand_pads(padding, nsp):
    """Relax wants all begins then all ends."""
    begins, ends = expand_pads(padding, nsp)
    return begins + ends


def _add_channel_bias(ctx, y, bias, ndim, axis=1):
    shape = [1] * ndim
    shape[axis] = -1
    return relax_op().add(y, relax_op().reshape(bias, shape))


def _nsp(ctx):
    return len(ctx.in_shapes[0]) - 2


@RELAX_EXPORT.register("conv1d", "conv2d", "conv3d")
def _conv(ctx, node, attrs, inputs):
    op = relax_op()
    nsp = _nsp(ctx)
    fn = getattr(op.nn, f"conv{nsp}d")
    if attrs.layout not in DATA_LAYOUTS.values():
        ctx.fail(f"layout {attrs.layout} is not supported; use channels-first")
    y = fn(inputs[0], inputs[1], strides=per_dim(attrs.strides, nsp), padding=_expand_pads(attrs.padding, nsp),
           dilation=per_dim(attrs.dilation, nsp), groups=attrs.groups, data_layout=attrs.layout,
           kernel_layout=attrs.kernel_layout)
    if attrs.use_bias:
        y = _add_channel_bias(ctx, ctx.emit(y), inputs[2], nsp + 2)
    return y


@RELAX_EXPORT.register("conv1d_transpose", "conv2d_transpose", "conv3d_transpose")
def _conv_transpose(ctx, node, attrs, inputs):
    op = relax_op()
    nsp = _nsp(ctx)
    if _patches_do_not_overlap(attrs, ctx.in_shapes[1][2:], nsp):
        y = _conv_transpose_as_matmul(ctx, inputs[0], inputs[1])
    elif nsp == 2 and is_static(ctx.in_shapes[0][2:]):
        y = _conv_transpose_as_conv2d(ctx, attrs, inputs[0], inputs[1])
    else:
        fn = getattr(op.nn, f"conv{nsp}d_transpose")
        y = fn(inputs[0], inputs[1], strides=per_dim(attrs.strides, nsp), padding=_expand_pads(attrs.padding, nsp),
               output_padding=per_dim(attrs.output_padding, nsp), dilation=per_dim(attrs.dilation, nsp),
               groups=attrs.groups, data_layout=DATA_LAYOUTS[nsp], kernel_layout={1: "IOW", 2: "IOHW", 3: "IODHW"}[nsp])
    if attrs.use_bias:
        y = _add_channel_bias(ctx, ctx.emit(y), inputs[2], nsp + 2)
    return y


def _patches_do_not_overlap(attrs, kernel, nsp):
    """Stride equal to the kernel, no padding, dilation or groups: each input pixel writes its own patch."""
    begins, ends = expand_pads(attrs.padding, nsp)
    return (attrs.groups == 1 and list(per_dim(attrs.strides, nsp)) == list(kernel)
            and not any(begins) and not any(ends) and not any(per_dim(attrs.output_padding, nsp))
            and all(d == 1 for d in per_dim(attrs.dilation, nsp)))


def _conv_transpose_as_matmul(ctx, x, w):
    """A transposed convolution whose patches do not overlap as one matmul, (pixels, in channels) x (in
    channels, out channels x kernel), its rows then interleaved into the patches: TOPI's conv2d_transpose has
    no CPU schedule here (Mask R-CNN's mask head crawled; docs/gluon_models.md has the figures); the matmul
    takes the fixed matmul schedule."""
    op = relax_op()
    n, c_in, *sp = ctx.in_shapes[0]
    c_out, kernel = ctx.in_shapes[1][1], ctx.in_shapes[1][2:]
    nsp = len(sp)
    pixels, taps = n, 1
    for d in sp:
        pixels = pixels * d
    for k in kernel:
        taps *= k
    rows = ctx.emit(op.reshape(op.permute_dims(x, [0, *range(2, nsp + 2), 1]), ctx.shape([pixels, c_in])))
    y = ctx.emit(op.matmul(rows, op.reshape(w, [c_in, c_out * taps])))
    y = ctx.emit(op.reshape(y, ctx.shape([n, *sp, c_out, *kernel])))  # (n, s1.., c_out, k1..)
    interleaved = [0, nsp + 1] + [a for i in range(nsp) for a in (1 + i, nsp + 2 + i)]  # (n, c_out, s1, k1, ..)
    return op.reshape(ctx.emit(op.permute_dims(y, interleaved)), ctx.shape(ctx.out_shapes[0]))


def _conv_transpose_as_conv2d(ctx, attrs, x, w):
    """A 2-D transposed convolution as the convolution whose gradient it is: the input dilated by the strides
    (zeros between its pixels) and padded by dilation x (kernel - 1) - padding (cut where that is negative),
    the kernel flipped, its in and out channels swapped per group. The blocked conv2d and its schedule then
    run it, zeros and all, faster than TOPI's unscheduled conv2d_transpose (CenterNet's and Simple Pose's
    4x4 stride-2 upsampling)."""
    op = relax_op()
    n, c_in, *sp = ctx.in_shapes[0]
    _, c_out_g, *kernel = ctx.in_shapes[1]
    groups, strides, dilation = attrs.groups, per_dim(attrs.strides, 2), per_dim(attrs.dilation, 2)
    begins, ends = expand_pads(attrs.padding, 2)
    ends = [e - o for e, o in zip(ends, per_dim(attrs.output_padding, 2))]
    if any(s > 1 for s in strides):  # (n, c, h, 1, w, 1) padded to (n, c, h, sh, w, sw), the last zeros cut
        x = ctx.emit(op.reshape(x, ctx.shape([n, c_in, sp[0], 1, sp[1], 1])))
        x = ctx.emit(op.nn.pad(x, [0, 0, 0, 0, 0, 0, 0, strides[0] - 1, 0, 0, 0, strides[1] - 1]))
        x = ctx.emit(op.reshape(x, ctx.shape([n, c_in, sp[0] * strides[0], sp[1] * strides[1]])))
        sp = [(d - 1) * s + 1 for d, s in zip(sp, strides)]
        x = ctx.emit(op.strided_slice(x, [2, 3], [0, 0], sp))
    pads = [[d * (k - 1) - p for p in (b, e)] for d, k, b, e in zip(dilation, kernel, begins, ends)]
    if any(p > 0 for pair in pads for p in pair):
        x = ctx.emit(op.nn.pad(x, [0, 0, 0, 0] + [max(p, 0) for pair in pads for p in pair]))
    if any(p < 0 for pair in pads for p in pair):
        lengths = [d + max(b, 0) + max(e, 0) for d, (b, e) in zip(sp, pads)]
        x = ctx.emit(op.strided_slice(x, [2, 3], [max(-b, 0) for b, _ in pads],
                                      [n_ - max(-e, 0) for n_, (_, e) in zip(lengths, pads)]))
    c_in_g = c_in // groups
    w = op.flip(op.flip(w, 2), 3)
    w = op.reshape(op.permute_dims(op.reshape(w, [groups, c_in_g, c_out_g, *kernel]), [0, 2, 1, 3, 4]),
                   [groups * c_out_g, c_in_g, *kernel])
    return op.nn.conv2d(x, ctx.emit(w), dilation=dilation, groups=groups)


def _ceil_tails(sizes, kernel, strides, begins, ends):
    """Extra end padding per dim that makes floor mode give the IR's ceil-mode windows, or None when
    Relax's own ceil mode already gives them (TVM 0.27, like ONNX, drops a last window that would start
    in the end padding; the IR, MXNet's "full" convention, keeps it)."""
    dims = list(zip(sizes, kernel, strides, begins, ends))
    if not any(ceil_may_drop_last(k, s, e) for _, k, s, _, e in dims):  # the same windows at any length
        return None
    lengths = [pool_out(*d, True) for d in dims]
    if all(pool_out_dropping_last(*d) == n for d, n in zip(dims, lengths)):
        return None
    return floor_mode_tails(sizes, kernel, strides, begins, ends, lengths)


def _static_tails(ctx, tails):
    if tails is not None:
        ctx.need_static("the end padding that ceil-mode pooling needs over this input length", *tails)
    return tails


@RELAX_EXPORT.register("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d")
def _pool(ctx, node, attrs, inputs):
    op = relax_op()
    nsp = _nsp(ctx)
    kind = node.op.split("_")[0]
    fn = getattr(op.nn, f"{kind}_pool{nsp}d")
    k, st = per_dim(attrs.pool_size, nsp), per_dim(attrs.strides, nsp)
    begins, ends = (list(p) for p in expand_pads(attrs.padding, nsp))
    data, ceil, include_pad = inputs[0], attrs.ceil_mode, kind == "avg" and attrs.count_include_pad
    tails = _static_tails(ctx, _ceil_tails(ctx.in_shapes[0][2:], k, st, begins, ends)) if ceil else None
    if tails is not None:  # Relax would drop the IR's last window: floor mode over an explicit tail
        ceil = False
        if include_pad:  # the declared padding counts and the tail must not: make the former real zeros
            widths = [0, 0, 0, 0] + [v for pair in zip(begins, ends) for v in pair]
            data = ctx.emit(op.nn.pad(data, widths, "constant", 0.0))
            begins, ends, include_pad = [0] * nsp, tails, False
        else:  # max, or an average that never counts padding
            ends = [e + t for e, t in zip(ends, tails)]
    kw = dict(pool_size=k, strides=st, padding=begins + ends, ceil_mode=ceil, layout=DATA_LAYOUTS[nsp])
    if kind == "avg":
        kw["count_include_pad"] = include_pad
    return fn(data, **kw)


@RELAX_EXPORT.register("global_max_pool1d", "global_max_pool2d", "global_max_pool3d", "global_avg_pool1d",
                       "global_avg_pool2d", "global_avg_pool3d")
def _global_pool(ctx, node, attrs, inputs):
    op = relax_op()
    axes = list(range(2, len(ctx.in_shapes[0])))
    return (op.max if "max" in node.op else op.mean)(inputs[0], axes, keepdims=True)


@RELAX_EXPORT.register("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(ctx, node, attrs, inputs):
    size = tuple(attrs.output_size)
    return relax_op().nn.adaptive_avg_pool2d(inputs[0], size * 2 if len(size) == 1 else size)


@RELAX_EXPORT.register("dense")
def _dense(ctx, node, attrs, inputs):
    return relax_op().linear(inputs[0], inputs[1], inputs[2] if attrs.use_bias else None)


@RELAX_EXPORT.register("matmul", "batch_matmul")
def _matmul(ctx, node, attrs, inputs):
    op = relax_op()
    lhs, rhs = inputs[0], inputs[1]

    def swap(e, ndim):
        perm = list(range(ndim))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return op.permute_dims(e, perm)
    if attrs.transpose_a:
        lhs = swap(lhs, len(ctx.in_shapes[0]))
    if attrs.transpose_b:
        rhs = swap(rhs, len(ctx.in_shapes[1]))
    return op.matmul(lhs, rhs)


@RELAX_EXPORT.register("dropout")
def _dropout(ctx, node, attrs, inputs):
    if not is_static(ctx.in_shapes[0]):
        return [inputs[0], relax_op().ones_like(inputs[0])]
    mask = ctx.const(np.ones(ctx.in_shapes[0], dtype=ctx.in_dtypes[0]), ctx.in_dtypes[0])
    return [inputs[0], mask]


@RELAX_EXPORT.register("batch_norm")
def _batch_norm(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axis = attrs.axis % ndim
    consts = ctx.const_inputs[1:5]
    if all(c is not None for c in consts):
        # inference BN on constant statistics is one multiply-add; fold it here so Relax sees y = x*s + t
        gamma, beta, mean, var = (np.asarray(c, dtype=np.float64) for c in consts)
        scale = (gamma if attrs.scale else 1.0) / np.sqrt(var + attrs.epsilon)
        shift = (beta if attrs.center else 0.0) - mean * scale
        bshape = [1] * ndim
        bshape[axis] = -1
        d = ctx.in_dtypes[0]
        y = op.add(op.multiply(inputs[0], ctx.const(scale.reshape(bshape), d)), ctx.const(shift.reshape(bshape), d))
    else:
        y = ctx.emit(op.nn.batch_norm(*inputs[:5], axis=axis, epsilon=attrs.epsilon, center=attrs.center,
                                      scale=attrs.scale, training=False))
        y = compat.relax().TupleGetItem(y, 0)
    return [y, inputs[3], inputs[4]]


@RELAX_EXPORT.register("softmax", "log_softmax")
def _softmax(ctx, node, attrs, inputs):
    op = relax_op()
    return (op.nn.softmax if node.op == "softmax" else op.nn.log_softmax)(inputs[0], axis=attrs.axis)


@RELAX_EXPORT.register("pad", "mirror_pad")
def _pad(ctx, node, attrs, inputs):
    widths = [int(v) for pair in attrs.pad_width for v in pair]
    if node.op == "pad":
        return relax_op().nn.pad(inputs[0], widths, "constant", float(attrs.pad_value))
    return relax_op().nn.pad(inputs[0], widths, "reflect" if attrs.mode == "reflect" else "replicate")


@RELAX_EXPORT.register("lrn")
def _lrn(ctx, node, attrs, inputs):
    # y = x / (bias + alpha/size * sum over a channel window of x^2) ^ beta   (ONNX/MXNet/NNVM LRN)
    op = relax_op()
    shape = ctx.in_shapes[0]
    ndim = len(shape)
    axis = attrs.axis % ndim
    d = ctx.in_dtypes[0]
    sq = ctx.emit(op.multiply(inputs[0], inputs[0]))
    lo, hi = (attrs.size - 1) // 2, attrs.size - 1 - (attrs.size - 1) // 2
    widths = [0] * (2 * ndim)
    widths[2 * axis], widths[2 * axis + 1] = lo, hi
    padded = ctx.emit(op.nn.pad(sq, widths, "constant", 0.0))
    n = shape[axis]
    total = None
    for k in range(attrs.size):
        part = ctx.emit(op.strided_slice(padded, [axis], [k], [ctx.prim(k + n)]))
        total = part if total is None else ctx.emit(op.add(total, part))
    denom = op.power(op.add(ctx.scalar(attrs.bias, d), op.multiply(total, ctx.scalar(attrs.alpha / attrs.size, d))),
                     ctx.scalar(attrs.beta, d))
    return op.divide(inputs[0], ctx.emit(denom))


@RELAX_EXPORT.register("l2_normalize")
def _l2_normalize(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axes = [v % ndim for v in attrs.axis]
    ss = op.sum(op.multiply(inputs[0], inputs[0]), axes, keepdims=True)
    return op.divide(inputs[0], op.sqrt(op.maximum(ctx.emit(ss), ctx.scalar(attrs.eps, ctx.in_dtypes[0]))))


def _resize(ctx, x, size, method, coord="half_pixel"):
    if method.upper() == "BILINEAR":
        return relax_op().image.resize2d(x, size, method="linear", coordinate_transformation_mode=coord)
    return relax_op().image.resize2d(x, size, method="nearest_neighbor", coordinate_transformation_mode="asymmetric",
                                rounding_method="floor")


@RELAX_EXPORT.register("upsampling")
def _upsampling(ctx, node, attrs, inputs):
    return _resize(ctx, inputs[0], tuple(ctx.shape(ctx.out_shapes[0][2:])), attrs.method)


def _bilinear_takes(ctx, x, attrs):
    """Bilinear resize as takes with MXNet's taps (numpy_ref.bilinear_resize_taps)."""
    op = relax_op()
    for axis, i0, i1, w0, w1 in bilinear_resize_taps(ctx.in_shapes[0], attrs.size, attrs.align_corners,
                                                     ctx.in_dtypes[0]):
        x = ctx.emit(op.add(op.multiply(op.take(x, ctx.const(i0, "int64"), axis=axis), ctx.const(w0)),
                            op.multiply(op.take(x, ctx.const(i1, "int64"), axis=axis), ctx.const(w1))))
    return x


@RELAX_EXPORT.register("resize")
def _resize_op(ctx, node, attrs, inputs):
    if attrs.method == "BILINEAR" and is_static(ctx.in_shapes[0][2:]):
        return _bilinear_takes(ctx, inputs[0], attrs)
    # symbolic H or W: TVM's coordinates (pytorch_half_pixel: MXNet samples row 0 for an output of length 1)
    coord = "align_corners" if attrs.align_corners else "pytorch_half_pixel"
    return _resize(ctx, inputs[0], tuple(attrs.size), attrs.method, coord)


@RELAX_EXPORT.register("layer_norm")
def _layer_norm(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    return op.nn.layer_norm(*inputs[:3], [attrs.axis % ndim], epsilon=attrs.epsilon, center=attrs.center,
                            scale=attrs.scale)


@RELAX_EXPORT.register("instance_norm")
def _instance_norm(ctx, node, attrs, inputs):
    ndim = len(ctx.in_shapes[0])
    axis = attrs.axis % ndim
    axes = [i for i in range(1, ndim) if i != axis]
    return relax_op().nn.instance_norm(inputs[0], inputs[1], inputs[2], channel_axis=axis, axes=axes, epsilon=attrs.epsilon)


@RELAX_EXPORT.register("group_norm")
def _group_norm(ctx, node, attrs, inputs):
    ndim = len(ctx.in_shapes[0])
    return relax_op().nn.group_norm(*inputs[:3], attrs.num_groups, 1, list(range(2, ndim)), epsilon=attrs.epsilon)


@RELAX_EXPORT.register("norm")
def _norm(ctx, node, attrs, inputs):
    op = relax_op()
    ndim = len(ctx.in_shapes[0])
    axes = list(range(ndim)) if not attrs.axis else sorted(v % ndim for v in attrs.axis)
    if attrs.ord == 1:
        return op.sum(op.abs(inputs[0]), axes, keepdims=attrs.keepdims)
    if attrs.ord == 2:
        return op.sqrt(op.sum(op.multiply(inputs[0], inputs[0]), axes, keepdims=attrs.keepdims))
    ctx.fail(f"norm with ord={attrs.ord} is not supported (1 or 2)")
