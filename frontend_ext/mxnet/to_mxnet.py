"""to_mxnet: (NNVM Graph, params) -> (MXNet 1.9.1 symbol JSON, arg_params, aux_params).

Pure Python and numpy: MXNet is not needed.  Each IR op maps to one or a few MXNet ops
(``_EMIT``); auxiliary states are the variables an op mutates (the op table's
``mutate_inputs``, e.g. batch_norm's moving mean and variance).  MXNet's legacy executor has
no bool tensors, so bool becomes uint8 (0/1).
"""
from __future__ import annotations

import json
import math

import numpy as np

from nnvm_bridge.errors import ShapeError, UnsupportedOperatorError
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.passes import infer_shape, infer_type
from nnvm_bridge.ops import get_op, node_attrs

_MX_VERSION = 10901


def _fmt(v):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (list, tuple)):
        items = [_fmt(x) for x in v]
        return "(" + ", ".join(items) + (",)" if len(items) == 1 else ")")
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if v is None:
        return "None"
    return str(v)


def mx_dtype(name):
    name = _dt.canonical(name)
    return "uint8" if name == "bool" else name


class _Emitter:
    def __init__(self, graph, params):
        self.graph = graph
        self.params = params
        self.nodes = []
        self.names = set()
        self.param_overrides = {}

    def unique(self, base):
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def add(self, op, name, inputs, attrs=None):
        nid = len(self.nodes)
        self.nodes.append({"op": op, "name": self.unique(name),
                           "attrs": {k: _fmt(v) for k, v in (attrs or {}).items() if v is not None},
                           "inputs": [[i[0], i[1], 0] for i in inputs]})
        return (nid, 0)

    def var(self, name, attrs=None):
        nid = len(self.nodes)
        self.names.add(name)
        node = {"op": "null", "name": name, "inputs": []}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        return (nid, 0)

    def const(self, name, value):
        name = self.unique(name)
        value = np.asarray(value)
        self.param_overrides[name] = value
        return self.var(name, {"__shape__": _fmt(tuple(int(d) for d in value.shape)),
                               "__dtype__": str(_dt.to_mxnet(mx_dtype(_dt.canonical(value.dtype))))})

    def shape(self, entry):
        return self.graph.shape_of(entry)

    def dtype(self, entry):
        return self.graph.dtype_of(entry)


# ---- per-op emitters: fn(em, node, attrs, ins) -> list of MXNet entries ------------------------
def _same(op, **fixed):
    def fn(em, n, a, ins):
        return [em.add(op, n.name, ins, dict(fixed))]
    return fn


def _act(act):
    return _same("Activation", act_type=act)


def _spatial_pads(padding, nsp):
    p = tuple(padding)
    if len(p) == 1:
        p = p * nsp
    if len(p) == nsp:
        return list(p), list(p)
    return list(p[:nsp]), list(p[nsp:])


def _pad_input(em, n, x, begins, ends, value, nsp):
    if nsp not in (1, 2, 3):
        raise UnsupportedOperatorError({f"{n.op} (asymmetric padding, {nsp}-d)": [n.name]}, direction="MXNet")
    if nsp == 1:  # MXNet's Pad takes 4-d/5-d data only: pad (N, C, 1, W)
        x = em.add("expand_dims", n.name + "_pad_2d", [x], {"axis": 2})
        begins, ends = [0] + list(begins), [0] + list(ends)
    width = [0, 0, 0, 0]
    for b, e in zip(begins, ends):
        width += [b, e]
    y = em.add("Pad", n.name + "_pad", [x], {"mode": "constant", "pad_width": tuple(width),
                                              "constant_value": float(value)})
    return em.add("squeeze", n.name + "_pad_1d", [y], {"axis": 2}) if nsp == 1 else y


def _conv(nsp):
    def fn(em, n, a, ins):
        b, e = _spatial_pads(a.padding, nsp)
        x = ins[0]
        if b != e:
            common = [min(u, v) for u, v in zip(b, e)]
            x = _pad_input(em, n, x, [u - c for u, c in zip(b, common)], [v - c for v, c in zip(e, common)], 0.0,
                           nsp)
            b = common
        attrs = dict(kernel=tuple(a.kernel_size), stride=_tup(a.strides, nsp), dilate=_tup(a.dilation, nsp),
                     pad=tuple(b), num_filter=a.channels, num_group=a.groups, no_bias=not a.use_bias)
        return [em.add("Convolution", n.name, [x] + ins[1:], attrs)]
    return fn


def _tup(v, n):
    v = tuple(v)
    return v * n if len(v) == 1 else v


def _deconv(nsp):
    def fn(em, n, a, ins):
        b, e = _spatial_pads(a.padding, nsp)
        common = [min(u, v) for u, v in zip(b, e)]
        attrs = dict(kernel=tuple(a.kernel_size), stride=_tup(a.strides, nsp), dilate=_tup(a.dilation, nsp),
                     pad=tuple(common), adj=_tup(a.output_padding, nsp), num_filter=a.channels,
                     num_group=a.groups, no_bias=not a.use_bias)
        y = em.add("Deconvolution", n.name, ins, attrs)
        for i in range(nsp):
            lo, hi = b[i] - common[i], e[i] - common[i]
            if lo or hi:
                y = em.add("slice_axis", n.name + f"_crop{i}", [y], {"axis": 2 + i, "begin": lo,
                                                                     "end": -hi if hi else None})
        return [y]
    return fn


def _pool(nsp, kind):
    def fn(em, n, a, ins):
        b, e = _spatial_pads(a.padding, nsp)
        x = ins[0]
        attrs = dict(kernel=tuple(a.pool_size), stride=_tup(a.strides, nsp), pool_type=kind,
                     pooling_convention="full" if a.ceil_mode else "valid")
        if b == e:
            attrs["pad"] = tuple(b)
            if kind == "avg":
                attrs["count_include_pad"] = bool(a.count_include_pad)
            return [em.add("Pooling", n.name, [x], attrs)]
        attrs["pad"] = (0,) * nsp
        if kind == "max":
            xp = _pad_input(em, n, x, b, e, -math.inf, nsp)
            return [em.add("Pooling", n.name, [xp], attrs)]
        attrs["count_include_pad"] = True
        xp = _pad_input(em, n, x, b, e, 0.0, nsp)
        s = em.add("Pooling", n.name, [xp], attrs)
        if a.count_include_pad:
            return [s]
        # average over real elements only: pool(x padded with 0) / pool(ones padded with 0)
        ones = em.add("ones_like", n.name + "_ones", [x])
        cnt = em.add("Pooling", n.name + "_count", [_pad_input(em, n, ones, b, e, 0.0, nsp)], attrs)
        return [em.add("elemwise_div", n.name + "_mean", [s, cnt])]
    return fn


def _global_pool(nsp, kind):
    return _same("Pooling", global_pool=True, kernel=(1,) * nsp, pool_type=kind)


def _dense(em, n, a, ins):
    return [em.add("FullyConnected", n.name, ins, {"num_hidden": a.units, "no_bias": not a.use_bias,
                                                    "flatten": False})]


def _batch_norm(em, n, a, ins):
    if not a.center:
        beta = n.inputs[2].node
        shape = em.shape(n.inputs[2])
        ins = list(ins)
        ins[2] = em.const(beta.name + "_zeros", np.zeros(shape, dtype=_dt.to_numpy(em.dtype(n.inputs[2]))))
    y = em.add("BatchNorm", n.name, ins, {"eps": a.epsilon, "axis": a.axis, "fix_gamma": not a.scale,
                                          "use_global_stats": True})
    return [y, (y[0], 1), (y[0], 2)]


def _norm_like(op):
    def fn(em, n, a, ins):
        ins = list(ins)
        if not a.center:
            ins[2] = em.const(n.name + "_beta0", np.zeros(em.shape(n.inputs[2]), _dt.to_numpy(em.dtype(n.inputs[2]))))
        if not a.scale:
            ins[1] = em.const(n.name + "_gamma1", np.ones(em.shape(n.inputs[1]), _dt.to_numpy(em.dtype(n.inputs[1]))))
        return [em.add(op, n.name, ins, {"axis": a.axis, "eps": a.epsilon})]
    return fn


def _instance_norm(em, n, a, ins):
    return [em.add("InstanceNorm", n.name, ins, {"eps": a.epsilon})]


def _softmax(op):
    def fn(em, n, a, ins):
        return [em.add(op, n.name, ins, {"axis": a.axis})]
    return fn


def _leaky(em, n, a, ins):
    return [em.add("LeakyReLU", n.name, ins, {"act_type": "leaky", "slope": a.alpha})]


def _elu(em, n, a, ins):
    return [em.add("LeakyReLU", n.name, ins, {"act_type": "elu", "slope": a.alpha})]


def _selu(em, n, a, ins):
    y = em.add("LeakyReLU", n.name + "_elu", ins, {"act_type": "elu", "slope": a.alpha})
    return [em.add("_mul_scalar", n.name, [y], {"scalar": a.gamma})]


def _prelu(em, n, a, ins):
    return [em.add("LeakyReLU", n.name, ins, {"act_type": "prelu"})]


def _gelu(em, n, a, ins):
    if a.approximation == "none":
        return [em.add("LeakyReLU", n.name, ins, {"act_type": "gelu"})]
    x = ins[0]
    cube = em.add("_power_scalar", n.name + "_cube", [x], {"scalar": 3.0})
    inner = em.add("elemwise_add", n.name + "_inner", [x, em.add("_mul_scalar", n.name + "_c", [cube],
                                                                 {"scalar": 0.044715})])
    t = em.add("tanh", n.name + "_tanh", [em.add("_mul_scalar", n.name + "_s", [inner],
                                                 {"scalar": math.sqrt(2 / math.pi)})])
    half = em.add("_mul_scalar", n.name + "_half", [em.add("_plus_scalar", n.name + "_p1", [t], {"scalar": 1.0})],
                  {"scalar": 0.5})
    return [em.add("elemwise_mul", n.name, [x, half])]


def _hard_sigmoid(em, n, a, ins):
    return [em.add("hard_sigmoid", n.name, ins, {"alpha": a.alpha, "beta": a.beta})]


def _hard_swish(em, n, a, ins):
    hs = em.add("hard_sigmoid", n.name + "_gate", ins, {"alpha": 1.0 / 6, "beta": 0.5})
    return [em.add("elemwise_mul", n.name, [ins[0], hs])]


def _gated(gate_fn):
    def fn(em, n, a, ins):
        g = gate_fn(em, n, a, ins)
        return [em.add("elemwise_mul", n.name, [ins[0], g])]
    return fn


_silu = _gated(lambda em, n, a, ins: em.add("sigmoid", n.name + "_gate", ins))
_mish = _gated(lambda em, n, a, ins: em.add("tanh", n.name + "_gate",
                                            [em.add("Activation", n.name + "_sp", ins, {"act_type": "softrelu"})]))
_thresholded = _gated(lambda em, n, a, ins: em.add("_greater_scalar", n.name + "_gate", ins, {"scalar": a.alpha}))


def _log_sigmoid(em, n, a, ins):
    return [em.add("log", n.name, [em.add("sigmoid", n.name + "_s", ins)])]


def _scalar(op):
    def fn(em, n, a, ins):
        return [em.add(op, n.name, ins, {"scalar": a.scalar})]
    return fn


def _round_half_even(em, n, a, ins):
    """IR round is numpy's (half to even); MXNet's rounds halves away from zero."""
    x = ins[0]
    away = em.add("round", n.name + "_away", [x])
    frac = em.add("abs", n.name + "_frac", [em.add("elemwise_sub", n.name + "_sub", [x, em.add(
        "floor", n.name + "_floor", [x])])])
    half = em.add("_equal_scalar", n.name + "_ishalf", [frac], {"scalar": 0.5})
    even = em.add("_mul_scalar", n.name + "_even", [em.add("round", n.name + "_r2", [
        em.add("_div_scalar", n.name + "_h", [x], {"scalar": 2.0})])], {"scalar": 2.0})
    return [em.add("where", n.name, [half, even, away])]


def _clip(em, n, a, ins):
    return [em.add("clip", n.name, ins, {"a_min": a.a_min, "a_max": a.a_max})]


def _cast(em, n, a, ins):
    return [em.add("Cast", n.name, ins, {"dtype": mx_dtype(a.dtype)})]


def _init(op):
    def fn(em, n, a, ins):
        attrs = {"shape": tuple(a.shape), "dtype": mx_dtype(a.dtype)}
        if op == "_full":
            attrs["value"] = a.fill_value
        return [em.add(op, n.name, ins, attrs)]
    return fn


def _full_like(em, n, a, ins):
    ones = em.add("ones_like", n.name + "_ones", ins)
    return [em.add("_mul_scalar", n.name, [ones], {"scalar": a.fill_value})]


def _pad(em, n, a, ins):
    width = [p for pair in a.pad_width for p in pair]
    mode = getattr(a, "mode", "constant")
    attrs = {"mode": mode, "pad_width": tuple(width)}
    if mode == "constant":
        attrs["constant_value"] = a.pad_value
    rank = len(a.pad_width)
    if rank not in (4, 5) or any(width[:4]):
        shape = em.shape(n.inputs[0])
        if mode != "constant" or shape is None:
            raise UnsupportedOperatorError({f"{n.op} (MXNet Pad pads only the spatial axes of 4-d/5-d data)":
                                            [n.name]}, direction="MXNet")
        return [_concat_pad(em, n, ins[0], shape, a.pad_width, a.pad_value)]
    return [em.add("Pad", n.name, ins, attrs)]


def _concat_pad(em, n, x, shape, pad_width, value):
    """Constant padding of any axis: concatenate filled blocks before and after."""
    dtype = mx_dtype(em.dtype(n.inputs[0]) or "float32")
    cur = list(shape)
    for axis, (before, after) in enumerate(pad_width):
        if not before and not after:
            continue
        parts = []
        for k, width in (("b", before), ("a", after)):
            if width:
                block = list(cur)
                block[axis] = width
                parts.append(em.add("_full", f"{n.name}_fill{axis}{k}", [],
                                    {"shape": tuple(block), "value": float(value), "dtype": dtype}))
            if k == "b":
                parts.append(x)
        x = em.add("Concat", f"{n.name}_axis{axis}", parts, {"dim": axis, "num_args": len(parts)})
        cur[axis] += before + after
    return x


def _lrn(em, n, a, ins):
    return [em.add("LRN", n.name, ins, {"nsize": a.size, "alpha": a.alpha, "beta": a.beta, "knorm": a.bias})]


def _upsampling(em, n, a, ins):
    if a.method != "NEAREST_NEIGHBOR":
        raise UnsupportedOperatorError({"upsampling (bilinear)": [n.name]}, direction="MXNet")
    return [em.add("UpSampling", n.name, ins, {"scale": a.scale, "sample_type": "nearest", "num_args": 1})]


def _resize(em, n, a, ins):
    if a.method != "BILINEAR":
        raise UnsupportedOperatorError({"resize (nearest)": [n.name]}, direction="MXNet")
    return [em.add("_contrib_BilinearResize2D", n.name, ins, {"height": a.size[0], "width": a.size[1],
                                                              "align_corners": a.align_corners})]


def _concat(em, n, a, ins):
    return [em.add("Concat", n.name, ins, {"dim": a.axis, "num_args": len(ins)})]


def _expand_dims(em, n, a, ins):
    y = ins[0]
    for k in range(a.num_newaxis):
        y = em.add("expand_dims", n.name if k == a.num_newaxis - 1 else f"{n.name}_{k}", [y], {"axis": a.axis})
    return [y]


def _squeeze(em, n, a, ins):
    return [em.add("squeeze", n.name, ins, {"axis": tuple(a.axis) if a.axis else None})]


def _split(em, n, a, ins):
    shape = em.shape(n.inputs[0])
    axis = a.axis
    if isinstance(a.indices_or_sections, int):
        y = em.add("SliceChannel", n.name, ins, {"num_outputs": a.indices_or_sections, "axis": axis})
        return [(y[0], k) for k in range(a.indices_or_sections)]
    if shape is None:
        raise ShapeError("split at indices needs the input shape", node=n.name, op=n.op)
    pts = [0] + list(a.indices_or_sections) + [shape[axis % len(shape)]]
    return [em.add("slice_axis", f"{n.name}_{k}", ins, {"axis": axis, "begin": b, "end": e})
            for k, (b, e) in enumerate(zip(pts[:-1], pts[1:]))]


def _reshape(em, n, a, ins):
    return [em.add("Reshape", n.name, ins, {"shape": tuple(a.shape)})]


def _transpose(em, n, a, ins):
    return [em.add("transpose", n.name, ins, {"axes": tuple(a.axes) if a.axes else None})]


def _strided_slice(em, n, a, ins):
    from nnvm_bridge.ops.transform import slice_bounds

    shape = em.shape(n.inputs[0])
    if shape is None:
        return [em.add("slice", n.name, ins, {"begin": tuple(a.begin), "end": tuple(a.end),
                                              "step": tuple(a.stride) if a.stride else None})]
    bounds = slice_bounds(a, shape)[:len(a.begin)]
    begin = tuple(b for b, _, _ in bounds)
    end = tuple(None if (st < 0 and e < 0) else e for _, e, st in bounds)
    step = tuple(st for _, _, st in bounds)
    return [em.add("slice", n.name, ins, {"begin": begin, "end": end, "step": step})]


def _take(em, n, a, ins):
    data = ins[0]
    axis = a.axis
    if axis is None:
        data = em.add("Reshape", n.name + "_flat", [data], {"shape": (-1,)})
        axis = 0
    return [em.add("take", n.name, [data, ins[1]], {"axis": axis, "mode": "wrap"})]


def _reduce(op):
    def fn(em, n, a, ins):
        attrs = {"keepdims": a.keepdims}
        if a.axis:
            attrs["axis"] = tuple(a.axis)
            attrs["exclude"] = a.exclude
        return [em.add(op, n.name, ins, attrs)]
    return fn


def _arg(op):
    def fn(em, n, a, ins):
        if len(a.axis) != 1 or a.exclude:
            raise UnsupportedOperatorError({f"{n.op} (several axes)": [n.name]}, direction="MXNet")
        y = em.add(op, n.name + "_f", ins, {"axis": a.axis[0], "keepdims": a.keepdims})
        return [em.add("Cast", n.name, [y], {"dtype": mx_dtype(a.dtype)})]
    return fn


def _matmul(em, n, a, ins):
    return [em.add("dot", n.name, ins, {"transpose_a": a.transpose_a, "transpose_b": a.transpose_b})]


def _batch_matmul(em, n, a, ins):
    return [em.add("batch_dot", n.name, ins, {"transpose_a": a.transpose_a, "transpose_b": a.transpose_b})]


def _topk(em, n, a, ins):
    ret = {"both": "both", "values": "value", "indices": "indices"}[a.ret_type]
    y = em.add("topk", n.name, ins, {"k": a.k, "axis": a.axis, "ret_typ": ret, "is_ascend": a.is_ascend,
                                     "dtype": mx_dtype(a.dtype)})
    return [y, (y[0], 1)] if ret == "both" else [y]


def _arange(em, n, a, ins):
    return [em.add("_arange", n.name, ins, {"start": a.start, "stop": a.stop, "step": a.step,
                                            "dtype": mx_dtype(a.dtype)})]


def _shape_of(em, n, a, ins):
    y = em.add("shape_array", n.name, ins)
    if a.dtype != "int64":
        y = em.add("Cast", n.name + "_cast", [y], {"dtype": mx_dtype(a.dtype)})
    return [y]


def _one_hot(em, n, a, ins):
    y = em.add("one_hot", n.name, ins, {"depth": a.depth, "on_value": a.on_value, "off_value": a.off_value,
                                        "dtype": mx_dtype(a.dtype)})
    shape = em.shape(n.inputs[0])
    axis = a.axis
    if axis != -1:
        if shape is None:
            raise ShapeError("one_hot with axis != -1 needs the input shape", node=n.name, op=n.op)
        r = len(shape) + 1
        axis %= r
        if axis != r - 1:
            perm = list(range(r - 1))
            perm.insert(axis, r - 1)
            y = em.add("transpose", n.name + "_axis", [y], {"axes": tuple(perm)})
    return [y]


def _depth_to_space(em, n, a, ins):
    if a.mode == "DCR":
        return [em.add("depth_to_space", n.name, ins, {"block_size": a.block_size})]
    shape = em.shape(n.inputs[0])
    if shape is None:
        raise ShapeError("depth_to_space CRD needs the input shape", node=n.name, op=n.op)
    b = a.block_size
    N, C, H, W = shape
    y = em.add("Reshape", n.name + "_r", ins, {"shape": (N, C // (b * b), b, b, H, W)})
    y = em.add("transpose", n.name + "_t", [y], {"axes": (0, 1, 4, 2, 5, 3)})
    return [em.add("Reshape", n.name, [y], {"shape": (N, C // (b * b), H * b, W * b)})]


def _mirror_pad(em, n, a, ins):
    return _pad(em, n, a, ins)


def _where(em, n, a, ins):
    return [em.add("where", n.name, ins)]


def _broadcast_to(em, n, a, ins):
    return [em.add("broadcast_to", n.name, ins, {"shape": tuple(a.shape)})]


def _passthrough(em, n, a, ins):
    return [ins[0], None]


def _adaptive(em, n, a, ins):
    return [em.add("_contrib_AdaptiveAvgPooling2D", n.name, ins, {"output_size": tuple(a.output_size)})]


def _tile(em, n, a, ins):
    return [em.add("tile", n.name, ins, {"reps": tuple(a.reps)})]


def _repeat(em, n, a, ins):
    return [em.add("repeat", n.name, ins, {"repeats": a.repeats, "axis": a.axis})]


def _stack(em, n, a, ins):
    return [em.add("stack", n.name, ins, {"axis": a.axis, "num_args": len(ins)})]


def _elemwise_sum(em, n, a, ins):
    return [em.add("add_n", n.name, ins, {"num_args": len(ins)})]


def _space_to_depth(em, n, a, ins):
    return [em.add("space_to_depth", n.name, ins, {"block_size": a.block_size})]


def _slice_like(em, n, a, ins):
    return [em.add("slice_like", n.name, ins, {"axes": tuple(a.axis)})]


def _flip(em, n, a, ins):
    return [em.add("reverse", n.name, ins, {"axis": a.axis})]


def _norm(em, n, a, ins):
    attrs = {"ord": a.ord, "keepdims": a.keepdims}
    if a.axis:
        attrs["axis"] = tuple(a.axis)
    return [em.add("norm", n.name, ins, attrs)]


def _rnn(em, n, a, ins):
    y = em.add("RNN", n.name, ins, {"mode": a.mode, "state_size": a.state_size, "num_layers": a.num_layers,
                                    "bidirectional": a.bidirectional, "state_outputs": True})
    return [(y[0], k) for k in range(3 if a.mode == "lstm" else 2)]


_EMIT = {
    "rnn": _rnn,
    "dense": _dense, "relu": _act("relu"), "dropout": _passthrough, "batch_norm": _batch_norm,
    "softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"), "leaky_relu": _leaky,
    "prelu": _prelu, "pad": _pad, "mirror_pad": _mirror_pad, "lrn": _lrn, "upsampling": _upsampling,
    "resize": _resize, "global_max_pool2d": _global_pool(2, "max"), "global_avg_pool2d": _global_pool(2, "avg"),
    "sigmoid": _same("sigmoid"), "tanh": _same("tanh"), "exp": _same("exp"), "log": _same("log"),
    "sqrt": _same("sqrt"), "floor": _same("floor"), "ceil": _same("ceil"), "trunc": _same("trunc"),
    "round": _round_half_even, "abs": _same("abs"), "negative": _same("negative"), "copy": _same("_copy"),
    "logical_not": _same("logical_not"), "block_grad": _same("BlockGrad"),
    "elemwise_add": _same("elemwise_add"), "elemwise_sub": _same("elemwise_sub"),
    "elemwise_mul": _same("elemwise_mul"), "elemwise_div": _same("elemwise_div"),
    "elemwise_mod": _same("broadcast_mod"), "elemwise_pow": _same("broadcast_power"),
    "logical_and": _same("broadcast_logical_and"), "logical_or": _same("broadcast_logical_or"),
    "logical_xor": _same("broadcast_logical_xor"),
    "greater": _same("broadcast_greater"), "less": _same("broadcast_lesser"), "elemwise_sum": _elemwise_sum,
    "clip": _clip, "cast": _cast, "full": _init("_full"), "zeros": _init("_zeros"), "ones": _init("_ones"),
    "full_like": _full_like, "zeros_like": _same("zeros_like"), "ones_like": _same("ones_like"),
    "flatten": _same("Flatten"), "concatenate": _concat, "expand_dims": _expand_dims, "squeeze": _squeeze,
    "split": _split, "reshape": _reshape, "reshape_like": _same("reshape_like"), "transpose": _transpose,
    "strided_slice": _strided_slice, "slice_like": _slice_like, "flip": _flip, "take": _take,
    "gather_nd": _same("gather_nd"), "where": _where, "broadcast_to": _broadcast_to, "matmul": _matmul,
    "batch_matmul": _batch_matmul, "sum": _reduce("sum"), "mean": _reduce("mean"), "max": _reduce("max"),
    "min": _reduce("min"), "prod": _reduce("prod"), "argmax": _arg("argmax"), "argmin": _arg("argmin"),
    "layer_norm": _norm_like("LayerNorm"), "instance_norm": _instance_norm, "tile": _tile, "repeat": _repeat,
    "stack": _stack, "one_hot": _one_hot, "topk": _topk, "arange": _arange, "shape_of": _shape_of,
    "depth_to_space": _depth_to_space, "space_to_depth": _space_to_depth, "adaptive_avg_pool2d": _adaptive,
    "gelu": _gelu, "elu": _elu, "selu": _selu, "hard_sigmoid": _hard_sigmoid, "hard_swish": _hard_swish,
    "thresholded_relu": _thresholded, "silu": _silu, "mish": _mish, "log_sigmoid": _log_sigmoid,
    "softplus": _act("softrelu"), "softsign": _act("softsign"), "norm": _norm,
}
for _n in (1, 2, 3):
    _EMIT[f"conv{_n}d"] = _conv(_n)
    _EMIT[f"conv{_n}d_transpose"] = _deconv(_n)
    _EMIT[f"max_pool{_n}d"] = _pool(_n, "max")
    _EMIT[f"avg_pool{_n}d"] = _pool(_n, "avg")
    if _n != 2:
        _EMIT[f"global_max_pool{_n}d"] = _global_pool(_n, "max")
        _EMIT[f"global_avg_pool{_n}d"] = _global_pool(_n, "avg")
for _name, _mx in (("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("asin", "arcsin"), ("acos", "arccos"),
                   ("atan", "arctan"), ("sinh", "sinh"), ("cosh", "cosh"), ("asinh", "arcsinh"),
                   ("acosh", "arccosh"), ("atanh", "arctanh"), ("erf", "erf"), ("rsqrt", "rsqrt"),
                   ("sign", "sign"), ("reciprocal", "reciprocal"), ("square", "square"), ("log2", "log2"),
                   ("log10", "log10"), ("log1p", "log1p"), ("expm1", "expm1"), ("cbrt", "cbrt")):
    _EMIT[_name] = _same(_mx)
for _name, _mx in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "div"), ("mod", "mod"),
                   ("max", "maximum"), ("min", "minimum"), ("pow", "power"), ("greater", "greater"),
                   ("less", "lesser"), ("equal", "equal"), ("not_equal", "not_equal"),
                   ("greater_equal", "greater_equal"), ("less_equal", "lesser_equal"),
                   ("logical_and", "logical_and"), ("logical_or", "logical_or"), ("logical_xor", "logical_xor")):
    _EMIT[f"broadcast_{_name}"] = _same(f"broadcast_{_mx}")
for _name, _mx in (("__add_scalar__", "_plus_scalar"), ("__sub_scalar__", "_minus_scalar"),
                   ("__rsub_scalar__", "_rminus_scalar"), ("__mul_scalar__", "_mul_scalar"),
                   ("__div_scalar__", "_div_scalar"), ("__rdiv_scalar__", "_rdiv_scalar"),
                   ("__pow_scalar__", "_power_scalar"), ("__rpow_scalar__", "_rpower_scalar"),
                   ("__max_scalar__", "_maximum_scalar"), ("__min_scalar__", "_minimum_scalar"),
                   ("__equal_scalar__", "_equal_scalar"), ("__not_equal_scalar__", "_not_equal_scalar"),
                   ("__greater_scalar__", "_greater_scalar"), ("__greater_equal_scalar__", "_greater_equal_scalar"),
                   ("__less_scalar__", "_lesser_scalar"), ("__less_equal_scalar__", "_lesser_equal_scalar")):
    _EMIT[_name] = _scalar(_mx)


def register_emitter(op: str, fn):
    """Plug-in hook: ``fn(emitter, node, attrs, mx_inputs) -> [mx entries]`` for an IR op."""
    _EMIT[op] = fn


def supported_ops() -> list:
    return sorted(_EMIT)


def to_mxnet(graph, params):
    """(Graph, params) -> (symbol JSON text, arg_params, aux_params), numpy arrays, no MXNet needed."""
    from nnvm_bridge.errors import InvalidModelError, ParamsError
    from nnvm_bridge.ir import Graph

    if not isinstance(graph, Graph):
        raise InvalidModelError(f"to_mxnet expects an nnvm_bridge Graph, got {type(graph).__name__}")
    if params is not None and not isinstance(params, dict):
        raise ParamsError(f"params must be a dict name -> array, got {type(params).__name__}")
    params = dict(params or {})
    missing = {}
    for n in graph.op_nodes():
        if n.op not in _EMIT and get_op(n.op, n.name).name not in _EMIT:
            missing.setdefault(n.op, []).append(n.name)
    if missing:
        raise UnsupportedOperatorError(missing, direction="MXNet")
    g = infer_shape(graph, params=params)
    g = infer_type(g, params=params)
    em = _Emitter(g, params)
    mapping = {}
    aux_names = set()
    for n in g.nodes:
        if n.is_variable:
            attrs = None
            if n.name in params:
                # shape hints let MXNet bind params that only broadcast ops consume
                v = np.asarray(params[n.name])
                attrs = {"__shape__": _fmt(tuple(int(d) for d in v.shape)),
                         "__dtype__": str(_dt.to_mxnet(mx_dtype(_dt.canonical(v.dtype))))}
            else:
                attrs = {k: v for k, v in n.attrs.items() if k in ("__shape__", "__dtype__")}
                dt = g.dtype_of(n[0])
                if dt is not None:
                    attrs["__dtype__"] = str(_dt.to_mxnet(mx_dtype(dt)))
                attrs = attrs or None
            mapping[(id(n), 0)] = em.var(n.name, attrs)
            continue
        opdef = get_op(n.op, n.name)
        for i in opdef.mutate_inputs:
            if i < len(n.inputs) and n.inputs[i].node.is_variable:
                aux_names.add(n.inputs[i].node.name)
        a = node_attrs(n)
        ins = [mapping[(id(e.node), e.index)] for e in n.inputs]
        outs = _EMIT.get(n.op, _EMIT.get(opdef.name))(em, n, a, ins)
        for k, o in enumerate(outs):
            if o is not None:
                mapping[(id(n), k)] = o
    heads = []
    for e in g.outputs:
        key = (id(e.node), e.index)
        if key not in mapping:
            raise UnsupportedOperatorError({f"{e.node.op} output {e.index}": [e.node.name]}, direction="MXNet")
        heads.append([mapping[key][0], mapping[key][1], 0])
    doc = {"nodes": em.nodes,
           "arg_nodes": [i for i, nd in enumerate(em.nodes) if nd["op"] == "null"],
           "heads": heads,
           "attrs": {"mxnet_version": ["int", _MX_VERSION]}}
    used = {nd["name"] for nd in em.nodes if nd["op"] == "null"}
    all_params = {k: v for k, v in params.items() if k in used}
    all_params.update(em.param_overrides)
    arg_params, aux_params = {}, {}
    for k, v in all_params.items():
        v = np.asarray(v)
        if v.dtype == np.bool_:
            v = v.astype(np.uint8)
        (aux_params if k in aux_names else arg_params)[k] = v
    return json.dumps(doc, indent=2), arg_params, aux_params


__all__ = ["to_mxnet", "register_emitter", "supported_ops", "mx_dtype"]
