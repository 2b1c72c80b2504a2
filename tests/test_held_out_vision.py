"""What the held-out vision models of the sweep (tools/real_model_sweep.py, tv_swin_t ... timm_coatnet_nano)
exposed, each reproduced by a tiny ONNX graph exported here, run WITHOUT shape= at two sizes against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import nnvm_bridge as nb  # noqa: E402
from tolerance import assert_close  # noqa: E402


def _export(module, example, path, dynamic):
    torch.onnx.export(module.eval(), example, str(path), input_names=["x"], dynamic_axes={"x": dynamic},
                      dynamo=False)
    return str(path)


def _both_engines(path, sizes):
    """compile_model(path) and import_to_gluon(path) against onnxruntime at each of ``sizes``."""
    mx = pytest.importorskip("mxnet")
    pytest.importorskip("tvm")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cm, block = nb.compile_model(path), nb.import_to_gluon(path)
    for k, shape in enumerate(sizes):
        x = np.random.RandomState(k).randn(*shape).astype(np.float32)
        ref = sess.run(None, {"x": x})[0]
        assert_close(cm.run({"x": x})[0], ref)
        assert_close(block(mx.nd.array(x)).asnumpy(), ref)


def test_constant_pad_of_non_spatial_axes_with_a_symbolic_batch(tmp_path):
    """Swin pads its (N, H, W, C) tokens to whole windows: a constant pad on axes 1 and 2 while N is
    symbolic, which MXNet's Pad (spatial axes of NCHW only) cannot do and its _full cannot size."""
    class Net(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.pad(x, (0, 0, 1, 2, 0, 3), value=0.5) * 2

    path = _export(Net(), (torch.randn(2, 5, 4, 3),), tmp_path / "pad.onnx", {0: "N"})
    _both_engines(path, [(2, 5, 4, 3), (3, 5, 4, 3)])


def _conv_then(tail):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 32, 3, stride=2, padding=1)

        def forward(self, x):
            return tail(torch.nn.functional.gelu(self.conv(x)) + 1)

    return Net()


@pytest.mark.parametrize("tail", [
    lambda y: y.flatten(2).transpose(1, 2),  # XCiT's and CaiT's patch tokens
    lambda y: y.reshape(y.shape[0], 4, 8, 16)[:, :, :4],  # CoAtNet's attention heads sliced from a 1x1 conv
    lambda y: torch.cat([y.reshape(y.shape[0], 4, 8, 16)] * 2, 2).softmax(-1),
], ids=["transpose", "slice", "concat_softmax"])
def test_reshape_of_a_convolution_output(tmp_path, tail):
    """MXNet reshapes in place, and a Convolution's oneDNN-blocked output kept its 4-d layout under the new
    shape: oneDNN's transpose and slice then failed to reorder it, its concat and softmax misread it."""
    path = _export(_conv_then(tail), (torch.randn(2, 3, 8, 8),), tmp_path / "tokens.onnx", {0: "N"})
    _both_engines(path, [(2, 3, 8, 8), (3, 3, 8, 8)])
