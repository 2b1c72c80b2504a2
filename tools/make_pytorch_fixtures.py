"""Build the small PyTorch-exported ONNX fixtures under tests/fixtures/pytorch/.

Each fixture is ``<name>.onnx`` (exported with the TorchScript exporter, ``dynamo=False``) plus
``<name>.npz`` holding the inputs (``in_<input name>``) and PyTorch's outputs (``out_<k>``).
The tests need no torch; rerun this script only to regenerate the files:

    .venv/bin/python tools/make_pytorch_fixtures.py
"""
from __future__ import annotations

import os
import warnings

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures", "pytorch")


def _models():
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 8), nn.Tanh(),
                                     nn.Linear(8, 5), nn.LogSoftmax(dim=1))

        def forward(self, x):
            return self.net(x)

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.pos = nn.Parameter(torch.randn(1, 10, 16) * 0.1)
            layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(16, 3)

        def forward(self, tokens):
            h = self.emb(tokens) + self.pos[:, :tokens.shape[1]]
            h = self.enc(h)
            return self.head(h.mean(dim=1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.d2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
            self.bottom = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
            self.up1 = nn.ConvTranspose2d(16, 16, 2, stride=2)
            self.c1 = nn.Conv2d(32, 8, 3, padding=1)
            self.c2 = nn.Conv2d(16, 4, 3, padding=1)
            self.out = nn.Conv2d(4, 2, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(a)
            c = self.bottom(b)
            u = torch.relu(self.c1(torch.cat([self.up1(c), b], 1)))
            u = nn.functional.interpolate(u, scale_factor=2, mode="bilinear", align_corners=False)
            u = torch.relu(self.c2(torch.cat([u, a], 1)))
            u = nn.functional.interpolate(u, size=(20, 20), mode="nearest")
            return self.out(u)

    class MobileV3Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.expand = nn.Sequential(nn.Conv2d(8, 24, 1, bias=False), nn.BatchNorm2d(24), nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(24, 24, 5, stride=2, padding=2, groups=24, bias=False),
                                    nn.BatchNorm2d(24), nn.Hardswish())
            self.se_pool = nn.AdaptiveAvgPool2d(1)
            self.se = nn.Sequential(nn.Conv2d(24, 8, 1), nn.ReLU(), nn.Conv2d(8, 24, 1), nn.Hardsigmoid())
            self.project = nn.Sequential(nn.Conv2d(24, 12, 1, bias=False), nn.BatchNorm2d(12))
            self.head = nn.Linear(12, 4)

        def forward(self, x):
            h = self.dw(self.expand(x))
            h = h * self.se(self.se_pool(h))
            h = self.project(h)
            return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1))

    class ConvNeXtBlock(nn.Module):
        def __init__(self, dim=16):
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pw1 = nn.Linear(dim, 4 * dim)
            self.act = nn.GELU()
            self.pw2 = nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(torch.full((dim,), 0.5))

        def forward(self, x):
            h = self.dw(x).permute(0, 2, 3, 1)
            h = self.pw2(self.act(self.pw1(self.norm(h))))
            return x + (self.gamma * h).permute(0, 3, 1, 2)

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 8)
            self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(24, 3)

        def forward(self, tokens):
            out, _ = self.lstm(self.emb(tokens))
            return self.fc(out[:, -1])

    class GRUTagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(6, 10, batch_first=False)
            self.fc = nn.Linear(10, 2)

        def forward(self, x):
            out, h = self.gru(x)
            return self.fc(out), h

    class ResNetStem(nn.Module):
        """ceil-mode max pool, residual add, BatchNorm1d and the x.view(x.size(0), -1) idiom."""

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.b1 = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.fc = nn.Linear(8, 4)
            self.bn1d = nn.BatchNorm1d(4)

        def forward(self, x):
            h = self.pool(torch.relu(self.b1(self.c1(x))))
            h = torch.relu(h + self.c2(h))
            h = nn.functional.adaptive_avg_pool2d(h, 1)
            return self.bn1d(self.fc(h.view(h.size(0), -1)))

    class Decoder(nn.Module):
        """ConvTranspose with output_padding, SiLU, bilinear align_corners and nearest resizes, tanh GELU."""

        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)

        def forward(self, x):
            h = nn.functional.silu(self.up(x))
            h = nn.functional.interpolate(h, scale_factor=1.5, mode="bilinear", align_corners=True)
            h = nn.functional.interpolate(h, size=(7, 9), mode="nearest")
            return nn.functional.gelu(h, approximate="tanh"), nn.functional.hardswish(h).mean(dim=(2, 3))

    class SelfAttention(nn.Module):
        """nn.MultiheadAttention returning its weights, LayerNorm over two axes, padding_idx embedding."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 8, padding_idx=0)
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
            self.ln = nn.LayerNorm([5, 8])

        def forward(self, tokens):
            x = self.emb(tokens)
            y, w = self.mha(x, x, x)
            return self.ln(x + y), w

    class StackedRNN(nn.Module):
        """LSTM with given initial states feeding a bidirectional batch-first GRU."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 6)
            self.gru = nn.GRU(6, 5, bidirectional=True, batch_first=True)

        def forward(self, x, h0, c0):
            o, (h, c) = self.lstm(x, (h0, c0))
            o2, h2 = self.gru(o.transpose(0, 1))
            return o2, h2, c

    g = torch.Generator().manual_seed(0)
    ints = lambda hi, shape: torch.randint(0, hi, shape, generator=g)  # noqa: E731
    rand = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    return [
        ("mlp_opset9", MLP(), (rand(4, 12),), ["x"], 9),
        ("transformer_encoder_opset14", TinyTransformer(), (ints(50, (2, 10)),), ["tokens"], 14),
        ("transformer_encoder_opset17", TinyTransformer(), (ints(50, (2, 10)),), ["tokens"], 17),
        ("transformer_encoder_dynamic_opset17", TinyTransformer(), (ints(50, (2, 10)),), ["tokens"], 17),
        ("unet_opset11", UNet(), (rand(1, 3, 20, 20),), ["image"], 11),
        ("mobilenetv3_block_opset14", MobileV3Block(), (rand(2, 8, 16, 16),), ["x"], 14),
        ("convnext_block_opset17", ConvNeXtBlock(), (rand(1, 16, 8, 8),), ["x"], 17),
        ("convnext_block_opset13", ConvNeXtBlock(), (rand(1, 16, 8, 8),), ["x"], 13),
        ("lstm_classifier_opset12", LSTMClassifier(), (ints(30, (3, 7)),), ["tokens"], 12),
        ("gru_tagger_opset10", GRUTagger(), (rand(5, 2, 6),), ["seq"], 10),
        ("resnet_stem_opset10", ResNetStem(), (rand(2, 3, 16, 16),), ["image"], 10),
        ("decoder_opset20", Decoder(), (rand(1, 4, 5, 6),), ["x"], 20),
        ("self_attention_opset17", SelfAttention(), (ints(20, (2, 5)),), ["tokens"], 17),
        ("stacked_rnn_opset14", StackedRNN(), (rand(7, 2, 4), rand(1, 2, 6), rand(1, 2, 6)), ["x", "h0", "c0"], 14),
    ]


def _randomize_bn(model, torch):
    # non-trivial running statistics so BatchNorm is really exercised
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def main():
    import torch

    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    for name, model, inputs, input_names, opset in _models():
        model.eval()
        _randomize_bn(model, torch)
        with torch.no_grad():
            outs = model(*inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        path = os.path.join(OUT, f"{name}.onnx")
        # "_dynamic" fixtures keep batch and sequence symbolic (Shape -> Gather -> Reshape chains)
        dynamic = {input_names[0]: {0: "batch", 1: "seq"}} if "_dynamic" in name else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, inputs, path, input_names=input_names,
                              output_names=[f"out_{k}" for k in range(len(outs))], opset_version=opset,
                              dynamo=False, do_constant_folding=True, dynamic_axes=dynamic)
        arrays = {f"in_{n}": t.numpy() for n, t in zip(input_names, inputs)}
        arrays.update({f"out_{k}": o.numpy() for k, o in enumerate(outs)})
        np.savez(os.path.join(OUT, f"{name}.npz"), **arrays)
        print(f"{name}: {os.path.getsize(path) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
