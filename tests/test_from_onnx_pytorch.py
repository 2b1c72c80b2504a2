"""Small models exported by PyTorch's ONNX exporter (opsets 9-17; tools/make_pytorch_fixtures.py)
import through from_onnx -> MXNet (Module and Gluon) and match PyTorch's outputs and onnxruntime."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from onnx_mx_helpers import assert_close, gluon_run, module_run, ort_run

pytest.importorskip("mxnet")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "pytorch")
NAMES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(FIXTURES, "*.onnx")))


def _load(name):
    import onnx

    model = onnx.load(os.path.join(FIXTURES, f"{name}.onnx"))
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    outs = [data[f"out_{k}"] for k in range(sum(f.startswith("out_") for f in data.files))]
    return model, feeds, outs


def test_fixture_set_is_complete():
    kinds = ("mlp", "transformer_encoder", "unet", "mobilenetv3_block", "convnext_block", "lstm_classifier")
    for kind in kinds:
        assert any(n.startswith(kind) for n in NAMES), kind
    for name in NAMES:
        assert os.path.getsize(os.path.join(FIXTURES, f"{name}.onnx")) < 64 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_fixture_module_matches_torch(name):
    from nnvm_bridge import import_model

    model, feeds, expected = _load(name)
    # shape= binds the symbolic dims of the "_dynamic" fixtures (harmless for static ones)
    sym, params = import_model(model, shape={k: v.shape for k, v in feeds.items()})
    outs = module_run(sym, params, feeds)
    assert len(outs) == len(expected)
    for got, want in zip(outs, expected):
        assert_close(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_fixture_gluon_matches_onnxruntime(name):
    pytest.importorskip("onnxruntime")
    from nnvm_bridge import import_to_gluon

    model, feeds, expected = _load(name)
    ref = ort_run(model, feeds)
    for r, want in zip(ref, expected):
        assert_close(r, want)  # the fixture itself agrees with onnxruntime
    outs = gluon_run(import_to_gluon(model, shape={k: v.shape for k, v in feeds.items()}), feeds)
    for got, want in zip(outs, ref):
        assert_close(got, want)


def test_dynamic_batch_export_keeps_symbolic_dims():
    """A dynamic-axes export whose Reshape targets come from Shape(x): the target stays symbolic
    (reshape (0, 12)), so the MXNet objects serve every batch size without binding anything."""
    import warnings

    import onnx
    from onnx import helper, numpy_helper

    from nnvm_bridge import import_model

    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no binding of symbolic dims, no warning
        sym, params = import_model(model)
    for n in (2, 3):
        x = np.arange(n * 12, dtype=np.float32).reshape(n, 3, 4)
        assert_close(module_run(sym, params, {"x": x})[0], x.reshape(n, 12))
    sym, params = import_model(model, shape={"x": (2, 3, 4)})
    assert_close(module_run(sym, params, {"x": x[:2]})[0], x[:2].reshape(2, 12))
