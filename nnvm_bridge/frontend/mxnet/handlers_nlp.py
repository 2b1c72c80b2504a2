"""Handlers for the MXNet ops of GluonNLP's transformers (BERT, RoBERTa, DistilBERT).

Each op is written as a small graph of existing IR ops (reshape, strided_slice, batch_matmul, where,
...), so every emitter (ONNX, Relax, MXNet) handles it with no op of its own.  The shapes these ops
need (head size, sequence length) are the static shapes the importer infers as it goes.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir import dtypes as _dt
from ...ops.common import norm_axis
from ...ops.registry import Attr
from .handlers_nn import need_inputs
from .registry import MXNET_IMPORT

HEADS = dict(heads=Attr("int", min=1))
ARANGE_LIKE = dict(start=Attr("float", 0.0), step=Attr("float", 1.0), repeat=Attr("int", 1, min=1),
                   axis=Attr("int", None, optional=True), ctx=Attr("str", ""))
SEQUENCE_MASK = dict(use_sequence_length=Attr("bool", False), value=Attr("float", 0.0), axis=Attr("int", 0))
RESHAPE_LIKE = dict(lhs_begin=Attr("int", None, optional=True), lhs_end=Attr("int", None, optional=True),
                    rhs_begin=Attr("int", None, optional=True), rhs_end=Attr("int", None, optional=True))


# ---- interleaved multi-head attention ----------------------------------------------------------
def _heads_part(ctx, packed, heads, parts, index, suffix):
    """Part ``index`` of a (S, B, heads * parts * D) interleaved projection, as (B * heads, S, D)."""
    s, b, width = ctx.need_shape(packed, "interleaved attention")
    if width % (heads * parts):
        raise ctx.fail(f"last dim {width} is not a multiple of heads*{parts} = {heads * parts}")
    d = width // (heads * parts)
    x = ctx.aux("reshape", [packed], dict(shape=(s, b * heads, parts, d)), suffix=f"{suffix}_split")
    x = ctx.aux("strided_slice", [x], dict(begin=(0, 0, index, 0), end=(s, b * heads, index + 1, d)),
                suffix=f"{suffix}_slice")
    x = ctx.aux("reshape", [x], dict(shape=(s, b * heads, d)), suffix=f"{suffix}_heads")
    return ctx.aux("transpose", [x], dict(axes=(1, 0, 2)), suffix=f"{suffix}_bsd"), d


def _scaled_scores(ctx, node, q, d, k):
    # MXNet scales the queries by 1/sqrt(head size) before the product
    q = ctx.aux("__mul_scalar__", [q], dict(scalar=1.0 / math.sqrt(d)), suffix="q_scaled")
    return ctx.out("batch_matmul", [q, k], dict(transpose_b=True), name=node.name)


def _merge_heads(ctx, node, out, seq, batch, heads, d):
    """(B * heads, S, D) -> (S, B, heads * D)."""
    x = ctx.aux("reshape", [out], dict(shape=(batch, heads, seq, d)), suffix="unheads")
    x = ctx.aux("transpose", [x], dict(axes=(2, 0, 1, 3)), suffix="sbhd")
    return ctx.out("reshape", [x], dict(shape=(seq, batch, heads * d)), name=node.name)


@MXNET_IMPORT.register("_contrib_interleaved_matmul_selfatt_qk", attrs=HEADS)
def selfatt_qk(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    heads = attrs["heads"]
    q, d = _heads_part(ctx, inputs[0], heads, 3, 0, "q")
    k, _ = _heads_part(ctx, inputs[0], heads, 3, 1, "k")
    return _scaled_scores(ctx, node, q, d, k)


@MXNET_IMPORT.register("_contrib_interleaved_matmul_selfatt_valatt", attrs=HEADS)
def selfatt_valatt(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    heads = attrs["heads"]
    seq, batch, _ = ctx.need_shape(inputs[0], "interleaved attention")
    v, d = _heads_part(ctx, inputs[0], heads, 3, 2, "v")
    out = ctx.aux("batch_matmul", [inputs[1], v], {}, suffix="att_v")
    return _merge_heads(ctx, node, out, seq, batch, heads, d)


@MXNET_IMPORT.register("_contrib_interleaved_matmul_encdec_qk", attrs=HEADS)
def encdec_qk(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    heads = attrs["heads"]
    q, d = _heads_part(ctx, inputs[0], heads, 1, 0, "q")
    k, _ = _heads_part(ctx, inputs[1], heads, 2, 0, "k")
    return _scaled_scores(ctx, node, q, d, k)


@MXNET_IMPORT.register("_contrib_interleaved_matmul_encdec_valatt", attrs=HEADS)
def encdec_valatt(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    heads = attrs["heads"]
    _, batch, _ = ctx.need_shape(inputs[0], "interleaved attention")
    seq = ctx.need_shape(inputs[1], "interleaved attention")[1]  # attention is (B * heads, Sq, Sk)
    v, d = _heads_part(ctx, inputs[0], heads, 2, 1, "v")
    out = ctx.aux("batch_matmul", [inputs[1], v], {}, suffix="att_v")
    return _merge_heads(ctx, node, out, seq, batch, heads, d)


@MXNET_IMPORT.register("_contrib_div_sqrt_dim")
def div_sqrt_dim(ctx, node, attrs, inputs):
    d = ctx.need_shape(inputs[0], "_contrib_div_sqrt_dim")[-1]
    return ctx.out("__div_scalar__", inputs[:1], dict(scalar=math.sqrt(d)), name=node.name)


# ---- positions and masks -----------------------------------------------------------------------
@MXNET_IMPORT.register("_contrib_arange_like", attrs=ARANGE_LIKE)
def arange_like(ctx, node, attrs, inputs):
    shape = ctx.need_shape(inputs[0], "_contrib_arange_like")
    axis = attrs["axis"]
    out_shape = tuple(shape) if axis is None else (shape[norm_axis(axis, len(shape))],)
    n = int(np.prod(out_shape))
    dtype = ctx.dtype(inputs[0]) or "float32"
    # MXNet: value i is start + step * (i // repeat), computed in double and cast
    values = attrs["start"] + attrs["step"] * (np.arange(n) // attrs["repeat"])
    return ctx.const("values", values.reshape(out_shape).astype(_dt.to_numpy(dtype)))


@MXNET_IMPORT.register("SequenceMask", attrs=SEQUENCE_MASK)
def sequence_mask(ctx, node, attrs, inputs):
    data = inputs[0]
    if not attrs["use_sequence_length"]:
        return ctx.out("copy", [data], {}, name=node.name)
    need_inputs(inputs, 2, ctx)
    shape = ctx.need_shape(data, "SequenceMask")
    axis = attrs["axis"]
    if axis not in (0, 1) or len(shape) < 2:
        raise ctx.fail(f"SequenceMask needs axis 0 or 1 of an input of rank >= 2, got axis {axis} of {shape}")
    dtype = _dt.to_numpy(ctx.dtype(data) or "float32")
    steps = np.arange(shape[axis], dtype=dtype).reshape((-1, 1) if axis == 0 else (1, -1))
    lens = ctx.aux("cast", [inputs[1]], dict(dtype=ctx.dtype(data) or "float32"), suffix="len")
    lens = ctx.aux("reshape", [lens], dict(shape=(1, -1) if axis == 0 else (-1, 1)), suffix="len_2d")
    keep = ctx.aux("broadcast_less", [ctx.const("steps", steps), lens], {}, suffix="keep")
    keep = ctx.aux("reshape", [keep], dict(shape=tuple(shape[:2]) + (1,) * (len(shape) - 2)), suffix="keep_nd")
    keep = ctx.aux("broadcast_to", [keep], dict(shape=tuple(shape)), suffix="keep_full")
    fill = ctx.aux("full_like", [data], dict(fill_value=attrs["value"]), suffix="fill")
    return ctx.out("where", [keep, data, fill], {}, name=node.name)


@MXNET_IMPORT.register("reshape_like", attrs=RESHAPE_LIKE)
def reshape_like(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    keys = ("lhs_begin", "lhs_end", "rhs_begin", "rhs_end")
    if all(attrs[k] is None for k in keys):
        return ctx.out("reshape_like", inputs[:2], {}, name=node.name)
    lhs = ctx.need_shape(inputs[0], "reshape_like")
    rhs = ctx.need_shape(inputs[1], "reshape_like")

    def span(shape, begin, end):
        b = 0 if begin is None else norm_axis(begin, len(shape))
        e = len(shape) if end is None else (end if end >= 0 else end + len(shape))
        return b, e

    lb, le = span(lhs, attrs["lhs_begin"], attrs["lhs_end"])
    rb, re_ = span(rhs, attrs["rhs_begin"], attrs["rhs_end"])
    target = tuple(lhs[:lb]) + tuple(rhs[rb:re_]) + tuple(lhs[le:])
    if int(np.prod(target)) != int(np.prod(lhs)):
        raise ctx.fail(f"reshape_like: {lhs} cannot take shape {target}")
    return ctx.out("reshape", inputs[:1], dict(shape=target), name=node.name)


def _steps_rows(ctx, data, lengths, axis, source_step):
    """Rows of ``data`` with its (S, B) or (B, S) axes flattened, picked by ``source_step(t, len)`` per batch."""
    shape = ctx.need_shape(data, "SequenceLast/SequenceReverse")
    if axis not in (0, 1) or len(shape) < 2:
        raise ctx.fail(f"needs axis 0 or 1 of an input of rank >= 2, got axis {axis} of {shape}")
    seq, batch = (shape[0], shape[1]) if axis == 0 else (shape[1], shape[0])
    lens = ctx.aux("cast", [lengths], dict(dtype="float32"), suffix="len")
    lens = ctx.aux("reshape", [lens], dict(shape=(1, batch)), suffix="len_row")
    steps = ctx.const("steps", np.arange(seq, dtype=np.float32).reshape(seq, 1))
    src = source_step(steps, lens)  # (S or 1, B): the step each output row reads, per batch
    b = ctx.const("batch", np.arange(batch, dtype=np.float32).reshape(1, batch))
    flat = (ctx.aux("broadcast_add", [ctx.aux("__mul_scalar__", [src], dict(scalar=batch), suffix="row"), b],
                    suffix="index") if axis == 0 else
            ctx.aux("broadcast_add", [src, ctx.aux("__mul_scalar__", [b], dict(scalar=seq), suffix="row")],
                    suffix="index"))
    flat = ctx.aux("cast", [flat], dict(dtype="int64"), suffix="index_int")
    rows = ctx.aux("reshape", [data], dict(shape=(seq * batch,) + tuple(shape[2:])), suffix="rows")
    return rows, flat, shape


@MXNET_IMPORT.register("SequenceLast", attrs=SEQUENCE_MASK)
def sequence_last(ctx, node, attrs, inputs):
    data, axis = inputs[0], attrs["axis"]
    shape = ctx.need_shape(data, "SequenceLast")
    if not attrs["use_sequence_length"]:
        end = list(shape)
        begin = [0] * len(shape)
        begin[axis] = shape[axis] - 1
        last = ctx.aux("strided_slice", [data], dict(begin=tuple(begin), end=tuple(end)), suffix="last")
        return ctx.out("squeeze", [last], dict(axis=(axis,)), name=node.name)
    need_inputs(inputs, 2, ctx)

    def last_step(steps, lens):
        return ctx.aux("__add_scalar__", [lens], dict(scalar=-1.0), suffix="last_step")
    rows, index, shape = _steps_rows(ctx, data, inputs[1], axis, last_step)
    index = ctx.aux("reshape", [index], dict(shape=(-1,)), suffix="index_1d")
    return ctx.out("take", [rows, index], dict(axis=0), name=node.name)


@MXNET_IMPORT.register("SequenceReverse", attrs=SEQUENCE_MASK)
def sequence_reverse(ctx, node, attrs, inputs):
    data, axis = inputs[0], attrs["axis"]
    if axis != 0:
        raise ctx.fail(f"SequenceReverse supports axis 0 only (as MXNet), got {axis}")
    if not attrs["use_sequence_length"]:
        return ctx.out("flip", [data], dict(axis=0), name=node.name)
    need_inputs(inputs, 2, ctx)

    def reversed_step(steps, lens):
        # t < len: len - 1 - t, else t (steps past the length stay where they are)
        inside = ctx.aux("broadcast_less", [steps, lens], suffix="inside")
        mirror = ctx.aux("broadcast_sub", [ctx.aux("__add_scalar__", [lens], dict(scalar=-1.0), suffix="last"),
                                           steps], suffix="mirror")
        moved = ctx.aux("broadcast_sub", [mirror, steps], suffix="moved")
        return ctx.aux("broadcast_add", [steps, ctx.aux("broadcast_mul", [inside, moved], suffix="shift")],
                       suffix="source")
    rows, index, shape = _steps_rows(ctx, data, inputs[1], axis, reversed_step)
    picked = ctx.aux("take", [rows, ctx.aux("reshape", [index], dict(shape=(-1,)), suffix="index_1d")],
                     dict(axis=0), suffix="picked")
    return ctx.out("reshape", [picked], dict(shape=tuple(shape)), name=node.name)
