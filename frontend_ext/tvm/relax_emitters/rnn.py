"""MXNet's fused RNN op -> Relax, unrolled over the static sequence length."""
from __future__ import annotations




from .. import compat
from .base import _op, emitter


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
