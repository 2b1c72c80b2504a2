"""NNVM graph -> TVM Relax IRModule, one small emitter per NNVM op.

Shapes and dtypes are inferred on the NNVM graph first, so every emitter sees static shapes:
reshape special values, slice bounds and similar are resolved here rather than left to Relax.
After each node the emitted value is checked against the inferred shape/dtype and fixed with a
reshape or cast where Relax's convention differs from NNVM's (e.g. reductions to (1,), 0/1
comparisons in the input dtype).
"""
from __future__ import annotations

import math

import numpy as np

from nnvm_bridge.errors import BridgeError, CompileError, ShapeError, UnsupportedOperatorError
from nnvm_bridge.ir.passes import infer_shape, infer_type
from nnvm_bridge.ops import node_attrs
from nnvm_bridge.ops.common import expand_pads, per_dim

from . import compat

EMITTERS = {}


def emitter(*names):
    def deco(fn):
        for n in names:
            EMITTERS[n] = fn
        return fn
    return deco


class Ctx:
    """What an emitter may use: the block builder, and static facts about the current node."""

    def __init__(self, bb, graph, params, bind_params):
        self.bb = bb
        self.graph = graph
        self.params = params
        self.bind_params = bind_params
        self.node = None
        self.in_shapes = []
        self.in_dtypes = []
        self.out_shapes = []
        self.out_dtypes = []
        self.const_inputs = []  # numpy value of each input when it is a bound parameter, else None

    def emit(self, expr):
        return self.bb.emit(expr)

    def const(self, value, dtype=None):
        rx = compat.relax()
        arr = np.asarray(value, dtype=dtype or self.out_dtypes[0])
        return rx.const(arr, str(arr.dtype))

    def scalar(self, value, dtype):
        """A scalar constant in ``dtype`` (integers are rounded the way numpy casts them)."""
        rx = compat.relax()
        return rx.const(np.asarray(value).astype(dtype), dtype)

    def fail(self, message):
        raise CompileError(message, node=self.node.name, op=self.node.op)


def _op():
    return compat.relax().op


# ---------------------------------------------------------------------------------------------
# elementwise
_UNARY = {
    "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "round": "round", "abs": "abs", "negative": "negative", "sin": "sin",
    "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
    "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "erf": "erf", "rsqrt": "rsqrt", "sign": "sign",
    "square": "square", "isnan": "isnan", "isinf": "isinf",
}


@emitter(*_UNARY)
def _unary(cx, a, x):
    return getattr(_op(), _UNARY[cx.node.op])(x[0])


@emitter("copy", "block_grad")
def _identity(cx, a, x):
    return x[0]


@emitter("relu")
def _relu(cx, a, x):
    return _op().nn.relu(x[0])


@emitter("reciprocal")
def _reciprocal(cx, a, x):
    return _op().divide(cx.scalar(1, cx.in_dtypes[0]), x[0])


@emitter("softplus")
def _softplus(cx, a, x):
    return _op().nn.softplus(x[0])


@emitter("softsign")
def _softsign(cx, a, x):
    op = _op()
    return op.divide(x[0], op.add(cx.scalar(1, cx.in_dtypes[0]), op.abs(x[0])))


@emitter("log_sigmoid")
def _log_sigmoid(cx, a, x):
    op = _op()
    return op.negative(op.nn.softplus(op.negative(x[0])))  # stable for large |x|


@emitter("mish")
def _mish(cx, a, x):
    op = _op()
    return op.multiply(x[0], op.tanh(op.nn.softplus(x[0])))


@emitter("silu")
def _silu(cx, a, x):
    return _op().nn.silu(x[0])


@emitter("hard_swish")
def _hard_swish(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    gate = op.clip(op.add(op.divide(x[0], cx.scalar(6, d)), cx.scalar(0.5, d)), 0.0, 1.0)
    return op.multiply(x[0], gate)


@emitter("log2", "log10")
def _log_base(cx, a, x):
    op = _op()
    base = 2.0 if cx.node.op == "log2" else 10.0
    return op.divide(op.log(x[0]), cx.scalar(math.log(base), cx.in_dtypes[0]))


@emitter("log1p")
def _log1p(cx, a, x):
    op = _op()
    return op.log(op.add(x[0], cx.scalar(1, cx.in_dtypes[0])))


@emitter("expm1")
def _expm1(cx, a, x):
    op = _op()
    return op.subtract(op.exp(x[0]), cx.scalar(1, cx.in_dtypes[0]))


@emitter("cbrt")
def _cbrt(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.multiply(op.sign(x[0]), op.power(op.abs(x[0]), cx.scalar(1.0 / 3.0, d)))


@emitter("logical_not")
def _logical_not(cx, a, x):
    op = _op()
    if cx.in_dtypes[0] == "bool":
        return op.logical_not(x[0])
    return op.equal(x[0], cx.scalar(0, cx.in_dtypes[0]))


@emitter("gelu")
def _gelu(cx, a, x):
    op = _op()
    return op.nn.gelu_tanh(x[0]) if a.approximation == "tanh" else op.nn.gelu(x[0])


def _elu_core(cx, x, alpha):
    op = _op()
    d = cx.in_dtypes[0]
    neg = op.multiply(cx.scalar(alpha, d), op.subtract(op.exp(op.minimum(x, cx.scalar(0, d))), cx.scalar(1, d)))
    return op.where(op.greater(x, cx.scalar(0, d)), x, neg)


@emitter("elu")
def _elu(cx, a, x):
    return _elu_core(cx, x[0], a.alpha)


@emitter("selu")
def _selu(cx, a, x):
    return _op().multiply(cx.scalar(a.gamma, cx.in_dtypes[0]), _elu_core(cx, x[0], a.alpha))


@emitter("hard_sigmoid")
def _hard_sigmoid(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.clip(op.add(op.multiply(x[0], cx.scalar(a.alpha, d)), cx.scalar(a.beta, d)), 0.0, 1.0)


@emitter("thresholded_relu")
def _thresholded_relu(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    return op.where(op.greater(x[0], cx.scalar(a.alpha, d)), x[0], op.zeros_like(x[0]))


@emitter("leaky_relu")
def _leaky_relu(cx, a, x):
    return _op().nn.leakyrelu(x[0], a.alpha)


@emitter("prelu")
def _prelu(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    slope = x[1]
    if tuple(cx.in_shapes[1]) != (cx.in_shapes[0][axis],):
        # broadcastable slope (ONNX PRelu): max(x,0) + slope*min(x,0)
        d = cx.in_dtypes[0]
        zero = cx.scalar(0, d)
        return op.add(op.maximum(x[0], zero), op.multiply(slope, op.minimum(x[0], zero)))
    return op.nn.prelu(x[0], slope, axis)


@emitter("clip")
def _clip(cx, a, x):
    op = _op()
    d = cx.in_dtypes[0]
    if np.issubdtype(np.dtype(d), np.floating):
        return op.clip(x[0], float(a.a_min), float(a.a_max))
    return op.minimum(op.maximum(x[0], cx.scalar(a.a_min, d)), cx.scalar(a.a_max, d))


_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "mod": "floor_mod", "pow": "power", "max": "maximum",
    "min": "minimum", "left_shift": "left_shift", "right_shift": "right_shift", "greater": "greater",
    "less": "less", "equal": "equal", "not_equal": "not_equal", "greater_equal": "greater_equal",
    "less_equal": "less_equal",
}


def _div(cx, lhs, rhs):
    op = _op()
    if np.issubdtype(np.dtype(cx.in_dtypes[0]), np.integer):
        return op.floor_divide(lhs, rhs)  # numpy semantics, as the op table's compute rule
    return op.divide(lhs, rhs)


@emitter(*[f"elemwise_{k}" for k in ("add", "sub", "mul", "div", "mod", "pow")],
         *[f"broadcast_{k}" for k in list(_BINARY) + ["div"] if k not in ("add_",)], "greater", "less")
def _binary(cx, a, x):
    kind = cx.node.op.split("_", 1)[1] if "_" in cx.node.op else cx.node.op
    if kind == "div":
        return _div(cx, x[0], x[1])
    if kind == "pow" and not _is_float(cx.in_dtypes[0]):
        return _int_power(x[0], x[1])
    return getattr(_op(), _BINARY[kind])(x[0], x[1])


def _is_float(dtype):
    return dtype in ("float16", "float32", "float64", "bfloat16")


def _int_power(lhs, rhs):
    # TOPI's power is float-only: compute in float64 (exact for the integer range that fits) and cast back
    op = _op()
    return op.power(op.astype(lhs, "float64"), op.astype(rhs, "float64"))


def _truth(cx, x, dtype):
    op = _op()
    if dtype == "bool":
        return x
    return op.not_equal(x, cx.scalar(0, dtype))


@emitter("logical_and", "logical_or", "logical_xor", "broadcast_logical_and", "broadcast_logical_or",
         "broadcast_logical_xor")
def _logical(cx, a, x):
    op = _op()
    fn = {"and": op.logical_and, "or": op.logical_or, "xor": op.logical_xor}[cx.node.op.rsplit("_", 1)[1]]
    return fn(_truth(cx, x[0], cx.in_dtypes[0]), _truth(cx, x[1], cx.in_dtypes[1]))


@emitter("elemwise_sum")
def _elemwise_sum(cx, a, x):
    out = x[0]
    for y in x[1:]:
        out = cx.emit(_op().add(out, y))
    return out


_SCALAR = {
    "__add_scalar__": ("add", False), "__sub_scalar__": ("subtract", False), "__rsub_scalar__": ("subtract", True),
    "__mul_scalar__": ("multiply", False), "__div_scalar__": ("div", False), "__rdiv_scalar__": ("div", True),
    "__pow_scalar__": ("power", False), "__rpow_scalar__": ("power", True),
    "__lshift_scalar__": ("left_shift", False), "__rshift_scalar__": ("right_shift", False),
    "__max_scalar__": ("maximum", False), "__min_scalar__": ("minimum", False),
    "__equal_scalar__": ("equal", False), "__not_equal_scalar__": ("not_equal", False),
    "__greater_scalar__": ("greater", False), "__greater_equal_scalar__": ("greater_equal", False),
    "__less_scalar__": ("less", False), "__less_equal_scalar__": ("less_equal", False),
}


@emitter(*_SCALAR)
def _scalar_op(cx, a, x):
    name, reverse = _SCALAR[cx.node.op]
    d = cx.in_dtypes[0]
    s = cx.scalar(a.scalar, d)
    lhs, rhs = (s, x[0]) if reverse else (x[0], s)
    if name == "power" and not _is_float(d):
        return _int_power(lhs, rhs)
    if name == "div":
        if np.issubdtype(np.dtype(d), np.integer):
            # op table: x / s in numpy gives float, then cast back to the input dtype (truncation)
            fl = "float64"
            q = _op().divide(_op().astype(lhs, fl), _op().astype(rhs, fl))
            return q
        return _op().divide(lhs, rhs)
    return getattr(_op(), name)(lhs, rhs)


# ---------------------------------------------------------------------------------------------
# creation
@emitter("full", "zeros", "ones")
def _full(cx, a, x):
    value = {"zeros": 0, "ones": 1}.get(cx.node.op, a.get("fill_value"))
    return cx.const(np.full(cx.out_shapes[0], value, dtype=cx.out_dtypes[0]))


@emitter("full_like", "zeros_like", "ones_like")
def _full_like(cx, a, x):
    value = {"zeros_like": 0, "ones_like": 1}.get(cx.node.op, a.get("fill_value"))
    return cx.const(np.full(cx.in_shapes[0], value, dtype=cx.in_dtypes[0]))


@emitter("arange")
def _arange(cx, a, x):
    return cx.const(np.arange(a.start, a.stop, a.step).astype(a.dtype))


@emitter("shape_of")
def _shape_of(cx, a, x):
    return cx.const(np.array(cx.in_shapes[0], dtype=a.dtype))


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


@emitter("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d")
def _pool(cx, a, x):
    op = _op()
    nsp = _nsp(cx)
    kind = cx.node.op.split("_")[0]
    fn = getattr(op.nn, f"{kind}_pool{nsp}d")
    pads = _expand_pads(a.padding, nsp)
    kw = dict(pool_size=per_dim(a.pool_size, nsp), strides=per_dim(a.strides, nsp), padding=pads, ceil_mode=a.ceil_mode,
              layout={1: "NCW", 2: "NCHW", 3: "NCDHW"}[nsp])
    if kind == "avg":
        kw["count_include_pad"] = a.count_include_pad
    return fn(x[0], **kw)


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


# ---------------------------------------------------------------------------------------------
# reductions
def _reduce_axes(a, ndim):
    from nnvm_bridge.ops.reduce import reduce_axes

    return list(reduce_axes(a, ndim))


@emitter("sum", "max", "min", "mean", "prod")
def _reduce(cx, a, x):
    axes = _reduce_axes(a, len(cx.in_shapes[0]))
    if not axes:
        return x[0]
    data = x[0]
    if cx.in_dtypes[0] == "bool":  # TOPI has no min/max identity for bool; reduce 0/1 bytes instead
        data = _op().astype(data, "uint8")
    return getattr(_op(), cx.node.op)(data, axes, keepdims=a.keepdims)


@emitter("argmax", "argmin")
def _argreduce(cx, a, x):
    op = _op()
    ndim = len(cx.in_shapes[0])
    axes = _reduce_axes(a, ndim)
    fn = getattr(op, cx.node.op)
    if len(axes) == 1:
        return fn(x[0], axes[0], keepdims=a.keepdims)
    if len(axes) == ndim:
        return fn(op.reshape(x[0], [-1]), 0)
    cx.fail(f"{cx.node.op} over several axes {axes} is not supported")


@emitter("collapse_sum")
def _collapse_sum(cx, a, x):
    return _op().collapse_sum_like(x[0], x[1])


# ---------------------------------------------------------------------------------------------
# shape manipulation: the inferred output shape makes most of these a static reshape
@emitter("flatten", "reshape", "reshape_like")
def _reshape(cx, a, x):
    return _op().reshape(x[0], list(cx.out_shapes[0]))


@emitter("broadcast_to", "expand_like")
def _broadcast_to(cx, a, x):
    op = _op()
    out = list(cx.out_shapes[0])
    src = x[0]
    if cx.node.op == "expand_like":
        n = len(out)
        axes = {v % n for v in a.axis}
        if a.exclude:
            axes = set(range(n)) - axes
        src = op.reshape(src, [1 if i in axes else d for i, d in enumerate(out)])
    return op.broadcast_to(src, out)


@emitter("expand_dims", "squeeze")
def _expand_squeeze(cx, a, x):
    return _op().reshape(x[0], list(cx.out_shapes[0]))


@emitter("concatenate")
def _concat(cx, a, x):
    return _op().concat(list(x), axis=a.axis)


@emitter("stack")
def _stack(cx, a, x):
    return _op().stack(list(x), axis=a.axis)


@emitter("split")
def _split(cx, a, x):
    from nnvm_bridge.ops.transform import split_points

    op = _op()
    ndim = len(cx.in_shapes[0])
    axis = a.axis % ndim
    dim = cx.in_shapes[0][axis]
    pts = split_points(a, dim)
    bounds = [0] + list(pts) + [dim]
    if any(b >= e for b, e in zip(bounds[:-1], bounds[1:])):
        # empty pieces: Relax's split wants strictly increasing indices, so slice each piece
        return [op.strided_slice(x[0], [axis], [b], [e], assume_inbound=True) for b, e in zip(bounds[:-1],
                                                                                               bounds[1:])]
    res = cx.emit(op.split(x[0], pts if pts else 1, axis=axis))
    rx = compat.relax()
    return [rx.TupleGetItem(res, i) for i in range(len(pts) + 1)]


@emitter("cast")
def _cast(cx, a, x):
    return _op().astype(x[0], a.dtype)


@emitter("transpose")
def _transpose(cx, a, x):
    return _op().permute_dims(x[0], list(a.axes) if a.axes else None)


@emitter("strided_slice")
def _strided_slice(cx, a, x):
    op = _op()
    shape = cx.in_shapes[0]
    n = len(a.begin)
    strides = list(a.stride) if a.stride else [1] * n
    strides += [1] * (n - len(strides))
    axes, begins, ends, steps, gathers = [], [], [], [], []
    for ax in range(n):
        b, e, s = a.begin[ax], a.end[ax], strides[ax]
        if s == 0:
            cx.fail("strided_slice stride must not be 0")
        start, stop, step = slice(b, e, s).indices(shape[ax])
        if step > 0:
            axes.append(ax)
            begins.append(start)
            ends.append(max(stop, start))
            steps.append(step)
        else:
            gathers.append((ax, np.arange(shape[ax])[slice(b, e, s)]))
    y = x[0]
    if axes:
        y = cx.emit(op.strided_slice(y, axes, begins, ends, steps, assume_inbound=True))
    for ax, idx in gathers:  # negative strides: a gather of the exact indices is unambiguous
        y = cx.emit(op.take(y, cx.const(idx.astype("int64"), "int64"), axis=ax))
    return y


@emitter("slice_like")
def _slice_like(cx, a, x):
    out = cx.out_shapes[0]
    return _op().strided_slice(x[0], list(range(len(out))), [0] * len(out), list(out), assume_inbound=True)


@emitter("flip")
def _flip(cx, a, x):
    return _op().flip(x[0], a.axis % len(cx.in_shapes[0]))


def _index(cx, e, dtype, dim=None):
    """Indices as int64; negative ones wrap around ``dim`` as numpy/ONNX do."""
    op = _op()
    if dtype != "int64":
        e = cx.emit(op.astype(e, "int64"))
    if dim is not None:
        zero = cx.scalar(0, "int64")
        e = cx.emit(op.where(op.less(e, zero), op.add(e, cx.scalar(dim, "int64")), e))
    return e


@emitter("take")
def _take(cx, a, x):
    op = _op()
    data = x[0]
    if a.axis is None:
        data = cx.emit(op.reshape(data, [-1]))
        dim = int(np.prod(cx.in_shapes[0]))
        axis = 0
    else:
        axis = a.axis % len(cx.in_shapes[0])
        dim = cx.in_shapes[0][axis]
    return op.take(data, _index(cx, x[1], cx.in_dtypes[1], dim), axis=axis, mode="clip")


@emitter("gather_nd")
def _gather_nd(cx, a, x):
    # NNVM/MXNet index with the FIRST dim of indices; Relax (like ONNX) with the last
    op = _op()
    idx = _index(cx, x[1], cx.in_dtypes[1])
    k = len(cx.in_shapes[1])
    idx = cx.emit(op.permute_dims(idx, list(range(1, k)) + [0]))
    return op.gather_nd(x[0], idx)


@emitter("where")
def _where(cx, a, x):
    op = _op()
    cond, cshape = x[0], cx.in_shapes[0]
    xshape = cx.in_shapes[1]
    if len(cshape) == 1 and len(xshape) > 1 and cshape[0] == xshape[0]:
        cond = cx.emit(op.reshape(cond, [cshape[0]] + [1] * (len(xshape) - 1)))  # MXNet: 1-D cond picks rows
    return op.where(_truth(cx, cond, cx.in_dtypes[0]), x[1], x[2])


@emitter("tile")
def _tile(cx, a, x):
    # reshape -> broadcast_to -> reshape (exactly np.tile); Relax's own tile left NaNs in its output for
    # large repeat counts on every axis (ONNX test_tile) in TVM 0.27
    op = _op()
    shape = list(cx.in_shapes[0])
    reps = list(a.reps)
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + shape
    reps = [1] * (n - len(reps)) + reps
    inter = [v for d in shape for v in (1, d)]
    wide = [v for r, d in zip(reps, shape) for v in (r, d)]
    y = cx.emit(op.reshape(x[0], inter))
    y = cx.emit(op.broadcast_to(y, wide))
    return op.reshape(y, [r * d for r, d in zip(reps, shape)])


@emitter("repeat")
def _repeat(cx, a, x):
    return _op().repeat(x[0], a.repeats, axis=a.axis)


@emitter("one_hot")
def _one_hot(cx, a, x):
    op = _op()
    idx = _index(cx, x[0], cx.in_dtypes[0], a.depth)
    axis = a.axis % (len(cx.in_shapes[0]) + 1)
    y = cx.emit(op.one_hot(idx, float(a.on_value), float(a.off_value), a.depth, axis=axis))
    return op.astype(y, a.dtype)


@emitter("topk")
def _topk(cx, a, x):
    op = _op()
    rx = compat.relax()
    axis = a.axis % len(cx.in_shapes[0])
    k = a.k if a.k > 0 else cx.in_shapes[0][axis]
    res = cx.emit(op.topk(x[0], k=k, axis=axis, ret_type=a.ret_type, largest=not a.is_ascend, dtype=a.dtype))
    if a.ret_type == "both":
        return [rx.TupleGetItem(res, 0), rx.TupleGetItem(res, 1)]
    return res


@emitter("depth_to_space")
def _depth_to_space(cx, a, x):
    op = _op()
    n, c, h, w = cx.in_shapes[0]
    b = a.block_size
    if a.mode == "DCR":
        y = cx.emit(op.reshape(x[0], [n, b, b, c // (b * b), h, w]))
        y = cx.emit(op.permute_dims(y, [0, 3, 4, 1, 5, 2]))
    else:
        y = cx.emit(op.reshape(x[0], [n, c // (b * b), b, b, h, w]))
        y = cx.emit(op.permute_dims(y, [0, 1, 4, 2, 5, 3]))
    return op.reshape(y, [n, c // (b * b), h * b, w * b])


@emitter("space_to_depth")
def _space_to_depth(cx, a, x):
    op = _op()
    n, c, h, w = cx.in_shapes[0]
    b = a.block_size
    y = cx.emit(op.reshape(x[0], [n, c, h // b, b, w // b, b]))
    y = cx.emit(op.permute_dims(y, [0, 3, 5, 1, 2, 4]))
    return op.reshape(y, [n, c * b * b, h // b, w // b])


# ---------------------------------------------------------------------------------------------
# recurrent: MXNet's fused RNN, unrolled over the (static) sequence length
_RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


@emitter("rnn")
def _rnn(cx, a, x):
    op = _op()
    T, N, I = cx.in_shapes[0]
    H, L, g = a.state_size, a.num_layers, _RNN_GATES[a.mode]
    D = 2 if a.bidirectional else 1
    flat = x[1]
    pos = [0]

    def take(n, shape):  # next n values of the flat parameter vector, reshaped
        piece = cx.emit(op.strided_slice(flat, [0], [pos[0]], [pos[0] + n], assume_inbound=True))
        pos[0] += n
        return cx.emit(op.reshape(piece, list(shape)))
    weights = []
    for layer in range(L):
        in_size = I if layer == 0 else H * D
        for _ in range(D):
            weights.append((take(g * H * in_size, (g * H, in_size)), take(g * H * H, (g * H, H))))
    biases = [(take(g * H, (g * H,)), take(g * H, (g * H,))) for _ in range(L * D)]
    h0 = x[2]
    c0 = x[3] if a.mode == "lstm" else None

    def state_at(s, k):
        return cx.emit(op.reshape(op.strided_slice(s, [0], [k], [k + 1], assume_inbound=True), [N, H]))

    def split(v):
        parts = cx.emit(op.split(v, g, axis=1)) if g > 1 else None
        return [cx.emit(compat.relax().TupleGetItem(parts, i)) for i in range(g)] if g > 1 else [v]
    seq = x[0]
    h_last, c_last = [], []
    for layer in range(L):
        in_size = I if layer == 0 else H * D
        outs_dir = []
        for d in range(D):
            k = layer * D + d
            (wi, wh), (bi, bh) = weights[k], biases[k]
            xs = cx.emit(op.reshape(seq, [T * N, in_size]))
            proj = cx.emit(op.reshape(op.linear(xs, wi, bi), [T, N, g * H]))
            h, c = state_at(h0, k), (state_at(c0, k) if c0 is not None else None)
            steps = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                xt = cx.emit(op.reshape(op.strided_slice(proj, [0], [t], [t + 1], assume_inbound=True), [N, g * H]))
                hh = cx.emit(op.linear(h, wh, bh))
                h, c = _rnn_cell(cx, a.mode, split(xt), split(hh), xt, hh, h, c)
                steps[t] = h
            outs_dir.append(cx.emit(op.stack(steps, axis=0)))
            h_last.append(h)
            c_last.append(c)
        seq = outs_dir[0] if D == 1 else cx.emit(op.concat(outs_dir, axis=2))
    res = [seq, op.stack(h_last, axis=0)]
    if a.mode == "lstm":
        res.append(op.stack(c_last, axis=0))
    return res


def _rnn_cell(cx, mode, xg, hg, xt, hh, h, c):
    op = _op()
    if mode == "lstm":
        i, f, gg, o = (cx.emit(op.add(xv, hv)) for xv, hv in zip(xg, hg))
        c = cx.emit(op.add(op.multiply(op.sigmoid(f), c), op.multiply(op.sigmoid(i), op.tanh(gg))))
        return cx.emit(op.multiply(op.sigmoid(o), op.tanh(c))), c
    if mode == "gru":
        r = cx.emit(op.sigmoid(op.add(xg[0], hg[0])))
        z = cx.emit(op.sigmoid(op.add(xg[1], hg[1])))
        n = cx.emit(op.tanh(op.add(xg[2], op.multiply(r, hg[2]))))
        return cx.emit(op.add(n, op.multiply(z, op.subtract(h, n)))), None  # (1-z)*n + z*h
    pre = op.add(xt, hh)
    return cx.emit(op.tanh(pre) if mode == "rnn_tanh" else op.nn.relu(pre)), None


# ---------------------------------------------------------------------------------------------
def supported_ops() -> list:
    return sorted(EMITTERS)


def check_supported(graph, file=None):
    missing = {}
    for node in graph.op_nodes():
        from nnvm_bridge.ops import canonical_name

        if canonical_name(node.op) not in EMITTERS:
            missing.setdefault(node.op, []).append(node.name)
    if missing:
        raise UnsupportedOperatorError(missing, direction="TVM Relax (to_relax)", file=file)


def to_relax(graph, params=None, shape=None, dtype=None, *, bind_params=True, offload=False, func_name="main"):
    """Build a Relax IRModule whose ``main`` computes ``graph``.

    Data inputs (variables not in ``params``) become function parameters, in graph order. With
    ``bind_params`` (the default) parameters become constants; otherwise they follow the data
    inputs as extra function parameters. Returns ``(mod, info)`` with ``info`` holding the input
    and output names, shapes and dtypes, and the parameter names when they are kept as inputs.
    """
    from nnvm_bridge.ops import canonical_name

    rx = compat.relax()
    params = {k: np.asarray(v) for k, v in (params or {}).items()}
    check_supported(graph)
    g = infer_shape(graph, shape=shape, params=params)
    g = infer_type(g, dtype=dtype, params=params)
    ptr = g.node_row_ptr
    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]

    inputs = [n for n in g.variables if n.name not in params]
    for n in inputs:
        if shapes[ptr[g.node_id(n)]] is None:
            raise ShapeError("input shape is unknown; pass shape={name: dims}", node=n.name)
    kept = [] if bind_params else [n for n in g.variables if n.name in params]
    fn_vars = {}
    for n in inputs + kept:
        eid = ptr[g.node_id(n)]
        fn_vars[n.name] = rx.Var(n.name, compat.tensor_type(shapes[eid], dtypes[eid]))

    plans, skipped = {}, set()
    if offload and bind_params:
        from .fusion import plan_offload

        plans = plan_offload(g, params)
        for p in plans.values():
            skipped.update(p.absorbed)
    bb = rx.BlockBuilder()
    cx = Ctx(bb, g, params, bind_params)
    values = {}  # entry id -> relax expr
    with bb.function(func_name, [fn_vars[n.name] for n in inputs + kept]):
        with bb.dataflow():
            for nid, node in enumerate(g.nodes):
                if node.is_variable:
                    if node.name in fn_vars:
                        values[ptr[nid]] = fn_vars[node.name]
                    else:
                        arr = params[node.name]
                        values[ptr[nid]] = rx.const(arr, str(arr.dtype))
                    continue
                if nid in skipped:
                    continue
                if nid in plans:
                    values[ptr[nid]] = _emit_offload(cx, g, nid, plans[nid], values)
                    continue
                _emit_node(cx, g, nid, node, values, canonical_name)
            outs = []
            for e in g.outputs:
                outs.append(values[ptr[g.node_id(e.node)] + e.index])
            result = outs[0] if len(outs) == 1 else rx.Tuple(outs)
            out_var = bb.emit_output(result)
        bb.emit_func_output(out_var)
    mod = bb.get()

    def meta(node_list):
        return [(n.name, tuple(shapes[ptr[g.node_id(n)]]), dtypes[ptr[g.node_id(n)]]) for n in node_list]
    info = {
        "inputs": meta(inputs),
        "params": meta(kept),
        "outputs": [(name, tuple(shapes[ptr[g.node_id(e.node)] + e.index] or ()),
                     dtypes[ptr[g.node_id(e.node)] + e.index]) for name, e in zip(g.output_names(), g.outputs)],
    }
    return mod, info


def _emit_node(cx, g, nid, node, values, canonical_name):
    ptr = g.node_row_ptr
    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]
    in_ids = [ptr[g.node_id(e.node)] + e.index for e in node.inputs]
    cx.node = node
    cx.in_shapes = [shapes[i] for i in in_ids]
    cx.in_dtypes = [dtypes[i] for i in in_ids]
    n_out = ptr[nid + 1] - ptr[nid]
    cx.out_shapes = shapes[ptr[nid]:ptr[nid] + n_out]
    cx.out_dtypes = dtypes[ptr[nid]:ptr[nid] + n_out]
    cx.const_inputs = [cx.params.get(e.node.name) if (e.node.is_variable and cx.bind_params) else None
                       for e in node.inputs]
    if any(s is None for s in cx.in_shapes) or any(s is None for s in cx.out_shapes):
        raise ShapeError("shape could not be inferred; give the model's input shapes", node=node.name, op=node.op)
    attrs = node_attrs(node)
    fn = EMITTERS[canonical_name(node.op)]
    try:
        res = fn(cx, attrs, [values[i] for i in in_ids])
    except BridgeError as exc:
        if exc.node is None:
            raise CompileError(exc.bare_message, node=node.name, op=node.op) from None
        raise
    except Exception as exc:  # TVM raises its own errors for bad attrs; name the node
        raise CompileError(f"Relax emission failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                           node=node.name, op=node.op) from None
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    for k in range(n_out):
        values[ptr[nid] + k] = _conform(cx, res[k] if k < len(res) else res[-1], cx.out_shapes[k],
                                        cx.out_dtypes[k])


def _emit_offload(cx, g, nid, plan, values):
    from . import offload as off

    rx = compat.relax()
    ptr = g.node_row_ptr

    def val(e):
        return values[ptr[g.node_id(e.node)] + e.index]
    args = [val(plan.data), rx.const(plan.weight, "float32")]
    if plan.bias is not None:
        args.append(rx.const(plan.bias, "float32"))
    if plan.residual is not None:
        args.append(val(plan.residual))
    args.append(rx.ShapeExpr([int(v) for v in plan.attrs]))
    out_ty = compat.tensor_type(g.attrs["shape"][ptr[nid]], "float32")
    fn = off.CONV if plan.kind == "conv2d" else off.DENSE
    return cx.emit(rx.op.call_dps_packed(fn, args, out_ty))


def _conform(cx, expr, shape, dtype):
    """Emit ``expr`` and reshape/cast it to the NNVM-inferred shape and dtype where they differ."""
    rx = compat.relax()
    op = rx.op
    if not compat.is_leaf(expr):
        expr = cx.emit(expr)
    got_shape, got_dtype = compat.shape_dtype_of(expr)
    if dtype is not None and got_dtype is not None and got_dtype != dtype:
        expr = cx.emit(op.astype(expr, dtype))
    if shape is not None and got_shape is not None and tuple(got_shape) != tuple(shape):
        if int(np.prod(got_shape)) != int(np.prod(shape)):
            raise CompileError(f"Relax computed shape {got_shape}, NNVM inferred {tuple(shape)}",
                               node=cx.node.name, op=cx.node.op)
        expr = cx.emit(op.reshape(expr, list(shape)))
    return expr
