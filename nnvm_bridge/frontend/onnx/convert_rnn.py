"""LSTM, GRU and RNN to the MXNet-style fused ``rnn`` extension op (one layer per ONNX node).

ONNX packs gates as LSTM i,o,f,c and GRU z,r,h; MXNet wants i,f,c,o and r,z,n, with all weights
first and then all biases in one flat vector.  A "reverse" direction runs forward on the
time-flipped sequence.  An LSTM with peepholes, which no fused op has, is unrolled (lstm_unrolled.py).
"""
from __future__ import annotations

import numpy as np

from ...ops.rnn import ONNX_GATES_IN_MXNET_ORDER
from .lstm_unrolled import lstm_with_peepholes
from .registry import ONNX_IMPORT


def _reorder(mat, mode, hidden):
    blocks = [mat[k * hidden:(k + 1) * hidden] for k in range(len(ONNX_GATES_IN_MXNET_ORDER[mode]))]
    return np.concatenate([blocks[k] for k in ONNX_GATES_IN_MXNET_ORDER[mode]], axis=0)


def _flat_params(W, R, B, mode, hidden):
    dirs = W.shape[0]
    g = len(ONNX_GATES_IN_MXNET_ORDER[mode])
    if B is None:
        B = np.zeros((dirs, 2 * g * hidden), dtype=W.dtype)
    weights, biases = [], []
    for d in range(dirs):
        weights += [_reorder(W[d], mode, hidden).reshape(-1), _reorder(R[d], mode, hidden).reshape(-1)]
        biases += [_reorder(B[d][:g * hidden], mode, hidden), _reorder(B[d][g * hidden:], mode, hidden)]
    return np.concatenate(weights + biases).astype(W.dtype)


def _zero_state(ctx, x, dirs, hidden):
    xs = ctx.shape(x)
    if xs is not None:
        return np.zeros((dirs, xs[1], hidden), dtype=ctx.dtype(x))
    # batch-size independent zeros: (1, N, 1) from the data, broadcast to (dirs, N, hidden)
    first = ctx.emit1("strided_slice", [x], {"begin": (0,), "end": (1,)})
    z = ctx.emit1("zeros_like", [ctx.emit1("sum", [first], {"axis": (2,), "keepdims": True})])
    return ctx.emit1("broadcast_to", [z], {"shape": (dirs, 0, hidden)})


def _rnn(mode_of):
    def convert(ctx, node, attrs, inputs):
        mode = mode_of(attrs)
        if mode is None:
            raise ctx.unsupported(f"activations {attrs.get('activations')}")
        if attrs.get("clip") is not None:
            raise ctx.unsupported("clip")
        if attrs.get("input_forget", 0):
            raise ctx.unsupported("input_forget")
        x = inputs[0]
        W = ctx.require_const(inputs[1], f"{node.op_type} W")
        R = ctx.require_const(inputs[2], f"{node.op_type} R")
        B = ctx.const(inputs[3]) if inputs[3] else None
        if inputs[3] and B is None:
            B = ctx.require_const(inputs[3], f"{node.op_type} B")
        hidden = int(attrs.get("hidden_size", R.shape[-1]))
        direction = attrs.get("direction", "forward")
        dirs = 2 if direction == "bidirectional" else 1
        batch_first = bool(attrs.get("layout", 0))
        if inputs[4]:
            lens = ctx.const(inputs[4])
            xs = ctx.shape(x)
            t = None if xs is None else xs[1 if batch_first else 0]
            if lens is None or t is None or not np.all(lens == t):
                raise ctx.unsupported("sequence_lens shorter than the sequence")
        peepholes = ctx.require_const(inputs[7], "LSTM P") if inputs[7] else None
        if batch_first:
            x = ctx.emit1("transpose", [x], {"axes": (1, 0, 2)})

        def state(idx):
            s = inputs[idx]
            if s is None:
                return _zero_state(ctx, x, dirs, hidden)
            return ctx.emit1("transpose", [s], {"axes": (1, 0, 2)}) if batch_first else s

        if peepholes is not None and np.any(peepholes != 0):
            y, *states = lstm_with_peepholes(ctx, x, W, R, B, peepholes, state(5), state(6), hidden, direction)
            return _onnx_layout(ctx, y, states, batch_first)
        if direction == "reverse":
            x = ctx.emit1("flip", [x], {"axis": 0})
        params = _flat_params(W, R, B, mode, hidden)
        ins = [x, params, state(5)] + ([state(6)] if mode == "lstm" else [])
        rnn_attrs = {"mode": mode, "state_size": hidden, "bidirectional": dirs == 2}
        if mode == "gru":  # ONNX's default (0) applies the reset gate before the hidden matmul, MXNet's after it
            rnn_attrs["linear_before_reset"] = bool(attrs.get("linear_before_reset", 0))
        outs = ctx.emit("rnn", ins, rnn_attrs)
        y = outs[0]
        if direction == "reverse":
            y = ctx.emit1("flip", [y], {"axis": 0})
        # (T, N, D*H) -> (T, N, D, H) -> (T, D, N, H)
        y = ctx.emit1("reshape", [y], {"shape": (0, 0, dirs, hidden)})
        y = ctx.emit1("transpose", [y], {"axes": (0, 2, 1, 3)})
        return _onnx_layout(ctx, y, outs[1:], batch_first)
    return convert


def _onnx_layout(ctx, y, states, batch_first):
    """Y (T, D, N, H) and the final states (D, N, H) in the node's layout: layout=1 is (N, T, D, H), (N, D, H)."""
    if not batch_first:
        return [y] + list(states)
    return ([ctx.emit1("transpose", [y], {"axes": (2, 0, 1, 3)})]
            + [ctx.emit1("transpose", [s], {"axes": (1, 0, 2)}) for s in states])


def _lstm_mode(attrs):
    acts = attrs.get("activations")
    return "lstm" if acts is None or [a.lower() for a in acts] in (["sigmoid", "tanh", "tanh"] * k for k in (1, 2)) \
        else None


def _gru_mode(attrs):
    acts = attrs.get("activations")
    return "gru" if acts is None or [a.lower() for a in acts] in (["sigmoid", "tanh"] * k for k in (1, 2)) else None


def _rnn_mode(attrs):
    acts = attrs.get("activations")
    if acts is None:
        return "rnn_tanh"
    acts = {a.lower() for a in acts}
    return {"tanh": "rnn_tanh", "relu": "rnn_relu"}.get(acts.pop()) if len(acts) == 1 else None


# the later versions add GRU's linear_before_reset (3) and layout (14) and drop output_sequence (7); the
# converter reads each attribute with its default
ONNX_IMPORT.add("LSTM", _rnn(_lstm_mode), since=(1, 7, 14, 22))
ONNX_IMPORT.add("GRU", _rnn(_gru_mode), since=(1, 3, 7, 14, 22))
ONNX_IMPORT.add("RNN", _rnn(_rnn_mode), since=(1, 7, 14, 22))
