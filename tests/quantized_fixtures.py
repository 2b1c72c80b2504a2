"""Small quantized ONNX models made with onnxruntime's own quantizer (built on the fly, seconds each).

* ``cnn_qdq``: a conv/bn/relu/pool/concat/global-pool/fc CNN, static QDQ per channel after ``quant_pre_process``;
* ``cnn_qoperator``: the same CNN, static QOperator (QLinearConv, com.microsoft QLinearConcat, ...);
* ``mlp_dynamic``: an MLP with a self-attention block, ``quantize_dynamic`` (DynamicQuantizeLinear, MatMulInteger);
* ``mobile_qoperator``: a MobileNet-style net (depthwise conv, ReLU6, residual add, squeeze-excite, LeakyReLU,
  average pooling, hard swish), static QOperator (com.microsoft QLinearAdd / Mul / Sigmoid / LeakyRelu /
  AveragePool).
"""
from __future__ import annotations

import numpy as np

CNN_INPUT = (2, 3, 16, 16)
MLP_INPUT = (2, 6, 16)
MOBILE_INPUT = (2, 3, 32, 32)


def _torch_cnn():
    import torch
    from torch import nn

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
            self.left = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
            self.right = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(12, 10)

        def forward(self, x):
            x = self.stem(x)
            x = torch.cat([self.left(x), self.right(x)], 1)
            return self.fc(torch.flatten(self.pool(x), 1))

    torch.manual_seed(0)
    model = Cnn()
    # calibrate batch norm on data so that activations are neither tiny nor huge
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(8, *CNN_INPUT[1:]))
    return model.eval()


def _torch_mobile():
    import torch
    from torch import nn

    class Mobile(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU6())
            self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16), nn.BatchNorm2d(16), nn.ReLU6(),
                                    nn.Conv2d(16, 16, 1))
            self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 4, 1), nn.ReLU(), nn.Conv2d(4, 16, 1),
                                    nn.Sigmoid())
            self.tail = nn.Sequential(nn.Conv2d(16, 24, 3, 1, 1), nn.LeakyReLU(0.1), nn.AvgPool2d(2),
                                      nn.Conv2d(24, 32, 1), nn.Hardswish())
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = self.stem(x)
            x = x + self.dw(x)
            x = x * self.se(x)
            return self.fc(self.tail(x).mean((2, 3)))

    torch.manual_seed(2)
    model = Mobile()
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(8, *MOBILE_INPUT[1:]))
    return model.eval()


def _torch_mlp():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d=16):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.ff = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, x):
            att = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) / 4.0, -1)
            x = x + self.o(att @ self.v(x))
            return self.ff(x)

    torch.manual_seed(1)
    return Block().eval()


def _export(model, shape, path):
    import torch

    torch.onnx.export(model, torch.randn(*shape), str(path), input_names=["x"], output_names=["y"], opset_version=13,
                      dynamo=False)


class _Reader:
    def __init__(self, shape, n=8, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = iter([{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self.batches, None)


def cnn_float(tmp):
    path = tmp / "cnn.onnx"
    _export(_torch_cnn(), CNN_INPUT, path)
    return path


def cnn_qdq(tmp):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre, out = tmp / "cnn_pre.onnx", tmp / "cnn_qdq.onnx"
    quant_pre_process(str(cnn_float(tmp)), str(pre))
    quantize_static(str(pre), str(out), _Reader(CNN_INPUT), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def cnn_qoperator(tmp):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre, out = tmp / "cnn_pre_op.onnx", tmp / "cnn_qop.onnx"
    quant_pre_process(str(cnn_float(tmp)), str(pre))
    quantize_static(str(pre), str(out), _Reader(CNN_INPUT), quant_format=QuantFormat.QOperator, per_channel=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
    return out


def mobile_qoperator(tmp):
    from onnxruntime.quantization import QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path, pre, out = tmp / "mobile.onnx", tmp / "mobile_pre.onnx", tmp / "mobile_qop.onnx"
    _export(_torch_mobile(), MOBILE_INPUT, path)
    quant_pre_process(str(path), str(pre))
    quantize_static(str(pre), str(out), _Reader(MOBILE_INPUT, n=4), quant_format=QuantFormat.QOperator)
    return out


def mlp_dynamic(tmp):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path, out = tmp / "mlp.onnx", tmp / "mlp_dyn.onnx"
    _export(_torch_mlp(), MLP_INPUT, path)
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QUInt8)
    return out


def int8_kernels_are_exact() -> bool:
    """False on x86 CPUs without VNNI (AVX2, AVX-512F): there the u8 x s8 kernels of onnxruntime and of MXNet's
    oneDNN add pairs of int8 products in int16 and saturate, each in its own pattern, so neither computes the
    integer arithmetic the model describes (on a quantized MXNet net, MXNet, onnxruntime and this project's
    interpreter then disagree). Elsewhere the products are exact."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return True
    return "avx512_vnni" in flags or "avx_vnni" in flags


SATURATING_INT8 = "int8 kernels saturate on x86 CPUs without VNNI (quantized_fixtures.int8_kernels_are_exact)"


def run_onnxruntime(path, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]
