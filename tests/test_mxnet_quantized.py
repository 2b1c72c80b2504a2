"""MXNet models quantized with ``mx.contrib.quantization.quantize_net`` -> ONNX QDQ (onnxruntime) and TVM.

The reference is MXNet's own quantized model (oneDNN int8 kernels) on the same input. The bound is the issue's:
max |ours - MXNet| <= 2e-2 x max(1, max|ref|) and the same top-1 wherever MXNet's top two differ by more
than that bound.
"""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402
import quantized_fixtures as qf  # noqa: E402

nn = mx.gluon.nn
RNG = np.random.default_rng(0)


class Residual(nn.HybridBlock):
    """conv-bn-relu, a bias-free conv-bn with a residual add (oneDNN's with_sum), average pool, dense."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2D(8, 3, padding=1, in_channels=3), nn.BatchNorm(in_channels=8)
        self.c2, self.b2 = nn.Conv2D(8, 3, padding=1, in_channels=8, use_bias=False), nn.BatchNorm(in_channels=8)
        self.pool, self.fc = nn.AvgPool2D(), nn.Dense(10, in_units=8 * 4 * 4)

    def hybrid_forward(self, F, x):
        y = F.relu(self.b1(self.c1(x)))
        z = F.relu(self.b2(self.c2(y)) + y)
        return self.fc(F.flatten(self.pool(z)))


def plain():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, 3, in_channels=3), nn.Activation("relu"), nn.MaxPool2D(), nn.Conv2D(12, 1, in_channels=6),
            nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(5))
    return net


def quantize(net, x, folder, calib_scale=1.0, seed=None, **kw):
    """Initialise (random BatchNorm statistics near the data's), quantize with naive calibration on
    ``calib_scale * x``, export; the reference is the quantized model on ``x``."""
    from mxnet.contrib.quantization import quantize_net

    rng = RNG if seed is None else np.random.default_rng(seed)
    mx.random.seed(int(rng.integers(1 << 30)))  # Xavier draws from MXNet's generator: the same weights each run
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.array(x))
    for p in net.collect_params().values():
        if any(k in p.name for k in ("gamma", "beta", "running_mean", "running_var")):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
    calib = mx.io.NDArrayIter(data=x * np.float32(calib_scale), batch_size=len(x))
    kw.setdefault("quantized_dtype", "auto")
    qnet = quantize_net(net, calib_mode=kw.pop("calib_mode", "naive"), calib_data=calib, num_calib_examples=len(x),
                        ctx=mx.cpu(), **kw)
    ref = qnet(mx.nd.array(x)).asnumpy()  # run once before exporting: export writes the params it has bound
    prefix = str(folder / "qnet")
    qnet.export(prefix)
    return prefix + "-symbol.json", prefix + "-0000.params", ref


def assert_matches(got, ref, what):
    got = np.asarray(got)
    bound = 2e-2 * max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(got - ref).max())
    assert got.shape == ref.shape and err <= bound, f"{what}: max error {err:.3g} > {bound:.3g}"
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * bound
    assert (got.argmax(1) == ref.argmax(1))[clear].all(), f"{what}: top-1 differs"


def check(sym_file, params_file, x, ref):
    model = nb.export_model(sym_file, params_file, {"data": x.shape})
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # a QDQ model: runtimes fuse it into int8 kernels
    int8_weights = [t for t in model.graph.initializer if t.data_type == 3 and len(t.dims) > 1]  # INT8
    assert int8_weights, "the weights are stored as int8"
    if not qf.int8_kernels_are_exact():  # MXNet's reference itself is then not the model's arithmetic
        pytest.skip(qf.SATURATING_INT8)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_matches(sess.run(None, {"data": x})[0], ref, "onnxruntime")
    cm = nb.compile_model(sym_file, shape={"data": x.shape}, params=params_file)
    assert_matches(cm.run({"data": x})[0], ref, "tvm")


@pytest.mark.parametrize("dtype", ["auto", "int8"])
def test_residual_net(tmp_path, dtype):
    x = RNG.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)
    sym_file, params_file, ref = quantize(Residual(), x, tmp_path, quantized_dtype=dtype)
    check(sym_file, params_file, x, ref)


@pytest.mark.parametrize("dtype", ["auto", "uint8"])
def test_plain_net_with_relu_dense(tmp_path, dtype):
    x = RNG.uniform(0, 1, (6, 3, 10, 10)).astype(np.float32)
    sym_file, params_file, ref = quantize(plain(), x, tmp_path, quantized_dtype=dtype)
    check(sym_file, params_file, x, ref)


@pytest.mark.parametrize("seed", [2, 4])
def test_data_beyond_the_calibrated_range_wraps_as_in_mxnet(tmp_path, seed):
    """Residual's `F.relu` stays outside the summing conv, so oneDNN writes its int8 result into the uint8
    buffer of the sum input: the calibrated range is exceeded here, and the bytes past 127 read back negative."""
    x = np.random.default_rng(seed).uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)
    sym_file, params_file, ref = quantize(Residual(), x, tmp_path, calib_scale=0.6, seed=seed)
    check(sym_file, params_file, x, ref)


def test_round_trip_to_mxnet(tmp_path):
    """MXNet quantized -> ONNX -> MXNet (float ops on the QDQ values) keeps the numbers."""
    x = RNG.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)
    sym_file, params_file, ref = quantize(Residual(), x, tmp_path)
    block = nb.import_to_gluon(nb.export_model(sym_file, params_file, {"data": x.shape}))
    if not qf.int8_kernels_are_exact():  # the reference (MXNet's int8 kernels) saturates: not the model's numbers
        pytest.skip(qf.SATURATING_INT8)
    assert_matches(block(mx.nd.array(x)).asnumpy(), ref, "MXNet round trip")


@pytest.mark.slow
def test_model_zoo_resnet(tmp_path):
    from mxnet.gluon.model_zoo import vision

    x = RNG.uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32)
    sym_file, params_file, ref = quantize(vision.resnet18_v1(classes=10), x, tmp_path)
    check(sym_file, params_file, x, ref)


def test_uncalibrated_model_is_refused_with_the_fix(tmp_path):
    x = RNG.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    sym_file, params_file, _ = quantize(plain(), x, tmp_path, calib_mode="none")
    with pytest.raises(UnsupportedOperatorError, match="calib_mode='naive'") as exc:
        nb.export_model(sym_file, params_file, {"data": x.shape})
    assert "_contrib_quantize_v2" in str(exc.value)
