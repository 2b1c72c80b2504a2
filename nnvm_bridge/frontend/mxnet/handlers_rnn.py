"""Handlers for MXNet's fused ``RNN`` op and ``_rnn_param_concat`` (what Gluon's rnn layers write).

Gluon's LSTM/GRU/RNN layers keep one weight per layer, direction and matrix, flatten each with
``Reshape(-1)`` and join them with ``_rnn_param_concat`` into the flat vector ``RNN`` reads.  When
those weights are known parameters the join is done here, once, so the IR's ``rnn`` node reads one
parameter and every emitter can slice it at conversion time.
"""
from __future__ import annotations

import numpy as np

from ...errors import unsupported_feature
from ...ir.graph import Entry
from ...ops.registry import Attr
from ...ops.rnn import RNN_GATES, rnn_param_size
from .context import BIG
from .handlers_nn import need_inputs
from .registry import MXNET_IMPORT

RNN = dict(state_size=Attr("int", min=1), num_layers=Attr("int", 1, min=1), bidirectional=Attr("bool", False),
           mode=Attr("str", choices=tuple(RNN_GATES)), p=Attr("float", 0.0), state_outputs=Attr("bool", False),
           projection_size=Attr("int", None, optional=True),
           lstm_state_clip_min=Attr("float", None, optional=True),
           lstm_state_clip_max=Attr("float", None, optional=True), lstm_state_clip_nan=Attr("bool", False),
           use_sequence_length=Attr("bool", False))
RNN_PARAM_CONCAT = dict(dim=Attr("int", 1), num_args=Attr("int", 0))


def _unsupported(ctx, node, what):
    return unsupported_feature(node.op, node.name, what, direction="from_mxnet", file=ctx.file)


def _flat_param(ctx, entry):
    """The values of a 1-d input that is a parameter, possibly reshaped (Gluon's ``Reshape(-1)``), else None."""
    if ctx.shape(entry) is None or len(ctx.shape(entry)) != 1:
        return None
    node = entry.node
    while not node.is_variable and node.op == "reshape":
        node = node.inputs[0].node
    if not node.is_variable or node.name not in ctx.params:
        return None
    return np.ravel(ctx.params[node.name])


def _begin_state(ctx, entry, data, shape):
    """A state input; Gluon's ``begin_state(func=sym.zeros)`` (a layer inside a hybridized block) writes zeros of
    shape (L*D, 0, H), 0 being the batch MXNet infers backwards: those become zeros sized from the data."""
    s = ctx.shape(entry)
    if entry.node.is_variable or entry.node.op != "zeros" or s is None or 0 not in s:
        return entry
    first = ctx.aux("strided_slice", [data], dict(begin=(0, 0, 0), end=(1, BIG, 1)), suffix="batch")
    zeros = ctx.aux("zeros_like", [first], suffix="batch_zeros")
    return ctx.aux("broadcast_to", [zeros], dict(shape=shape), suffix="begin_state")


@MXNET_IMPORT.register("_rnn_param_concat", attrs=RNN_PARAM_CONCAT)
def rnn_param_concat(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    values = [_flat_param(ctx, e) for e in inputs]
    if attrs["dim"] == 0 and all(v is not None for v in values):
        return ctx.const("flat", np.concatenate(values))
    return ctx.out("concatenate", inputs, dict(axis=attrs["dim"]), name=node.name)


@MXNET_IMPORT.register("RNN", attrs=RNN, weights=(1,))
def rnn(ctx, node, attrs, inputs):
    mode = attrs["mode"]
    if attrs["projection_size"] is not None:
        raise _unsupported(ctx, node, "projection_size: LSTM with a projection (LSTMP) has no ONNX, TVM or IR "
                                      "equivalent here; export the layer without projection_size")
    if attrs["lstm_state_clip_min"] is not None or attrs["lstm_state_clip_max"] is not None:
        raise _unsupported(ctx, node, "lstm_state_clip_min/max: MXNet clips the cell state, which ONNX's LSTM "
                                      "clip (on the gate inputs) does not express")
    if attrs["use_sequence_length"]:
        raise _unsupported(ctx, node, "use_sequence_length: per-sample sequence lengths (MXNet runs them on "
                                      "cuDNN only); pad and mask the sequences instead")
    need_inputs(inputs, 4 if mode == "lstm" else 3, ctx)
    data_shape = ctx.shape(inputs[0])
    if data_shape is not None and len(data_shape) == 3:
        size = rnn_param_size(mode, data_shape[2], attrs["state_size"], attrs["num_layers"], attrs["bidirectional"])
        ctx.expect(inputs[1], (size,), "parameters")
    state_shape = ((2 if attrs["bidirectional"] else 1) * attrs["num_layers"], 0, attrs["state_size"])
    ins = inputs[:2] + [_begin_state(ctx, e, inputs[0], state_shape) for e in inputs[2:4 if mode == "lstm" else 3]]
    y = ctx.emit("rnn", ins, dict(mode=mode, state_size=attrs["state_size"], num_layers=attrs["num_layers"],
                                  bidirectional=attrs["bidirectional"], state_outputs=attrs["state_outputs"]),
                 name=node.name)
    n_out = (3 if mode == "lstm" else 2) if attrs["state_outputs"] else 1
    return [Entry(y, k) for k in range(n_out)]
