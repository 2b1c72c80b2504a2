"""Whole models through TVM (llvm): ONNX light CNNs vs onnxruntime, PyTorch-exported models vs PyTorch
and onnxruntime, Gluon zoo models (blocks and symbol/params files) vs MXNet. Tolerance 1e-4 of the
output scale. Model-sized, so marked slow (CI still runs them)."""
import os

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from nnvm_bridge import compile_model  # noqa: E402
from tolerance import assert_close  # noqa: E402

pytestmark = pytest.mark.slow


# VGG-19 is left to the MXNet import tests: its dense layers are AlexNet's and ZFNet's, at twice their compile time
LIGHT = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
         "zfnet512"]


@pytest.mark.parametrize("name", LIGHT)
def test_onnx_light_cnn_matches_onnxruntime(name):
    import onnx
    from onnx_mx_helpers import data_inputs, light_model_dir, ort_run, randomize_light_model

    model = randomize_light_model(onnx.load(os.path.join(light_model_dir(), f"light_{name}.onnx")))
    inp = data_inputs(model)[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    ref = ort_run(model, {inp.name: x})
    assert float(np.std(ref[0])) > 1e-6  # random weights give an informative output
    got = compile_model(model).run({inp.name: x})
    for g, r in zip(got, ref):
        assert_close(g, r)


def test_pure_tvm_cnn_matches_onnxruntime():
    """The same light CNN without the PyTorch offload: every op TVM-generated."""
    import onnx
    from onnx_mx_helpers import data_inputs, light_model_dir, ort_run, randomize_light_model

    model = randomize_light_model(onnx.load(os.path.join(light_model_dir(), "light_squeezenet.onnx")))
    inp = data_inputs(model)[0]
    x = np.random.default_rng(2).standard_normal([d.dim_value for d in inp.type.tensor_type.shape.dim]).astype(
        np.float32)
    assert_close(compile_model(model, offload=False).run({inp.name: x})[0], ort_run(model, {inp.name: x})[0])


# ---- PyTorch-exported models ------------------------------------------------------------------
def _unet():
    nn = torch.nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1),
                             nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1, self.d2, self.mid = block(3, 8), block(8, 16), block(16, 32)
            self.up2, self.u2 = nn.ConvTranspose2d(32, 16, 2, 2), block(32, 16)
            self.up1, self.u1 = nn.ConvTranspose2d(16, 8, 2, 2), block(16, 8)
            self.head = nn.Conv2d(8, 2, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(nn.functional.max_pool2d(a, 2))
            m = self.mid(nn.functional.max_pool2d(b, 2))
            b2 = self.u2(torch.cat([self.up2(m), b], 1))
            a2 = self.u1(torch.cat([nn.functional.interpolate(b2, scale_factor=2.0, mode="nearest")[:, :8] * 0 +
                                    self.up1(b2), a], 1))
            return self.head(a2)
    return UNet(), (1, 3, 32, 32)


def _mobilenetv3_block():
    nn = torch.nn

    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, c // 4, 1), nn.Conv2d(c // 4, c, 1)

        def forward(self, x):
            s = nn.functional.adaptive_avg_pool2d(x, 1)
            return x * nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(16, 16, 5, 1, 2, groups=16), nn.BatchNorm2d(16), nn.Hardswish())
            self.se = SE(16)
            self.pw = nn.Sequential(nn.Conv2d(16, 24, 1), nn.BatchNorm2d(24))
            self.fc = nn.Linear(24, 10)

        def forward(self, x):
            y = self.pw(self.se(self.dw(self.stem(x))))
            return self.fc(y.mean((2, 3)))
    return Net(), (2, 3, 32, 32)


def _convnext_block():
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, c=16):
            super().__init__()
            self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
            self.ln = nn.LayerNorm(c, eps=1e-6)
            self.pw1, self.pw2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
            self.gamma = nn.Parameter(torch.full((c,), 0.5))

        def forward(self, x):
            y = self.dw(x).permute(0, 2, 3, 1)
            y = self.pw2(nn.functional.gelu(self.pw1(self.ln(y)))) * self.gamma
            return x + y.permute(0, 3, 1, 2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 4, 4)
            self.blocks = nn.Sequential(Block(), Block())

        def forward(self, x):
            return self.blocks(self.stem(x)).mean((2, 3))
    return Net(), (1, 3, 32, 32)


def _transformer():
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            return self.head(self.enc(x))
    return Net(), (2, 7, 32)


def _mlp():
    nn = torch.nn
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3),
                         nn.Softmax(-1)), (4, 20)


def _lstm():
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(32, 4)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y[:, -1])
    return Net(), (3, 6, 8)


TORCH_MODELS = {"unet": _unet, "mobilenetv3_style": _mobilenetv3_block, "convnext_style": _convnext_block,
                "transformer_encoder": _transformer, "mlp": _mlp, "lstm": _lstm}


@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_pytorch_exported_model_matches_torch_and_onnxruntime(name, tmp_path):
    torch.manual_seed(0)
    net, shape = TORCH_MODELS[name]()
    net.eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    path = str(tmp_path / f"{name}.onnx")
    torch.onnx.export(net, (torch.from_numpy(x),), path, input_names=["x"], output_names=["y"], opset_version=17,
                      dynamo=False)
    ort_ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = compile_model(path).run({"x": x})[0]
    assert_close(got, ref)
    assert_close(got, ort_ref)


# ---- Gluon zoo ----------------------------------------------------------------------------------
# each model through one of the two ways in (a Gluon block, or the symbol/params files it exports), each way
# taken by more than one model: compiling every model twice doubled the time for no other path
ZOO = [("resnet18_v1", "block"), ("mobilenetv2_1.0", "files"), ("squeezenet1.0", "block"), ("densenet121", "files"),
       ("inceptionv3", "block"), ("resnet18_v1", "files")]


@pytest.mark.parametrize("name, source", ZOO)
def test_gluon_zoo_block_or_files_match_mxnet(name, source, tmp_path):
    pytest.importorskip("mxnet")
    from test_zoo_export import make_model

    net, x, ref, _ = make_model(name)
    shape = {"data": x.shape}
    if source == "block":
        cm = compile_model(net, shape=shape)
    else:
        prefix = str(tmp_path / name)
        net.export(prefix)
        cm = compile_model(prefix + "-symbol.json", params=prefix + "-0000.params", shape=shape)
    assert_close(cm.run({cm.input_names[0]: x})[0], ref)
