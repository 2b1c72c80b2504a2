"""ONNX control flow (If, Loop, Scan) through the IR's ``if``/``loop`` nodes, checked against onnxruntime.

The IR's numpy interpreter, ONNX -> IR -> ONNX, compile_model (TVM) and import_to_gluon (MXNet) run the same
models; MXNet and TVM get ``if`` as a select and loops of a known count unrolled where that works (the rest,
Relax control flow and MXNet's _cond, is tests/test_control_flow_runtime.py).
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

from nnvm_bridge.frontend.onnx.importer import from_onnx  # noqa: E402
from nnvm_bridge.ir.interpreter import run_graph  # noqa: E402
from nnvm_bridge.ir.json_io import load_json, save_json  # noqa: E402

TOL = 1e-5


def _vi(name, dtype=T.FLOAT, shape=None):
    return h.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=13):
    return h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)),
                        opset_imports=[h.make_opsetid("", opset)])


def if_model(opset=13):
    """y = x * w if sum(x) > 0 else -x - w: the branches read outer values (x, w) without listing them."""
    then = h.make_graph([h.make_node("Mul", ["x", "w"], ["t"])], "then", [], [_vi("t", shape=[3, 4])])
    other = h.make_graph([h.make_node("Neg", ["x"], ["e0"]), h.make_node("Sub", ["e0", "w"], ["e"])], "else", [],
                         [_vi("e", shape=[3, 4])])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0), h.make_node("Greater", ["s", "zero"], ["c"]),
             h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    return _model(nodes, [_vi("x", shape=[3, 4])], [_vi("y", shape=[3, 4])],
                  [h.make_tensor("zero", T.FLOAT, [], [0.0]), h.make_tensor("w", T.FLOAT, [4], [1, -2, 3, 0.5])],
                  opset)


def folded_if_model():
    """torchvision's ``if x.shape[0] == 0: return empty`` guard: the condition folds on a known shape."""
    then = h.make_graph([h.make_node("Identity", ["x"], ["t"])], "then", [], [_vi("t", shape=[2, 3])])
    other = h.make_graph([h.make_node("Relu", ["x"], ["e"])], "else", [], [_vi("e", shape=[2, 3])])
    nodes = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             h.make_node("Equal", ["n", "i0"], ["c"]), h.make_node("If", ["c"], ["y"], then_branch=then,
                                                                   else_branch=other)]
    return _model(nodes, [_vi("x", shape=[2, 3])], [_vi("y", shape=[2, 3])],
                  [h.make_tensor("i0", T.INT64, [], [0])])


def loop_model(trips=4, data_dependent=False):
    """acc += x * i each iteration, and a scan output of acc; with ``data_dependent`` the body stops when
    sum(acc) exceeds a limit."""
    cond_out = [h.make_node("ReduceSum", ["acc_out"], ["tot"], keepdims=0),
                h.make_node("Less", ["tot", "lim"], ["c_out"])] if data_dependent else \
        [h.make_node("Identity", ["c"], ["c_out"])]
    body = h.make_graph([h.make_node("Cast", ["i"], ["fi"], to=T.FLOAT), h.make_node("Mul", ["x", "fi"], ["xi"]),
                         h.make_node("Add", ["acc_in", "xi"], ["acc_out"]),
                         h.make_node("Mul", ["acc_out", "two"], ["scan"])] + cond_out, "body",
                        [_vi("i", T.INT64, []), _vi("c", T.BOOL, []), _vi("acc_in", shape=[2, 3])],
                        [_vi("c_out", T.BOOL, []), _vi("acc_out", shape=[2, 3]), _vi("scan", shape=[None, 2, 3])])
    nodes = [h.make_node("Loop", ["M", "", "acc0"], ["acc", "scans"], body=body)]
    return _model(nodes, [_vi("x", shape=[2, 3]), _vi("acc0", shape=[2, 3])],
                  [_vi("acc", shape=[2, 3]), _vi("scans", shape=[None, 2, 3])],
                  [h.make_tensor("M", T.INT64, [], [trips]), h.make_tensor("lim", T.FLOAT, [], [3.0]),
                   h.make_tensor("two", T.FLOAT, [], [2.0])])


def scan_model(opset=11):
    """An RNN-like Scan: h = tanh(h @ W + x_t); scans x along axis 1 backwards, writes the states on axis 1."""
    body = h.make_graph([h.make_node("MatMul", ["h_in", "W"], ["hw"]), h.make_node("Add", ["hw", "xt"], ["pre"]),
                         h.make_node("Tanh", ["pre"], ["h_out"]), h.make_node("Identity", ["h_out"], ["y_t"])],
                        "body", [_vi("h_in", shape=[2, 4]), _vi("xt", shape=[2, 4])],
                        [_vi("h_out", shape=[2, 4]), _vi("y_t", shape=[2, 4])])
    nodes = [h.make_node("Scan", ["h0", "x"], ["h", "ys"], body=body, num_scan_inputs=1, scan_input_axes=[1],
                         scan_input_directions=[1], scan_output_axes=[1])]
    w = np.random.RandomState(0).randn(4, 4).astype(np.float32) * 0.5
    return _model(nodes, [_vi("h0", shape=[2, 4]), _vi("x", shape=[2, 5, 4])],
                  [_vi("h", shape=[2, 4]), _vi("ys", shape=[2, 5, 2, 4])],
                  [h.make_tensor("W", T.FLOAT, [4, 4], w.reshape(-1))], opset)


def _ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.size == w.size, (g.shape, w.shape)
        np.testing.assert_allclose(g.reshape(w.shape), w, rtol=TOL, atol=TOL * max(1.0, float(np.abs(w).max())))


def _feeds(model, seed):
    rs = np.random.RandomState(seed)
    return {vi.name: rs.randn(*[d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
            for vi in model.graph.input}


def _cases():
    return [("if", if_model(), 2), ("loop", loop_model(), 1), ("scan", scan_model(), 1)]


@pytest.mark.parametrize("name,model,n_feeds", _cases(), ids=[c[0] for c in _cases()])
def test_interpreter_and_onnx_round_trip_match_onnxruntime(name, model, n_feeds):
    from frontend_ext.onnx.exporter import to_onnx

    graph, params = from_onnx(model)
    assert any(n.subgraphs for n in graph.op_nodes())
    again = to_onnx(graph, params, opset=13)
    reloaded = load_json(save_json(graph))  # the subgraphs survive the graph JSON
    for seed in range(n_feeds + 1):
        feeds = _feeds(model, seed)
        if name == "if":
            feeds["x"] *= (-1) ** seed  # both branches
        want = _ort(model, feeds)
        _close(run_graph(graph, feeds, params), want)
        _close(run_graph(reloaded, feeds, params), want)
        _close(_ort(again, feeds), want)


@pytest.mark.parametrize("opset", [1, 11, 13, 16, 19, 21])
def test_if_at_every_opset_version(opset):
    model = if_model(opset=max(opset, 7))
    graph, params = from_onnx(model)
    feeds = _feeds(model, 3)
    _close(run_graph(graph, feeds, params), _ort(model, feeds))


def test_folded_if_leaves_no_node():
    model = folded_if_model()
    graph, params = from_onnx(model)
    assert "if" not in graph.op_counts()
    feeds = _feeds(model, 0)
    _close(run_graph(graph, feeds, params), _ort(model, feeds))


def test_if_shapes_differ_give_a_new_symbol():
    then = h.make_graph([h.make_node("Identity", ["x"], ["t"])], "then", [], [_vi("t", shape=[3, 4])])
    other = h.make_graph([h.make_node("Slice", ["x", "s0", "s1", "s2"], ["e"])], "else", [], [_vi("e")])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0), h.make_node("Greater", ["s", "zero"], ["c"]),
             h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    model = _model(nodes, [_vi("x", shape=[3, 4])], [_vi("y", shape=[None, 4])],
                   [h.make_tensor("zero", T.FLOAT, [], [0.0]), h.make_tensor("s0", T.INT64, [1], [0]),
                    h.make_tensor("s1", T.INT64, [1], [1]), h.make_tensor("s2", T.INT64, [1], [0])])
    from nnvm_bridge.ir.passes import infer_shape
    from nnvm_bridge.ir.symbolic import is_symbolic

    graph, params = from_onnx(model)
    shape = infer_shape(graph, params=params).shape_of(graph.outputs[0])
    assert is_symbolic(shape[0]) and shape[1] == 4
    for sign in (1, -1):
        feeds = {"x": sign * np.abs(_feeds(model, 0)["x"])}
        _close(run_graph(graph, feeds, params), _ort(model, feeds))
    mx = pytest.importorskip("mxnet")
    import nnvm_bridge as nb

    block = nb.import_to_gluon(model)  # MXNet's _cond: only the taken branch runs, shapes may differ
    for sign in (1, -1):
        feeds = {"x": sign * np.abs(_feeds(model, 0)["x"])}
        _close([block(mx.nd.array(feeds["x"])).asnumpy()], _ort(model, feeds))


def test_loop_scan_output_has_a_trip_count_length():
    from nnvm_bridge.ir.passes import infer_shape
    from nnvm_bridge.ir.symbolic import is_symbolic

    graph, params = from_onnx(loop_model(data_dependent=True))
    shapes = [infer_shape(graph, params=params).shape_of(e) for e in graph.outputs]
    assert shapes[0] == (2, 3) and is_symbolic(shapes[1][0]) and shapes[1][1:] == (2, 3)
    graph, params = from_onnx(loop_model())
    assert infer_shape(graph, params=params).shape_of(graph.outputs[1]) == (4, 2, 3)


def test_data_dependent_loop_runs_in_the_ir_onnx_and_tvm():
    import nnvm_bridge as nb
    from frontend_ext.onnx.exporter import to_onnx

    model = loop_model(trips=10, data_dependent=True)
    graph, params = from_onnx(model)
    feeds = {k: np.abs(v) * 0.2 for k, v in _feeds(model, 1).items()}
    want = _ort(model, feeds)
    assert 1 < want[1].shape[0] < 10  # stops early
    _close(run_graph(graph, feeds, params), want)
    _close(_ort(to_onnx(graph, params, opset=13), feeds), want)
    pytest.importorskip("tvm")
    _close(nb.compile_model(model).run(feeds), want)  # a recursive Relax function (test_control_flow_runtime.py)


@pytest.mark.slow
@pytest.mark.parametrize("name,model,n_feeds", _cases(), ids=[c[0] for c in _cases()])
def test_compile_model_and_gluon_match_onnxruntime(name, model, n_feeds):
    import nnvm_bridge as nb

    mx = pytest.importorskip("mxnet")
    pytest.importorskip("tvm")
    compiled = nb.compile_model(model)
    block = nb.import_to_gluon(model)
    for seed in range(n_feeds + 1):
        feeds = _feeds(model, seed)
        if name == "if":
            feeds["x"] *= (-1) ** seed
        want = _ort(model, feeds)
        _close(compiled.run(feeds), want)
        out = block(*[mx.nd.array(feeds[vi.name]) for vi in model.graph.input])
        _close([o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])], want)


@pytest.mark.slow
def test_torch_script_if_and_loop_export_to_if_and_loop():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x, n):
            if bool(x.sum() > 0):
                y = x * 2.0
            else:
                y = x - 1.0
            for _ in range(int(n)):
                y = y * 0.5 + x
            return y

    import io

    buf = io.BytesIO()
    x, n = torch.randn(2, 3), torch.tensor(3)
    torch.onnx.export(torch.jit.script(Net()), (x, n), buf, input_names=["x", "n"], opset_version=13,
                      dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    assert {"If", "Loop"} <= {nd.op_type for nd in model.graph.node}
    from frontend_ext.onnx.exporter import to_onnx

    graph, params = from_onnx(model)
    again = to_onnx(graph, params, opset=13)
    for sign, count in ((1, 3), (-1, 5), (1, 0)):
        feeds = {"x": sign * np.abs(x.numpy()), "n": np.array(count, dtype=np.int64)}
        want = _ort(model, feeds)
        _close(run_graph(graph, feeds, params), want)
        _close(_ort(again, feeds), want)
