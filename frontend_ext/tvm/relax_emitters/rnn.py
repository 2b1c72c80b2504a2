"""MXNet's fused RNN op -> Relax: unrolled over a static sequence length, a TIR loop over a symbolic one
(``rnn_scan.py``)."""
from __future__ import annotations

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op


# ---------------------------------------------------------------------------------------------
# recurrent: MXNet's fused RNN, unrolled over a static sequence length, else one loop kernel per direction
_RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


@RELAX_EXPORT.register("rnn")
def _rnn(ctx, node, attrs, inputs):
    op = relax_op()
    T, N, I = ctx.in_shapes[0]
    looped = not isinstance(T, int)
    if looped and ctx.in_dtypes[0] != "float32":
        ctx.fail(f"an RNN over a symbolic sequence runs as a float32 loop kernel, this one is {ctx.in_dtypes[0]}; "
                 "pass shape={input: dims} to unroll it")
    H, L, g = attrs.state_size, attrs.num_layers, _RNN_GATES[attrs.mode]
    D = 2 if attrs.bidirectional else 1
    flat = inputs[1]
    pos = [0]

    def take(n, shape):  # next n values of the flat parameter vector, reshaped
        piece = ctx.emit(op.strided_slice(flat, [0], [pos[0]], [pos[0] + n], assume_inbound=True))
        pos[0] += n
        return ctx.emit(op.reshape(piece, list(shape)))
    weights = []
    for layer in range(L):
        in_size = I if layer == 0 else H * D
        for _ in range(D):
            weights.append((take(g * H * in_size, (g * H, in_size)), take(g * H * H, (g * H, H))))
    biases = [(take(g * H, (g * H,)), take(g * H, (g * H,))) for _ in range(L * D)]
    # ONNX's default GRU (linear_before_reset=0) scales h by the reset gate before the new gate's hidden
    # matmul: its hidden weights and biases in two parts, reset+update rows and new-gate rows
    reset_first = attrs.mode == "gru" and not attrs.linear_before_reset
    if reset_first:
        def rows(v, lo, hi):
            return ctx.emit(op.strided_slice(v, [0], [lo], [hi], assume_inbound=True))
        hidden_parts = [((rows(wh, 0, 2 * H), rows(bh, 0, 2 * H)), (rows(wh, 2 * H, 3 * H), rows(bh, 2 * H, 3 * H)))
                        for (_, wh), (_, bh) in zip(weights, biases)]
    h0 = inputs[2]
    c0 = inputs[3] if attrs.mode == "lstm" else None

    def state_at(s, k):
        return ctx.emit(op.reshape(op.strided_slice(s, [0], [k], [k + 1], assume_inbound=True), ctx.shape([N, H])))

    def split(v, n=g):
        parts = ctx.emit(op.split(v, n, axis=1)) if n > 1 else None
        return [ctx.emit(compat.relax().TupleGetItem(parts, i)) for i in range(n)] if n > 1 else [v]
    seq = inputs[0]
    h_last, c_last = [], []
    for layer in range(L):
        in_size = I if layer == 0 else H * D
        outs_dir = []
        for d in range(D):
            k = layer * D + d
            (wi, wh), (bi, bh) = weights[k], biases[k]
            xs = ctx.emit(op.reshape(seq, ctx.shape([T * N, in_size])))
            proj = ctx.emit(op.reshape(op.linear(xs, wi, bi), ctx.shape([T, N, g * H])))
            h, c = state_at(h0, k), (state_at(c0, k) if c0 is not None else None)
            if looped:
                h, c, out = _loop(ctx, attrs.mode, H, d == 1, reset_first, proj, wh, bh, h, c, T, N)
                outs_dir.append(out)
                h_last.append(h)
                c_last.append(c)
                continue
            steps = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                xt = ctx.emit(op.reshape(op.strided_slice(proj, [0], [t], [t + 1], assume_inbound=True),
                                         ctx.shape([N, g * H])))
                if reset_first:
                    (w_rz, b_rz), (w_n, b_n) = hidden_parts[k]
                    xg = split(xt)
                    hg = split(ctx.emit(op.linear(h, w_rz, b_rz)), 2)
                    r = ctx.emit(op.sigmoid(op.add(xg[0], hg[0])))
                    hg.append(ctx.emit(op.linear(op.multiply(r, h), w_n, b_n)))
                    h = _gru_update(ctx, xg, hg, h, r, reset_applied=True)
                else:
                    hh = ctx.emit(op.linear(h, wh, bh))
                    h, c = _rnn_cell(ctx, attrs.mode, split(xt), split(hh), xt, hh, h, c)
                steps[t] = h
            outs_dir.append(ctx.emit(op.stack(steps, axis=0)))
            h_last.append(h)
            c_last.append(c)
        seq = outs_dir[0] if D == 1 else ctx.emit(op.concat(outs_dir, axis=2))
    res = [seq, op.stack(h_last, axis=0)]
    if attrs.mode == "lstm":
        res.append(op.stack(c_last, axis=0))
    return res


def _loop(ctx, mode, H, reverse, reset_first, proj, wh, bh, h, c, T, N):
    """One direction over a symbolic sequence: ``(h_T, c_T or None, outputs (T, N, H))`` from rnn_scan's kernel."""
    from . import rnn_scan

    rx = compat.relax()
    name = f"{mode}_scan_h{H}{'_reverse' if reverse else ''}{'_reset_first' if reset_first else ''}"
    func = ctx.bb.add_func(rnn_scan.kernel(mode, H, reverse, reset_first), name)
    state = compat.tensor_type(ctx.shape([N, H]), "float32")
    outs = [compat.tensor_type(ctx.shape([T, N, H]), "float32"), state] + ([state] if c is not None else [])
    args = [proj, wh, bh, h] + ([c] if c is not None else [])
    res = ctx.emit(rx.call_tir(func, args, outs))
    out, h = (ctx.emit(rx.TupleGetItem(res, i)) for i in range(2))
    return h, (ctx.emit(rx.TupleGetItem(res, 2)) if c is not None else None), out


def _rnn_cell(ctx, mode, xg, hg, xt, hh, h, c):
    op = relax_op()
    if mode == "lstm":
        i, f, gg, o = (ctx.emit(op.add(xv, hv)) for xv, hv in zip(xg, hg))
        c = ctx.emit(op.add(op.multiply(op.sigmoid(f), c), op.multiply(op.sigmoid(i), op.tanh(gg))))
        return ctx.emit(op.multiply(op.sigmoid(o), op.tanh(c))), c
    if mode == "gru":
        return _gru_update(ctx, xg, hg, h, ctx.emit(op.sigmoid(op.add(xg[0], hg[0])))), None
    pre = op.add(xt, hh)
    return ctx.emit(op.tanh(pre) if mode == "rnn_tanh" else op.nn.relu(pre)), None


def _gru_update(ctx, xg, hg, h, r, reset_applied=False):
    """(1-z)*n + z*h; ``reset_applied``: the new gate's hidden term is already (r*h) W + b, else r*(h W + b)."""
    op = relax_op()
    z = ctx.emit(op.sigmoid(op.add(xg[1], hg[1])))
    n = ctx.emit(op.tanh(op.add(xg[2], hg[2] if reset_applied else op.multiply(r, hg[2]))))
    return ctx.emit(op.add(n, op.multiply(z, op.subtract(h, n))))
