"""frontend_ext/tvm/cpu: the pure-TVM CPU pipeline (NCHWc layouts, blocked conv2d, fixed schedules)
against onnxruntime, on small kernels of every kind.

Many cases share one ONNX graph (one output each) so that TVM compiles once per group; tolerance
relative to each output's scale: max|tvm - ort| <= 1e-4 * max(1, max|ort|).
"""
import json
import re

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from frontend_ext.tvm import compat  # noqa: E402
from frontend_ext.tvm.cpu import cpu_facts, cpu_pipeline  # noqa: E402
from frontend_ext.tvm.cpu import schedules  # noqa: E402
from frontend_ext.tvm.cpu.layout import channel_block  # noqa: E402
from frontend_ext.tvm.to_relax import to_relax  # noqa: E402
from nnvm_bridge.frontend import from_onnx  # noqa: E402

RNG = np.random.default_rng(7)


class Net:
    """A multi-output ONNX graph built case by case."""

    def __init__(self):
        self.nodes, self.inits, self.inputs, self.outputs, self.feeds, self.n = [], [], [], [], {}, 0

    def name(self, base):
        self.n += 1
        return f"{base}{self.n}"

    def input(self, shape):
        nm = self.name("x")
        self.inputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, list(shape)))
        self.feeds[nm] = RNG.standard_normal(shape).astype("float32")
        return nm

    def const(self, arr, dtype="float32"):
        nm = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), nm))
        return nm

    def ints(self, values):
        return self.const(values, "int64")

    def node(self, op, ins, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def output(self, nm):
        self.outputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, None))

    def conv(self, x, cin, cout, k, stride=1, pad=0, dil=1, groups=1, bias=True):
        kh, kw = (k, k) if isinstance(k, int) else k
        pads = [pad] * 4 if isinstance(pad, int) else list(pad)
        w = self.const(RNG.standard_normal((cout, cin // groups, kh, kw)) / np.sqrt(cin // groups * kh * kw))
        ins = [x, w] + ([self.const(RNG.standard_normal(cout))] if bias else [])
        return self.node("Conv", ins, kernel_shape=[kh, kw], strides=[stride, stride], pads=pads,
                         dilations=[dil, dil], group=groups)

    def model(self, opset=13):
        g = helper.make_graph(self.nodes, "t", self.inputs, self.outputs, self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def run_both(net, mcpu=None, pick_seconds=0, opset=13):
    model = net.model(opset)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    refs = sess.run(None, net.feeds)
    graph, params = from_onnx(model)
    mod, info = to_relax(graph, params)
    tgt = compat.make_target("llvm", mcpu=mcpu)
    report = {}
    mod = cpu_pipeline(mod, tgt, pick_seconds=pick_seconds, report=report)
    ex = tvm.compile(mod, target=tgt)
    vm = tvm.relax.VirtualMachine(ex, tvm.cpu())
    out = vm["main"](*[tvm.runtime.tensor(net.feeds[n]) for n, _, _ in info["inputs"]])
    got = [out.numpy()] if hasattr(out, "numpy") else [o.numpy() for o in out]
    return got, refs, mod, report


def assert_close(got, refs, names):
    assert len(got) == len(refs)
    for nm, g, r in zip(names, got, refs):
        assert g.shape == r.shape, (nm, g.shape, r.shape)
        err = float(np.abs(g.astype(np.float64) - r).max()) / max(1.0, float(np.abs(r).max()))
        assert err <= 1e-4, (nm, err)


CONV_CASES = [  # (name, N, C, H, W, K, kernel, stride, pad, dilation, groups)
    ("stem_c3_s2", 1, 3, 23, 21, 16, 7, 2, 3, 1, 1),
    ("c16_k32_3x3", 1, 16, 14, 14, 32, 3, 1, 1, 1, 1),
    ("c24_k40_1x1", 1, 24, 9, 9, 40, 1, 1, 0, 1, 1),
    ("c40_k24_1x1_s2", 1, 40, 10, 10, 24, 1, 2, 0, 1, 1),
    ("c32_k64_3x3_s2", 1, 32, 15, 15, 64, 3, 2, 1, 1, 1),
    ("dilation2", 1, 16, 12, 12, 16, 3, 1, 2, 2, 1),
    ("dilation3_odd", 1, 7, 13, 11, 5, 3, 1, 3, 3, 1),
    ("depthwise_s1", 1, 32, 12, 12, 32, 3, 1, 1, 1, 32),
    ("depthwise_s2", 1, 48, 15, 15, 48, 3, 2, 1, 1, 48),
    ("depthwise_5x5_dil", 2, 24, 11, 11, 24, 5, 1, 4, 2, 24),
    ("depthwise_odd_c", 1, 5, 9, 9, 5, 3, 1, 1, 1, 5),
    ("depthwise_multiplier", 1, 8, 9, 9, 16, 3, 1, 1, 1, 8),
    ("grouped_blocked", 1, 32, 8, 8, 64, 3, 1, 1, 1, 2),
    ("grouped_small", 1, 12, 8, 8, 20, 3, 1, 1, 1, 4),
    ("grouped_resnext", 1, 64, 7, 7, 64, 3, 2, 1, 1, 16),
    ("odd_k_out", 1, 16, 10, 10, 5, 3, 1, 1, 1, 1),
    ("head_k1000", 1, 64, 3, 3, 1000, 1, 1, 0, 1, 1),
    ("asym_pad", 1, 8, 9, 10, 8, 3, 2, (0, 1, 1, 0), 1, 1),
    ("rect_kernel", 1, 16, 9, 12, 16, (1, 5), 1, (0, 2, 0, 2), 1, 1),
    ("prime_width", 1, 16, 5, 53, 16, 3, 1, 1, 1, 1),
    ("batch2", 2, 16, 6, 6, 32, 3, 1, 1, 1, 1),
]


def test_convs_of_every_kind_match_onnxruntime():
    net = Net()
    names = []
    for name, N, C, H, W, K, k, s, p, d, g in CONV_CASES:
        x = net.input((N, C, H, W))
        y = net.node("Relu", [net.conv(x, C, K, k, s, p, d, g)])
        net.output(y)
        names.append(name)
    got, refs, mod, report = run_both(net)
    assert_close(got, refs, names)
    assert report["scheduled"] == report["primfuncs"]
    convs = [f for gv, f in mod.functions.items() if isinstance(f, tvm.tirx.PrimFunc) and "conv2d_nchwc" in
             gv.name_hint]
    assert convs and all("T.parallel" in f.script() and "T.vectorized" in f.script() for f in convs)


def test_cnn_blocks_stay_blocked_and_match():
    """conv + bias + relu6 (a clip) + residual add + pools + concat + global pool + dense, as in
    MobileNet/ResNet/DenseNet/SqueezeNet; clip must not force NCHW round trips."""
    net = Net()
    x = net.input((1, 3, 32, 32))
    y = net.node("Clip", [net.conv(x, 3, 32, 3, 2, 1), net.const(0.0), net.const(6.0)])
    y = net.node("Clip", [net.conv(y, 32, 32, 3, 1, 1, groups=32), net.const(0.0), net.const(6.0)])
    z = net.conv(y, 32, 24, 1)
    z = net.node("Add", [z, net.conv(net.node("Relu", [net.conv(z, 24, 144, 1)]), 144, 24, 1)])
    m = net.node("MaxPool", [z], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    a = net.node("AveragePool", [z], kernel_shape=[2, 2], strides=[2, 2])
    c = net.node("Concat", [m, a, net.conv(m, 24, 16, 3, 1, 1)], axis=1)  # 24 + 24 + 16 channels
    gp = net.node("GlobalAveragePool", [c])
    f = net.node("Flatten", [gp])
    out = net.node("Gemm", [f, net.const(RNG.standard_normal((10, 64))), net.const(RNG.standard_normal(10))],
                   transB=1)
    net.output(out)
    net.output(net.node("Softmax", [out], axis=1))
    got, refs, mod, _ = run_both(net)
    assert_close(got, refs, ["logits", "softmax"])
    main = mod["main"].script()
    assert "clip" not in main


def test_channel_sum_expanded_after_a_blocked_conv():
    """SSD's L2Norm (torch's F.normalize): a channel sum kept as (N, 1, H, W, 1) in NCHW16c, then Expand back
    to every channel; TVM's lowering cannot invert that layout change (a reshape)."""
    net = Net()
    y = net.node("Relu", [net.conv(net.input((1, 3, 12, 10)), 3, 32, 3, 1, 1)])
    norm = net.node("ReduceSum", [y, net.ints([1])], keepdims=1)
    wide = net.node("Expand", [norm, net.ints([1, 32, 12, 10])])
    net.output(net.node("Div", [y, net.node("Add", [wide, net.const(1e-3)])]))
    got, refs, _, _ = run_both(net)
    assert_close(got, refs, ["normalized"])


def test_dense_matmul_batch_matmul_softmax_layernorm():
    """The transformer path: dense layers with bias and GELU, batched attention matmuls, softmax,
    layer norm, shapes that do and do not divide the vector width."""
    net = Net()
    names = []
    for M, K, N in [(1, 64, 1000), (16, 32, 48), (7, 20, 13), (128, 64, 96)]:
        x = net.input((M, K))
        y = net.node("Gemm", [x, net.const(RNG.standard_normal((K, N))), net.const(RNG.standard_normal(N))])
        net.output(y)
        names.append(f"dense {M}x{K}x{N}")
    x = net.input((2, 16, 64))
    h = net.node("Add", [net.node("MatMul", [x, net.const(RNG.standard_normal((64, 64)) / 8)]),
                         net.const(RNG.standard_normal(64))])
    g = net.node("Mul", [h, net.node("Add", [net.node("Erf", [net.node("Div", [h, net.const(1.4142135)])]),
                                             net.const(1.0)])])
    net.output(g)
    names.append("dense+gelu 3-d")
    q, k, v = net.input((1, 4, 16, 8)), net.input((1, 4, 8, 16)), net.input((1, 4, 16, 8))
    p = net.node("Softmax", [net.node("MatMul", [q, k])], axis=-1)
    net.output(p)
    net.output(net.node("MatMul", [p, v]))
    names += ["softmax(qk)", "attention"]
    a, b = net.input((3, 5, 7)), net.input((3, 7, 9))
    net.output(net.node("MatMul", [a, b]))
    names.append("batch_matmul odd")
    ln_in = net.input((2, 10, 48))
    net.output(net.node("LayerNormalization", [ln_in, net.const(RNG.standard_normal(48)),
                                               net.const(RNG.standard_normal(48))], axis=-1, epsilon=1e-5))
    names.append("layer norm")
    r = net.input((4, 33))
    net.output(net.node("ReduceMean", [r], axes=[1], keepdims=0))
    net.output(net.node("ReduceMax", [r], axes=[0], keepdims=1))
    names += ["mean", "max"]
    got, refs, mod, report = run_both(net, opset=17)
    assert_close(got, refs, names)
    assert report["scheduled"] == report["primfuncs"]


def test_avx2_target_blocks_by_8_and_runs():
    tgt = compat.make_target("llvm", mcpu="haswell")
    facts = cpu_facts(tgt)
    assert (facts.vector_bits, facts.registers, facts.block()) == (256, 16, 8)
    assert channel_block(24, facts) == 8 and channel_block(20, facts) == 4 and channel_block(18, facts) is None
    net = Net()
    x = net.input((1, 16, 10, 10))
    net.output(net.node("Relu", [net.conv(x, 16, 24, 3, 1, 1)]))
    y = net.input((1, 24, 9, 9))
    net.output(net.conv(y, 24, 24, 3, 2, 1, groups=24))
    got, refs, mod, _ = run_both(net, mcpu="haswell")
    assert_close(got, refs, ["conv", "depthwise"])
    assert "T.Buffer((T.int64(1), T.int64(3), T.int64(10), T.int64(10), T.int64(8))" in mod.script()


def test_avx512_facts_and_conv_candidates():
    tgt = compat.make_target("llvm", mcpu="skylake-avx512")
    facts = cpu_facts(tgt)
    assert (facts.vector_bits, facts.registers, facts.block()) == (512, 32, 16)
    assert channel_block(24, facts) == 8 and channel_block(48, facts) == 16


def test_timed_pick_gives_the_same_results_and_is_remembered(tmp_path, monkeypatch):
    """The first compile times candidates and stores its picks; the second reuses them without timing;
    a corrupt cache file is an empty cache, never an error."""
    monkeypatch.setenv("NNVM_BRIDGE_CACHE_DIR", str(tmp_path))
    net = Net()
    x = net.input((1, 32, 14, 14))
    net.output(net.node("Relu", [net.conv(x, 32, 32, 3, 1, 1)]))
    d = net.input((1, 128))
    net.output(net.node("Gemm", [d, net.const(RNG.standard_normal((128, 256))), net.const(RNG.standard_normal(256))]))
    got, refs, _, report = run_both(net, pick_seconds=10)
    assert_close(got, refs, ["conv", "dense"])
    assert report["picked"] >= 1 and report["cached"] == 0
    stored = json.loads((tmp_path / "cpu_picks.json").read_text())
    assert len(stored) == report["picked"]
    again, _, _, report2 = run_both(net, pick_seconds=10)
    assert report2["picked"] == 0 and report2["cached"] == report["picked"]
    assert all(np.array_equal(a, b) for a, b in zip(got, again))
    (tmp_path / "cpu_picks.json").write_text("{not json")
    _, _, _, report3 = run_both(net, pick_seconds=10)
    assert report3["picked"] == report["picked"] and report3["cached"] == 0


def test_candidates_fit_the_registers():
    tgt = compat.make_target("llvm", mcpu="haswell")
    facts = cpu_facts(tgt)
    from tvm import te

    data = te.placeholder((1, 2, 9, 56, 8), name="d")
    w = te.placeholder((2, 2, 3, 3, 8, 8), name="w")
    from frontend_ext.tvm.cpu.conv2d import _conv_te

    spec = dict(kind="blocked", N=1, C=16, H=9, W=56, K=16, Cg=16, R=3, S=3, groups=1, cb=8, ob=8, kc=2,
                strides=[1, 1], dilation=[1, 1], padding=[0, 0, 0, 0], unpack=False)
    out = _conv_te(spec)(data, w)
    func = te.create_prim_func([data, w, out])
    cands = schedules.conv_candidates(func, facts)
    assert cands and all(c.rw * c.oi <= facts.registers for c in cands)
    assert schedules.schedule_primfunc(func, facts, tgt, cands[-1]) is not None


def test_default_library_runs_with_tvm_and_numpy_only(tmp_path):
    """compile_model's default llvm build is pure TVM: the exported library runs in a process where torch
    cannot be imported and this package is never imported, and matches onnxruntime."""
    import json
    import subprocess
    import sys

    from nnvm_bridge import compile_model

    net = Net()
    x = net.input((1, 3, 20, 20))
    y = net.node("Relu", [net.conv(x, 3, 16, 3, 2, 1)])
    y = net.node("Clip", [net.conv(y, 16, 16, 3, 1, 1, groups=16), net.const(0.0), net.const(6.0)])
    y = net.node("Flatten", [net.node("GlobalAveragePool", [net.conv(y, 16, 24, 1)])])
    net.output(net.node("Gemm", [y, net.const(RNG.standard_normal((5, 24))), net.const(RNG.standard_normal(5))],
                        transB=1))
    model = net.model()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, net.feeds)[0]
    cm = compile_model(str(path))
    assert cm.info["offload"] == []
    lib = str(tmp_path / "m.so")
    cm.export_library(lib)
    np.save(tmp_path / "x.npy", net.feeds[x])
    code = f"""
import sys, json
sys.modules["torch"] = None  # torch cannot be imported here
import numpy as np, tvm
from tvm import relax
vm = relax.VirtualMachine(tvm.runtime.load_module({lib!r}), tvm.cpu())
out = vm["main"](tvm.runtime.tensor(np.load({str(tmp_path / 'x.npy')!r}))).numpy()
np.save({str(tmp_path / 'y.npy')!r}, out)
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('nnvm_bridge', 'frontend_ext', 'torch')
                        and sys.modules[m] is not None)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path),
                          env={k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    got = np.load(tmp_path / "y.npy")
    assert_close([got], [ref], ["library"])


# ---- symbolic dims: one library for every batch / sequence length ------------------------------------
def sym_input(net, dims):
    """An input whose dims may be names (ONNX dim_params); its feeds are given per run."""
    nm = net.name("x")
    net.inputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, list(dims)))
    return nm


def run_at_sizes(net, feeds_per_size, opset=13, pick_seconds=0):
    """Compile once, run at every size; returns the pipeline's report and the built module."""
    model = net.model(opset)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    graph, params = from_onnx(model)
    mod, info = to_relax(graph, params)
    tgt = compat.make_target("llvm")
    report = {}
    mod = cpu_pipeline(mod, tgt, pick_seconds=pick_seconds, report=report)
    vm = tvm.relax.VirtualMachine(tvm.compile(mod, target=tgt), tvm.cpu())
    for feeds in feeds_per_size:
        out = vm["main"](*[tvm.runtime.tensor(feeds[n]) for n, _, _ in info["inputs"]])
        got = [out.numpy()] if hasattr(out, "numpy") else [o.numpy() for o in out]
        names = [f"{o.name} at {[f.shape for f in feeds.values()]}" for o in net.outputs]
        assert_close(got, sess.run(None, feeds), names)
    return report, mod


def _scripts(mod, name_part):
    return [f.script() for gv, f in mod.functions.items()
            if isinstance(f, tvm.tirx.PrimFunc) and name_part in gv.name_hint]


def test_symbolic_batch_convs_are_blocked_and_scheduled():
    """A CNN with a dynamic batch: the convs keep the channel-blocked compute and its schedule (not TVM's
    default lowering), at batch 1 and 3 from one library."""
    net = Net()
    x = sym_input(net, ["N", 16, 12, 12])
    y = net.node("Relu", [net.conv(x, 16, 32, 3, 1, 1)])
    z = net.node("Relu", [net.node("Add", [y, net.conv(y, 32, 32, 3, 1, 1, groups=32)])])
    z = net.node("MaxPool", [z], kernel_shape=[2, 2], strides=[2, 2])
    z = net.conv(z, 32, 24, 1, 2)
    net.output(net.node("Gemm", [net.node("Flatten", [net.node("GlobalAveragePool", [z])]),
                                 net.const(RNG.standard_normal((5, 24))), net.const(RNG.standard_normal(5))],
                        transB=1))
    feeds = [{x: RNG.standard_normal((n, 16, 12, 12)).astype("float32")} for n in (1, 3)]
    report, mod = run_at_sizes(net, feeds)
    assert report["scheduled"] == report["primfuncs"]
    assert report["rules"].get("conv") == 3, report["rules"]
    convs = _scripts(mod, "conv2d")
    assert convs and all("T.parallel" in s and "T.vectorized" in s for s in convs)


def test_symbolic_sequence_matmul_softmax_layernorm(tmp_path, monkeypatch):
    """The transformer path with a dynamic batch and sequence: dense + GELU, attention (both batch
    matmuls, softmax over a row of symbolic length), layer norm; one library at two sizes whose
    sequences do not divide the tiles. The matmuls get the matmul rule (padded tiles), the row
    reductions the reduction rule, and the timed pick runs at a representative size."""
    monkeypatch.setenv("NNVM_BRIDGE_CACHE_DIR", str(tmp_path))
    net = Net()
    hidden, heads = 32, 2
    x = sym_input(net, ["B", "S", hidden])
    h = net.node("Add", [net.node("MatMul", [x, net.const(RNG.standard_normal((hidden, hidden)) / 6)]),
                         net.const(RNG.standard_normal(hidden))])
    g = net.node("Mul", [h, net.node("Add", [net.node("Erf", [net.node("Div", [h, net.const(1.4142135)])]),
                                             net.const(1.0)])])
    split = net.name("shape")  # Reshape's 0 copies the (symbolic) batch and sequence
    net.inits.append(numpy_helper.from_array(np.array([0, 0, heads, hidden // heads], "int64"), split))
    q = net.node("Transpose", [net.node("Reshape", [g, split])], perm=[0, 2, 1, 3])
    k = net.node("Transpose", [net.node("Reshape", [x, split])], perm=[0, 2, 3, 1])
    p = net.node("Softmax", [net.node("MatMul", [q, k])], axis=-1)
    net.output(net.node("MatMul", [p, q]))
    net.output(net.node("LayerNormalization", [g, net.const(RNG.standard_normal(hidden)),
                                               net.const(RNG.standard_normal(hidden))], axis=-1, epsilon=1e-5))
    feeds = [{x: RNG.standard_normal((b, s, hidden)).astype("float32")} for b, s in ((1, 5), (2, 19))]
    report, mod = run_at_sizes(net, feeds, opset=17, pick_seconds=10)
    assert report["scheduled"] == report["primfuncs"]
    assert report["rules"].get("matmul", 0) >= 3 and report["rules"].get("reduction", 0) >= 2, report["rules"]
    assert report["picked"] >= 1
    mms = _scripts(mod, "matmul")
    assert mms and all("T.parallel" in s and "T.vectorized" in s and "_pad" in s for s in mms)


def test_one_by_one_matmul_tiles_over_a_symbolic_batch():
    """LeViT's attention with one query row and one value column per head: the matmul rule's tile is 1 x 1,
    which leaves the fused (batch x heads) tile loop innermost in the epilogue; that loop, of symbolic extent,
    must stay unvectorized (LLVM cannot build it: "Failed to vectorize loop with extent batch * 2")."""
    net = Net()
    q = sym_input(net, ["N", 2, 1, 8])
    v = sym_input(net, ["N", 2, 8, 1])
    scaled = net.node("Mul", [net.node("MatMul", [q, v]), net.const(0.35)])
    net.output(net.node("Add", [scaled, net.const(RNG.standard_normal((2, 1, 1)))]))
    feeds = [{q: RNG.standard_normal((n, 2, 1, 8)).astype("float32"),
              v: RNG.standard_normal((n, 2, 8, 1)).astype("float32")} for n in (1, 3)]
    report, _ = run_at_sizes(net, feeds)
    assert report["rules"] == {"matmul": 1}, report["rules"]


def test_a_sequence_of_patches_plus_tokens_between_fused_loops():
    """YOLOS's sequence, h * w patches plus 6 tokens, as a matmul's rows: the rule pads them to whole tiles,
    and the copy back from the padded buffer is a generic block over (batch, heads, sequence, vectors of a
    row). Fused as one parallel loop with the sequence in its middle, TVM cannot lower it ("The padding
    factor ... is not divisible by ..."); the fused loop must end at the sum."""
    net = Net()
    x = sym_input(net, ["N", 128, "H", "W"])

    seq = net.node("Pad", [net.node("Reshape", [x, net.ints([0, 0, -1])]), net.ints([0, 0, 0, 0, 0, 6])])
    heads = net.node("Reshape", [net.node("Transpose", [seq], perm=[0, 2, 1]), net.ints([0, 0, 2, 64])])
    y = net.node("Transpose", [heads], perm=[0, 2, 1, 3])
    net.output(net.node("MatMul", [y, net.const(RNG.standard_normal((64, 64)) / 8)]))
    feeds = [{x: RNG.standard_normal((n, 128, h, w)).astype("float32")} for n, h, w in ((1, 2, 3), (2, 4, 4))]
    report, _ = run_at_sizes(net, feeds)
    assert report["scheduled"] == report["primfuncs"] and report["rules"].get("matmul") == 1, report


def _reads_divided_by_a_symbol(script):
    """The ``T.reads`` lines of a PrimFunc's script with a division or modulo whose divisor is not a literal."""
    return [ln for ln in script.splitlines()
            if ln.strip().startswith("T.reads") and re.search(r"(//|%) (?!T\.int64\()", ln)]


def test_channel_shuffle_at_a_symbolic_image_size():
    """ShuffleNet's channel shuffle as the legacy exporter writes it (the shapes from Shape/Gather/Concat)
    after a stride-2 conv, at a dynamic batch and image size: (N, 8, H, W) -> (N, 2, 4, H, W), transpose,
    back. The reshapes index their input directly, with no division by H or W (TVM's own lowering divides
    the flat index by them: slow at run time, and minutes of LLVM codegen in ShuffleNet)."""
    net = Net()
    x = sym_input(net, ["N", 8, "H", "W"])

    y = net.conv(x, 8, 8, 3, stride=2, pad=1)
    shape = net.node("Shape", [y])
    n, h, w = (net.node("Gather", [shape, net.ints([k])], axis=0) for k in (0, 2, 3))
    split = net.node("Reshape", [y, net.node("Concat", [n, net.ints([2, 4]), h, w], axis=0)])
    shuffled = net.node("Transpose", [split], perm=[0, 2, 1, 3, 4])
    net.output(net.node("Relu", [net.node("Reshape", [shuffled, net.node("Concat", [n, net.ints([8]), h, w],
                                                                          axis=0)])]))
    feeds = [{x: RNG.standard_normal((b, 8, hh, ww)).astype("float32")} for b, hh, ww in ((1, 9, 7), (2, 16, 12))]
    _, mod = run_at_sizes(net, feeds)
    reshapes = _scripts(mod, "reshape")
    assert len(reshapes) >= 2 and not [ln for s in reshapes for ln in _reads_divided_by_a_symbol(s)]


def test_representative_sizes_for_symbolic_kernels():
    """A dim used only as a buffer's first axis is timed as a batch (1), any other as a sequence."""
    from tvm import te

    from frontend_ext.tvm.cpu import pick

    n, s = tvm.tirx.Var("n", "int64"), tvm.tirx.Var("s", "int64")
    a = te.placeholder((n, s, 8), name="a")
    b = te.compute((n, s * 2, 8), lambda i, j, k: a[i, j // 2, k], name="b")
    sizes = pick.representative_sizes(te.create_prim_func([a, b]))
    assert (sizes(n), sizes(s * 2)) == (pick.BATCH_SIZE, 2 * pick.SEQUENCE_SIZE)


def test_a_tuning_record_is_built_only_where_it_is_faster(tmp_path):
    """cpu/tuned.py keeps, per kernel, the faster of the MetaSchedule record and the fixed schedule: here the
    "record" is once the unscheduled loop nest (many times slower than the fixed schedule) and once the fixed
    schedule itself against an unscheduled "fixed" one, so each verdict is clear on a noisy machine."""
    from tvm import te

    from frontend_ext.tvm.cpu import tuned
    from frontend_ext.tvm.cpu.pipeline import _structural_hash

    a, b = te.placeholder((256, 256), name="a"), te.placeholder((256, 256), name="b")
    k = te.reduce_axis((0, 256), name="k")
    c = te.compute((256, 256), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="c")
    naive = te.create_prim_func([a, b, c])
    target = tvm.target.Target("llvm")
    with target:
        fast = schedules.schedule_primfunc(naive.with_attr("global_symbol", "main"), cpu_facts(target), target)
    assert fast is not None
    fast = compat.mark_scheduled(fast)
    marked = compat.mark_scheduled(naive)

    class Database:  # only where the records live is read
        path_tuning_record = str(tmp_path / "database_tuning_record.json")

    untouched = tvm.IRModule({"mm": naive})
    report = {}
    out = tuned.keep_faster(untouched, tvm.IRModule({"mm": fast}), tvm.IRModule({"mm": marked}), target,
                            Database, _structural_hash, report=report)
    assert report == {"tuned_kept": 0, "fixed_kept": 1} and out["mm"].same_as(fast)
    verdicts = json.loads((tmp_path / tuned.VERDICTS).read_text())
    assert list(verdicts.values()) == ["fixed"]

    (tmp_path / tuned.VERDICTS).unlink()
    out = tuned.keep_faster(untouched, tvm.IRModule({"mm": marked}), tvm.IRModule({"mm": fast}), target,
                            Database, _structural_hash, report=report)
    assert report == {"tuned_kept": 1, "fixed_kept": 0} and out["mm"].same_as(fast)
