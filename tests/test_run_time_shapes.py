"""Shapes that only run time tells, as torchvision's detectors write them (issue 10; tools/real_model_sweep.py's
tv_ssdlite320 and tv_fasterrcnn_mobilenet_320).

- SSDlite (dynamo exporter): the top min(300, n) scores of the n candidates above a threshold, a TopK whose k is
  Min over a data-dependent length. The importer keeps k as the symbol min(300, n); TVM takes that length
  instead of reading k from its tensor (in the whole SSDlite file TVM 0.27's CPU build then failed: "Var ... is
  not defined"; this small graph builds either way).
- Faster R-CNN (dynamo exporter): the padded image size ceil(floor(H * min(320 / min(H, W), ...)) / 32) * 32 in
  float arithmetic feeds Expand and ConstantOfShape. No symbol expresses it: ONNX's shape inference gives the dims
  it knows, each other one is a new symbol that TVM binds from the computed shape tensor.

Each file is imported once (no shape=), compiled once, run at two sizes and compared with onnxruntime
(tests/tolerance.py).
"""
from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tvm")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.ir.passes import infer_shape  # noqa: E402


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, t, None) for o, t in outputs],
                              list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _const(name, values, dtype=TensorProto.INT64):
    arr = np.asarray(values, dtype=np.float32 if dtype == TensorProto.FLOAT else np.int64)
    return helper.make_tensor(name, dtype, arr.shape, arr.reshape(-1).tolist())


def _check_tvm(model, feeds_list):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm = nb.compile_model(model, offload=False)
    for feeds in feeds_list:
        for got, want in zip(cm.run(feeds), sess.run(None, feeds), strict=True):
            assert_close(got, want)


def test_top_min_k_of_a_data_dependent_count():
    """scores above 0 -> NonZero -> their values -> TopK(k = min(3, n)): SSDlite's per-class candidates."""
    nodes = [helper.make_node("Greater", ["x", "zero_f"], ["keep"]),
             helper.make_node("NonZero", ["keep"], ["nz"]),
             helper.make_node("Squeeze", ["nz", "axis0"], ["idx"]),
             helper.make_node("Gather", ["x", "idx"], ["picked"]),
             helper.make_node("Shape", ["picked"], ["n1"], start=0, end=1),
             helper.make_node("Squeeze", ["n1"], ["n"]),
             helper.make_node("Min", ["three", "n"], ["k0"]),
             helper.make_node("Reshape", ["k0", "one"], ["k"]),
             helper.make_node("TopK", ["picked", "k"], ["values", "indices"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                   [("values", TensorProto.FLOAT), ("indices", TensorProto.INT64)],
                   [_const("zero_f", 0.0, TensorProto.FLOAT), _const("axis0", [0]), _const("three", 3),
                    _const("one", [1])])
    graph, params = nb.frontend.from_onnx(model)
    g = infer_shape(graph, params=params)
    assert str(g.attrs["shape"][g.entry_id(g.outputs[0])][0]).startswith("min(3, ")  # k stays a symbol
    rng = np.random.RandomState(0)
    # 5 candidates (k = 3) and 2 candidates (k = 2), distinct scores
    x1 = np.array([0.5, -1, 0.9, 0.1, -0.2, 0.7, 0.3], np.float32)
    x2 = np.concatenate([rng.uniform(-1, -0.1, 9), [0.4, 0.8]]).astype(np.float32)
    _check_tvm(model, [{"x": x1}, {"x": x2}])


def _padded_size_nodes():
    """size = ceil(float(N) * 0.7 / 4) * 4, computed in floats as torchvision's transform does (no shape-value
    rule keeps a float division symbolic): a shape tensor known only at run time."""
    return [helper.make_node("Shape", ["x"], ["n"]),
            helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["nf", "scale"], ["scaled"]),
            helper.make_node("Div", ["scaled", "four_f"], ["quarter"]),
            helper.make_node("Ceil", ["quarter"], ["up"]),
            helper.make_node("Mul", ["up", "four_f"], ["padded"]),
            helper.make_node("Cast", ["padded"], ["size"], to=TensorProto.INT64),
            helper.make_node("Concat", ["two", "size"], ["shape"], axis=0)]


def test_expand_and_constant_of_shape_to_a_shape_computed_at_run_time():
    """Each node gets symbols of its own (the two outputs cannot be added together in TVM: two different
    symbols on one axis), bound from the shape it computes."""
    nodes = _padded_size_nodes() + [
        helper.make_node("Expand", ["row", "shape"], ["expanded"]),
        helper.make_node("ConstantOfShape", ["shape"], ["canvas"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5]))]
    inits = [_const("scale", [0.7], TensorProto.FLOAT), _const("four_f", 4.0, TensorProto.FLOAT),
             _const("two", [2]), _const("row", [[1.0], [2.0]], TensorProto.FLOAT)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                   [("expanded", TensorProto.FLOAT), ("canvas", TensorProto.FLOAT)], inits)
    feeds = [{"x": np.zeros(n, np.float32)} for n in (10, 23)]  # sizes 8 and 20
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [sess.run(None, f)[0].shape for f in feeds] == [(2, 8), (2, 20)]
    graph, _ = nb.frontend.from_onnx(model)
    assert {"dyn_broadcast_to", "dyn_full"} <= set(graph.op_counts())
    _check_tvm(model, feeds)


def test_mxnet_takes_a_length_only_run_time_knows_from_the_shape_tensor():
    """MXNet's shapes are attributes: the length is cut at run time from a fixed range of positions
    (frontend_ext/mxnet/handlers/dynamic.py), so one Gluon block runs both sizes."""
    mx = pytest.importorskip("mxnet")
    nodes = _padded_size_nodes() + [helper.make_node("ConstantOfShape", ["shape"], ["y"],
                                                     value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5]))]
    inits = [_const("scale", [0.7], TensorProto.FLOAT), _const("four_f", 4.0, TensorProto.FLOAT), _const("two", [2])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                   [("y", TensorProto.FLOAT)], inits)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    block = nb.import_to_gluon(model)
    for n in (10, 23):
        x = np.zeros(n, np.float32)
        assert_close(block(mx.nd.array(x)).asnumpy(), sess.run(None, {"x": x})[0])


def test_mxnet_fills_a_length_one_more_than_an_input_dim():
    """T5's decoder mask (dynamo exporter): full((S, S + 1)) with the shape computed from Shape(ids). MXNet takes
    S from the ids by broadcast_like and the one more by a repeat."""
    mx = pytest.importorskip("mxnet")
    nodes = [helper.make_node("Shape", ["ids"], ["s"], start=1, end=2),
             helper.make_node("Add", ["s", "one"], ["s1"]),
             helper.make_node("Concat", ["s", "s1"], ["shape"], axis=0),
             helper.make_node("ConstantOfShape", ["shape"], ["full"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [-2.5])),
             helper.make_node("Trilu", ["full", "one_s"], ["y"], upper=1)]
    model = _model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "S"])],
                   [("y", TensorProto.FLOAT)], [_const("one", [1]), _const("one_s", 1)])
    graph, _ = nb.frontend.from_onnx(model)
    assert "dyn_full" in graph.op_counts()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    block = nb.import_to_gluon(model)
    for n, s in ((2, 3), (3, 6)):
        ids = np.zeros((n, s), np.int64)
        ref = sess.run(None, {"ids": ids})[0]
        assert ref.shape == (s, s + 1)
        assert_close(block(mx.nd.array(ids, dtype="int64")).asnumpy(), ref)


def test_mxnet_slices_a_fixed_table_to_an_input_length():
    """GPT-Neo (dynamo exporter): its causal-mask buffer of max_positions rows cut to the sequence, bias[:S], is
    min(c, S) long; added to a tensor of length S, max(min(c, S), S) is S. MXNet takes the min(c, S) steps as the
    first c of S's (its slice clamps as min does)."""
    mx = pytest.importorskip("mxnet")
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=0, end=1),
             helper.make_node("Slice", ["table", "zero", "s", "zero"], ["cut"]),
             helper.make_node("Add", ["cut", "x"], ["y"])]
    table = helper.make_tensor("table", TensorProto.FLOAT, [8, 4], np.arange(32, dtype=np.float32).tolist())
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["S", 4])],
                   [("y", TensorProto.FLOAT)], [table, _const("zero", [0])])
    graph, params = nb.frontend.from_onnx(model)
    g = infer_shape(graph, params=params)
    assert str(g.attrs["shape"][g.entry_id(g.outputs[0])]) == "(S, 4)"
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    block = nb.import_to_gluon(model)
    for s in (3, 8):
        x = np.random.RandomState(s).rand(s, 4).astype(np.float32)
        assert_close(block(mx.nd.array(x)).asnumpy(), sess.run(None, {"x": x})[0])
