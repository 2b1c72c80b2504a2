"""ONNX import keeps the graph's output tensor names (not the names of the nodes producing them).

Checked through every path a user sees them: ``Graph.output_names()``, ONNX -> IR -> ONNX,
``nnvm-bridge inspect`` and ONNX -> MXNet (symbol outputs, numbers against onnxruntime).
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnvm_bridge.frontend import from_onnx, to_onnx  # noqa: E402
from onnx_mx_helpers import assert_close, module_run, ort_run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "pytorch", "*.onnx")))


def _model(nodes, outputs, inits=(), opset=17, inputs=None):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])]
    outs = [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in outputs]
    g = helper.make_graph(nodes, "g", inputs, outs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _w():
    return numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(2, 6) / 10, "w")


F, I64 = TensorProto.FLOAT, TensorProto.INT64

# name -> ModelProto; each stresses one way an output can be produced
CASES = {
    # the producing node's name differs from its output tensor (what every exporter writes)
    "node_named_differently": _model(
        [helper.make_node("Relu", ["x"], ["t"], name="block/Relu"),
         helper.make_node("Sigmoid", ["t"], ["prob"], name="head/Sigmoid")], [("prob", F, [2, 6])]),
    # node names and tensor names swapped between two nodes
    "swapped_names": _model(
        [helper.make_node("Relu", ["x"], ["b"], name="a"),
         helper.make_node("Neg", ["b"], ["a"], name="b")], [("a", F, [2, 6]), ("b", F, [2, 6])]),
    # both outputs of one multi-output node, in the opposite order
    "split_outputs": _model(
        [helper.make_node("Split", ["x"], ["left", "right"], name="split", axis=1, num_outputs=2)],
        [("right", F, [2, 3]), ("left", F, [2, 3])], opset=18),
    # TopK: two outputs of different dtypes
    "topk": _model(
        [helper.make_node("TopK", ["x", "k"], ["values", "indices"], name="topk", axis=1)],
        [("values", F, [2, 3]), ("indices", I64, [2, 3])],
        inits=[numpy_helper.from_array(np.array([3], np.int64), "k")]),
    # one tensor listed under two names (Identity), and the inner value also an output
    "same_value_twice": _model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Identity", ["r"], ["r_again"], name="id")], [("r", F, [2, 6]), ("r_again", F, [2, 6])]),
    # a graph input and an initializer passed straight through, plus an Identity of each
    "passthrough": _model(
        [helper.make_node("Identity", ["x"], ["x_copy"], name="idx"),
         helper.make_node("Identity", ["w"], ["w_copy"], name="idw"),
         helper.make_node("Add", ["x", "w"], ["sum"], name="add")],
        [(n, F, [2, 6]) for n in ("sum", "x", "w", "x_copy", "w_copy")], inits=[_w()]),
    # an output folded to a constant at import (Shape of a known shape)
    "folded_shape": _model(
        [helper.make_node("Shape", ["x"], ["shape_out"], name="shape"),
         helper.make_node("Relu", ["x"], ["y"], name="relu")], [("y", F, [2, 6]), ("shape_out", I64, [2])]),
    # names that need no sanitising to survive
    "odd_names": _model(
        [helper.make_node("Relu", ["x"], ["logits:0"], name="n0"),
         helper.make_node("Tanh", ["logits:0"], ["out put/1"], name="n1")],
        [("logits:0", F, [2, 6]), ("out put/1", F, [2, 6])]),
}


def _feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def _onnx_names(model):
    return [o.name for o in model.graph.output]


@pytest.mark.parametrize("case", sorted(CASES))
def test_ir_and_onnx_roundtrip_keep_names(case):
    model = CASES[case]
    onnx.checker.check_model(model, full_check=True)
    graph, params = from_onnx(model)
    assert graph.output_names() == _onnx_names(model)
    names = [n.name for n in graph.nodes]
    assert len(names) == len(set(names)), f"duplicate IR node names: {names}"

    back = to_onnx(graph, params)  # runs onnx.checker itself
    assert _onnx_names(back) == _onnx_names(model)
    feeds = _feeds(model)
    for got, want in zip(ort_run(back, feeds), ort_run(model, feeds)):
        assert got.dtype == want.dtype
        assert_close(got, want, 1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_mxnet_symbol_outputs_named_after_onnx(case):
    pytest.importorskip("mxnet")
    import nnvm_bridge as nb

    model = CASES[case]
    sym, params = nb.import_model(model)
    variables = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    # MXNet names an op's output "<node>_output"; a variable output keeps the variable's name
    want = [n if n in variables else f"{n}_output" for n in _onnx_names(model)]
    assert sym.list_outputs() == want
    feeds = _feeds(model)
    got = module_run(sym, params, feeds)
    for g, w in zip(got, ort_run(model, feeds)):
        assert_close(g, w, 1e-5)


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_pytorch_fixtures_keep_output_names(path):
    model = onnx.load(path)
    # the dynamic fixture needs its symbolic dims bound to import
    graph, params = from_onnx(model, shape=_fixture_shapes(path))
    assert graph.output_names() == _onnx_names(model)


def _fixture_feeds(path):
    data = np.load(path[:-len(".onnx")] + ".npz")
    return {k[len("in_"):]: data[k] for k in data.files if k.startswith("in_")}


def _fixture_shapes(path):
    return {k: v.shape for k, v in _fixture_feeds(path).items()}


@pytest.mark.parametrize("name", ["mlp_opset9", "self_attention_opset17", "decoder_opset20"])
def test_pytorch_fixture_onnx_roundtrip_and_mxnet_numbers(name):
    path = os.path.join(HERE, "fixtures", "pytorch", name + ".onnx")
    model = onnx.load(path)
    graph, params = from_onnx(model)
    back = to_onnx(graph, params)
    assert _onnx_names(back) == _onnx_names(model)
    feeds = _fixture_feeds(path)
    want = ort_run(model, feeds)
    for got, ref in zip(ort_run(back, feeds), want):
        assert_close(got, ref)

    pytest.importorskip("mxnet")
    import nnvm_bridge as nb

    sym, mx_params = nb.import_model(model)
    assert sym.list_outputs() == [f"{n}_output" for n in _onnx_names(model)]
    for got, ref in zip(module_run(sym, mx_params, feeds), want):
        assert_close(got, ref)


def test_inspect_prints_onnx_output_names(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(CASES["split_outputs"], str(path))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-m", "nnvm_bridge", "inspect", str(path), "--json"], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert [o["name"] for o in info["outputs"]] == ["right", "left"]
    assert [o["shape"] for o in info["outputs"]] == [[2, 3], [2, 3]]

    text = subprocess.run([sys.executable, "-m", "nnvm_bridge", "inspect", str(path)], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert text.returncode == 0, text.stderr
    outputs = text.stdout.split("outputs:")[1].split("parameters:")[0]
    assert [line.split(":")[0].strip() for line in outputs.strip().splitlines()] == ["right", "left"]


@pytest.mark.parametrize("case", ["swapped_names", "split_outputs", "passthrough"])
def test_compiled_graph_outputs_carry_onnx_names(case):
    """compile_model on the imported *Graph* (no ONNX file to read names back from) names its
    outputs after the ONNX outputs, and its numbers match onnxruntime."""
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    model = CASES[case]
    graph, params = from_onnx(model)
    cm = compile_model((graph, params), target="llvm", offload=False)
    assert cm.output_names == _onnx_names(model)
    feeds = _feeds(model)
    for got, want in zip(cm.run(feeds), ort_run(model, feeds)):
        assert_close(got, want, 1e-5)


def test_scalar_output_keeps_its_rank_through_tvm():
    """A full reduction without keepdims is 0-d in ONNX; NNVM's reductions give (1,): the import reshapes it back,
    so a compiled model returns what onnxruntime returns."""
    pytest.importorskip("tvm")
    ort = pytest.importorskip("onnxruntime")
    import nnvm_bridge as nb

    g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
                           helper.make_node("ReduceMax", ["x"], ["rows"], axes=[1], keepdims=0)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("total", TensorProto.FLOAT, []),
                           helper.make_tensor_value_info("rows", TensorProto.FLOAT, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = np.random.default_rng(0).random((2, 3)).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    cm = nb.compile_model(model)
    got = cm.run({"x": x})
    assert [o.shape for o in got] == [r.shape for r in ref] == [(), (2,)]
    assert cm.info["outputs"][0][1] == ()
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
