"""The CLI as a user runs it (a subprocess): bad input gives one ``nnvm-bridge: error:`` line and exit
status 2; a traceback only with --verbose.  Also the emitters and the compiled-library loader."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnvm_bridge as nb
from nnvm_bridge.errors import (BridgeError, CompileError, InvalidModelError, ParamsError, ShapeError,
                                UnsupportedOperatorError)
from nnvm_bridge.ir import Graph, Node
from nnvm_bridge.ir.graph import variable

from hostile_models import expect_error, mxnet_symbol, onnx_model, save_onnx, write_mxnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nnvm_bridge", *argv], capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd)


def error_lines(stderr):
    return [ln for ln in stderr.splitlines() if not ln.startswith("[")]  # progress lines start "[  0.00s]"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    files = {}
    files["random.onnx"] = folder / "random.onnx"
    files["random.onnx"].write_bytes(os.urandom(3000))
    m = onnx_model()
    m.graph.node[1].op_type = "Unheard"
    m.graph.node[2].op_type = "OfOps"
    files["unknown.onnx"] = save_onnx(m, folder / "unknown.onnx")
    sym = mxnet_symbol()
    sym["nodes"][3]["attrs"]["kernel"] = "(a, b)"
    files["kernel-symbol.json"], files["kernel.params"] = write_mxnet(folder, sym, prefix="kernel")
    files["truncated-symbol.json"] = folder / "truncated-symbol.json"
    files["truncated-symbol.json"].write_text('{"nodes": [{"op": "null", "name": "da')
    return {k: str(v) for k, v in files.items()}


@pytest.mark.parametrize("argv, names", [
    (["convert", "{random.onnx}", "-o", "{tmp}/x_mx"], ["random.onnx"]),
    (["convert", "{unknown.onnx}", "-o", "{tmp}/x_mx"], ["Unheard", "OfOps"]),
    (["inspect", "{unknown.onnx}"], ["Unheard", "OfOps"]),
    (["convert", "{kernel-symbol.json}", "-o", "{tmp}/x.onnx", "--input-shape", "data:1,3,8,8"], ["kernel", "(a, b)"]),
    (["inspect", "{truncated-symbol.json}", "--params", "{kernel.params}"], ["truncated-symbol.json"]),
    (["convert", "{tmp}/absent.onnx", "-o", "{tmp}/x_mx"], ["absent.onnx"]),
    (["run", "{random.onnx}", "--input", "data={tmp}/absent.npy"], ["absent.npy"]),
])
def test_cli_one_line_exit_2(argv, names, bad_files, tmp_path):
    def fill(arg):
        for key, path in {**bad_files, "tmp": str(tmp_path)}.items():
            arg = arg.replace("{" + key + "}", path)
        return arg

    argv = [fill(a) for a in argv]
    proc = run_cli(*argv)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("nnvm-bridge: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in names:
        assert n in lines[0], (n, lines[0])


def test_cli_verbose_shows_traceback(bad_files, tmp_path):
    proc = run_cli("convert", "--verbose", bad_files["unknown.onnx"], "-o", str(tmp_path / "x_mx"))
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "UnsupportedOperatorError" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("nnvm-bridge: error: ")


# ---- emitters given bad graphs / params ------------------------------------------------------------
def _dense_graph():
    x = variable("x", {"__shape__": "(1, 4)"})
    w = variable("w")
    return Graph([Node("dense", "fc", [x[0], w[0]], {"units": "3", "use_bias": "False"})[0]])


@pytest.mark.parametrize("emit", ["to_onnx", "to_mxnet"])
def test_emitters_refuse_bad_params(emit):
    fn = getattr(nb.frontend, emit)
    graph = _dense_graph()
    good = {"w": np.ones((3, 4), np.float32)}
    fn(graph, good)  # the base case works
    expect_error(lambda: fn(graph, {"w": np.ones((3, 5), np.float32)}), ShapeError, "fc")
    expect_error(lambda: fn(graph, {"w": np.array(["a", "b"])}), BridgeError, "w")
    expect_error(lambda: fn(graph, {"w": np.ones((3, 4), np.complex64)}), BridgeError, "w")
    if emit == "to_onnx":
        expect_error(lambda: fn(graph, good, opset=999), BridgeError, "999")


def test_emitters_refuse_unknown_ops():
    x = variable("x", {"__shape__": "(1, 4)"})
    g = Graph([Node("relu", "r", [x[0]])[0]])
    g.nodes[-1].op = "no_such_op"
    expect_error(lambda: nb.frontend.to_onnx(g, {}), UnsupportedOperatorError, "no_such_op")
    expect_error(lambda: nb.frontend.to_mxnet(g, {}), UnsupportedOperatorError, "no_such_op")


def test_export_model_bad_arguments(tmp_path):
    json_path, params_path = write_mxnet(tmp_path)
    expect_error(lambda: nb.export_model(json_path, params_path, [(1, 3, 8, 8)], "float128"), BridgeError, "float128")
    expect_error(lambda: nb.export_model(json_path, params_path, [("a", 3)]), ShapeError, "data")
    expect_error(lambda: nb.export_model(json_path, 42, [(1, 3, 8, 8)]), ParamsError, "int")
    expect_error(lambda: nb.export_model(json_path, params_path, [(1, 3, 8, 8)], format="tflite"), BridgeError,
                 "tflite")


# ---- compiled libraries ----------------------------------------------------------------------------
def test_load_compiled_hostile(tmp_path):
    pytest.importorskip("tvm")
    expect_error(lambda: nb.load_compiled(str(tmp_path / "absent.so")), InvalidModelError, "absent.so")
    expect_error(lambda: nb.load_compiled(str(tmp_path)), InvalidModelError, str(tmp_path))
    lib = tmp_path / "junk.so"
    lib.write_bytes(os.urandom(2048))
    expect_error(lambda: nb.load_compiled(str(lib)), InvalidModelError, "junk.so")  # no metadata beside it
    (tmp_path / "junk.so.meta.json").write_text('{"format": "nnvm_bridge.tvm/1", "target": "llvm"')
    expect_error(lambda: nb.load_compiled(str(lib)), InvalidModelError, "junk.so")  # truncated metadata
    (tmp_path / "junk.so.meta.json").write_text('{"format": "nnvm_bridge.tvm/1", "target": "llvm", "inputs": [], '
                                           '"outputs": []}')
    expect_error(lambda: nb.load_compiled(str(lib)), CompileError, "junk.so", seconds=30)  # random library bytes


def test_compile_model_bad_target(tmp_path):
    pytest.importorskip("tvm")
    path = save_onnx(onnx_model(), tmp_path / "m.onnx")
    expect_error(lambda: nb.compile_model(path, target="no-such-target"), BridgeError, "no-such-target", seconds=30)
    expect_error(lambda: nb.compile_model(12345), InvalidModelError, "int")


@pytest.mark.parametrize("entry", ["from_onnx", "from_mxnet", "import_model", "import_to_gluon", "to_onnx", "to_mxnet",
                                   "export_model", "compile_model", "load_compiled"])
@pytest.mark.parametrize("bad", [None, 12345, 3.5, ["a", "list"]], ids=["None", "int", "float", "list"])
def test_wrong_argument_types(entry, bad):
    """Every public entry point refuses an argument of the wrong type with its own error."""
    fn = {"from_onnx": lambda: nb.frontend.from_onnx(bad),
          "from_mxnet": lambda: nb.frontend.from_mxnet(bad),
          "import_model": lambda: nb.import_model(bad),
          "import_to_gluon": lambda: nb.import_to_gluon(bad),
          "to_onnx": lambda: nb.frontend.to_onnx(bad, {}),
          "to_mxnet": lambda: nb.frontend.to_mxnet(bad, {}),
          "export_model": lambda: nb.export_model(bad, None, [(1, 3)]),
          "compile_model": lambda: nb.compile_model(bad),
          "load_compiled": lambda: nb.load_compiled(bad)}[entry]
    if entry in ("import_model", "import_to_gluon"):
        pytest.importorskip("mxnet")
    if entry in ("compile_model", "load_compiled"):
        pytest.importorskip("tvm")
    expect_error(fn, BridgeError, seconds=30)
