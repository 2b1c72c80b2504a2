"""Small ONNX files with dynamic axes, written by torch.onnx's legacy exporter (dynamic_axes).

Each builder returns (path, {input name: numpy array at one size}, a function size -> inputs) so that
tests can run the same file at two sizes.
"""
from __future__ import annotations

import math

import numpy as np
import pytest


def _torch():
    import torch

    torch.manual_seed(0)
    return torch


def _export(model, args, path, names, dynamic_axes, opset=17):
    torch = _torch()
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names, output_names=["out"], dynamic_axes=dynamic_axes,
                          opset_version=opset, dynamo=False)
    return path


def cnn(path):
    torch = _torch()
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 5))
    _export(model, (torch.randn(2, 3, 16, 16),), path, ["data"], {"data": {0: "N"}, "out": {0: "N"}})
    return lambda n: {"data": np.random.RandomState(n).randn(n, 3, 16, 16).astype(np.float32)}


def cnn_any_size(path):
    """Dynamic batch, height and width: strided convs and ceil-mode pooling over symbolic lengths."""
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1)
            self.pool, self.avg = nn.MaxPool2d(3, 2, ceil_mode=True), nn.AvgPool2d(2)

        def forward(self, x):
            y = self.pool(torch.relu(self.c2(self.c1(x))))
            return self.avg(y).mean(dim=(2, 3)) + y.amax(dim=(2, 3))

    _export(Net(), (torch.randn(1, 3, 17, 19),), path, ["x"], {"x": {0: "N", 2: "H", 3: "W"}, "out": {0: "N"}})
    return lambda n: {"x": np.random.RandomState(n).randn(n, 3, 9 + 5 * n, 26 - 3 * n).astype(np.float32)}


def mlp(path):
    torch = _torch()
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(12, 16), nn.Linear(16, 4)

        def forward(self, x):
            x = x.reshape(x.shape[0], -1)
            return torch.softmax(self.b(torch.relu(self.a(x))), dim=-1)

    _export(MLP(), (torch.randn(2, 3, 4),), path, ["x"], {"x": {0: "batch"}, "out": {0: "batch"}})
    return lambda n: {"x": np.random.RandomState(n).randn(n, 3, 4).astype(np.float32)}




def attention(path, hidden=16, heads=2):
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, hidden)
            self.pos = nn.Embedding(64, hidden)
            self.q, self.k, self.v = (nn.Linear(hidden, hidden) for _ in range(3))
            self.o = nn.Linear(hidden, hidden)
            self.ln = nn.LayerNorm(hidden)

        def forward(self, ids, mask):
            b, s = ids.shape
            pos = torch.arange(s, dtype=torch.long).unsqueeze(0).expand(b, s)
            x = self.emb(ids) + self.pos(pos)
            d = hidden // heads

            def split(t):
                return t.view(b, s, heads, d).transpose(1, 2)

            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
            m = mask[:, None, None, :].expand(b, heads, s, s)
            scores = torch.where(m > 0, scores, torch.full_like(scores, -1e4))
            att = torch.softmax(scores, dim=-1)
            y = torch.matmul(att, v).transpose(1, 2).reshape(b, s, hidden)
            return self.ln(x + self.o(y))

    ids = torch.randint(0, 50, (2, 5))
    _export(Block(), (ids, torch.ones(2, 5, dtype=torch.long)), path, ["input_ids", "attention_mask"],
            {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
             "out": {0: "batch", 1: "seq"}})

    def inputs(n, s=None):
        s = s or n + 3
        rs = np.random.RandomState(n)
        mask = np.ones((n, s), np.int64)
        mask[0, -1] = 0
        return {"input_ids": rs.randint(0, 50, (n, s)).astype(np.int64), "attention_mask": mask}
    return inputs


def lstm(path):
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(6, 8, num_layers=1)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y)

    _export(Net(), (torch.randn(5, 2, 6),), path, ["x"], {"x": {0: "seq"}, "out": {0: "seq"}})
    return lambda n: {"x": np.random.RandomState(n).randn(n + 2, 2, 6).astype(np.float32)}


def gru_batch_first(path):
    """A GRU with dynamic batch and sequence: the exporter builds the initial state from Shape(x)."""
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(6, 8, batch_first=True, bidirectional=True)

        def forward(self, x):
            h0 = torch.zeros(2, x.shape[0], 8)
            y, _ = self.rnn(x, h0)
            return y.mean(dim=1)

    _export(Net(), (torch.randn(2, 5, 6),), path, ["x"], {"x": {0: "batch", 1: "seq"}, "out": {0: "batch"}})
    return lambda n: {"x": np.random.RandomState(n).randn(n, n + 3, 6).astype(np.float32)}


def decoder_with_past(path, hidden=16, heads=2, vocab=40):
    """A GPT-2 style step: past keys/values of dynamic length, positions from the past length, a causal
    mask from arange comparisons and a slice of a causal buffer at [past : past + seq]."""
    torch = _torch()
    nn = torch.nn
    d = hidden // heads

    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.pos = nn.Embedding(vocab, hidden), nn.Embedding(64, hidden)
            self.qkv, self.o = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.register_buffer("bias", torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64))

        def forward(self, ids, past_k, past_v):
            b, s = ids.shape
            p = past_k.shape[2]
            pos = torch.arange(p, p + s, dtype=torch.long).unsqueeze(0)
            x = self.emb(ids) + self.pos(pos)
            q, k, v = self.qkv(x).split(hidden, dim=2)
            q, k, v = (t.view(b, s, heads, d).permute(0, 2, 1, 3) for t in (q, k, v))
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
            t = k.shape[2]
            w = torch.matmul(q, k.transpose(-1, -2)) * (d ** -0.5)
            causal = self.bias[:, :, t - s:t, :t]
            w = torch.where(causal > 0, w, torch.tensor(-1e4))
            y = torch.softmax(w, dim=-1) @ v
            y = y.permute(0, 2, 1, 3).contiguous().view(b, s, hidden)
            return self.o(y), k, v

    ids = torch.randint(0, vocab, (2, 3))
    past = torch.randn(2, heads, 4, d)
    model = Step().eval()
    with torch.no_grad():
        torch.onnx.export(model, (ids, past, past), path, input_names=["input_ids", "past_k", "past_v"],
                          output_names=["out", "present_k", "present_v"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "past_k": {0: "batch", 2: "past"},
                                        "past_v": {0: "batch", 2: "past"}, "out": {0: "batch", 1: "seq"}})

    def inputs(n):
        rs = np.random.RandomState(n)
        return {"input_ids": rs.randint(0, vocab, (n, n + 1)).astype(np.int64),
                "past_k": rs.randn(n, heads, 2 * n, d).astype(np.float32),
                "past_v": rs.randn(n, heads, 2 * n, d).astype(np.float32)}
    return inputs


def causal_lm(path, hidden=16, heads=2, vocab=30):
    """A Llama style block: a causal mask from full((S, S), -inf).triu(1), rotary-free scaled dot product
    attention (torch.nn.functional.scaled_dot_product_attention) and an RMS norm."""
    torch = _torch()
    nn = torch.nn
    d = hidden // heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, hidden)
            self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden, bias=False) for _ in range(4))
            self.w = nn.Parameter(torch.rand(hidden) + 0.5)

        def forward(self, ids):
            b, s = ids.shape
            x = self.emb(ids)
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.w
            q, k, v = (f(x).view(b, s, heads, d).transpose(1, 2) for f in (self.q, self.k, self.v))
            mask = torch.full((s, s), float("-inf")).triu(1)
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.o(y.transpose(1, 2).reshape(b, s, hidden))

    _export(Block(), (torch.randint(0, vocab, (2, 5)),), path, ["input_ids"],
            {"input_ids": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}})
    return lambda n: {"input_ids": np.random.RandomState(n).randint(0, vocab, (n, 2 * n + 1)).astype(np.int64)}


BUILDERS = {"cnn": cnn, "cnn_any_size": cnn_any_size, "mlp": mlp, "attention": attention, "lstm": lstm, "gru": gru_batch_first,
            "decoder_with_past": decoder_with_past, "causal_lm": causal_lm}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def model(request, tmp_path_factory):
    """(name, path, size -> inputs) for each builder; a test module imports this fixture by name."""
    path = str(tmp_path_factory.mktemp("dyn") / f"{request.param}.onnx")
    make_inputs = BUILDERS[request.param](path)
    return request.param, path, make_inputs
