"""Neural-network ops (convolution, pooling, normalisation, resize, ...) -> Relax."""
from __future__ import annotations


import numpy as np

from nnvm_bridge.ops.common import expand_pads, per_dim, pool_out

from .. import compat
from .base import _op, emitter


# ---------------------------------------------------------------------------------------------
# neural network
def _expand_pads(padding, nsp):
    """Relax wants all begins then all ends."""
    begins, ends = expand_pads(padding, nsp)
    return begins + ends


def _add_channel_bias(cx, y, bias, ndim, axis=1):
    shape = [1] * ndim
    shape[axis] = -1
    return _op().add(y, _op().reshape(bias, shape))


def _nsp(cx):
    return len(cx.in_shapes[0]) - 2


@emitter("conv1d", "conv2d", "conv3d")
def _conv(cx, a, x):
    op = _op()
    nsp = _nsp(cx)
    fn = getattr(op.nn, f"conv{nsp}d")
    if a.layout not in ("NCW", "NCHW", "NCDHW"):
        cx.fail(f"layout {a.layout} is not supported; use channels-first")
    y = fn(x[0], x[1], strides=per_dim(a.strides, nsp), padding=_expand_pads(a.padding, nsp),
           dilation=per_dim(a.dilation, nsp), groups=a.groups, data_layout=a.layout, kernel_layout=a.kernel_layout)
    if a.use_bias:
        y = _add_channel_bias(cx, cx.emit(y), x[2], nsp + 2)
    return y


@emitter("conv1d_transpose", "conv2d_transpose", "conv3d_transpose")
def _conv_transpose(cx, a, x):
    op = _op()
    nsp = _nsp(cx)
    fn = getattr(op.nn, f"conv{nsp}d_transpose")
    layout = {1: "NCW", 2: "NCHW", 3: "NCDHW"}[nsp]
    y = fn(x[0], x[1], strides=per_dim(a.strides, nsp), padding=_expand_pads(a.padding, nsp),
           output_padding=per_dim(a.output_padding, nsp), dilation=per_dim(a.dilation, nsp), groups=a.groups,
           data_layout=layout, kernel_layout={1: "IOW", 2: "IOHW", 3: "IODHW"}[nsp])
    if a.use_bias:
        y = _add_channel_bias(cx, cx.emit(y), x[2], nsp + 2)
    return y


def _relax_ceil_len(size, k, s, pb, pe):
    """Relax's ceil-mode length (TVM 0.27, like PyTorch and ONNX): a last window that would start
    in the end padding is dropped.  The IR (MXNet "full", ops/common.pool_out) keeps it."""
    out = -(-(size + pb + pe - k) // s) + 1
    return out - 1 if (out - 1) * s >= size + pb else out


def _ceil_tails(sizes, kernel, strides, begins, ends):
    """Extra end padding per dim that makes floor mode give the IR's ceil-mode windows, or None
    when Relax's own ceil mode already gives them."""
    dims = list(zip(sizes, kernel, strides, begins, ends))
    if all(_relax_ceil_len(*d) == pool_out(*d, True) for d in dims):
        return None
    return [max(0, (pool_out(n, k, s, b, e, True) - 1) * s + k - (n + b + e)) for n, k, s, b, e in dims]


@emitter("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d")
def _pool(cx, a, x):
    op = _op()
    nsp = _nsp(cx)
    kind = cx.node.op.split("_")[0]
    fn = getattr(op.nn, f"{kind}_pool{nsp}d")
    k, st = per_dim(a.pool_size, nsp), per_dim(a.strides, nsp)
    begins, ends = (list(p) for p in expand_pads(a.padding, nsp))
    data, ceil, include_pad = x[0], a.ceil_mode, kind == "avg" and a.count_include_pad
    tails = _ceil_tails(cx.in_shapes[0][2:], k, st, begins, ends) if ceil else None
    if tails is not None:  # Relax would drop the IR's last window: floor mode over an explicit tail
        ceil = False
        if include_pad:  # the declared padding counts and the tail must not: make the former real zeros
            widths = [0, 0, 0, 0] + [v for pair in zip(begins, ends) for v in pair]
            data = cx.emit(op.nn.pad(data, widths, "constant", 0.0))
            begins, ends, include_pad = [0] * nsp, tails, False
        else:  # max, or an average that never counts padding
            ends = [e + t for e, t in zip(ends, tails)]
    kw = dict(pool_size=k, strides=st, padding=begins + ends, ceil_mode=ceil,
              layout={1: "NCW", 2: "NCHW", 3: "NCDHW"}[nsp])
    if kind == "avg":
        kw["count_include_pad"] = include_pad
    return fn(data, **kw)


@emitter("global_max_pool1d", "global_max_pool2d", "global_max_pool3d", "global_avg_pool1d",
         "global_avg_pool2d", "global_avg_pool3d")
def _global_pool(cx, a, x):
    op = _op()
    axes = list(range(2, len(cx.in_shapes[0])))
    return (op.max if "max" in cx.node.op else op.mean)(x[0], axes, keepdims=True)


@emitter("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(cx, a, x):
    size = tuple(a.output_size)
    return _op().nn.adaptive_avg_pool2d(x[0], size * 2 if len(size) == 1 else size)


@emitter("dense")
def _dense(cx, a, x):
    return _op().linear(x[0], x[1], x[2] if a.use_bias else None)


@emitter("matmul", "batch_matmul")
def _matmul(cx, a, x):
    op = _op()
    lhs, rhs = x[0], x[1]

    def swap(e, ndim):
        perm = list(range(ndim))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return op.permute_dims(e, perm)
    if a.transpose_a:
        lhs = swap(lhs, len(cx.in_shapes[0]))
    if a.transpose_b:
        rhs = swap(rhs, len(cx.in_shapes[1]))
    return op.matmul(lhs, rhs)


@emitter("dropout")
def _dropout(cx, a, x):
    mask = cx.const(np.ones(cx.in_shapes[0], dtype=cx.in_dtypes[0]), cx.in_dtypes[0])
    return [x[0], mask]


@emitter("batch_norm")
def _batch_norm(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    consts = cx.const_inputs[1:5]
    if all(c is not None for c in consts):
        # inference BN on constant statistics is one multiply-add; fold it here so Relax sees y = x*s + t
        gamma, beta, mean, var = (np.asarray(c, dtype=np.float64) for c in consts)
        scale = (gamma if a.scale else 1.0) / np.sqrt(var + a.epsilon)
        shift = (beta if a.center else 0.0) - mean * scale
        bshape = [1] * ndim
        bshape[axis] = -1
        d = cx.in_dtypes[0]
        y = op.add(op.multiply(x[0], cx.const(scale.reshape(bshape), d)), cx.const(shift.reshape(bshape), d))
    else:
        y = cx.emit(op.nn.batch_norm(x[0], x[1], x[2], x[3], x[4], axis=axis, epsilon=a.epsilon, center=a.center,
                                     scale=a.scale, training=False))
        y = compat.relax().TupleGetItem(y, 0)
    return [y, x[3], x[4]]


@emitter("softmax", "log_softmax")
def _softmax(cx, a, x):
    op = _op()
    return (op.nn.softmax if cx.node.op == "softmax" else op.nn.log_softmax)(x[0], axis=a.axis)


@emitter("pad", "mirror_pad")
def _pad(cx, a, x):
    widths = [int(v) for pair in a.pad_width for v in pair]
    if cx.node.op == "pad":
        return _op().nn.pad(x[0], widths, "constant", float(a.pad_value))
    return _op().nn.pad(x[0], widths, "reflect" if a.mode == "reflect" else "replicate")


@emitter("lrn")
def _lrn(cx, a, x):
    # y = x / (bias + alpha/size * sum over a channel window of x^2) ^ beta   (ONNX/MXNet/NNVM LRN)
    op = _op()
    shape = cx.in_shapes[0]
    ndim = len(shape)
    axis = a.axis % ndim
    d = cx.in_dtypes[0]
    sq = cx.emit(op.multiply(x[0], x[0]))
    lo, hi = (a.size - 1) // 2, a.size - 1 - (a.size - 1) // 2
    widths = [0] * (2 * ndim)
    widths[2 * axis], widths[2 * axis + 1] = lo, hi
    padded = cx.emit(op.nn.pad(sq, widths, "constant", 0.0))
    n = shape[axis]
    total = None
    for k in range(a.size):
        part = cx.emit(op.strided_slice(padded, [axis], [k], [k + n]))
        total = part if total is None else cx.emit(op.add(total, part))
    denom = op.power(op.add(cx.scalar(a.bias, d), op.multiply(total, cx.scalar(a.alpha / a.size, d))),
                     cx.scalar(a.beta, d))
    return op.divide(x[0], cx.emit(denom))


@emitter("l2_normalize")
def _l2_normalize(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axes = [v % ndim for v in a.axis]
    ss = op.sum(op.multiply(x[0], x[0]), axes, keepdims=True)
    return op.divide(x[0], op.sqrt(op.maximum(cx.emit(ss), cx.scalar(a.eps, cx.in_dtypes[0]))))


def _resize(cx, x, size, method, align_corners=False):
    if method.upper() == "BILINEAR":
        return _op().image.resize2d(x, size, method="linear", coordinate_transformation_mode=(
            "align_corners" if align_corners else "half_pixel"))
    return _op().image.resize2d(x, size, method="nearest_neighbor", coordinate_transformation_mode="asymmetric",
                                rounding_method="floor")


@emitter("upsampling")
def _upsampling(cx, a, x):
    return _resize(cx, x[0], tuple(cx.out_shapes[0][2:]), a.method)


@emitter("resize")
def _resize_op(cx, a, x):
    return _resize(cx, x[0], tuple(a.size), a.method, a.align_corners)


@emitter("layer_norm")
def _layer_norm(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    return op.nn.layer_norm(x[0], x[1], x[2], [a.axis % ndim], epsilon=a.epsilon, center=a.center, scale=a.scale)


@emitter("instance_norm")
def _instance_norm(cx, a, x):
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    axes = [i for i in range(1, ndim) if i != axis]
    return _op().nn.instance_norm(x[0], x[1], x[2], channel_axis=axis, axes=axes, epsilon=a.epsilon)


@emitter("group_norm")
def _group_norm(cx, a, x):
    ndim = len(cx.in_shapes[0])
    return _op().nn.group_norm(x[0], x[1], x[2], a.num_groups, 1, list(range(2, ndim)), epsilon=a.epsilon)


@emitter("norm")
def _norm(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axes = list(range(ndim)) if not a.axis else sorted(v % ndim for v in a.axis)
    if a.ord == 1:
        return op.sum(op.abs(x[0]), axes, keepdims=a.keepdims)
    if a.ord == 2:
        return op.sqrt(op.sum(op.multiply(x[0], x[0]), axes, keepdims=a.keepdims))
    cx.fail(f"norm with ord={a.ord} is not supported (1 or 2)")
