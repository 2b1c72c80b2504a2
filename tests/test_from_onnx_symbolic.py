"""from_onnx without shape= keeps the file's dynamic axes as symbolic dims (issue 10, items 1-2).

Fixtures are small torch.onnx (legacy exporter) files with dynamic_axes: a CNN and an MLP with a dynamic
batch, an attention block with dynamic batch and sequence (Shape/Gather/Concat/Reshape chains, a mask
through Expand/Where, arange over the sequence), an LSTM with a dynamic sequence.  Each is checked at two
sizes against onnxruntime: the shapes that infer_shape gives evaluate to onnxruntime's, the numpy
interpreter computes the symbolic graph right, and binding the dims with shape= gives a static graph
that computes the same.
"""
from __future__ import annotations

import numpy as np
import pytest

from nnvm_bridge.frontend.onnx.importer import from_onnx
from nnvm_bridge.ir.interpreter import run_graph
from nnvm_bridge.ir.passes import infer_shape
from nnvm_bridge.ir.symbolic import Dim, evaluate, is_static

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import onnx_dynamic_fixtures as fixtures  # noqa: E402

SIZES = (2, 5)


@pytest.fixture(scope="module", params=sorted(fixtures.BUILDERS))
def model(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dyn") / f"{request.param}.onnx")
    make_inputs = fixtures.BUILDERS[request.param](path)
    return request.param, path, make_inputs


def _reference(path, feeds):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _close(got, ref):
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), atol=tol, rtol=0)


def _has_numpy_rules(graph):
    from nnvm_bridge.ops import get_op

    return all(get_op(n.op).compute is not None for n in graph.op_nodes())


def _run_static(graph, params, feeds):
    """The interpreter where every op has a numpy rule; MXNet (through to_mxnet) for the rest (rnn)."""
    if _has_numpy_rules(graph):
        return np.asarray(run_graph(graph, feeds, params)[0])
    mx = pytest.importorskip("mxnet")
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    text, args, aux = to_mxnet(graph, params)
    sym = mx.sym.load_json(text)
    arrays = {k: mx.nd.array(v, dtype=v.dtype) for k, v in list(feeds.items()) + list(args.items())}
    aux = {k: mx.nd.array(v, dtype=v.dtype) for k, v in aux.items()}
    ex = sym.bind(mx.cpu(), {n: arrays[n] for n in sym.list_arguments()}, grad_req="null", aux_states=aux)
    return ex.forward(is_train=False)[0].asnumpy()


def _bindings(graph, feeds):
    values = {}
    for node in graph.nodes:
        if node.is_variable and node.name in feeds:
            from nnvm_bridge.ir.symbolic import match_dims, parse_shape_hint

            match_dims(parse_shape_hint(node.attrs["__shape__"], node.name), feeds[node.name].shape, values)
    return values


def test_dims_stay_symbolic(model):
    name, path, make_inputs = model
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    shapes = g.attrs["shape"]
    out = shapes[g.entry_id(g.outputs[0])]
    assert out is not None and not is_static(out), out
    assert any(isinstance(d, Dim) for d in out)
    # nothing folded a symbolic dim into a parameter: parameters do not depend on the size
    graph2, params2 = from_onnx(path)
    assert sorted(params) == sorted(params2)


def test_infer_shape_and_numbers_match_onnxruntime_at_two_sizes(model):
    name, path, make_inputs = model
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    out_shape = g.attrs["shape"][g.entry_id(g.outputs[0])]
    for n in SIZES:
        feeds = make_inputs(n)
        ref = _reference(path, feeds)[0]
        values = _bindings(graph, feeds)
        assert tuple(evaluate(d, values) if isinstance(d, Dim) else d for d in out_shape) == ref.shape
        if _has_numpy_rules(graph):  # the symbolic graph itself computes (rnn has no numpy rule)
            _close(np.asarray(run_graph(graph, feeds, params)[0]), ref)


def test_shape_binds_the_dims(model):
    name, path, make_inputs = model
    for n in SIZES:
        feeds = make_inputs(n)
        ref = _reference(path, feeds)[0]
        graph, params = from_onnx(path, shape={k: v.shape for k, v in feeds.items()})
        g = infer_shape(graph, params=params)
        assert all(is_static(s) for s in g.attrs["shape"] if s is not None)
        assert not any(node.op.startswith("dyn_") or node.op == "shape_of" for node in graph.op_nodes())
        _close(_run_static(graph, params, feeds), ref)
