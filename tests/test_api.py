"""The wrapper API: export_model's argument forms (as mx.onnx.export_model takes them), and the delegates.

MXNet computes every reference; onnxruntime runs what export_model wrote.
"""
import numpy as np
import pytest

import nnvm_bridge as nb
from nnvm_bridge.errors import BridgeError, ParamsError, ShapeError, UnsupportedOperatorError
from tolerance import assert_close as close  # noqa: E402

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SHAPE = (2, 3, 6, 6)


def ort_outputs(model, feeds):
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def mx_forward(sym, args, aux, feeds):
    binds = {k: mx.nd.array(v) for k, v in {**args, **feeds}.items()}
    exe = sym.bind(mx.cpu(), binds, aux_states={k: mx.nd.array(v) for k, v in aux.items()}, grad_req="null")
    return [o.asnumpy() for o in exe.forward(is_train=False)]


@pytest.fixture(scope="module")
def net():
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), name="conv")
    x = mx.sym.BatchNorm(x, name="bn")  # fix_gamma=True by default: gamma must be read as ones
    x = mx.sym.Activation(x, act_type="relu", name="act")
    x = mx.sym.FullyConnected(x, num_hidden=5, name="fc")
    sym = mx.sym.softmax(x, name="out")
    arg_shapes, _, aux_shapes = sym.infer_shape(data=SHAPE)
    rng = np.random.default_rng(1)
    args = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(sym.list_arguments(), arg_shapes)
            if n != "data"}
    aux = {n: rng.random(s).astype(np.float32) + 0.5 for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    x_in = rng.standard_normal(SHAPE).astype(np.float32)
    ref = mx_forward(sym, args, aux, {"data": x_in})[0]
    return {"sym": sym, "args": args, "aux": aux, "x": x_in, "ref": ref}


@pytest.fixture(scope="module")
def net_files(net, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    prefix = str(folder / "net")
    net["sym"].save(prefix + "-symbol.json")
    saved = {f"arg:{k}": mx.nd.array(v) for k, v in net["args"].items()}
    saved.update({f"aux:{k}": mx.nd.array(v) for k, v in net["aux"].items()})
    mx.nd.save(prefix + "-0000.params", saved)
    return prefix + "-symbol.json", prefix + "-0000.params", folder


def test_paths_and_positional_shapes_save_file(net, net_files):
    sym_path, params_path, folder = net_files
    out = folder / "paths.onnx"
    model = nb.export_model(sym_path, params_path, [SHAPE], np.float32, str(out))
    assert isinstance(model, onnx.ModelProto) and out.exists()
    onnx.checker.check_model(str(out))
    close(ort_outputs(out, {"data": net["x"]})[0], net["ref"])


def test_json_text_and_prefixed_ndarray_dict(net):
    params = {f"arg:{k}": mx.nd.array(v) for k, v in net["args"].items()}
    params.update({f"aux:{k}": mx.nd.array(v) for k, v in net["aux"].items()})
    model = nb.export_model(net["sym"].tojson(), params, SHAPE)  # one shape, not in a list
    close(ort_outputs(model, {"data": net["x"]})[0], net["ref"])


def test_symbol_numpy_dict_named_shapes_and_opset(net):
    model = nb.export_model(net["sym"], {**net["args"], **net["aux"]}, {"data": SHAPE}, "float32", opset=13)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    close(ort_outputs(model, {"data": net["x"]})[0], net["ref"])


def test_arg_aux_pair_and_type_forms(net):
    for input_type in ([np.float32], {"data": "float32"}, np.dtype("float32")):
        model = nb.export_model(net["sym"], (net["args"], net["aux"]), [SHAPE], input_type)
        assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        close(ort_outputs(model, {"data": net["x"]})[0], net["ref"])


def test_dynamic_batch_runs_two_batch_sizes(net):
    model = nb.export_model(net["sym"], {**net["args"], **net["aux"]}, [(1,) + SHAPE[1:]], dynamic_batch=True)
    for batch in (1, SHAPE[0]):
        close(ort_outputs(model, {"data": net["x"][:batch]})[0], net["ref"][:batch])


def test_positional_shapes_follow_mxnet_input_order():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    sym = mx.sym.dot(mx.sym.relu(b), a, name="prod")
    order = sym.list_arguments()  # MXNet's input order (b, a): positional shapes follow it
    assert order == ["b", "a"]
    shapes = {"b": (2, 3), "a": (3, 4)}
    model = nb.export_model(sym, {}, [shapes[n] for n in order])
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims == {"a": [3, 4], "b": [2, 3]}
    rng = np.random.default_rng(2)
    feeds = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    close(ort_outputs(model, feeds)[0], mx_forward(sym, {}, {}, feeds)[0])


def test_label_input_takes_no_shape():
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    sym = mx.sym.SoftmaxOutput(fc, name="softmax")  # adds softmax_label
    rng = np.random.default_rng(3)
    params = {"fc_weight": rng.standard_normal((3, 4)).astype(np.float32), "fc_bias": np.zeros(3, np.float32)}
    model = nb.export_model(sym, params, [(2, 4)])
    assert [i.name for i in model.graph.input] == ["data"]
    x = rng.standard_normal((2, 4)).astype(np.float32)
    logits = x @ params["fc_weight"].T
    want = np.exp(logits - logits.max(1, keepdims=True))
    close(ort_outputs(model, {"data": x})[0], want / want.sum(1, keepdims=True))


def test_gluon_block(tmp_path):
    block = mx.gluon.nn.HybridSequential()
    block.add(mx.gluon.nn.Conv2D(4, 3, in_channels=3), mx.gluon.nn.BatchNorm(in_channels=4),
              mx.gluon.nn.Activation("relu"), mx.gluon.nn.GlobalAvgPool2D(), mx.gluon.nn.Dense(5, in_units=4))
    block.initialize(mx.init.Xavier())
    x = np.random.default_rng(4).standard_normal(SHAPE).astype(np.float32)
    want = block(mx.nd.array(x)).asnumpy()
    path = tmp_path / "block.onnx"
    model = nb.export_model(block, None, [SHAPE], onnx_file_path=str(path))
    assert path.exists() and model.graph.input[0].name == "data"
    close(ort_outputs(path, {"data": x})[0], want)


# ---- bad input -------------------------------------------------------------------------------------------------
def test_wrong_number_of_shapes_names_the_inputs(net):
    with pytest.raises(ShapeError, match="data"):
        nb.export_model(net["sym"], {**net["args"], **net["aux"]}, [SHAPE, SHAPE])


def test_unknown_shape_name(net):
    with pytest.raises(ShapeError, match="image"):
        nb.export_model(net["sym"], {**net["args"], **net["aux"]}, {"image": SHAPE})


def test_bad_params_forms(net, tmp_path):
    with pytest.raises(ParamsError):
        nb.export_model(net["sym"], 42, [SHAPE])
    with pytest.raises(ParamsError, match="conv_weight"):
        nb.export_model(net["sym"], {**net["args"], "conv_weight": "oops"}, [SHAPE])
    with pytest.raises(ParamsError, match="missing.params"):
        nb.export_model(net["sym"], str(tmp_path / "missing.params"), [SHAPE])
    block = mx.gluon.nn.Dense(2, in_units=3)
    block.initialize()
    with pytest.raises(ParamsError, match="Gluon block"):
        nb.export_model(block, {"w": np.zeros(2)}, [(1, 3)])


def test_unsupported_format(net):
    with pytest.raises(BridgeError, match="format"):
        nb.export_model(net["sym"], {**net["args"], **net["aux"]}, [SHAPE], format="tflite")


def test_unknown_op_reports_node():
    sym_json = ('{"nodes": [{"op": "null", "name": "data", "inputs": []}, {"op": "MadeUpOp", "name": "mystery", '
                '"inputs": [[0, 0, 0]]}], "arg_nodes": [0], "heads": [[1, 0, 0]]}')
    with pytest.raises(UnsupportedOperatorError, match="mystery") as exc:
        nb.export_model(sym_json, {}, [(1, 2)])
    assert "MadeUpOp" in exc.value.ops


# ---- delegates -------------------------------------------------------------------------------------------------
def test_import_model_and_import_to_gluon_round_trip(net, tmp_path):
    pytest.importorskip("mxnet")
    path = tmp_path / "rt.onnx"
    nb.export_model(net["sym"], {**net["args"], **net["aux"]}, [SHAPE], onnx_file_path=str(path))
    sym, params = nb.import_model(str(path))
    args = {k: v.asnumpy() for k, v in params.items() if k in sym.list_arguments()}
    aux = {k: v.asnumpy() for k, v in params.items() if k in sym.list_auxiliary_states()}
    data_name = [n for n in sym.list_arguments() if n not in params][0]
    close(mx_forward(sym, args, aux, {data_name: net["x"]})[0], net["ref"])
    block = nb.import_to_gluon(str(path))
    close(block(mx.nd.array(net["x"])).asnumpy(), net["ref"])


def test_import_to_gluon_takes_a_bool_mask_input():
    # torch's key_padding_mask goes straight into Where: the symbol declares it uint8 (MXNet has no bool
    # tensors) and a bool NDArray fed as is failed inside MXNet's where ("Unknown type enum 7")
    pytest.importorskip("mxnet")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Where", ["mask", "fill", "x"], ["y"])], "bool_mask",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T"]),
         helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", "T"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "T"])],
        [helper.make_tensor("fill", TensorProto.FLOAT, [], [-1e9])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    block = nb.import_to_gluon(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for n, t in [(2, 5), (3, 4)]:
        x = rng.standard_normal((n, t)).astype(np.float32)
        mask = rng.random((n, t)) < 0.5
        got = block(mx.nd.array(x), mx.nd.array(mask, dtype=bool)).asnumpy()
        np.testing.assert_array_equal(got, sess.run(None, {"x": x, "mask": mask})[0])


def test_a_gluon_block_that_mxnet_cannot_run_raises_this_projects_error():
    # inputs whose sizes the model cannot take: MXNet's shape check fails inside the block; the caller gets a
    # BridgeError naming MXNet's operator and its failed check, with what to do instead
    pytest.importorskip("mxnet")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.ones(12, np.float32).tolist())])
    block = nb.import_to_gluon(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert block(mx.nd.ones((2, 4))).shape == (2, 3)
    expected = r"MXNet could not run .*Error in operator y: Shape inconsistent.*shape="
    with pytest.raises(nb.BridgeError, match=expected) as info:
        block(mx.nd.ones((2, 5)))
    assert info.value.node == "y" and "Traceback" not in str(info.value)
