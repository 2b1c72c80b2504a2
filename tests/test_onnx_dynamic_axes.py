"""to_onnx(dynamic_axes=...): symbolic input axes, shapes inferred symbolically, dim_params in the file, and one
ONNX file that onnxruntime runs at several sizes with MXNet's numbers."""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")

import nnvm_bridge as nb  # noqa: E402
from test_zoo_export import make_model  # noqa: E402
from tolerance import assert_close  # noqa: E402


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", ["resnet18_v1", "mobilenetv2_0.25"])
def test_dynamic_batch_and_image_size_match_mxnet_at_two_sizes(name, tmp_path):
    net, x, _, _ = make_model(name)
    prefix = str(tmp_path / name)
    net.export(prefix)
    model = nb.export_model(prefix + "-symbol.json", prefix + "-0000.params", [x.shape],
                            dynamic_axes={"data": {0: "N", 2: "H", 3: "W"}})
    assert _dims(model.graph.input[0]) == ["N", 3, "H", "W"]
    assert _dims(model.graph.output[0]) == ["N", 1000]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    for shape in [(1, 3, 224, 224), (3, 3, 160, 192)]:
        data = rng.normal(0, 1, shape).astype(np.float32)
        assert_close(sess.run(None, {"data": data})[0], net(mx.nd.array(data)).asnumpy())


def test_dynamic_axes_forms_and_errors():
    net, x, _, _ = make_model("mobilenetv2_0.25")
    graph, params = nb.frontend.from_mxnet(net, shape={"data": x.shape})
    model = nb.frontend.to_onnx(graph, params, dynamic_axes={"data": [0]})
    assert _dims(model.graph.input[0]) == ["data_dim0", 3, 224, 224]
    with pytest.raises(nb.ShapeError, match="not a graph input"):
        nb.frontend.to_onnx(graph, params, dynamic_axes={"image": [0]})
    with pytest.raises(nb.ShapeError, match="out of range"):
        nb.frontend.to_onnx(graph, params, dynamic_axes={"data": [4]})


def test_a_model_that_needs_a_fixed_size_says_where(tmp_path):
    net, x, _, _ = make_model("vgg11")  # the classifier's dense layer fixes H and W
    graph, params = nb.frontend.from_mxnet(net, shape={"data": x.shape})
    with pytest.raises(nb.BridgeError) as info:
        nb.frontend.to_onnx(graph, params, dynamic_axes={"data": {2: "H", 3: "W"}})
    assert info.value.node is not None and "dense" in str(info.value)


def test_cli_dynamic_axes(tmp_path):
    from nnvm_bridge import cli

    net, x, _, _ = make_model("mobilenetv2_0.25")
    prefix = str(tmp_path / "m")
    net.export(prefix)
    out = str(tmp_path / "m.onnx")
    assert cli.main(["convert", prefix + "-symbol.json", "-o", out, "--input-shape", "1,3,224,224",
                     "--dynamic-axes", "data:0=batch,2=H,3=W", "-q"]) == 0
    import onnx

    assert _dims(onnx.load(out).graph.input[0]) == ["batch", 3, "H", "W"]
    assert cli.main(["convert", prefix + "-symbol.json", "-o", out, "--dynamic-axes", "data:x", "-q"]) == 2
