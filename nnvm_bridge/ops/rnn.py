"""The ``rnn`` extension op (level 6; NNVM had none).

``rnn``: MXNet's fused RNN (modes lstm / gru / rnn_tanh / rnn_relu) over TNC data with one flat
parameter vector (all i2h/h2h weights, layer by layer and direction by direction, then all biases
in the same order; MXNet gate orders: LSTM i,f,g,o and GRU r,z,n with the reset gate applied after
the hidden matmul, as in cuDNN: ``linear_before_reset``; False is ONNX's default GRU, which applies
the reset gate to the hidden state before that matmul).
"""
from __future__ import annotations

from ..errors import ShapeError
from .registry import Attr, register

RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
# Position in ONNX's packing (LSTM i,o,f,c; GRU z,r,h) of each gate in MXNet's order (i,f,c,o; r,z,n).
ONNX_GATES_IN_MXNET_ORDER = {"lstm": (0, 2, 3, 1), "gru": (1, 0, 2), "rnn_tanh": (0,), "rnn_relu": (0,)}


def rnn_param_size(mode, input_size, hidden, num_layers, bidirectional):
    g, d = RNN_GATES[mode], 2 if bidirectional else 1
    size = 0
    for layer in range(num_layers):
        in_size = input_size if layer == 0 else hidden * d
        size += d * g * hidden * (in_size + hidden + 2)
    return size


def rnn_param_pieces(mode, input_size, hidden, num_layers, bidirectional):
    """Where each part sits in the flat vector: per (layer, direction), ((offset, shape) of the input weights,
    hidden weights, input bias, hidden bias)."""
    g, d = RNN_GATES[mode], 2 if bidirectional else 1
    pos, weights = 0, []
    for layer in range(num_layers):
        in_size = input_size if layer == 0 else hidden * d
        for _ in range(d):
            wi, pos = (pos, (g * hidden, in_size)), pos + g * hidden * in_size
            wh, pos = (pos, (g * hidden, hidden)), pos + g * hidden * hidden
            weights.append((wi, wh))
    biases = []
    for _ in range(num_layers * d):
        biases.append(((pos, (g * hidden,)), (pos + g * hidden, (g * hidden,))))
        pos += 2 * g * hidden
    return [w + b for w, b in zip(weights, biases)]


def _is_lstm(a):
    return a.mode == "lstm"


def _rnn_shape(a, shapes):
    n_out = 3 if _is_lstm(a) else 2
    data = shapes[0]
    if data is None:
        return [None] * n_out
    if len(data) != 3:
        raise ShapeError(f"rnn data must be 3-d (seq, batch, feature), got {data}")
    t, n, i = data
    d = 2 if a.bidirectional else 1
    want = rnn_param_size(a.mode, i, a.state_size, a.num_layers, a.bidirectional)
    if shapes[1] is not None and tuple(shapes[1]) != (want,):
        raise ShapeError(f"rnn parameters have shape {shapes[1]}, expected ({want},)")
    state = (a.num_layers * d, n, a.state_size)
    return [(t, n, d * a.state_size)] + [state] * (n_out - 1)


register("rnn", inputs=("data", "parameters", "state", "state_cell"),
         num_inputs=lambda a: 4 if _is_lstm(a) else 3,
         attrs={"mode": Attr("str", choices=tuple(RNN_GATES)), "state_size": Attr("int"),
                "num_layers": Attr("int", 1), "bidirectional": Attr("bool", False),
                "state_outputs": Attr("bool", True), "linear_before_reset": Attr("bool", True)},
         num_outputs=lambda a: 3 if _is_lstm(a) else 2, output_names=("output", "state", "state_cell"),
         infer_shape=_rnn_shape, level=6, ext=True,
         doc="MXNet RNN (TNC); outputs: sequence output, final hidden state(s)")
