"""A Gather of one element of a 1-D tensor is an ONNX 0-d value, held as (1,) in the IR (MXNet has no 0-d
arrays); the importer remembers its ONNX rank, so Unsqueeze makes it (1,) again and not (1, 1) (issue 10).

The file: Shape -> Gather(scalar index) -> Unsqueeze -> Concat -> Reshape on an input with symbolic dims, once
where the shape-value rules compute the chain (the Reshape target is [-1, S]) and once through an op they have
no rule for (Abs: the chain, with a Mul by 2 of the 0-d value, is computed at run time and is an output).
Compiled once / made one Gluon block, run at two sizes, compared with onnxruntime:
max|got - ref| <= 1e-4 * max(1, max|ref|) (tests/tolerance.py).
"""
from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402


def _const(name, value):
    dims = [len(value)] if isinstance(value, list) else []
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name, TensorProto.INT64, dims, value if isinstance(value, list) else [value]))


def _model(tmp_path):
    nodes = [helper.make_node("Shape", ["x"], ["shape"]), _const("one", 1), _const("axes", [0]),
             _const("minus_one", [-1]),
             # the chain the shape-value rules compute: a Reshape to [-1, S]
             helper.make_node("Gather", ["shape", "one"], ["seq"], axis=0),
             helper.make_node("Unsqueeze", ["seq", "axes"], ["seq_1d"]),
             helper.make_node("Concat", ["minus_one", "seq_1d"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"]),
             # the same chain through Abs, which has no shape-value rule: computed at run time
             helper.make_node("Abs", ["shape"], ["shape_abs"]),
             helper.make_node("Gather", ["shape_abs", "one"], ["seq_rt"], axis=0),
             _const("two", 2), helper.make_node("Mul", ["seq_rt", "two"], ["seq_rt_2"]),  # stays 0-d
             helper.make_node("Unsqueeze", ["seq_rt_2", "axes"], ["seq_rt_1d"]),
             helper.make_node("Concat", ["minus_one", "seq_rt_1d"], ["target_rt"], axis=0)]
    graph = helper.make_graph(nodes, "scalar_gather",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "S", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("target_rt", TensorProto.INT64, None)])
    path = tmp_path / "scalar_gather.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _feeds():
    return [{"x": np.random.RandomState(s).randn(b, s, 4).astype(np.float32)} for b, s in ((2, 3), (3, 5))]


def test_scalar_gather_unsqueeze_through_tvm(tmp_path):
    path = _model(tmp_path)
    sess, cm = ort.InferenceSession(str(path)), nb.compile_model(str(path))
    for feeds in _feeds():
        for got, want in zip(cm.run(feeds), sess.run(None, feeds), strict=True):
            assert_close(got, want)


def test_scalar_gather_unsqueeze_through_mxnet(tmp_path):
    mx = pytest.importorskip("mxnet")
    path = _model(tmp_path)
    sess, block = ort.InferenceSession(str(path)), nb.import_to_gluon(str(path))
    for feeds in _feeds():
        for got, want in zip(block(mx.nd.array(feeds["x"])), sess.run(None, feeds), strict=True):
            assert_close(got.asnumpy(), want)
