"""The IR's fused ``rnn`` -> MXNet's RNN; ONNX's default GRU (linear_before_reset=0), which MXNet's RNN cannot
compute, unrolled over the (static) sequence length into FullyConnected and elementwise ops."""
from __future__ import annotations

from nnvm_bridge.errors import unsupported_feature
from nnvm_bridge.ir.symbolic import is_symbolic
from nnvm_bridge.ops.rnn import rnn_param_pieces

from ..registry import MXNET_EXPORT


@MXNET_EXPORT.register("rnn")
def _rnn(ctx, node, attrs, inputs):
    if attrs.mode == "gru" and not attrs.linear_before_reset:
        return _gru_reset_first(ctx, node, attrs, inputs)
    y = ctx.add("RNN", node.name, inputs, {"mode": attrs.mode, "state_size": attrs.state_size,
                                           "num_layers": attrs.num_layers, "bidirectional": attrs.bidirectional,
                                           "state_outputs": True})
    return [(y[0], k) for k in range(3 if attrs.mode == "lstm" else 2)]


def _gru_reset_first(ctx, node, attrs, inputs):
    """h' = (1-z)*n + z*h with n = tanh(x Wn + bn + (r*h) Rn + rbn): the reset gate scales h before Rn."""
    shape = ctx.shape(node.inputs[0])
    if shape is None or any(is_symbolic(d) for d in shape):
        raise unsupported_feature(node.op, node.name, "GRU with linear_before_reset=0 over an unknown sequence "
                                  "length (it is unrolled for MXNet); give the input shapes", direction="MXNet")
    T, _, I = (int(d) for d in shape)
    H, D = attrs.state_size, 2 if attrs.bidirectional else 1
    name = node.name

    def add(op, ins, **kw):
        return ctx.add(op, name, ins, kw)

    def rows(x, lo, hi, axis=0):
        return add("slice_axis", [x], axis=axis, begin=lo, end=hi)

    def part(piece):  # a weight matrix or bias vector cut from the flat vector
        off, shp = piece
        n = shp[0] * (shp[1] if len(shp) > 1 else 1)
        return add("Reshape", [rows(inputs[1], off, off + n)], shape=tuple(shp))

    def dense(x, w, b, units):
        return add("FullyConnected", [x, w, b], num_hidden=units, flatten=False)

    pieces = rnn_param_pieces("gru", I, H, attrs.num_layers, attrs.bidirectional)
    seq, finals = inputs[0], []
    for layer in range(attrs.num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            wi, wh, bi, bh = (part(p) for p in pieces[k])
            w_rz, b_rz = rows(wh, 0, 2 * H), rows(bh, 0, 2 * H)  # reset and update gates
            w_n, b_n = rows(wh, 2 * H, 3 * H), rows(bh, 2 * H, 3 * H)  # the new gate
            proj = dense(seq, wi, bi, 3 * H)  # (T, N, 3H)
            h = add("squeeze", [rows(inputs[2], k, k + 1)], axis=0)
            steps = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                xt = add("squeeze", [rows(proj, t, t + 1)], axis=0)
                hrz = dense(h, w_rz, b_rz, 2 * H)
                r = add("sigmoid", [add("elemwise_add", [rows(xt, 0, H, 1), rows(hrz, 0, H, 1)])])
                z = add("sigmoid", [add("elemwise_add", [rows(xt, H, 2 * H, 1), rows(hrz, H, 2 * H, 1)])])
                hn = dense(add("elemwise_mul", [r, h]), w_n, b_n, H)
                n = add("tanh", [add("elemwise_add", [rows(xt, 2 * H, 3 * H, 1), hn])])
                h = add("elemwise_add", [n, add("elemwise_mul", [z, add("elemwise_sub", [h, n])])])
                steps[t] = h
            outs.append(add("stack", steps, axis=0, num_args=T))
            finals.append(h)
        seq = outs[0] if D == 1 else add("concat", outs, dim=2, num_args=D)
    return [seq, add("stack", finals, axis=0, num_args=len(finals))]
