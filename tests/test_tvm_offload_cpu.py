"""The CPU offload path (frontend_ext/tvm/offload.py): oneDNN fused convs with prepacked weights, threads."""
import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from frontend_ext.tvm import compat, offload  # noqa: E402
from frontend_ext.tvm.compile import compile_model  # noqa: E402
from tolerance import assert_close as close  # noqa: E402

RNG = np.random.default_rng(11)


class ConvMix(torch.nn.Module):
    """Every conv flavour the offload fuses: stride, dilation, groups, depthwise, no bias, residual,
    ReLU, ReLU6 (clip), and chains that stay channels-last between offloaded calls."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.grouped = nn.Conv2d(16, 16, 3, 1, 2, dilation=2, groups=4)
        self.pw = nn.Conv2d(16, 24, 1)
        self.pw6 = nn.Conv2d(24, 24, 1)
        self.fc = nn.Linear(24, 7)

    def forward(self, x):
        y = self.stem(x)
        y = torch.relu(self.grouped(self.dw(y)) + y)  # residual + relu
        y = self.pw(y)  # conv with bias, no activation
        y = torch.clamp(self.pw6(y) + y, 0, 6)  # residual + clip: oneDNN cannot fuse it, F.conv2d runs it
        return self.fc(y.mean((2, 3))), y  # the last conv's output is read by TVM code (NCHW)


@pytest.fixture(scope="module")
def convmix_onnx(tmp_path_factory):
    torch.manual_seed(3)
    net = ConvMix().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
    path = str(tmp_path_factory.mktemp("offload") / "convmix.onnx")
    torch.onnx.export(net, (torch.zeros(2, 3, 20, 20),), path, input_names=["data"], output_names=["logits", "feat"],
                      opset_version=13, dynamo=False)
    return path


def test_fused_offload_matches_onnxruntime(convmix_onnx, monkeypatch):
    x = RNG.standard_normal((2, 3, 20, 20)).astype(np.float32)
    refs = ort.InferenceSession(convmix_onnx, providers=["CPUExecutionProvider"]).run(None, {"data": x})
    cm = compile_model(convmix_onnx, target="llvm")
    assert cm.info["offload"] == ["torch"]
    plain_calls = []
    real_conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, "conv2d", lambda *a, **k: plain_calls.append(1) or real_conv2d(*a, **k))
    for _ in range(2):  # first run packs the weights, the second reuses them
        for got, ref in zip(cm.run({"data": x}), refs):
            close(got, ref)
    if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise"):
        assert len(plain_calls) == 2, "only the residual+clip conv may leave oneDNN's fused ops (once per run)"


def test_two_models_share_the_process_correctly(convmix_onnx, tmp_path):
    """Packed weights are keyed by the weight's address: a second model must not get the first one's."""
    torch.manual_seed(4)
    other = ConvMix().eval()
    other_path = str(tmp_path / "other.onnx")
    torch.onnx.export(other, (torch.zeros(2, 3, 20, 20),), other_path, input_names=["data"],
                      output_names=["logits", "feat"], opset_version=13, dynamo=False)
    x = RNG.standard_normal((2, 3, 20, 20)).astype(np.float32)
    runs = []
    for path in (convmix_onnx, other_path, convmix_onnx):
        ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
        close(compile_model(path).run({"data": x})[0], ref)
        runs.append(ref)
    assert np.abs(runs[0] - runs[1]).max() > 1e-2  # the two models really differ


def test_site_cache_evicts_oldest_and_keeps_weights_alive():
    cache = offload._SiteCache(limit=3 * 2 * 4 * 100)  # room for three 100-float weights (+ packed copies)
    weights = [torch.full((100,), float(i)) for i in range(5)]
    for i, w in enumerate(weights):
        assert cache.put(i, f"site{i}", w) == f"site{i}"
    assert list(cache.entries) == [2, 3, 4] and cache.get(1) is None and cache.get(3) == "site3"
    assert cache.entries[4][1] is weights[4]  # the constant is held, so its address cannot be reused
    cache.put(3, "again", weights[3])  # replacing an entry does not count its bytes twice
    assert cache.held == 3 * 2 * 4 * 100 and cache.get(3) == "again"


def test_default_threads_follow_env_then_cores(monkeypatch):
    monkeypatch.delenv("NNVM_BRIDGE_OFFLOAD_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert offload.default_threads() == compat.num_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert offload.default_threads() == 3
    monkeypatch.setenv("NNVM_BRIDGE_OFFLOAD_THREADS", "5")
    assert offload.default_threads() == 5
    monkeypatch.setenv("NNVM_BRIDGE_OFFLOAD_THREADS", "lots")  # unparsable: ignored
    assert offload.default_threads() == 3


@pytest.mark.parametrize("user_env, expected", [
    ({}, {"GOMP_SPINCOUNT": "10000", "OMP_WAIT_POLICY": None}),  # bounded spin by default
    ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": None, "OMP_WAIT_POLICY": "ACTIVE"}),  # user's choice kept
    ({"GOMP_SPINCOUNT": "7"}, {"GOMP_SPINCOUNT": "7", "OMP_WAIT_POLICY": None}),
])
def test_openmp_defaults_respect_the_users_settings(user_env, expected):
    """libgomp reads these once, when torch loads: check in a fresh interpreter that has not loaded torch."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(user_env)
    code = ("import json, os, sys; from frontend_ext.tvm import compat; compat.openmp_defaults(); "
            "assert 'torch' not in sys.modules; "
            "print(json.dumps({k: os.environ.get(k) for k in ('GOMP_SPINCOUNT', 'OMP_WAIT_POLICY')}))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected
