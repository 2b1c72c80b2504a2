"""The IR's fused ``rnn`` (MXNet's RNN) -> ONNX LSTM / GRU / RNN, one node per layer (both directions in it).

The flat parameter vector holds, layer by layer and direction by direction, the input and hidden
weight matrices, then all input and hidden biases in the same order, gates in MXNet's order.  Each
layer's W (D, gates*H, in), R (D, gates*H, H) and B (D, 2*gates*H) are cut from it with the gates put
in ONNX's order: folded into initializers when the vector is a parameter, else Slice/Gather nodes.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.symbolic import is_symbolic
from nnvm_bridge.ops.rnn import ONNX_GATES_IN_MXNET_ORDER, rnn_param_pieces

from ..registry import ONNX_EXPORT

_ONNX_OP = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}


def _onnx_gate_order(mode):
    """MXNet gate index of each ONNX gate position."""
    order = ONNX_GATES_IN_MXNET_ORDER[mode]
    return [order.index(j) for j in range(len(order))]


class _Folded:
    """Weights cut from a flat vector known at export time: numpy, written as initializers."""

    def __init__(self, b, flat, mode, hidden):
        self.b, self.flat, self.perm, self.hidden = b, flat, _onnx_gate_order(mode), hidden

    def matrix(self, piece):  # (1, gates*H, cols) in ONNX's gate order; a bias is (1, gates*H, 1)
        off, shape = piece
        m = self.flat[off:off + int(np.prod(shape))].reshape(len(self.perm), self.hidden, -1)
        return m[self.perm].reshape(1, shape[0], -1)

    def stack(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def reshape(self, array, shape):
        return array.reshape(shape)

    def value(self, array):
        return self.b.const(array)


class _Sliced:
    """Weights cut from a flat vector computed in the graph: Slice, Reshape and Gather nodes."""

    def __init__(self, b, flat, mode, hidden):
        self.b, self.flat, self.perm, self.hidden = b, flat, _onnx_gate_order(mode), hidden

    def matrix(self, piece):
        b = self.b
        off, shape = piece
        x = b.slice(self.flat, [off], [off + int(np.prod(shape))], [0])
        x = b.op("Reshape", [x, b.i64([len(self.perm), self.hidden, -1])])
        x = b.op("Gather", [x, b.i64(self.perm)], axis=0)
        return b.op("Reshape", [x, b.i64([1, shape[0], -1])])

    def stack(self, values, axis):
        return values[0] if len(values) == 1 else self.b.op("Concat", values, axis=axis)

    def reshape(self, v, shape):
        return self.b.op("Reshape", [v, self.b.i64(shape)])

    def value(self, v):
        return v


def _check(ctx, node, attrs, inputs):
    shape = ctx.in_shapes[0] if ctx.in_shapes else None
    if shape is None or len(shape) != 3 or is_symbolic(shape[2]):
        return "the data's feature size must be known"
    return None


@ONNX_EXPORT.register("rnn", since=11, check=_check)
def _rnn(ctx, node, attrs, inputs):
    b = ctx.b
    mode, hidden, layers = attrs.mode, attrs.state_size, attrs.num_layers
    dirs = 2 if attrs.bidirectional else 1
    flat = ctx.param(1)
    cut = (_Folded(b, np.ravel(flat), mode, hidden) if flat is not None else _Sliced(b, inputs[1], mode, hidden))
    pieces = rnn_param_pieces(mode, ctx.shape(0)[2], hidden, layers, attrs.bidirectional)
    op_attrs = dict(hidden_size=hidden, direction="bidirectional" if dirs == 2 else "forward")
    if mode == "gru":
        op_attrs["linear_before_reset"] = int(attrs.linear_before_reset)
    elif mode != "lstm":
        op_attrs["activations"] = ["Tanh" if mode == "rnn_tanh" else "Relu"] * dirs
    n_states = 2 if mode == "lstm" else 1
    x, finals = inputs[0], [[] for _ in range(n_states)]
    for layer in range(layers):
        mine = pieces[layer * dirs:(layer + 1) * dirs]
        w = cut.value(cut.stack([cut.matrix(p[0]) for p in mine], 0))
        r = cut.value(cut.stack([cut.matrix(p[1]) for p in mine], 0))
        bias = cut.value(cut.reshape(cut.stack([cut.stack([cut.matrix(p[2]), cut.matrix(p[3])], 1) for p in mine],
                                               0), [dirs, -1]))
        states = [inputs[2 + k] if layers == 1 else b.slice(inputs[2 + k], [layer * dirs], [(layer + 1) * dirs], [0])
                  for k in range(n_states)]
        outs = b.op(_ONNX_OP[mode], [x, w, r, bias, ""] + states, n_out=1 + n_states, **op_attrs)
        y = outs[0]  # (T, D, N, H)
        if dirs == 1:
            x = b.squeeze(y, [1])
        else:
            x = b.op("Reshape", [b.transpose(y, [0, 2, 1, 3]), b.i64([0, 0, dirs * hidden])])
        for k in range(n_states):
            finals[k].append(outs[1 + k])
    return [x] + [f[0] if layers == 1 else b.op("Concat", f, axis=0) for f in finals]
