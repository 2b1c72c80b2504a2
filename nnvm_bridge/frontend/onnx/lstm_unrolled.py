"""An ONNX LSTM with peepholes (input P), which no fused RNN op (MXNet's, cuDNN's, the IR's ``rnn``) has:
unrolled over its time steps in IR ops, so the sequence length must be static.

Per step, with ONNX's gate packing i, o, f, c and its default activations:
  g = x W^T + h R^T + Wb + Rb;  i = sigmoid(g_i + P_i * c);  f = sigmoid(g_f + P_f * c)
  c' = f * c + i * tanh(g_c);   o = sigmoid(g_o + P_o * c');  h' = o * tanh(c')
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError


def lstm_with_peepholes(ctx, x, W, R, B, P, h0, c0, hidden, direction):
    """(Y (T, D, N, H), Y_h (D, N, H), Y_c (D, N, H)) of the LSTM on ``x`` (T, N, I); W, R, B, P constants."""
    s = ctx.shape(x)
    if s is None or not isinstance(s[0], (int, np.integer)):
        raise ctx.error(ShapeError, "an LSTM with peepholes is unrolled over its steps: it needs a static "
                                    "sequence length; give the input shapes with shape=")
    steps = int(s[0])
    dirs = W.shape[0]
    if B is None:
        B = np.zeros((dirs, 8 * hidden), dtype=W.dtype)
    sequences, finals_h, finals_c = [], [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        h, c = _direction_state(ctx, h0, d), _direction_state(ctx, c0, d)
        bias = (B[d][:4 * hidden] + B[d][4 * hidden:]).astype(W.dtype)
        peep = [P[d][k * hidden:(k + 1) * hidden] for k in range(3)]  # i, o, f
        outputs = [None] * steps
        for t in (reversed(range(steps)) if reverse else range(steps)):
            x_t = ctx.reshape(ctx.emit1("strided_slice", [x], {"begin": (t,), "end": (t + 1,)}), (s[1], s[2]))
            gates = ctx.emit1("broadcast_add", [
                ctx.emit1("dense", [x_t, W[d], bias], {"units": 4 * hidden}),
                ctx.emit1("dense", [h, R[d]], {"units": 4 * hidden, "use_bias": False})])
            g_i, g_o, g_f, g_c = ctx.emit("split", [gates], {"indices_or_sections": 4, "axis": 1})
            i = ctx.emit1("sigmoid", [_plus_peephole(ctx, g_i, peep[0], c)])
            f = ctx.emit1("sigmoid", [_plus_peephole(ctx, g_f, peep[2], c)])
            c = ctx.emit1("broadcast_add", [ctx.emit1("broadcast_mul", [f, c]),
                                            ctx.emit1("broadcast_mul", [i, ctx.emit1("tanh", [g_c])])])
            o = ctx.emit1("sigmoid", [_plus_peephole(ctx, g_o, peep[1], c)])
            h = ctx.emit1("broadcast_mul", [o, ctx.emit1("tanh", [c])])
            outputs[t] = h
        sequences.append(ctx.emit1("stack", outputs, {"axis": 0, "num_args": steps}))
        finals_h.append(h)
        finals_c.append(c)
    y = ctx.emit1("stack", sequences, {"axis": 1, "num_args": dirs})
    return (y, ctx.emit1("stack", finals_h, {"axis": 0, "num_args": dirs}),
            ctx.emit1("stack", finals_c, {"axis": 0, "num_args": dirs}))


def _plus_peephole(ctx, gate, weights, cell):
    return ctx.emit1("broadcast_add", [gate, ctx.emit1("broadcast_mul", [cell, weights])])


def _direction_state(ctx, state, d):
    """Direction ``d``'s (N, H) slice of an initial state (D, N, H)."""
    part = ctx.emit1("strided_slice", [state], {"begin": (d,), "end": (d + 1,)})
    return ctx.emit1("squeeze", [part], {"axis": (0,)})
