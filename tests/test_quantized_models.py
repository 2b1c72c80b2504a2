"""Quantized ONNX models (made with onnxruntime's quantizer) through every path, against onnxruntime.

Models (tests/quantized_fixtures.py): a small CNN quantized static QDQ per channel and static QOperator
(QLinearConv, com.microsoft QLinearConcat / QLinearGlobalAveragePool / QGemm), an MLP with attention
quantized dynamically (DynamicQuantizeLinear, MatMulInteger), and a MobileNet-style net in QOperator form
(com.microsoft QLinearAdd / Mul / Sigmoid / LeakyRelu / AveragePool).  Bound: max|got - ref| <= 2e-2 * max(1,
max|ref|) and the same top-1.  Then QuantizeLinear / DequantizeLinear alone at ties, saturation and per
axis (round half to even), in TVM, MXNet and the ONNX export; and the domain-aware lookup's errors.
"""
from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxruntime.quantization")
pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import quantized_fixtures as qf  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402

MODELS = {"cnn_qdq": (qf.cnn_qdq, qf.CNN_INPUT), "cnn_qoperator": (qf.cnn_qoperator, qf.CNN_INPUT),
          "mlp_dynamic": (qf.mlp_dynamic, qf.MLP_INPUT), "mobile_qoperator": (qf.mobile_qoperator, qf.MOBILE_INPUT)}


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quantized")
    built = {}
    for name, (make, shape) in MODELS.items():
        path = make(tmp)
        x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
        built[name] = (path, x, qf.run_onnxruntime(path, x))
    return built


def _assert_close(got, ref):
    got = np.asarray(got)
    assert got.shape == ref.shape
    err = np.abs(got - ref).max()
    assert err <= 2e-2 * max(1.0, np.abs(ref).max()), err
    assert (got.argmax(-1) == ref.argmax(-1)).all()


def test_the_models_use_the_quantized_ops(quantized):
    ops = {name: {(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node}
           for name, (path, _, _) in quantized.items()}
    assert {("", "QuantizeLinear"), ("", "DequantizeLinear")} <= ops["cnn_qdq"]
    assert {("", "QLinearConv"), ("com.microsoft", "QLinearConcat"),
            ("com.microsoft", "QLinearGlobalAveragePool")} <= ops["cnn_qoperator"]
    assert {("", "DynamicQuantizeLinear"), ("", "MatMulInteger")} <= ops["mlp_dynamic"]
    assert {("com.microsoft", op) for op in ("QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
                                             "QLinearAveragePool", "QGemm")} <= ops["mobile_qoperator"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compile_model_matches_onnxruntime(quantized, name):
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    path, x, ref = quantized[name]
    got = compile_model(str(path)).run({"x": x})
    _assert_close(got[0], ref)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_import_to_gluon_matches_onnxruntime(quantized, name):
    mx = pytest.importorskip("mxnet")
    from nnvm_bridge import import_to_gluon

    path, x, ref = quantized[name]
    _assert_close(import_to_gluon(str(path))(mx.nd.array(x)).asnumpy(), ref)


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_export_keeps_quantize_dequantize(quantized, name, opset, tmp_path):
    from frontend_ext.onnx.exporter import to_onnx
    from nnvm_bridge.frontend.onnx.importer import from_onnx

    path, x, ref = quantized[name]
    model = to_onnx(*from_onnx(str(path)), opset=opset)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    out = tmp_path / "exported.onnx"
    onnx.save(model, str(out))
    if name == "mobile_qoperator" and not qf.int8_kernels_are_exact():  # u8 x s8 QLinearConv vs QDQ convs
        pytest.skip(qf.SATURATING_INT8)
    _assert_close(qf.run_onnxruntime(out, x), ref)


# ---- QuantizeLinear / DequantizeLinear alone --------------------------------------------------------
# x / scale lands on every kind of tie (+-0.5, +-1.5, +-2.5) and past both ends of the integer range
TIES = np.array([[-1000.0, -5.0, -3.0, -1.0, 1.0, 3.0, 5.0, 1000.0],
                 [0.0, 0.2, -0.2, 7.0, -7.0, 250.0, -250.0, 0.6]], np.float32)


def _qdq_model(dtype, per_axis):
    """y = QuantizeLinear(x) and z = DequantizeLinear(y), per tensor or per row (axis 0)."""
    np_dtype = np.dtype(dtype)
    onnx_dtype = helper.np_dtype_to_tensor_dtype(np_dtype)
    scale = np.array([2.0, 0.4], np.float32) if per_axis else np.array(2.0, np.float32)
    zp = np.array([3, -2] if dtype == "int8" else [3, 128], np_dtype) if per_axis else np.array(1, np_dtype)
    inits = [helper.make_tensor("s", TensorProto.FLOAT, scale.shape, scale.reshape(-1).tolist()),
             helper.make_tensor("zp", onnx_dtype, zp.shape, zp.reshape(-1).tolist())]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"], axis=0),
             helper.make_node("DequantizeLinear", ["y", "s", "zp"], ["z"], axis=0)]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, TIES.shape)],
                              [helper.make_tensor_value_info("y", onnx_dtype, TIES.shape),
                               helper.make_tensor_value_info("z", TensorProto.FLOAT, TIES.shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _ort(model):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": TIES})


QDQ_CASES = [(d, a) for d in ("uint8", "int8") for a in (False, True)]


@pytest.mark.parametrize("dtype,per_axis", QDQ_CASES)
def test_quantize_rounds_half_to_even_and_saturates_in_the_ir(dtype, per_axis):
    from nnvm_bridge.ops import get_op

    model = _qdq_model(dtype, per_axis)
    scale = np.array([2.0, 0.4], np.float32) if per_axis else np.array([2.0], np.float32)
    zp = onnx.numpy_helper.to_array(model.graph.initializer[1]).reshape(-1)
    op = get_op("quantize_linear")
    y = op.compute(op.parse_attrs({"axis": "0", "out_dtype": dtype}), [TIES, scale, zp])[0]
    np.testing.assert_array_equal(y, _ort(model)[0])


@pytest.mark.parametrize("dtype,per_axis", QDQ_CASES)
def test_quantize_dequantize_in_tvm(dtype, per_axis):
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    model = _qdq_model(dtype, per_axis)
    y, z = compile_model(model, offload=False).run({"x": TIES})
    want_y, want_z = _ort(model)
    assert y.dtype == want_y.dtype
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_allclose(z, want_z, rtol=1e-6)


@pytest.mark.parametrize("dtype,per_axis", QDQ_CASES)
def test_quantize_dequantize_in_mxnet(dtype, per_axis):
    mx = pytest.importorskip("mxnet")
    from nnvm_bridge import import_to_gluon

    model = _qdq_model(dtype, per_axis)
    y, z = import_to_gluon(model)(mx.nd.array(TIES))
    want_y, want_z = _ort(model)
    np.testing.assert_array_equal(y.asnumpy(), want_y)
    np.testing.assert_allclose(z.asnumpy(), want_z, rtol=1e-6)


@pytest.mark.parametrize("opset", [11, 13, 21])
@pytest.mark.parametrize("dtype,per_axis", QDQ_CASES)
def test_quantize_dequantize_onnx_export(dtype, per_axis, opset):
    from frontend_ext.onnx.exporter import to_onnx
    from nnvm_bridge.frontend.onnx.importer import from_onnx

    model = _qdq_model(dtype, per_axis)
    exported = to_onnx(*from_onnx(model), opset=opset)
    native = opset >= 13 or not per_axis  # per-axis Q/DQ needs opset 13; earlier it is float arithmetic
    assert ("QuantizeLinear" in {n.op_type for n in exported.graph.node}) == native
    for got, want in zip(_ort(exported), _ort(model)):
        np.testing.assert_array_equal(got, want)


# ---- the domain-aware lookup -------------------------------------------------------------------------
def _one_node_model(op_type, domain):
    node = helper.make_node(op_type, ["x"], ["y"], domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)


def test_an_unknown_com_microsoft_op_is_reported_with_its_domain():
    from nnvm_bridge.frontend.onnx.importer import from_onnx

    with pytest.raises(UnsupportedOperatorError, match="com.microsoft:FusedGemmFoo"):
        from_onnx(_one_node_model("FusedGemmFoo", "com.microsoft"))


def test_a_com_microsoft_op_name_is_not_a_default_domain_op():
    from nnvm_bridge.frontend.onnx.importer import from_onnx

    with pytest.raises(UnsupportedOperatorError, match="QLinearSigmoid") as info:
        from_onnx(_one_node_model("QLinearSigmoid", ""))
    assert "com.microsoft" not in str(info.value)
