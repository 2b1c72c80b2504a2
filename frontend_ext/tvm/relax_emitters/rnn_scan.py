"""TIR kernels that run one RNN direction over a sequence of any length (a loop, not an unrolled graph).

Relax unrolls a recurrence over a static sequence (``rnn.py``); a symbolic length needs a loop. Each kernel
takes the input projection of every step (``proj``, (T, N, gates * H): x W_i + b_i, one matmul in Relax),
the hidden weights and bias and the initial state(s), and walks the steps in order (or backwards):
gates = proj[t] + h W_h^T + b_h, then the cell. Gate order is MXNet's (LSTM i, f, g, o; GRU r, z, n).
The loops are plain serial loops, marked scheduled and opaque so that no CPU schedule or fusion touches them;
each step costs N * gates * H * H multiply-adds, as in the unrolled graph.
"""
from __future__ import annotations

from tvm.script import tirx as T  # noqa: N812  (TVMScript's own convention)

from .. import compat


def _sig(x):
    return T.float32(1) / (T.float32(1) + T.exp(-x))


def lstm_kernel(H, reverse):
    @T.prim_func(private=True)
    def lstm_scan(p_proj: T.handle, p_wh: T.handle, p_bh: T.handle, p_h0: T.handle, p_c0: T.handle,
                  p_out: T.handle, p_ht: T.handle, p_ct: T.handle):
        T.func_attr({"tir.noalias": True})
        seq, n = T.int64(), T.int64()
        proj = T.match_buffer(p_proj, (seq, n, 4 * H), "float32")
        wh = T.match_buffer(p_wh, (4 * H, H), "float32")
        bh = T.match_buffer(p_bh, (4 * H,), "float32")
        h0 = T.match_buffer(p_h0, (n, H), "float32")
        c0 = T.match_buffer(p_c0, (n, H), "float32")
        out = T.match_buffer(p_out, (seq, n, H), "float32")
        ht = T.match_buffer(p_ht, (n, H), "float32")
        ct = T.match_buffer(p_ct, (n, H), "float32")
        gates = T.alloc_buffer((n, 4 * H), "float32")
        for b, j in T.grid(n, H):
            ht[b, j] = h0[b, j]
            ct[b, j] = c0[b, j]
        for step in T.serial(seq):
            t = T.if_then_else(reverse, seq - 1 - step, step)
            for b, j in T.grid(n, 4 * H):
                gates[b, j] = proj[t, b, j] + bh[j]
                for k in T.serial(H):
                    gates[b, j] = gates[b, j] + ht[b, k] * wh[j, k]
            for b, j in T.grid(n, H):
                ct[b, j] = _sig(gates[b, H + j]) * ct[b, j] + _sig(gates[b, j]) * T.tanh(gates[b, 2 * H + j])
                ht[b, j] = _sig(gates[b, 3 * H + j]) * T.tanh(ct[b, j])
                out[t, b, j] = ht[b, j]
    return lstm_scan


def gru_kernel(H, reverse, reset_first):
    """``reset_first`` (ONNX's default GRU, linear_before_reset=0): the new gate's hidden term is
    (r * h) W_n + b_n; otherwise (MXNet, cuDNN) r * (h W_n + b_n)."""
    @T.prim_func(private=True)
    def gru_scan(p_proj: T.handle, p_wh: T.handle, p_bh: T.handle, p_h0: T.handle, p_out: T.handle,
                 p_ht: T.handle):
        T.func_attr({"tir.noalias": True})
        seq, n = T.int64(), T.int64()
        proj = T.match_buffer(p_proj, (seq, n, 3 * H), "float32")
        wh = T.match_buffer(p_wh, (3 * H, H), "float32")
        bh = T.match_buffer(p_bh, (3 * H,), "float32")
        h0 = T.match_buffer(p_h0, (n, H), "float32")
        out = T.match_buffer(p_out, (seq, n, H), "float32")
        ht = T.match_buffer(p_ht, (n, H), "float32")
        hh = T.alloc_buffer((n, 3 * H), "float32")
        rh = T.alloc_buffer((n, H), "float32")
        for b, j in T.grid(n, H):
            ht[b, j] = h0[b, j]
        for step in T.serial(seq):
            t = T.if_then_else(reverse, seq - 1 - step, step)
            for b, j in T.grid(n, 3 * H):
                hh[b, j] = bh[j]
                for k in T.serial(H):
                    hh[b, j] = hh[b, j] + ht[b, k] * wh[j, k]
            for b, j in T.grid(n, H):
                rh[b, j] = _sig(proj[t, b, j] + hh[b, j])  # the reset gate r
            if reset_first:
                for b, j in T.grid(n, H):  # the new gate's hidden term from r * h
                    hh[b, 2 * H + j] = bh[2 * H + j]
                    for k in T.serial(H):
                        hh[b, 2 * H + j] = hh[b, 2 * H + j] + rh[b, k] * ht[b, k] * wh[2 * H + j, k]
                for b, j in T.grid(n, H):
                    rh[b, j] = T.tanh(proj[t, b, 2 * H + j] + hh[b, 2 * H + j])  # now the new gate n
            else:
                for b, j in T.grid(n, H):
                    rh[b, j] = T.tanh(proj[t, b, 2 * H + j] + rh[b, j] * hh[b, 2 * H + j])
            for b, j in T.grid(n, H):
                ht[b, j] = rh[b, j] + _sig(proj[t, b, H + j] + hh[b, H + j]) * (ht[b, j] - rh[b, j])
                out[t, b, j] = ht[b, j]
    return gru_scan


def simple_kernel(H, reverse, relu):
    @T.prim_func(private=True)
    def rnn_scan(p_proj: T.handle, p_wh: T.handle, p_bh: T.handle, p_h0: T.handle, p_out: T.handle,
                 p_ht: T.handle):
        T.func_attr({"tir.noalias": True})
        seq, n = T.int64(), T.int64()
        proj = T.match_buffer(p_proj, (seq, n, H), "float32")
        wh = T.match_buffer(p_wh, (H, H), "float32")
        bh = T.match_buffer(p_bh, (H,), "float32")
        h0 = T.match_buffer(p_h0, (n, H), "float32")
        out = T.match_buffer(p_out, (seq, n, H), "float32")
        ht = T.match_buffer(p_ht, (n, H), "float32")
        pre = T.alloc_buffer((n, H), "float32")
        for b, j in T.grid(n, H):
            ht[b, j] = h0[b, j]
        for step in T.serial(seq):
            t = T.if_then_else(reverse, seq - 1 - step, step)
            for b, j in T.grid(n, H):
                pre[b, j] = proj[t, b, j] + bh[j]
                for k in T.serial(H):
                    pre[b, j] = pre[b, j] + ht[b, k] * wh[j, k]
            for b, j in T.grid(n, H):
                if relu:
                    ht[b, j] = T.max(pre[b, j], T.float32(0))
                else:
                    ht[b, j] = T.tanh(pre[b, j])
                out[t, b, j] = ht[b, j]
    return rnn_scan


def kernel(mode, hidden, reverse, reset_first=False):
    """The PrimFunc for ``mode`` ("lstm", "gru", "rnn_tanh", "rnn_relu"), marked so that the CPU schedules and
    FuseOps leave it as it is."""
    if mode == "lstm":
        func = lstm_kernel(hidden, reverse)
    elif mode == "gru":
        func = gru_kernel(hidden, reverse, reset_first)
    else:
        func = simple_kernel(hidden, reverse, mode == "rnn_relu")
    return compat.mark_scheduled(func).with_attr("op_pattern", 8)  # 8: kOpaque
