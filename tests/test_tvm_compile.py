"""compile_model / CompiledModel / export_library / load_compiled, for ONNX, MXNet and Graph inputs."""
import json
import os
import shutil

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from nnvm_bridge.errors import BridgeError, CompileError, DTypeError, InvalidModelError, ShapeError  # noqa: E402
from nnvm_bridge.ir import Graph, Node, variable  # noqa: E402
from nnvm_bridge.ops import get_op  # noqa: E402
from nnvm_bridge import compile_model, load_compiled  # noqa: E402
from tolerance import assert_close as close  # noqa: E402

RNG = np.random.default_rng(7)


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.clamp(self.conv2(y) + y, 0, 6)
        y = torch.nn.functional.max_pool2d(y, 2)
        return torch.softmax(self.fc(y.mean((2, 3))), -1), y


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    torch.manual_seed(0)
    net = SmallNet().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2)
    path = str(tmp_path_factory.mktemp("onnx") / "small.onnx")
    torch.onnx.export(net, (torch.zeros(2, 3, 16, 16),), path, input_names=["data"], output_names=["prob", "feat"],
                      opset_version=13, dynamo=False)
    return path


def ort_run(path, feeds):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)


def test_onnx_path_compiles_and_matches_onnxruntime(small_onnx):
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    refs = ort_run(small_onnx, {"data": x})
    for offload in (True, False):  # PyTorch-offloaded default and pure TVM agree with onnxruntime
        cm = compile_model(small_onnx, target="llvm", offload=offload)
        assert cm.input_names == ["data"] and cm.input_shapes == {"data": (2, 3, 16, 16)}
        assert cm.output_shapes == [(2, 5), (2, 8, 8, 8)] and cm.output_dtypes == ["float32", "float32"]
        outs = cm.run({"data": x})
        for got, ref in zip(outs, refs):
            close(got, ref)


def test_modelproto_input_and_shape_override(small_onnx):
    import onnx

    model = onnx.load(small_onnx)
    cm = compile_model(model, shape={"data": (2, 3, 16, 16)})
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    close(cm.run({"data": x})[0], ort_run(small_onnx, {"data": x})[0])


def test_export_library_and_load_compiled_roundtrip(small_onnx, tmp_path):
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    refs = ort_run(small_onnx, {"data": x})
    for offload in (False, True):
        lib = str(tmp_path / f"small_{offload}.so")
        compile_model(small_onnx, offload=offload).export_library(lib)
        meta = json.load(open(lib + ".meta.json"))
        assert meta["target"] == "llvm" and meta["inputs"][0][0] == "data"
        cm = load_compiled(lib)
        assert cm.output_names == ["prob", "feat"]
        for got, ref in zip(cm.run({"data": x}), refs):
            close(got, ref)


def test_offload_library_without_torch_says_what_to_do(small_onnx, tmp_path):
    """Where torch cannot be imported, an offload-built library fails with MissingDependencyError (naming
    the file and the way out), while a pure-TVM library of the same model runs."""
    import subprocess
    import sys

    for offload in (True, False):
        compile_model(small_onnx, offload=offload).export_library(str(tmp_path / f"m_{offload}.so"))
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, nnvm_bridge as nb\n"
            "for name in sys.argv[1:]:\n"
            "    cm = nb.load_compiled(name)\n"
            "    try:\n"
            "        cm.run({'data': np.zeros((2, 3, 16, 16), np.float32)}); print('ran', name)\n"
            "    except nb.errors.MissingDependencyError as exc: print('missing', exc)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m_True.so"), str(tmp_path / "m_False.so")],
                         cwd=root, capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stderr[-2000:]
    assert lines[0].startswith("missing") and "m_True.so" in lines[0] and "offload=False" in lines[0]
    assert lines[1] == f"ran {tmp_path / 'm_False.so'}"


def test_run_rejects_wrong_inputs(small_onnx):
    cm = compile_model(small_onnx, offload=False)
    with pytest.raises(ShapeError, match="data"):
        cm.run({"data": np.zeros((1, 3, 16, 16), np.float32)})
    with pytest.raises(DTypeError, match="data"):
        cm.run({"data": np.zeros((2, 3, 16, 16), np.int32)})
    with pytest.raises(BridgeError, match="missing"):
        cm.run({"input": np.zeros((2, 3, 16, 16), np.float32)})


def test_bad_model_arguments(tmp_path):
    with pytest.raises(InvalidModelError, match="does not exist"):
        compile_model(str(tmp_path / "nope.onnx"))
    with pytest.raises(InvalidModelError):
        compile_model(12345)
    with pytest.raises(InvalidModelError, match="meta"):
        (tmp_path / "x.so").write_bytes(b"junk")
        load_compiled(str(tmp_path / "x.so"))
    with pytest.raises(CompileError, match="target"):
        x = variable("x", {"__shape__": "(2,)"})
        compile_model(Graph([Node("relu", "r", [x[0]])[0]]), target=3.5)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc to generate CUDA code")
def test_cuda_target_builds_and_exports_without_a_gpu(small_onnx, tmp_path):
    cm = compile_model(small_onnx, target="cuda")
    assert cm.target_kind == "cuda"
    lib = cm.export_library(str(tmp_path / "small_cuda.so"))
    assert os.path.getsize(lib) > 0
    assert json.load(open(lib + ".meta.json"))["target"] == "cuda"
    if not tvm.cuda(0).exist:
        with pytest.raises(CompileError, match="no CUDA GPU"):
            load_compiled(lib)
    else:  # pragma: no cover - only on a GPU machine
        x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
        close(load_compiled(lib).run({"data": x})[0], ort_run(small_onnx, {"data": x})[0])


def test_graph_with_params_kept_as_inputs():
    x = variable("x", {"__shape__": "(3, 4)"})
    w = variable("w")
    d = Node("dense", "fc", [x[0], w[0]], get_op("dense").format_attrs({"units": 2, "use_bias": False}))
    wv = RNG.standard_normal((2, 4)).astype(np.float32)
    cm = compile_model(Graph([d[0]]), params={"w": wv}, bind_params=False)
    xv = RNG.standard_normal((3, 4)).astype(np.float32)
    close(cm.run({"x": xv})[0], xv @ wv.T)
    with pytest.raises(CompileError, match="bound"):
        cm.export_library("/tmp/never_written.so")


def test_tuning_registers_only_the_targets_intrinsics():
    """A CPU tuning registers its CPU's tensorization intrinsics without parsing every other family's (CUDA's
    alone took minutes): checked in a fresh process, where nothing has imported the intrinsic package yet."""
    import subprocess
    import sys

    code = ("import sys, tvm; from frontend_ext.tvm import compat; "
            "compat.register_tensor_intrinsics(tvm.target.Target({'kind': 'llvm', 'mtriple': 'x86_64-linux-gnu'})); "
            "from tvm.s_tir.tensor_intrin import x86; "
            "from tvm.s_tir import TensorIntrin; TensorIntrin.get(x86.VNNI_DOT_16x4_INTRIN); "
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('tvm.s_tir.tensor_intrin.')))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "['x86']"


@pytest.mark.slow
def test_tuning_writes_a_database_and_reapplies_it(tmp_path):
    x = variable("x", {"__shape__": "(1, 4, 8, 8)"})
    w = variable("w")
    c = Node("conv2d", "conv", [x[0], w[0]], get_op("conv2d").format_attrs(
        {"channels": 4, "kernel_size": (3, 3), "padding": (1, 1), "use_bias": False}))
    r = Node("relu", "relu", [c[0]])
    params = {"w": RNG.standard_normal((4, 4, 3, 3)).astype(np.float32)}
    xv = RNG.standard_normal((1, 4, 8, 8)).astype(np.float32)
    ref = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(xv), torch.from_numpy(params["w"]),
                                                padding=1)).numpy()
    db = str(tmp_path / "db")
    cm = compile_model(Graph([r[0]]), params=params, tuning={"trials": 4, "database": db})
    close(cm.run({"x": xv})[0], ref)
    assert os.path.getsize(os.path.join(db, "database_tuning_record.json")) > 0
    # each tuned kernel was timed against its fixed schedule (the faster is built) and the verdict kept
    with open(os.path.join(db, "nnvm_bridge_fixed_or_tuned.json")) as f:
        assert set(json.load(f).values()) <= {"tuned", "fixed"}
    cm2 = compile_model(Graph([r[0]]), params=params, tuning={"trials": 0, "database": db})  # no search
    close(cm2.run({"x": xv})[0], ref)
    with pytest.raises(CompileError, match="no tuning records"):
        compile_model(Graph([r[0]]), params=params, tuning={"trials": 0, "database": str(tmp_path / "empty")})
    with pytest.raises(BridgeError, match="database"):
        compile_model(Graph([r[0]]), params=params, tuning={"trials": 4})
