"""Deterministic output: converting the same model twice gives byte-identical ONNX and identical MXNet
JSON and ``.params``, within one process and across processes whose PYTHONHASHSEED differs (so set
and dict-of-set iteration orders differ)."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nnvm_bridge as nb
from nnvm_bridge.ir.params import join_params, load_params, params_to_bytes

from hostile_models import mxnet_params, mxnet_symbol

onnx = pytest.importorskip("onnx")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "pytorch")
SHAPE = (2, 3, 8, 8)


def branchy_symbol() -> dict:
    """Two conv branches concatenated, pooled, then two heads: ordering-sensitive structure
    (several consumers of one node, two outputs, params shared by name order)."""
    sym = mxnet_symbol()
    nodes = sym["nodes"]

    def add(node):
        nodes.append(node)
        return len(nodes) - 1

    w2 = add({"op": "null", "name": "conv2_weight", "inputs": []})
    c2 = add({"op": "Convolution", "name": "conv2", "attrs": {"kernel": "(1, 1)", "num_filter": "4", "no_bias": "True"},
              "inputs": [[0, 0, 0], [w2, 0, 0]]})
    relu = next(i for i, n in enumerate(nodes) if n["name"] == "relu")
    cat = add({"op": "Concat", "name": "cat", "attrs": {"dim": "1", "num_args": "2"},
               "inputs": [[relu, 0, 0], [c2, 0, 0]]})
    pool = add({"op": "Pooling", "name": "pool", "attrs": {"kernel": "(2, 2)", "stride": "(2, 2)", "pool_type": "avg"},
                "inputs": [[cat, 0, 0]]})
    w3 = add({"op": "null", "name": "head_weight", "inputs": []})
    b3 = add({"op": "null", "name": "head_bias", "inputs": []})
    head = add({"op": "FullyConnected", "name": "head", "attrs": {"num_hidden": "5"},
                "inputs": [[pool, 0, 0], [w3, 0, 0], [b3, 0, 0]]})
    sig = add({"op": "Activation", "name": "sig", "attrs": {"act_type": "sigmoid"}, "inputs": [[cat, 0, 0]]})
    prob = next(i for i, n in enumerate(nodes) if n["name"] == "prob")  # the original softmax head
    sym["heads"] = [[prob, 0, 0], [head, 0, 0], [sig, 0, 0]]
    sym["arg_nodes"] = [i for i, n in enumerate(nodes) if n["op"] == "null"]
    return sym


def branchy_params() -> dict:
    rng = np.random.default_rng(5)
    p = mxnet_params()
    p["arg:conv2_weight"] = rng.standard_normal((4, 3, 1, 1)).astype(np.float32)
    p["arg:head_weight"] = rng.standard_normal((5, 8 * 4 * 4)).astype(np.float32)
    p["arg:head_bias"] = rng.standard_normal(5).astype(np.float32)
    return p


def _mx_to_onnx_bytes(sym, params, **kw):
    return nb.export_model(json.dumps(sym), params, [SHAPE], np.float32, **kw).SerializeToString()


def _onnx_to_mx(path_or_model):
    graph, params = nb.frontend.from_onnx(path_or_model)
    text, arg, aux = nb.frontend.to_mxnet(graph, params)
    return text, params_to_bytes(join_params(arg, aux))


def test_mxnet_to_onnx_twice_identical():
    a = _mx_to_onnx_bytes(branchy_symbol(), branchy_params())
    b = _mx_to_onnx_bytes(branchy_symbol(), branchy_params())
    assert a == b
    # the result is a real, runnable model: not an empty success
    m = onnx.load_model_from_string(a)
    assert len(m.graph.output) == 3 and len(m.graph.node) >= 8


def test_mxnet_to_onnx_files_identical(tmp_path):
    """Written files, with external data forced on, are identical too (data file included)."""
    from frontend_ext.onnx.exporter import to_onnx

    digests = []
    for run in ("a", "b"):
        graph, params = nb.frontend.from_mxnet(json.dumps(branchy_symbol()), branchy_params(), shape={"data": SHAPE})
        path = tmp_path / run / "m.onnx"
        path.parent.mkdir()
        to_onnx(graph, params, path=str(path), external_data=True)
        digests.append((path.read_bytes(), (tmp_path / run / "m.onnx.data").read_bytes()))
    assert digests[0] == digests[1]
    assert len(digests[0][1]) > 1000  # the weights really went to the data file


@pytest.mark.parametrize("fixture", ["convnext_block_opset13.onnx", "gru_tagger_opset10.onnx"])
def test_onnx_to_mxnet_twice_identical(fixture):
    path = os.path.join(FIXTURES, fixture)
    first = _onnx_to_mx(path)
    second = _onnx_to_mx(path)
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert json.loads(first[0])["nodes"]


def test_round_trip_stable():
    """MXNet -> ONNX -> MXNet -> ONNX: the second export equals the first re-export."""
    onnx_bytes = _mx_to_onnx_bytes(branchy_symbol(), branchy_params())
    outs = []
    for _ in range(2):
        text, params_bytes = _onnx_to_mx(onnx.load_model_from_string(onnx_bytes))
        outs.append(nb.export_model(text, load_params(params_bytes), [SHAPE], np.float32).SerializeToString())
    assert outs[0] == outs[1]


_SCRIPT = r"""
import hashlib, json, sys
sys.path.insert(0, {tests!r})
import numpy as np
import onnx
import nnvm_bridge as nb
import nnvm_bridge.ir.params
import test_determinism as td

out = {{}}
out["mx2onnx"] = hashlib.sha256(td._mx_to_onnx_bytes(td.branchy_symbol(), td.branchy_params())).hexdigest()
for name in ("convnext_block_opset13.onnx", "gru_tagger_opset10.onnx"):
    text, params = td._onnx_to_mx({fixtures!r} + "/" + name)
    out[name] = [hashlib.sha256(text.encode()).hexdigest(), hashlib.sha256(params).hexdigest()]
# the command line, both directions, files on disk
import os, tempfile
from nnvm_bridge.cli import main
work = tempfile.mkdtemp()
with open(work + "/b-symbol.json", "w") as f:
    json.dump(td.branchy_symbol(), f)
nb.ir.params.save_params(work + "/b-0000.params", td.branchy_params())
assert main(["convert", "-q", work + "/b-symbol.json", "-o", work + "/b.onnx", "--input-shape", "data:2,3,8,8"]) == 0
assert main(["convert", "-q", {fixtures!r} + "/convnext_block_opset13.onnx", "-o", work + "/c_mx"]) == 0
for fn in sorted(os.listdir(work)):
    with open(os.path.join(work, fn), "rb") as f:
        out["cli:" + fn] = hashlib.sha256(f.read()).hexdigest()
print(json.dumps(out, sort_keys=True))
"""


def test_two_processes_with_different_hash_seeds():
    script = _SCRIPT.format(tests=os.path.join(ROOT, "tests"), fixtures=FIXTURES)
    results = []
    for seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=ROOT)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                              cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert results[0] == results[1]
    assert {"cli:b.onnx", "cli:c_mx-symbol.json", "cli:c_mx-0000.params"} <= set(results[0])
    # and equal to this process's own conversion
    here = hashlib.sha256(_mx_to_onnx_bytes(branchy_symbol(), branchy_params())).hexdigest()
    assert results[0]["mx2onnx"] == here
