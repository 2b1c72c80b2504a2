"""Every gluon model_zoo.vision model: from_mxnet(block) -> to_onnx -> onnxruntime matches MXNet.

Weights are random (He init) and every BatchNorm gets random non-default running_mean/var and
gamma/beta, so a converter that ignores BN statistics, fix_gamma or eps fails.  A few models are
also saved with ``net.export`` and read back from the files, at several ONNX opsets.
"""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
pytest.importorskip("onnxruntime")

# MXNet 1.9.1 touches a deprecated scipy namespace on every mx.nd.array call
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")

from mxnet_check import close, run_onnx  # noqa: E402

ZOO = ["resnet18_v1", "resnet34_v1", "resnet50_v1", "resnet101_v1", "resnet152_v1",
       "resnet18_v2", "resnet34_v2", "resnet50_v2", "resnet101_v2", "resnet152_v2",
       "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
       "alexnet", "densenet121", "densenet161", "densenet169", "densenet201",
       "squeezenet1.0", "squeezenet1.1", "inceptionv3",
       "mobilenet1.0", "mobilenet0.75", "mobilenet0.5", "mobilenet0.25",
       "mobilenetv2_1.0", "mobilenetv2_0.75", "mobilenetv2_0.5", "mobilenetv2_0.25"]


class FastHe(mx.init.Initializer):
    """He-uniform weights drawn with numpy's fast uniform sampler (MXNet's normal sampler takes
    ~10 s for VGG's 130M weights on a busy 2-core machine)."""

    def __init__(self, seed=0):
        super().__init__()
        self._rng = np.random.default_rng(seed)

    def _init_weight(self, name, arr):
        fan_in = int(np.prod(arr.shape[1:])) or 1
        w = self._rng.random(arr.shape, dtype=np.float32)
        w -= np.float32(0.5)
        w *= np.float32(2 * np.sqrt(6.0 / fan_in))  # U(-a, a) with a = sqrt(6 / fan_in)
        arr[:] = w


# VGG's first dense layer takes whatever its features give (deferred shape): at 64x64 it has 2048 inputs instead of
# 25088, the same graph at a third of the weights and a fifth of the time. vgg16 keeps 224x224 and all 138M weights.
FULL_SIZE_VGG = "vgg16"


def input_size(name):
    if name.startswith("inception"):
        return 299
    return 64 if name.startswith("vgg") and name != FULL_SIZE_VGG else 224


def make_model(name, seed=0):
    """A zoo model with random weights and random BatchNorm statistics, its input and MXNet's output."""
    from mxnet.gluon.model_zoo import vision

    rng = np.random.default_rng(seed)
    mx.random.seed(seed)
    net = vision.get_model(name, pretrained=False)
    net.initialize(FastHe(seed))
    net.hybridize()  # net.export needs a hybridized forward
    size = input_size(name)
    x = rng.normal(0, 1, (1, 3, size, size)).astype(np.float32)
    net(mx.nd.array(x))  # materialise deferred shapes
    n_bn = 0
    for pname, p in net.collect_params().items():
        if pname.endswith(("running_var", "gamma")):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
            n_bn += 1
        elif pname.endswith(("running_mean", "beta")):
            p.set_data(mx.nd.array(rng.normal(0, 0.2, p.shape).astype(np.float32)))
    ref = net(mx.nd.array(x)).asnumpy()
    assert ref.std() > 1e-2, "degenerate reference output: the comparison would prove nothing"
    return net, x, ref, n_bn


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo_model(name):
    from nnvm_bridge.frontend import from_mxnet

    net, x, ref, n_bn = make_model(name)
    graph, params = from_mxnet(net, shape={"data": x.shape})
    assert graph.input_names(params) == ["data"]
    assert graph.shape_of(graph.outputs[0]) == ref.shape
    if "bn" in name or not name.startswith(("vgg", "alexnet", "squeezenet")):
        assert n_bn > 0 and graph.op_counts().get("batch_norm", 0) > 0
    outs, _ = run_onnx(graph, params, {"data": x})
    close(outs[0], ref)


FILE_MODELS = ["resnet18_v1", "mobilenetv2_1.0", "densenet121", "squeezenet1.1", "vgg11_bn"]
OPSETS = [11, 13, 17, 21]


@pytest.mark.slow
@pytest.mark.parametrize("name", FILE_MODELS)
def test_zoo_exported_files_all_opsets(name, tmp_path):
    import onnx
    import onnxruntime as ort

    from nnvm_bridge.frontend import from_mxnet, to_onnx

    net, x, ref, _ = make_model(name, seed=1)
    prefix = str(tmp_path / name)
    net.export(prefix)
    graph, params = from_mxnet(prefix + "-symbol.json", prefix + "-0000.params", shape={"data": x.shape})
    assert graph.input_names(params) == ["data"]
    for opset in OPSETS:
        model = to_onnx(graph, params, opset=opset)
        onnx.checker.check_model(model, full_check=True)
        default = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
        assert default == [opset]
        init_names = {t.name for t in model.graph.initializer}
        assert not init_names & {i.name for i in model.graph.input}
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        close(out, ref)
