"""cumsum, the worked example of docs/architecture.md ("Adding an op"): one op through every direction,
each checked against its real executor (onnxruntime for ONNX, MXNet for MXNet, TVM for compiled code)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from tolerance import assert_close  # noqa: E402

RNG = np.random.default_rng(7)
CASES = [  # (shape, axis, exclusive, reverse, dtype)
    ((5,), 0, 0, 0, np.float32), ((3, 4), 1, 1, 0, np.float32), ((3, 4), 0, 0, 1, np.float32),
    ((2, 3, 4), -1, 1, 1, np.float32), ((4, 3), -2, 0, 0, np.int32), ((2, 5), 1, 1, 1, np.int64)]


def _onnx_cumsum(shape, axis, exclusive, reverse, dtype, opset):
    et = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    g = helper.make_graph([node], "cumsum", [helper.make_tensor_value_info("x", et, shape)],
                          [helper.make_tensor_value_info("y", et, shape)],
                          [helper.make_tensor("axis", TensorProto.INT64, [], [axis])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _input(shape, dtype):
    return (RNG.standard_normal(shape) * 3).astype(dtype)


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-axis{c[1]}-ex{c[2]}-rev{c[3]}-{np.dtype(c[4])}")
@pytest.mark.parametrize("opset", [11, 14])
def test_onnx_cumsum_through_the_ir_and_back(case, opset):
    model = _onnx_cumsum(*case, opset)
    x = _input(case[0], case[4])
    ref = _ort(model, {"x": x})[0]
    graph, params = nb.frontend.from_onnx(model)
    assert graph.op_counts() == {"cumsum": 1}
    out = _ort(nb.frontend.to_onnx(graph, params, opset=max(opset, 11)), {"x": x})[0]
    assert out.dtype == ref.dtype
    assert_close(out, ref)


@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: f"{c[0]}-axis{c[1]}-ex{c[2]}-rev{c[3]}")
def test_onnx_cumsum_in_mxnet(case):
    mx = pytest.importorskip("mxnet")
    model = _onnx_cumsum(*case, 14)
    x = _input(case[0], case[4])
    block = nb.import_to_gluon(model)
    assert_close(block(mx.nd.array(x, dtype=x.dtype)).asnumpy(), _ort(model, {"x": x})[0])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-axis{c[1]}-ex{c[2]}-rev{c[3]}-{np.dtype(c[4])}")
def test_onnx_cumsum_compiled_with_tvm(case):
    pytest.importorskip("tvm")
    model = _onnx_cumsum(*case, 14)
    x = _input(case[0], case[4])
    cm = nb.compile_model(model, offload=False)
    out = cm.run({"x": x})[0]
    assert out.dtype == x.dtype
    assert_close(out, _ort(model, {"x": x})[0])


@pytest.mark.parametrize("axis, dtype", [(1, None), (0, None), (None, None), (1, "float64")])
def test_mxnet_cumsum_to_onnx_and_tvm(axis, dtype, tmp_path):
    mx = pytest.importorskip("mxnet")
    sym = mx.sym.cumsum(mx.sym.var("data"), axis=axis, **({"dtype": dtype} if dtype else {}))
    x = _input((3, 4), np.float32)
    ref = sym.bind(mx.cpu(), {"data": mx.nd.array(x)}).forward()[0].asnumpy()
    model = nb.export_model(sym.tojson(), {}, [x.shape], onnx_file_path=str(tmp_path / "c.onnx"))
    out = _ort(model, {"data": x})[0]
    assert out.dtype == ref.dtype
    assert_close(out, ref)
    pytest.importorskip("tvm")
    graph, params = nb.frontend.from_mxnet(sym.tojson(), shape={"data": x.shape})
    assert_close(nb.compile_model((graph, params), offload=False).run({"data": x})[0], ref)
