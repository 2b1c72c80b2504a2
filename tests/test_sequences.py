"""ONNX Sequence and Optional values: resolved at import into flat tensors (frontend/onnx/convert_sequence.py),
with the model's layout in graph.attrs["structure"] (ir/structure.py); every model checked against onnxruntime,
through TVM (compile_model, which runs on lists) and MXNet (import_to_gluon, which takes the flat tensors)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import ShapeError, UnsupportedOperatorError  # noqa: E402
from nnvm_bridge.ir import structure  # noqa: E402
from tolerance import assert_close  # noqa: E402

F = TensorProto.FLOAT
SEQ_F = helper.make_sequence_type_proto(helper.make_tensor_type_proto(F, None))


def _model(nodes, inputs, outputs, inits=(), opset=18):
    g = helper.make_graph(nodes, "seq", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _tensor(name, shape=None, et=F):
    return helper.make_tensor_value_info(name, et, shape)


def _seq(name):
    return helper.make_value_info(name, SEQ_F)


def _ints(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)] if isinstance(values, list) else [],
                              values if isinstance(values, list) else [values])


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _assert_same(got, want):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{got!r} is not a sequence of {len(want)}"
        for g, w in zip(got, want):
            _assert_same(g, w)
    else:
        assert_close(np.asarray(got), np.asarray(want))


def _rand(*shape):
    return np.random.standard_normal(shape).astype(np.float32)


# ---- tensors in, tensors out: the sequence lives only inside the model ----------------------------
def _split_concat_model():
    """x (4, 6) -> SplitToSequence([2, 4], axis 1) -> insert x[:, :1] at 0, erase the last -> stacked on a new
    axis 0 after a Sequence round trip through ConcatFromSequence (axis 1) and SequenceAt(-1)."""
    nodes = [
        helper.make_node("SplitToSequence", ["x", "split"], ["parts"], axis=1),
        helper.make_node("Slice", ["x", "zero", "one", "one"], ["first"]),
        helper.make_node("SequenceInsert", ["parts", "first", "zero0"], ["more"]),
        helper.make_node("SequenceErase", ["more"], ["kept"]),
        helper.make_node("SequenceLength", ["kept"], ["n"]),
        helper.make_node("ConcatFromSequence", ["kept"], ["joined"], axis=1),
        helper.make_node("SequenceAt", ["kept", "minus1"], ["last"]),
        helper.make_node("Mul", ["last", "two"], ["y_last"]),
    ]
    inits = [_ints("split", [2, 4]), _ints("zero", [0]), _ints("one", [1]), _ints("zero0", 0),
             _ints("minus1", -1), helper.make_tensor("two", F, [], [2.0])]
    return _model(nodes, [_tensor("x", [4, 6])], [_tensor("joined"), _tensor("y_last"),
                                                  _tensor("n", [], TensorProto.INT64)], inits)


def test_sequence_ops_inside_a_model_fold_into_tensor_ops():
    model = _split_concat_model()
    x = _rand(4, 6)
    ref = _ort(model, {"x": x})
    graph, params = nb.frontend.from_onnx(model)
    assert structure.KEY not in graph.attrs  # tensors at the edge: nothing to rebuild
    assert graph.op_counts()["split"] == 1 and graph.op_counts()["concatenate"] == 1
    cm = nb.compile_model(model)
    for got, want in zip(cm.run({"x": x}), ref, strict=True):
        assert_close(np.asarray(got).reshape(np.shape(want)), want)


def test_sequence_ops_inside_a_model_in_mxnet():
    mx = pytest.importorskip("mxnet")
    model = _split_concat_model()
    x = _rand(4, 6)
    ref = _ort(model, {"x": x})
    outs = nb.import_to_gluon(model)(mx.nd.array(x))
    for got, want in zip(outs, ref[:2]):
        assert_close(got.asnumpy(), want)


# ---- sequences at the edge ------------------------------------------------------------------------
def _sequence_io_model():
    """seq, t -> (seq with t inserted at 1 and each tensor + 1 via SequenceMap, Identity(seq), len)."""
    body = helper.make_graph([helper.make_node("Add", ["e", "one"], ["e1"])], "body", [_tensor("e")],
                             [_tensor("e1")], [helper.make_tensor("one", F, [], [1.0])])
    nodes = [helper.make_node("SequenceInsert", ["seq", "t", "at"], ["ins"]),
             helper.make_node("SequenceMap", ["ins"], ["mapped"], body=body),
             helper.make_node("Identity", ["seq"], ["same"]),
             helper.make_node("SequenceLength", ["ins"], ["n"])]
    return _model(nodes, [_seq("seq"), _tensor("t", [2, 3])],
                  [_seq("mapped"), _seq("same"), _tensor("n", [], TensorProto.INT64)], [_ints("at", 1)])


def test_sequence_inputs_and_outputs_through_tvm():
    model = _sequence_io_model()
    seq, t = [_rand(2, 3), _rand(4, 3)], _rand(2, 3)
    ref = _ort(model, {"seq": seq, "t": t})
    cm = nb.compile_model(model, shape={"seq": [(2, 3), (4, 3)], "t": (2, 3)})
    assert cm.input_names == ["seq", "t"]
    assert cm.output_names[:3] == ["mapped_0", "mapped_1", "mapped_2"]  # the flat tensors' signature
    got = cm.run({"seq": seq, "t": t})
    assert isinstance(got[0], list) and isinstance(got[1], list)
    _assert_same(got[:2], ref[:2])
    assert int(np.asarray(got[2]).reshape(())) == ref[2] == 3


def test_sequence_inputs_and_outputs_in_mxnet_take_the_flat_tensors():
    mx = pytest.importorskip("mxnet")
    model = _sequence_io_model()
    seq, t = [_rand(1, 3), _rand(5, 3)], _rand(2, 3)
    ref = _ort(model, {"seq": seq, "t": t})
    graph, _ = nb.frontend.from_onnx(model, shape={"seq": [(1, 3), (5, 3)]})
    layout = structure.of(graph)
    flat = structure.flat_inputs(layout, {"seq": seq, "t": t})
    block = nb.import_to_gluon(model, shape={"seq": [(1, 3), (5, 3)]})
    outs = block(*[mx.nd.array(flat[name]) for name in graph.attrs["input_order"]])
    got = structure.model_outputs(layout, [o.asnumpy() for o in outs])
    _assert_same(got[:2], ref[:2])


def test_sequence_layout_survives_graph_json_and_a_saved_library(tmp_path):
    model = _sequence_io_model()
    graph, params = nb.frontend.from_onnx(model, shape={"seq": [(2, 3)]})
    from nnvm_bridge.ir import json_io

    again = json_io.load_json(json_io.save_json(graph))
    assert structure.of(again) == structure.of(graph)
    cm = nb.compile_model((graph, params))
    lib = nb.load_compiled(cm.export_library(str(tmp_path / "seq.so")))
    seq, t = [_rand(2, 3)], _rand(2, 3)
    _assert_same(lib.run({"seq": seq, "t": t})[:2], _ort(model, {"seq": seq, "t": t})[:2])


def test_a_sequence_of_another_length_than_imported_is_refused():
    cm = nb.compile_model(_sequence_io_model(), shape={"seq": [(2, 3), (4, 3)]})
    with pytest.raises(ShapeError, match="sequence of 2 tensors"):
        cm.run({"seq": [_rand(2, 3)], "t": _rand(2, 3)})


def test_a_sequence_input_needs_its_length_at_import():
    with pytest.raises(ShapeError, match=r"shape=\{'seq': \[shape, \.\.\.\]\}"):
        nb.frontend.from_onnx(_sequence_io_model())


# ---- Loop and If carrying sequences ---------------------------------------------------------------
def _loop_model(trips_input=False):
    """A Loop (3 trips) that appends x[:i + 1] * i to a sequence each iteration, then concatenates them."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]),
         helper.make_node("Add", ["i", "one"], ["end"]),
         helper.make_node("Unsqueeze", ["end", "axes"], ["ends"]),
         helper.make_node("Slice", ["x", "starts", "ends"], ["part"]),
         helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mul", ["part", "fi"], ["scaled"]),
         helper.make_node("SequenceInsert", ["s", "scaled"], ["s_out"])],
        "body", [_tensor("i", [], TensorProto.INT64), _tensor("c", [], TensorProto.BOOL), _seq("s")],
        [_tensor("c_out", [], TensorProto.BOOL), _seq("s_out")],
        [_ints("one", 1), _ints("axes", [0]), _ints("starts", [0])])
    nodes = [helper.make_node("SequenceEmpty", [], ["empty"], dtype=F),
             helper.make_node("Loop", ["trips", "", "empty"], ["built"], body=body),
             helper.make_node("ConcatFromSequence", ["built"], ["y"], axis=0)]
    inputs = [_tensor("x", [5])] + ([_tensor("trips", [], TensorProto.INT64)] if trips_input else [])
    inits = [] if trips_input else [_ints("trips", 3)]
    return _model(nodes, inputs, [_tensor("y"), _seq("built")], inits)


def test_a_loop_building_a_sequence_is_unrolled():
    model = _loop_model()
    x = _rand(5)
    ref = _ort(model, {"x": x})
    graph, _ = nb.frontend.from_onnx(model)
    assert "loop" not in graph.op_counts()
    got = nb.compile_model(model).run({"x": x})
    _assert_same(got, ref)


def test_a_loop_building_a_sequence_in_mxnet():
    mx = pytest.importorskip("mxnet")
    model = _loop_model()
    x = _rand(5)
    ref = _ort(model, {"x": x})
    outs = nb.import_to_gluon(model)(mx.nd.array(x))
    assert_close(outs[0].asnumpy(), ref[0])


def test_a_loop_building_a_sequence_over_a_run_time_trip_count_is_refused():
    with pytest.raises(UnsupportedOperatorError, match="trip count known only at run time"):
        nb.frontend.from_onnx(_loop_model(trips_input=True))


def _if_model():
    """A run-time If whose branches give sequences of one length: one ``if`` with a flat output per tensor."""
    then = helper.make_graph([helper.make_node("SequenceConstruct", ["x", "x"], ["a"])], "then", [], [_seq("a")])
    neg = helper.make_graph([helper.make_node("Neg", ["x"], ["nx"]),
                             helper.make_node("SequenceConstruct", ["nx", "x"], ["b"])], "else", [], [_seq("b")])
    nodes = [helper.make_node("If", ["cond"], ["s"], then_branch=then, else_branch=neg)]
    return _model(nodes, [_tensor("cond", [], TensorProto.BOOL), _tensor("x", [3])], [_seq("s")])


@pytest.mark.parametrize("cond", [True, False])
def test_a_run_time_if_giving_sequences_of_one_length(cond):
    model = _if_model()
    feeds = {"cond": np.array(cond), "x": _rand(3)}
    graph, _ = nb.frontend.from_onnx(model)
    assert graph.op_counts().get("if") == 1
    _assert_same(nb.compile_model(model).run(feeds), _ort(model, feeds))


def test_a_run_time_if_giving_sequences_of_other_lengths_is_refused():
    then = helper.make_graph([helper.make_node("SequenceConstruct", ["x"], ["a"])], "then", [], [_seq("a")])
    other = helper.make_graph([helper.make_node("SequenceConstruct", ["x", "x"], ["b"])], "else", [], [_seq("b")])
    model = _model([helper.make_node("If", ["cond"], ["s"], then_branch=then, else_branch=other)],
                   [_tensor("cond", [], TensorProto.BOOL), _tensor("x", [3])], [_seq("s")])
    with pytest.raises(UnsupportedOperatorError, match="layout would depend on data"):
        nb.frontend.from_onnx(model)


def test_a_run_time_split_is_refused():
    model = _model([helper.make_node("SplitToSequence", ["x", "split"], ["s"]),
                    helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0)],
                   [_tensor("x", [6]), _tensor("split", [], TensorProto.INT64)], [_tensor("y")])
    with pytest.raises(UnsupportedOperatorError, match="split known only at run time"):
        nb.frontend.from_onnx(model)


# ---- optionals ------------------------------------------------------------------------------------
def _optional_model():
    """opt (an optional tensor) -> has_element, and the element + 1 when it is there (an If on has_element)."""
    opt_t = helper.make_optional_type_proto(helper.make_tensor_type_proto(F, [2]))
    then = helper.make_graph([helper.make_node("OptionalGetElement", ["opt"], ["v"]),
                              helper.make_node("Add", ["v", "one"], ["r"])], "then", [], [_tensor("r")])
    other = helper.make_graph([helper.make_node("Identity", ["zero"], ["r0"])], "else", [], [_tensor("r0")])
    nodes = [helper.make_node("OptionalHasElement", ["opt"], ["has"]),
             helper.make_node("If", ["has"], ["y"], then_branch=then, else_branch=other),
             helper.make_node("Optional", ["y"], ["wrapped"])]
    wrapped_t = helper.make_optional_type_proto(helper.make_tensor_type_proto(F, [2]))
    return _model(nodes, [helper.make_value_info("opt", opt_t)],
                  [_tensor("has", [], TensorProto.BOOL), _tensor("y", [2]), helper.make_value_info("wrapped", wrapped_t)],
                  [helper.make_tensor("one", F, [], [1.0]), helper.make_tensor("zero", F, [2], [0.0, 0.0])])


def test_a_present_optional_input():
    model = _optional_model()
    v = _rand(2)
    ref = _ort(model, {"opt": v})
    cm = nb.compile_model(model)  # present by default, with its declared shape
    got = cm.run({"opt": v})
    assert bool(np.asarray(got[0]).reshape(())) and bool(ref[0])
    _assert_same(got[1:], ref[1:])


def test_an_empty_optional_input():
    model = _optional_model()
    ref = _ort(model, {"opt": None})
    graph, params = nb.frontend.from_onnx(model, shape={"opt": None})
    assert structure.of(graph)["inputs"] == [("opt", None)]
    got = nb.compile_model((graph, params)).run({"opt": None})
    assert not bool(np.asarray(got[0]).reshape(())) and not bool(ref[0])
    _assert_same(got[1:], ref[1:])


def test_to_onnx_exports_the_flat_tensors():
    model = _sequence_io_model()
    graph, params = nb.frontend.from_onnx(model, shape={"seq": [(2, 3), (4, 3)], "t": (2, 3)})
    seq, t = [_rand(2, 3), _rand(4, 3)], _rand(2, 3)
    layout = structure.of(graph)
    flat = structure.flat_inputs(layout, {"seq": seq, "t": t})
    exported = nb.frontend.to_onnx(graph, params)
    got = structure.model_outputs(layout, _ort(exported, {i.name: flat[i.name] for i in exported.graph.input}))
    _assert_same(got[:2], _ort(model, {"seq": seq, "t": t})[:2])
