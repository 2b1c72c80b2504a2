"""Handlers for models quantized with ``mx.contrib.quantization.quantize_net`` (MXNet 1.9.1, oneDNN backend).

A quantized MXNet tensor travels as (int data, min, max). In the IR it becomes its float value written as
``dequantize_linear(quantize_linear(x))``: the QDQ form that ONNX runtimes fuse back into int8 kernels.
The (min, max) outputs become constants. Scales follow MXNet's oneDNN ops: uint8 data has scale
max|range| / 255.5, int8 data max|range| / 127.5 (MXNet's ranges; zero point 0 in both); a fused
``_sg_mkldnn_conv`` folds its BatchNorm into the weights and quantizes them per output channel (int8,
max|w| / 127.5), its bias as int32 with scale data_scale * weight_scale, and requantizes its output to the
calibrated range.
"""
from __future__ import annotations

import numpy as np

from ...errors import unsupported_feature
from ...ir.json_io import RawNode
from ...ops.registry import Attr
from .defaults import MxAttrs
from .registry import MXNET_IMPORT

CALIB = dict(min_calib_range=Attr("float", None, optional=True), max_calib_range=Attr("float", None, optional=True))
QUANTIZE_V2 = dict(CALIB, out_type=Attr("str", "int8", choices=("auto", "int8", "uint8")))
SG_CONV = dict(CALIB, quantized=Attr("bool", False), with_bn=Attr("bool", False), with_act=Attr("bool", False),
               with_sum=Attr("bool", False), with_postsum_act=Attr("bool", False))
SG_FC = dict(CALIB, quantized=Attr("bool", False), enable_float_output=Attr("bool", False),
             with_eltwise=Attr("bool", False))
QUANTIZED_ADD = dict(CALIB)
QUANTIZED_CONCAT = dict(CALIB, num_args=Attr("int", min=1), dim=Attr("int", 1))
REQUANTIZE = dict(CALIB, out_type=Attr("str", "int8", choices=("auto", "int8", "uint8")))
INT_RANGE = {"uint8": 255.5, "int8": 127.5}  # MXNet's kUint8Range / kInt8Range (quantization_utils.h)


def _calib(ctx, node, attrs):
    lo, hi = attrs["min_calib_range"], attrs["max_calib_range"]
    if lo is None or hi is None:
        raise unsupported_feature(node.op, node.name, "without a calibrated range (MXNet measures each input at "
                                  "run time; a QDQ model needs fixed scales: quantize with calib_mode='naive' or "
                                  "'entropy')", direction="from_mxnet", file=ctx.file)
    return float(lo), float(hi)


def _qdq(ctx, x, lo, hi, dtype, stored_as=None):
    """(x quantized to ``dtype`` over [lo, hi] the way oneDNN does, as float; MXNet's min and max outputs).
    ``stored_as``: the integer type oneDNN writes, when its buffer has another type than the one MXNet then
    reads: the values saturate in ``stored_as`` and their bytes are read back as ``dtype``."""
    maxabs = max(abs(lo), abs(hi)) or 1.0
    grid = stored_as or dtype
    step = np.float32(maxabs / INT_RANGE[dtype])
    scale = ctx.const("q_scale", np.array(step, np.float32))
    zero = ctx.const("q_zero_point", np.array(0, grid))
    q = ctx.aux("quantize_linear", [x, scale, zero], {"axis": 1, "out_dtype": grid}, suffix="quantize")
    dq = ctx.aux("dequantize_linear", [q, scale, zero], {"axis": 1}, suffix="q_dequantize")
    if grid != dtype:
        dq = _reinterpret(ctx, dq, float(step), grid)
    out_lo, out_hi = (lo, hi) if dtype == "uint8" else (-maxabs, maxabs)
    ctx.entry_facts[(dq.node.name, dq.index)] = {"mxnet_dtype": dtype}
    return [dq, ctx.const("q_min", np.array([out_lo], np.float32)), ctx.const("q_max", np.array([out_hi], np.float32))]


def _reinterpret(ctx, value, step, stored_as):
    """The float value of grid bytes written as ``stored_as`` and read as the other 8-bit type: an int8 byte
    below 0 reads as 256 more steps, a uint8 byte above 127 as 256 fewer."""
    if stored_as == "int8":
        wraps = ctx.aux("__less_scalar__", [value], {"scalar": 0.0}, suffix="wraps")
        moved = ctx.aux("__add_scalar__", [value], {"scalar": 256 * step}, suffix="wrapped")
    else:
        wraps = ctx.aux("__greater_scalar__", [value], {"scalar": 127.5 * step}, suffix="wraps")
        moved = ctx.aux("__sub_scalar__", [value], {"scalar": 256 * step}, suffix="wrapped")
    return ctx.aux("where", [wraps, moved, value], suffix="reinterpreted")


def _auto_type(out_type, lo):
    return out_type if out_type != "auto" else ("uint8" if lo >= 0 else "int8")


def _mxnet_dtype(ctx, entry):
    """The int8/uint8 type MXNet gives a quantized entry (recorded by ``_qdq``), else None."""
    return ctx.entry_facts.get((entry.node.name, entry.index), {}).get("mxnet_dtype")


def _data_scale(ctx, entry):
    """The scale of a QDQ-written entry (its dequantize_linear's scale constant), else None."""
    node = entry.node
    if node.op == "dequantize_linear" and node.inputs[1].node.name in ctx.params:
        return float(np.asarray(ctx.params[node.inputs[1].node.name]).reshape(-1)[0])
    return None


def _param(ctx, entry):
    return ctx.params.get(entry.node.name) if entry.node.is_variable else None


@MXNET_IMPORT.register("_contrib_quantize_v2", attrs=QUANTIZE_V2)
def quantize_v2(ctx, node, attrs, inputs):
    lo, hi = _calib(ctx, node, attrs)
    return _qdq(ctx, inputs[0], lo, hi, _auto_type(attrs["out_type"], lo))


@MXNET_IMPORT.register("_contrib_requantize", attrs=REQUANTIZE)
def requantize(ctx, node, attrs, inputs):
    lo, hi = _calib(ctx, node, attrs)
    return _qdq(ctx, inputs[0], lo, hi, _auto_type(attrs["out_type"], lo))


@MXNET_IMPORT.register("_contrib_dequantize")
def dequantize(ctx, node, attrs, inputs):
    return inputs[0]  # already its float value


def _float_op(op):
    """A quantized op that computes on the grid values as the float op does and keeps the input's range."""
    def handler(ctx, node, attrs, inputs):
        h = MXNET_IMPORT.get(op)
        op_attrs = MxAttrs(op, node.name, node.attrs, h.attrs, file=ctx.file)
        out = h(ctx, node, op_attrs, inputs[:1])
        if op == "Pooling" and op_attrs["pool_type"] != "max":  # oneDNN rounds the mean back onto the grid
            lo, hi = (_param(ctx, e) for e in inputs[1:3])
            if lo is not None and hi is not None:
                lo, hi = float(lo.reshape(-1)[0]), float(hi.reshape(-1)[0])
                return _qdq(ctx, out, lo, hi, "uint8" if lo >= 0 else "int8")
        return [out, inputs[1], inputs[2]]
    return handler


MXNET_IMPORT.add("_contrib_quantized_pooling", _float_op("Pooling"))
MXNET_IMPORT.add("_contrib_quantized_flatten", _float_op("Flatten"))
MXNET_IMPORT.add("_contrib_quantized_act", _float_op("Activation"))


@MXNET_IMPORT.register("_contrib_quantized_elemwise_add", attrs=QUANTIZED_ADD)
def quantized_add(ctx, node, attrs, inputs):
    lo, hi = _calib(ctx, node, attrs)
    total = ctx.aux("elemwise_add", inputs[:2], suffix="sum")
    return _qdq(ctx, total, lo, hi, "uint8" if lo >= 0 else "int8")


@MXNET_IMPORT.register("_contrib_quantized_concat", attrs=QUANTIZED_CONCAT)
def quantized_concat(ctx, node, attrs, inputs):
    lo, hi = _calib(ctx, node, attrs)
    n = attrs["num_args"]
    joined = ctx.aux("concatenate", inputs[:n], {"axis": attrs["dim"]}, suffix="concat")
    return _qdq(ctx, joined, lo, hi, "uint8" if lo >= 0 else "int8")


# ---- oneDNN fused subgraphs -------------------------------------------------------------------------------
def _inner_ops(sub):
    return [(i, n) for i, n in enumerate(sub["nodes"]) if n["op"] != "null"]


def _output_type(attrs, ops, lo):
    """oneDNN writes uint8 after a final ReLU (or for a non-negative range), int8 otherwise."""
    last = ops[-1][1]
    relu = last["op"] == "Activation" and last.get("attrs", {}).get("act_type") == "relu"
    return "uint8" if relu or lo >= 0 else "int8"


def _fold_and_quantize_conv(ctx, node, attrs, inputs, sub, n_vars):
    """Bindings for the subgraph's variables with BatchNorm folded into int8 per-channel weights and an int32
    bias, and the BatchNorm node replaced by identity; None where the weights are not constant."""
    ops = _inner_ops(sub)
    conv_i, conv = ops[0]
    bn = ops[1] if attrs["with_bn"] and len(ops) > 1 and ops[1][1]["op"] == "BatchNorm" else None
    no_bias = conv.get("attrs", {}).get("no_bias", "False") in ("True", "true", "1")
    weight = _param(ctx, inputs[1])
    bias = None if no_bias else _param(ctx, inputs[2])
    data_scale = _data_scale(ctx, inputs[0])
    if weight is None or (not no_bias and bias is None) or data_scale is None:
        return None, {}
    w = weight.astype(np.float64)
    b = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
    k = 2 if no_bias else 3
    replace = {}
    if bn is not None:
        gamma, beta, mean, var = (_param(ctx, e) for e in inputs[k:k + 4])
        if any(p is None for p in (gamma, beta, mean, var)):
            return None, {}
        battrs = bn[1].get("attrs", {})
        eps = float(battrs.get("eps", 1e-3))
        if battrs.get("fix_gamma", "True") in ("True", "true", "1"):
            gamma = np.ones_like(gamma)
        factor = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        w = w * factor.reshape((-1,) + (1,) * (w.ndim - 1))
        b = (b - mean) * factor + beta
        replace[bn[0]] = lambda ins: ins[0]
    maxabs = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    maxabs[maxabs == 0] = 1.0
    w_scale = (maxabs / INT_RANGE["int8"]).astype(np.float32)
    w_q = np.clip(np.rint(w / w_scale.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    b_scale = (w_scale * np.float32(data_scale)).astype(np.float32)
    b_q = np.rint(b / b_scale).astype(np.int32)

    def dq(suffix, values, scale):
        zero = ctx.const(f"{suffix}_zero_point", np.zeros(scale.size, values.dtype))
        return ctx.aux("dequantize_linear", [ctx.const(f"{suffix}_quantized", values),
                                             ctx.const(f"{suffix}_scale", scale), zero], {"axis": 0},
                       suffix=f"{suffix}_dequantize")
    bindings = list(inputs[:n_vars])
    bindings[1] = dq("weight", w_q, w_scale)
    if no_bias:  # the folded BatchNorm leaves a bias: the conv gets one
        conv_bias = dq("bias", b_q, b_scale)
        raw_conv = RawNode("Convolution", conv["name"], [], dict(conv.get("attrs", {}), no_bias="False"))
        h = MXNET_IMPORT.get("Convolution")
        replace[conv_i] = lambda ins: h(ctx, raw_conv, MxAttrs("Convolution", raw_conv.name, raw_conv.attrs, h.attrs,
                                                               file=ctx.file), [ins[0], ins[1], conv_bias])
    else:
        bindings[2] = dq("bias", b_q, b_scale)
    return bindings, replace


def _subgraph_vars(sub):
    return sum(1 for n in sub["nodes"] if n["op"] == "null")


@MXNET_IMPORT.register("_sg_mkldnn_conv", attrs=SG_CONV, subgraphs=True)
def sg_conv(ctx, node, attrs, inputs):
    sub = node.subgraphs[0]
    n_vars = _subgraph_vars(sub)
    bindings, replace = list(inputs[:n_vars]), {}
    if attrs["quantized"]:
        folded, replace = _fold_and_quantize_conv(ctx, node, attrs, inputs, sub, n_vars)
        bindings = folded or bindings
    out = ctx.convert_subgraph(sub, bindings, replace)[0]
    if not attrs["quantized"]:
        return out
    lo, hi = _calib(ctx, node, attrs)
    dtype = _output_type(attrs, _inner_ops(sub), lo)
    sum_dtype = _mxnet_dtype(ctx, inputs[n_vars - 1]) if attrs["with_sum"] else None
    if sum_dtype is not None and sum_dtype != dtype:
        # oneDNN writes the result into the sum input's buffer, in that buffer's type and with the output's
        # scale, and MXNet reads the bytes as the output type: a uint8 result saturates at int8's 127, an int8
        # result at uint8's 0 and 255 with 128..255 read as negative. Reproduced, so the numbers are MXNet's.
        return _qdq(ctx, out, lo, hi, dtype, stored_as=sum_dtype)
    return _qdq(ctx, out, lo, hi, dtype)


@MXNET_IMPORT.register("_sg_mkldnn_fully_connected", attrs=SG_FC, subgraphs=True)
def sg_fully_connected(ctx, node, attrs, inputs):
    sub = node.subgraphs[0]
    n_vars = _subgraph_vars(sub)
    bindings = list(inputs[:n_vars])
    if attrs["quantized"]:
        # weights (and bias) were quantized offline: int8 params, each followed by its min and max params
        ranges = inputs[n_vars + 2:]
        for slot in range(1, n_vars):
            q = _param(ctx, inputs[slot])
            lo, hi = (_param(ctx, e) for e in ranges[2 * (slot - 1):2 * slot])
            if q is None or lo is None or hi is None or q.dtype.kind not in "iu":
                continue
            maxabs = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float32).reshape(-1)
            scale = maxabs / (INT_RANGE["int8"] if q.dtype == np.int8 else 2.0 ** 31 - 1)
            zero = ctx.const(f"w{slot}_zero_point", np.zeros(scale.size, q.dtype))
            bindings[slot] = ctx.aux("dequantize_linear", [inputs[slot], ctx.const(f"w{slot}_scale", scale), zero],
                                     {"axis": 0}, suffix=f"w{slot}_dequantize")
    out = ctx.convert_subgraph(sub, bindings)[0]
    if not attrs["quantized"] or attrs["enable_float_output"]:
        return out
    lo, hi = _calib(ctx, node, attrs)
    return _qdq(ctx, out, lo, hi, _output_type(attrs, _inner_ops(sub), lo))
