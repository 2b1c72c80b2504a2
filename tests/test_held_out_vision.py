"""What the held-out vision models of the sweep (tools/real_model_sweep.py, tv_swin_t ... timm_coatnet_nano)
exposed, each reproduced by a tiny ONNX graph exported here, run WITHOUT shape= at two sizes against onnxruntime."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from exported_models import export_one_input, match_on_both_engines  # noqa: E402


def test_constant_pad_of_non_spatial_axes_with_a_symbolic_batch(tmp_path):
    """Swin pads its (N, H, W, C) tokens to whole windows: a constant pad on axes 1 and 2 while N is
    symbolic, which MXNet's Pad (spatial axes of NCHW only) cannot do and its _full cannot size."""
    class Net(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.pad(x, (0, 0, 1, 2, 0, 3), value=0.5) * 2

    path = export_one_input(Net(), (torch.randn(2, 5, 4, 3),), tmp_path / "pad.onnx", {0: "N"})
    match_on_both_engines(path, [(2, 5, 4, 3), (3, 5, 4, 3)])


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
    path = export_one_input(_conv_then(tail), (torch.randn(2, 3, 8, 8),), tmp_path / "tokens.onnx", {0: "N"})
    match_on_both_engines(path, [(2, 3, 8, 8), (3, 3, 8, 8)])
