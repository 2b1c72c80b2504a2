"""examples/deploy_cpp: a library from compile_model runs in a C++ program built against the TVM wheel alone
(tvm_ffi headers, libtvm_ffi.so, libtvm_runtime.so), and its outputs match onnxruntime's:
max|cpp - ort| <= 1e-4 * max(1, max|ort|).

The program is built once for the module (g++, examples/deploy_cpp/build.sh) and runs with neither
PYTHONPATH nor LD_LIBRARY_PATH set.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tolerance import assert_close

tvm = pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
if shutil.which("g++") is None:
    pytest.skip("g++ is needed to build the C++ example", allow_module_level=True)

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnvm_bridge import compile_model  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "deploy_cpp"
RNG = np.random.default_rng(3)
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}


@pytest.fixture(scope="module")
def deploy_model(tmp_path_factory):
    exe = tmp_path_factory.mktemp("deploy_cpp") / "deploy_model"
    proc = subprocess.run(["sh", str(EXAMPLE / "build.sh"), str(exe)], capture_output=True, text=True,
                          env={**CLEAN_ENV, "PYTHON": sys.executable, "CXXFLAGS": "-O0"})  # speed is not measured
    assert proc.returncode == 0, proc.stderr[-3000:]
    return exe


def run_cpp(exe, lib, feeds, folder):
    """Saves the inputs as .npy in the given order, runs the C++ program, returns (process, outputs)."""
    files = []
    for i, arr in enumerate(feeds):
        files.append(str(folder / f"in{i}.npy"))
        np.save(files[-1], arr)
    proc = subprocess.run([str(exe), str(lib), str(folder), *files], capture_output=True, text=True,
                          env=CLEAN_ENV, cwd=str(folder))
    outputs = []
    while (folder / f"output{len(outputs)}.npy").exists():
        outputs.append(np.load(folder / f"output{len(outputs)}.npy"))
    return proc, outputs


def compile_and_export(model, folder):
    path = folder / "m.onnx"
    onnx.save(model, str(path))
    cm = compile_model(str(path))
    lib = folder / "m.so"
    cm.export_library(str(lib))
    return lib


def reference(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype="float32"), name)


def conv_net():
    """Stem conv + ReLU, depthwise conv + clip, 1x1 conv, global pool, dense: the CPU schedules' main kinds."""
    w = lambda *s: RNG.standard_normal(s) / np.sqrt(np.prod(s[1:]))  # noqa: E731
    inits = [const("w1", w(16, 3, 3, 3)), const("b1", RNG.standard_normal(16)), const("w2", w(16, 1, 3, 3)),
             const("lo", 0.0), const("hi", 6.0), const("w3", w(24, 16, 1, 1)), const("fc", w(5, 24)),
             const("fcb", RNG.standard_normal(5))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], kernel_shape=[1, 1]),
             helper.make_node("GlobalAveragePool", ["c3"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "conv_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                 [1, 3, 20, 20])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def two_input_net():
    """Inputs declared as (zeta, alpha): not alphabetical, so a reordering would swap them; a symbolic batch;
    outputs of rank 2 and 1, float32 and int64."""
    nodes = [helper.make_node("Mul", ["zeta", "two"], ["t"]), helper.make_node("Sub", ["t", "alpha"], ["diff"]),
             helper.make_node("MatMul", ["zeta", "w"], ["proj"]),
             helper.make_node("ArgMax", ["alpha"], ["best"], axis=1, keepdims=0),
             helper.make_node("ReduceMax", ["zeta"], ["peak"], axes=[1], keepdims=0)]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in ("zeta", "alpha")]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("diff", "proj", "peak")]
    outputs.insert(2, helper.make_tensor_value_info("best", TensorProto.INT64, None))
    graph = helper.make_graph(nodes, "two_inputs", inputs, outputs,
                              [const("two", 2.0), const("w", RNG.standard_normal((4, 3)))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_conv_net_runs_from_cpp(deploy_model, tmp_path):
    model = conv_net()
    lib = compile_and_export(model, tmp_path)
    x = RNG.standard_normal((1, 3, 20, 20)).astype("float32")
    proc, got = run_cpp(deploy_model, lib, [x], tmp_path)
    assert proc.returncode == 0, proc.stderr
    refs = reference(model, {"x": x})
    assert len(got) == len(refs) == 1
    assert_close(got[0], refs[0])


@pytest.fixture(scope="module")
def two_input_lib(tmp_path_factory):
    model = two_input_net()
    return model, compile_and_export(model, tmp_path_factory.mktemp("two_inputs"))


def test_two_inputs_in_the_model_order_any_batch(deploy_model, two_input_lib, tmp_path):
    model, lib = two_input_lib
    zeta, alpha = (RNG.standard_normal((3, 4)).astype("float32") for _ in range(2))
    proc, got = run_cpp(deploy_model, lib, [zeta, alpha], tmp_path)
    assert proc.returncode == 0, proc.stderr
    refs = reference(model, {"zeta": zeta, "alpha": alpha})
    assert len(got) == len(refs) == 4
    for g, r in zip(got, refs):
        assert g.dtype == r.dtype
        assert_close(g, r)


def test_wrong_inputs_are_reported(deploy_model, two_input_lib, tmp_path):
    _, lib = two_input_lib
    x = np.zeros((3, 4), np.float32)
    proc, _ = run_cpp(deploy_model, lib, [x], tmp_path)
    assert proc.returncode == 2 and "takes 2 inputs, in this order: zeta alpha; got 1" in proc.stderr
    proc, _ = run_cpp(deploy_model, lib, [x, np.zeros((3, 4), np.int64)], tmp_path)
    assert proc.returncode == 1 and "param=alpha" in proc.stderr and "int64" in proc.stderr, proc.stderr
