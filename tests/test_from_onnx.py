"""from_onnx behaviour: initializers, ordering, cycles, opsets, folding, symbolic dims, external data,
error reporting; and to_mxnet's aux split.  Numbers are checked against onnxruntime through MXNet."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nnvm_bridge.errors import (InvalidModelError, ParamsError, ShapeError, UnsupportedOperatorError,
                                UnsupportedOpsetError)
from nnvm_bridge.frontend import from_onnx, to_mxnet
from nnvm_bridge.ir.passes import infer_shape
from nnvm_bridge.ir.symbolic import sym
from onnx_mx_helpers import assert_close, module_run, ort_run

RNG = np.random.default_rng(0)


def _model(nodes, inputs, outputs, inits=(), opset=13, extra_opsets=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid(d, v) for d, v in extra_opsets] + [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _conv_model(weights_as_inputs=False, reverse=False):
    w = numpy_helper.from_array(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(RNG.standard_normal(4).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    if reverse:
        nodes = nodes[::-1]
    inputs = [_vi("x", [1, 3, 8, 8])]
    if weights_as_inputs:
        inputs += [_vi("w", [4, 3, 3, 3]), _vi("b", [4])]
    return _model(nodes, inputs, [_vi("y", None)], [w, b])


def _check_mxnet(model, feeds, rtol=1e-4):
    pytest.importorskip("mxnet")
    from nnvm_bridge import import_model

    ref = ort_run(model, feeds)
    sym, params = import_model(model)
    outs = module_run(sym, params, feeds)
    for got, want in zip(outs, ref):
        assert_close(got, want, rtol)


@pytest.mark.parametrize("weights_as_inputs", [False, True])
def test_initializers_with_or_without_graph_inputs(weights_as_inputs):
    model = _conv_model(weights_as_inputs)
    graph, params = from_onnx(model)
    assert sorted(params) == ["b", "w"]
    assert graph.input_names(params) == ["x"]
    _check_mxnet(model, {"x": RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)})


def test_unsorted_graph_is_sorted():
    graph, _ = from_onnx(_conv_model(reverse=True))
    assert [n.op for n in graph.op_nodes()] == ["conv2d", "relu"]


def test_cycle_is_rejected_naming_a_node():
    nodes = [helper.make_node("Relu", ["x", ], ["a"], name="r0"),
             helper.make_node("Add", ["a", "c"], ["b"], name="add"),
             helper.make_node("Relu", ["b"], ["c"], name="r1")]
    model = _model(nodes, [_vi("x", [2])], [_vi("c", [2])])
    with pytest.raises(InvalidModelError) as err:
        from_onnx(model)
    assert "cycle" in str(err.value) and err.value.node in ("add", "r1")


def test_all_unsupported_ops_reported_at_once():
    nodes = [helper.make_node("FooOp", ["x"], ["a"], name="foo1"),
             helper.make_node("FooOp", ["a"], ["b"], name="foo2"),
             helper.make_node("BarOp", ["b"], ["y"], name="bar", domain="com.example")]
    model = _model(nodes, [_vi("x", [2])], [_vi("y", [2])], extra_opsets=[("com.example", 1)])
    with pytest.raises(UnsupportedOperatorError) as err:
        from_onnx(model)
    assert set(err.value.ops) == {"FooOp", "com.example:BarOp"}
    assert err.value.ops["FooOp"] == ["foo1", "foo2"]
    assert "foo1" in str(err.value) and "bar" in str(err.value)


def test_converter_newer_than_opset_is_an_error_not_a_silent_pick():
    model = _model([helper.make_node("Gelu", ["x"], ["y"], name="gelu")], [_vi("x", [2])], [_vi("y", [2])],
                   opset=13)
    with pytest.raises(UnsupportedOpsetError) as err:
        from_onnx(model)
    assert err.value.node == "gelu" and "20" in str(err.value)


def test_opset_read_from_default_domain_only():
    from nnvm_bridge.frontend.onnx.importer import model_opset

    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])], opset=11,
                   extra_opsets=[("ai.onnx.ml", 3)])
    assert model_opset(model) == 11
    del model.opset_import[:]
    assert model_opset(model) == 1


@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_axis_semantics_per_opset(opset):
    model = _model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [_vi("x", [2, 3, 4])], [_vi("y", None)],
                   opset=opset)
    _check_mxnet(model, {"x": RNG.standard_normal((2, 3, 4)).astype(np.float32)})


def _shape_chain_model(batch="N"):
    # y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) followed by a ConstantOfShape-made bias
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("ConstantOfShape", ["bias_shape"], ["bias"],
                              value=numpy_helper.from_array(np.array([0.5], np.float32))),
             helper.make_node("Add", ["flat", "bias"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
             numpy_helper.from_array(np.array([12], np.int64), "bias_shape")]
    return _model(nodes, [_vi("x", [batch, 3, 4])], [_vi("y", None)], inits)


def test_shape_arithmetic_and_constant_of_shape_fold():
    model = _shape_chain_model()
    graph, params = from_onnx(model, shape={"x": (2, 3, 4)})
    ops = graph.op_counts()
    assert "shape_of" not in ops and "take" not in ops and "full" not in ops
    assert ops == {"broadcast_add": 1, "reshape": 1}
    fixed = _shape_chain_model(batch=2)
    _check_mxnet(fixed, {"x": RNG.standard_normal((2, 3, 4)).astype(np.float32)})


def test_symbolic_dims_kept_or_bound():
    model = _conv_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    graph, _ = from_onnx(model)
    x = [n for n in graph.variables if n.name == "x"][0]
    assert x.attrs["__shape__"] == "(N, 3, 8, 8)"  # kept symbolic, under the file's name
    graph, _ = from_onnx(model, shape={"x": (5, 3, 8, 8)})
    x = [n for n in graph.variables if n.name == "x"][0]
    assert x.attrs["__shape__"] == "(5, 3, 8, 8)"
    # shape arithmetic over a symbolic dim stays symbolic: Reshape(x, [Shape(x)[0], -1]) is reshape (0, 12)
    graph, params = from_onnx(_shape_chain_model())
    assert graph.op_counts() == {"broadcast_add": 1, "reshape": 1}
    reshape = [n for n in graph.op_nodes() if n.op == "reshape"][0]
    assert reshape.attrs["shape"] == "(0, 12)"
    g = infer_shape(graph, params=params)
    assert g.attrs["shape"][g.entry_id(g.outputs[0])] == (sym("N"), 12)
    graph, _ = from_onnx(_shape_chain_model(), shape={"x": (7, 3, 4)})
    assert [n for n in graph.op_nodes() if n.op == "reshape"][0].attrs["shape"] == "(7, 12)"


def test_symbolic_batch_runs_at_two_batch_sizes():
    pytest.importorskip("mxnet")
    from nnvm_bridge import import_model

    model = _conv_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    sym, params = import_model(model)
    for n in (1, 3):
        x = RNG.standard_normal((n, 3, 8, 8)).astype(np.float32)
        assert_close(module_run(sym, params, {"x": x})[0], ort_run(model, {"x": x})[0])


def test_shape_error_names_node_when_shape_input_is_dynamic():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="dyn_reshape")]
    model = _model(nodes, [_vi("x", [2, 3]), _vi("s", [2], TensorProto.INT64)], [_vi("y", None)])
    with pytest.raises(ShapeError) as err:
        from_onnx(model)
    assert err.value.node == "dyn_reshape" and err.value.op == "Reshape"


def test_external_data_inside_folder_only(tmp_path):
    model = _conv_model()
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    graph, params = from_onnx(str(path))
    assert params["w"].shape == (4, 3, 3, 3)
    # point the tensor outside the model's folder: refused
    m = onnx.load(str(path), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../weights.bin"
    os.makedirs(tmp_path / "sub")
    onnx.save_model(m, str(tmp_path / "sub" / "evil.onnx"))
    with pytest.raises(ParamsError) as err:
        from_onnx(str(tmp_path / "sub" / "evil.onnx"))
    assert "outside" in str(err.value)


def test_bad_inputs_raise_bridge_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a model")
    with pytest.raises(InvalidModelError):
        from_onnx(str(bad))
    with pytest.raises(InvalidModelError):
        from_onnx(str(tmp_path / "missing.onnx"))
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")]
    with pytest.raises(InvalidModelError) as err:
        from_onnx(_model(nodes, [_vi("x", [2])], [_vi("y", [2])]))
    assert err.value.node == "adder" and "ghost" in str(err.value)


def test_to_mxnet_splits_batchnorm_aux_states():
    c = 3
    inits = [numpy_helper.from_array(v.astype(np.float32), n) for n, v in
             (("g", RNG.uniform(0.5, 1.5, c)), ("be", RNG.standard_normal(c)), ("mu", RNG.standard_normal(c)),
              ("var", RNG.uniform(0.5, 1.5, c)))]
    model = _model([helper.make_node("BatchNormalization", ["x", "g", "be", "mu", "var"], ["y"], epsilon=1e-3)],
                   [_vi("x", [2, c, 4, 4])], [_vi("y", None)], inits)
    text, args, aux = to_mxnet(*from_onnx(model))
    assert sorted(aux) == ["mu", "var"] and sorted(args) == ["be", "g"]
    assert '"fix_gamma": "False"' in text
    _check_mxnet(model, {"x": RNG.standard_normal((2, c, 4, 4)).astype(np.float32)})


def test_to_mxnet_reports_ops_it_cannot_emit():
    from nnvm_bridge.ir import Graph, Node, variable

    x = variable("x")
    g = Graph([Node("yolo_reorg", "reorg", [x[0]], {}).__getitem__(0)])
    with pytest.raises(UnsupportedOperatorError) as err:
        to_mxnet(g, {})
    assert "yolo_reorg" in err.value.ops and err.value.ops["yolo_reorg"] == ["reorg"]


@pytest.mark.parametrize("mode,coord", [("nearest", "asymmetric"), ("linear", "half_pixel"),
                                        ("linear", "align_corners"), ("nearest", "half_pixel"),
                                        ("cubic", "pytorch_half_pixel")])
def test_resize_modes_match_onnxruntime(mode, coord):
    scales = numpy_helper.from_array(np.array([1, 1, 1.5, 2.0], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, coordinate_transformation_mode=coord)
    model = _model([node], [_vi("x", [1, 2, 4, 5])], [_vi("y", None)], [scales], opset=13)
    _check_mxnet(model, {"x": RNG.standard_normal((1, 2, 4, 5)).astype(np.float32)})


def test_asymmetric_pads_conv_and_pools():
    w = numpy_helper.from_array(RNG.standard_normal((2, 2, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[0, 1, 2, 1], strides=[2, 1]),
             helper.make_node("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], pads=[1, 0, 0, 1]),
             helper.make_node("AveragePool", ["m"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 0, 0],
                              auto_pad="NOTSET", count_include_pad=0)]
    model = _model(nodes, [_vi("x", [1, 2, 9, 7])], [_vi("y", None)], [w], opset=11)
    _check_mxnet(model, {"x": RNG.standard_normal((1, 2, 9, 7)).astype(np.float32)})


def test_gluon_block_takes_inputs_in_the_models_declared_order():
    pytest.importorskip("mxnet")
    import mxnet as mx

    from nnvm_bridge import import_to_gluon

    # the graph reaches b before a, but the model declares (a, b)
    model = _model([helper.make_node("Sub", ["b", "a"], ["y"])], [_vi("a", [3]), _vi("b", [3])], [_vi("y", [3])])
    a, b = np.array([1, 2, 3], np.float32), np.array([10, 20, 30], np.float32)
    out = import_to_gluon(model)(mx.nd.array(a), mx.nd.array(b)).asnumpy()
    np.testing.assert_array_equal(out, b - a)
