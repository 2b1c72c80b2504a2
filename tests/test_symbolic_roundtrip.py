"""Files with dynamic axes through every path without shape= (issue 10): ONNX -> IR -> ONNX keeps the
dim_params and runs at two sizes; ONNX -> Gluon runs at two sizes or says which node needs shape=, in a
subprocess, so that a model MXNet mishandles could never take the test process down."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from onnx_dynamic_fixtures import model  # noqa: E402,F401  (the shared pytest fixture)
from tolerance import assert_close  # noqa: E402

import nnvm_bridge as nb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (2, 5)


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_onnx_to_ir_to_onnx_keeps_dynamic_axes(model):
    import onnx

    name, path, make_inputs = model
    graph, params = nb.frontend.from_onnx(path)
    out = nb.frontend.to_onnx(graph, params)
    src = onnx.load(path)
    src_inputs = {vi.name: _dims(vi) for vi in src.graph.input}
    for vi in out.graph.input:
        want = src_inputs[vi.name]
        got = _dims(vi)
        assert [isinstance(d, str) for d in got] == [isinstance(d, str) for d in want], (vi.name, got, want)
    ref_sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    sess = ort.InferenceSession(out.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    for size in SIZES:
        feeds = make_inputs(size)
        refs = ref_sess.run(None, feeds)
        outs = sess.run(None, {k: v for k, v in feeds.items() if k in names})
        for got, ref in zip(outs, refs):
            assert_close(got, ref)


_GLUON = """
import json, sys
import numpy as np
sys.path.insert(0, {here!r})
import onnx_dynamic_fixtures as fixtures
import nnvm_bridge as nb
import mxnet as mx
import onnxruntime as ort
make_inputs = fixtures.BUILDERS[{name!r}]({path!r} + ".again.onnx")
try:
    block = nb.import_to_gluon({path!r} + ".again.onnx")
except nb.BridgeError as exc:
    print(json.dumps({{"refused": str(exc)}}))
    raise SystemExit(0)
sess = ort.InferenceSession({path!r} + ".again.onnx", providers=["CPUExecutionProvider"])
order = [i.name for i in sess.get_inputs()]
errs = []
for size in {sizes!r}:
    feeds = make_inputs(size)
    refs = sess.run(None, feeds)
    outs = block(*[mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in order])
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    for o, r in zip(outs, refs):
        scale = max(1.0, float(np.abs(r).max()) if r.size else 1.0)
        errs.append(float(np.abs(o.asnumpy().astype(np.float64) - r).max() / scale) if r.size else 0.0)
print(json.dumps({{"errors": errs}}))
"""


@pytest.mark.slow
def test_gluon_without_shape_runs_at_two_sizes_or_refuses_clearly(model):
    pytest.importorskip("mxnet")
    name, path, _ = model
    code = _GLUON.format(here=HERE, name=name, path=path, sizes=SIZES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the process died ({proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "refused" in result:
        assert "shape=" in result["refused"], result
    else:
        assert max(result["errors"]) <= 1e-4, result
