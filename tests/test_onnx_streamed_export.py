"""File exports with inline weights: streamed from the arrays, checked without reloading them.

to_onnx(path=...) writes the weights straight from the arrays (no ModelProto copy and no
serialized copy at the same time) and runs onnx.checker on a view of the file whose big tensors
are references into it; the file must still be byte-for-byte what protobuf would write.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from frontend_ext.onnx.exporter import _check_view, to_onnx  # noqa: E402
from frontend_ext.onnx.writer import DeferredInlineSink, checker_view, write_model_streamed  # noqa: E402
from nnvm_bridge.errors import InvalidModelError  # noqa: E402
from nnvm_bridge.ir.graph import Graph, variable  # noqa: E402
from onnx_export_helpers import assert_close, data_var, node, run_ort  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = "fc1_w"  # 2 MiB: referenced, not copied, in the checker's view


def mlp():
    """dense (2 MiB weight) -> relu -> reshape (an int64 shape initializer made by the builder)
    -> dense, with a float16 cast in between so tensors of several dtypes are written."""
    rng = np.random.default_rng(0)
    x = np.zeros((2, 512), np.float32)
    fc1 = node("dense", "fc1", [data_var("data", x), variable(BIG), variable("fc1_b")], units=1024)
    act = node("relu", "act", [fc1])
    rs = node("reshape", "rs", [act], shape=(0, 32, 32))
    half = node("cast", "half", [rs], dtype="float16")
    fc2 = node("dense", "fc2", [half, variable("fc2_w")], units=10, use_bias=False)  # over the last axis
    params = {BIG: (rng.standard_normal((1024, 512)) / 20).astype(np.float32),
              "fc1_b": rng.standard_normal(1024).astype(np.float32),
              "fc2_w": rng.standard_normal((10, 32)).astype(np.float16)}
    return Graph([fc2[0], act[0]]), params


def _reference(params, x):
    h = np.maximum(x @ params[BIG].T + params["fc1_b"], 0)
    y = h.reshape(2, 32, 32).astype(np.float16).astype(np.float32) @ params["fc2_w"].astype(np.float32).T
    return y, h


def test_streamed_file_is_what_protobuf_writes(tmp_path):
    g, params = mlp()
    in_memory = to_onnx(g, params).SerializeToString(deterministic=True)
    path = str(tmp_path / "m.onnx")
    model = to_onnx(g, params, path=path)
    with open(path, "rb") as f:
        assert f.read() == in_memory
    assert model.SerializeToString(deterministic=True) == in_memory  # the returned proto has its weights
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]  # the checker's view was removed


def test_keep_weights_false_returns_references_into_the_file(tmp_path):
    g, params = mlp()
    path = str(tmp_path / "m.onnx")
    view = to_onnx(g, params, path=path, keep_weights=False)
    tensors = {t.name: t for t in view.graph.initializer}
    big = tensors[BIG]
    assert big.data_location == onnx.TensorProto.EXTERNAL and not big.raw_data
    ref = {e.key: e.value for e in big.external_data}
    assert ref["location"] == "m.onnx" and int(ref["length"]) == params[BIG].nbytes
    with open(path, "rb") as f:
        f.seek(int(ref["offset"]))
        assert f.read(int(ref["length"])) == params[BIG].tobytes()
    assert tensors["fc1_b"].raw_data == params["fc1_b"].tobytes()  # small ones stay inline

    # the file itself is a whole, valid model with inline weights
    onnx.checker.check_model(path, full_check=True)
    loaded = onnx.load(path)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in loaded.graph.initializer)
    x = np.random.default_rng(1).standard_normal((2, 512)).astype(np.float32)
    for got, want in zip(run_ort(path, {"data": x}), _reference(params, x)):
        assert_close(got, want, 1e-2)  # float16 activations


def _written(tmp_path):
    from frontend_ext.onnx.exporter import build_model

    g, params = mlp()
    path = str(tmp_path / "m.onnx")
    sink = DeferredInlineSink()
    model = build_model(g, params, 17, False, sink)
    layout = write_model_streamed(model, path, sink)
    return model, sink, layout, path


def test_checker_reads_the_view_and_its_references(tmp_path):
    model, sink, layout, path = _written(tmp_path)
    view = checker_view(model, sink, layout, "m.onnx")
    _check_view(view, path)  # a valid view passes

    broken = onnx.ModelProto()
    broken.CopyFrom(view)
    broken.graph.node[0].input[0] = "no_such_tensor"
    with pytest.raises(InvalidModelError, match="onnx.checker"):
        _check_view(broken, path)

    dangling = checker_view(model, sink, layout, "elsewhere.onnx")  # the reference is checked too
    with pytest.raises(InvalidModelError, match="elsewhere.onnx"):
        _check_view(dangling, path)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_checker_view_keeps_small_tensors_for_shape_inference(tmp_path):
    model, sink, layout, path = _written(tmp_path)
    view = checker_view(model, sink, layout, "m.onnx", min_bytes=1 << 30)  # nothing referenced
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in view.graph.initializer)
    with open(path, "rb") as f:
        assert view.SerializeToString(deterministic=True) == f.read()


_PEAK = r'''
import resource, sys, numpy as np
sys.path.insert(0, %(here)r)
from onnx_export_helpers import data_var, node
from nnvm_bridge.ir.graph import Graph, variable
from frontend_ext.onnx.exporter import to_onnx
cur, params = data_var("data", np.zeros((1, 2048), np.float32)), {}
for i in range(4):  # 4 x 16 MiB, inline (far below the external-data threshold)
    params[f"w{i}"] = np.full((2048, 2048), 1e-3 * (i + 1), np.float32)
    cur = node("dense", f"fc{i}", [cur, variable(f"w{i}")], units=2048, use_bias=False)
g = Graph([cur[0]])
small = node("dense", "s", [data_var("data", np.zeros((1, 4), np.float32)), variable("sw")], units=2, use_bias=False)
to_onnx(Graph([small[0]]), {"sw": np.ones((2, 4), np.float32)}, path=%(path)r + ".warm")  # imports, arenas
weights = sum(p.nbytes for p in params.values())
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
to_onnx(g, params, path=%(path)r, keep_weights=%(keep)s)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(weights, base, peak)
'''


@pytest.mark.parametrize("keep, bound", [(False, 0.25), (True, 1.5)])
def test_inline_file_export_peak_memory(tmp_path, keep, bound):
    """Growth of peak RSS over the arrays themselves: ~0 without a returned copy of the weights,
    ~1x (plus one tensor while it is copied) with one.  Serializing the proto and checking the
    file by path, as before, grew it by 3-4x."""
    code = _PEAK % {"here": HERE, "path": str(tmp_path / "m.onnx"), "keep": keep}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(HERE), timeout=300).stdout.split()
    weights, base, peak = (int(v) for v in out)
    assert peak - base <= bound * weights, (weights, base, peak)
    assert os.path.getsize(str(tmp_path / "m.onnx")) > weights


def test_streamed_tensors_of_every_kind_match_inline_ones(tmp_path):
    """Empty, 0-d, bool, int8, float16, int64 and non-contiguous arrays: the streamed file parses
    to the same tensors InlineSink writes, byte for byte."""
    from frontend_ext.onnx.writer import InlineSink

    arrays = {"empty": np.zeros((0, 3), np.float32), "scalar": np.array(2.5, np.float64),
              "flags": np.array([True, False, True]), "small": np.arange(-4, 4, dtype=np.int8),
              "half": np.linspace(0, 1, 7).astype(np.float16), "idx": np.arange(6, dtype=np.int64).reshape(2, 3),
              "strided": np.arange(40, dtype=np.float32).reshape(5, 8)[:, ::2]}

    def model_with(sink):
        m = onnx.ModelProto()
        m.ir_version = 8
        m.graph.name = "tensors"
        for name, arr in arrays.items():
            sink.write_into(m.graph.initializer.add(), name, arr)
        m.graph.output.add().name = "unused"
        m.opset_import.add().version = 17
        return m

    inline = model_with(InlineSink()).SerializeToString(deterministic=True)
    sink = DeferredInlineSink()
    model = model_with(sink)
    path = str(tmp_path / "t.onnx")
    write_model_streamed(model, path, sink)
    with open(path, "rb") as f:
        assert f.read() == inline
    sink.fill(model)
    assert model.SerializeToString(deterministic=True) == inline
    for t in onnx.load(path).graph.initializer:
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(t), arrays[t.name])
