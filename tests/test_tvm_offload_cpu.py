"""The CPU offload path (frontend_ext/tvm/{fusion,offload}.py): conv/dense chains grouped into segments,
each one packed call of oneDNN fused convs with prepacked weights; in-place residuals; threads."""
import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from frontend_ext.tvm import compat, offload  # noqa: E402
from nnvm_bridge import compile_model  # noqa: E402
from tolerance import assert_close as close  # noqa: E402

RNG = np.random.default_rng(11)


class ConvMix(torch.nn.Module):
    """Every conv flavour the offload fuses: stride, dilation, groups, depthwise, no bias, residual,
    ReLU, ReLU6 (clip), and chains that stay channels-last between offloaded calls."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.grouped = nn.Conv2d(16, 16, 3, 1, 2, dilation=2, groups=4)
        self.pw = nn.Conv2d(16, 24, 1)
        self.pw6 = nn.Conv2d(24, 24, 1)
        self.fc = nn.Linear(24, 7)

    def forward(self, x):
        y = self.stem(x)
        y = torch.relu(self.grouped(self.dw(y)) + y)  # residual + relu
        y = self.pw(y)  # conv with bias, no activation
        y = torch.clamp(self.pw6(y) + y, 0, 6)  # residual + clip: oneDNN cannot fuse it, F.conv2d runs it
        return self.fc(y.mean((2, 3))), y  # the last conv's output is read by TVM code (NCHW)


@pytest.fixture(scope="module")
def convmix_onnx(tmp_path_factory):
    torch.manual_seed(3)
    net = ConvMix().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
    path = str(tmp_path_factory.mktemp("offload") / "convmix.onnx")
    torch.onnx.export(net, (torch.zeros(2, 3, 20, 20),), path, input_names=["data"], output_names=["logits", "feat"],
                      opset_version=13, dynamo=False)
    return path


def test_fused_offload_matches_onnxruntime(convmix_onnx, monkeypatch):
    x = RNG.standard_normal((2, 3, 20, 20)).astype(np.float32)
    refs = ort.InferenceSession(convmix_onnx, providers=["CPUExecutionProvider"]).run(None, {"data": x})
    cm = compile_model(convmix_onnx, target="llvm", offload=True)
    assert cm.info["offload"] == ["torch"]
    plain_calls = []
    real_conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, "conv2d", lambda *a, **k: plain_calls.append(1) or real_conv2d(*a, **k))
    for _ in range(2):  # first run packs the weights, the second reuses them
        for got, ref in zip(cm.run({"data": x}), refs):
            close(got, ref)
    if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise"):
        assert len(plain_calls) == 2, "only the residual+clip conv may leave oneDNN's fused ops (once per run)"


def test_two_models_share_the_process_correctly(convmix_onnx, tmp_path):
    """Packed weights are keyed by the weight's address: a second model must not get the first one's."""
    torch.manual_seed(4)
    other = ConvMix().eval()
    other_path = str(tmp_path / "other.onnx")
    torch.onnx.export(other, (torch.zeros(2, 3, 20, 20),), other_path, input_names=["data"],
                      output_names=["logits", "feat"], opset_version=13, dynamo=False)
    x = RNG.standard_normal((2, 3, 20, 20)).astype(np.float32)
    runs = []
    for path in (convmix_onnx, other_path, convmix_onnx):
        ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
        close(compile_model(path, offload=True).run({"data": x})[0], ref)
        runs.append(ref)
    assert np.abs(runs[0] - runs[1]).max() > 1e-2  # the two models really differ


def _branchy_onnx(path):
    """Chains split into segments by TVM ops, in a fixed node order: a segment input computed by TVM
    (max-pool), a segment with two outputs (one read by TVM, one a graph output), a residual read again
    later (must not be overwritten in place), a residual from outside the segment, and a clip with
    no upper bound (+inf)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = []

    def const(name, *shape):
        inits.append(numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32) * 0.3, name))
        return name

    def conv(x, y, name, cin, cout, k, group=1):
        return helper.make_node("Conv", [x, const(name + ".w", cout, cin // group, k, k), const(name + ".b", cout)],
                                [y], pads=[k // 2] * 4, group=group)
    nodes = [
        conv("data", "c1", "c1", 3, 8, 3), helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),  # TVM; segment 1 = c1
        conv("a", "b", "c2", 8, 8, 3),  # segment 2: c2, c3 chain, c5 chain
        conv("b", "c3", "c3", 8, 8, 1), helper.make_node("Add", ["c3", "b"], ["s3"]),
        helper.make_node("Relu", ["s3"], ["c"]),  # residual b is read again by c5 below
        conv("b", "c5", "c5", 8, 8, 1), helper.make_node("Add", ["c5", "a"], ["d"]),  # residual from outside
        helper.make_node("Sigmoid", ["c"], ["sg"]),  # TVM: closes segment 2
        conv("sg", "c4", "c4", 8, 8, 3, group=8),  # segment 3: depthwise + clip(-0.5, inf)
        helper.make_node("Clip", ["c4", const("lo") and "lo", "hi"], ["e"]),
        helper.make_node("ReduceMean", ["e"], ["m"], axes=[2, 3], keepdims=0),  # TVM
        helper.make_node("Gemm", ["m", const("fc.w", 5, 8), const("fc.b", 5)], ["logits"], transB=1),  # segment 4
    ]
    inits[[i.name for i in inits].index("lo")] = numpy_helper.from_array(np.array(-0.5, np.float32), "lo")
    inits.append(numpy_helper.from_array(np.array(np.inf, np.float32), "hi"))
    graph = helper.make_graph(nodes, "branchy", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5]),
                               helper.make_tensor_value_info("d", TensorProto.FLOAT, [1, 8, 6, 6])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_segments_split_at_tvm_ops_and_match_onnxruntime(tmp_path):
    from frontend_ext.tvm import fusion
    from nnvm_bridge.model_files import load_model
    from frontend_ext.tvm.to_relax import to_relax
    from nnvm_bridge.ir.passes import infer_shape, infer_type

    path = _branchy_onnx(str(tmp_path / "branchy.onnx"))
    graph, params, _, _ = load_model(path)
    g = infer_type(infer_shape(graph, params=params), params=params)
    plans = fusion.plan_offload(g, params)
    segs = [s for s in fusion.emission_order(g, plans) if isinstance(s, fusion.Segment)]
    assert [len(s.members) for s in segs] == [1, 3, 1, 1]
    assert [len(s.outputs) for s in segs] == [1, 2, 1, 1]  # segment 2 hands out c (to sigmoid) and d
    assert plans[segs[2].members[0]].clip == (-0.5, np.inf)
    mod, _ = to_relax(graph, params, offload=True)
    assert mod.script().count(offload.SEGMENT) == 4
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    refs = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"data": x})
    cm = compile_model(path, offload=True)
    for _ in range(3):  # the first run builds the segments; later runs reuse them (and in-place buffers)
        for got, ref in zip(cm.run({"data": x}), refs):
            close(got, ref)


def test_program_round_trip_keeps_exact_floats():
    steps = [dict(kind=offload.KIND_CONV, data=0, res=None, bias=True, act=offload.ACT_CLIP, clip=(-0.5, np.inf),
                  strides=(2, 1), pads=(1, 0), dilation=(1, 2), groups=4),
             dict(kind=offload.KIND_CONCAT, inputs=[2, 0, 1]),  # variable length: a record of its own shape
             dict(kind=offload.KIND_DENSE, data=2, res=1, bias=False, act=offload.ACT_RELU, clip=(0.1, 6.0))]
    ints = offload.encode_program(2, steps, [3, 2])
    assert all(isinstance(i, int) and i >= 0 for i in ints)  # a Relax ShapeExpr holds them
    n_in, got, outs = offload.decode_program(ints)
    assert n_in == 2 and outs == [3, 2]
    assert got[0]["clip"] == (-0.5, np.inf) and got[0]["strides"] == [2, 1] and got[0]["dilation"] == [1, 2]
    assert got[0]["groups"] == 4 and got[0]["res"] is None and got[0]["bias"]
    assert got[1]["kind"] == offload.KIND_CONCAT and got[1]["inputs"] == [2, 0, 1]
    assert got[2]["res"] == 1 and not got[2]["bias"] and got[2]["clip"] == (float(np.float32(0.1)), 6.0)


def test_site_cache_evicts_oldest_and_keeps_weights_alive():
    cache = offload._SiteCache(limit=3 * 2 * 4 * 100)  # room for three 100-float weights (+ packed copies)
    weights = [torch.full((100,), float(i)) for i in range(5)]
    for i, w in enumerate(weights):
        assert cache.put(i, f"site{i}", w) == f"site{i}"
    assert list(cache.entries) == [2, 3, 4] and cache.get(1) is None and cache.get(3) == "site3"
    assert cache.entries[4][1] is weights[4]  # the constant is held, so its address cannot be reused
    cache.put(3, "again", weights[3])  # replacing an entry does not count its bytes twice
    assert cache.held == 3 * 2 * 4 * 100 and cache.get(3) == "again"


def test_default_threads_follow_env_then_cores(monkeypatch):
    monkeypatch.delenv("NNVM_BRIDGE_OFFLOAD_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert offload.default_threads() == compat.num_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert offload.default_threads() == 3
    monkeypatch.setenv("NNVM_BRIDGE_OFFLOAD_THREADS", "5")
    assert offload.default_threads() == 5
    monkeypatch.setenv("NNVM_BRIDGE_OFFLOAD_THREADS", "lots")  # unparsable: ignored
    assert offload.default_threads() == 3


@pytest.mark.parametrize("user_env, expected", [
    ({}, {"GOMP_SPINCOUNT": "10000", "OMP_WAIT_POLICY": None}),  # bounded spin by default
    ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": None, "OMP_WAIT_POLICY": "ACTIVE"}),  # user's choice kept
    ({"GOMP_SPINCOUNT": "7"}, {"GOMP_SPINCOUNT": "7", "OMP_WAIT_POLICY": None}),
])
def test_openmp_defaults_respect_the_users_settings(user_env, expected):
    """libgomp reads these once, when torch loads: check in a fresh interpreter that has not loaded torch."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(user_env)
    code = ("import json, os, sys; from frontend_ext.tvm import compat; compat.openmp_defaults(); "
            "assert 'torch' not in sys.modules; "
            "print(json.dumps({k: os.environ.get(k) for k in ('GOMP_SPINCOUNT', 'OMP_WAIT_POLICY')}))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected


def test_weight_shared_by_two_segments(tmp_path):
    """One initializer feeding two convs in different segments (split by a TVM op): each segment must
    run its own program, whatever the constants' addresses."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(RNG.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3, "w")
    nodes = [helper.make_node("Conv", ["data", "w"], ["a"], pads=[1] * 4),
             helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Conv", ["s", "w"], ["b"], pads=[0] * 4, strides=[2, 2]),
             helper.make_node("Relu", ["b"], ["out"])]
    graph = helper.make_graph(nodes, "shared", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 4, 9, 9])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [w])
    path = str(tmp_path / "shared.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = RNG.standard_normal((1, 4, 9, 9)).astype(np.float32)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
    cm = compile_model(path, offload=True)
    for _ in range(2):
        close(cm.run({"data": x})[0], ref)


def test_held_bytes_count_constants_and_packed_conv_weights():
    steps = [dict(kind=offload.KIND_CONV, data=0, res=None, bias=True, act=0),
             dict(kind=offload.KIND_DENSE, data=1, res=None, bias=False, act=0)]
    consts = [torch.zeros(100), torch.zeros(10), torch.zeros(50)]
    assert offload._held_bytes(offload.encode_program(1, steps, [2]), consts) == 4 * (2 * 100 + 10 + 50)
    assert offload._SiteCache().limit >= 1 << 30  # one VGG16 (~590 MB held) must fit without evicting itself


def test_channel_concat_joins_the_segment_of_the_chains_it_reads(tmp_path):
    """A fire module (squeeze conv, two expand convs, Concat) runs as one segment with the next conv; a
    Concat of TVM values only (and one reading a graph input) stays TVM code."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from frontend_ext.tvm import fusion
    from nnvm_bridge.model_files import load_model
    from nnvm_bridge.ir.passes import infer_shape, infer_type

    inits = []

    def conv(x, y, cin, cout, k):
        w, b = f"{y}.w", f"{y}.b"
        inits.append(numpy_helper.from_array(RNG.standard_normal((cout, cin, k, k)).astype(np.float32) * 0.3, w))
        inits.append(numpy_helper.from_array(RNG.standard_normal(cout).astype(np.float32) * 0.1, b))
        return [helper.make_node("Conv", [x, w, b], [y + "_c"], pads=[k // 2] * 4),
                helper.make_node("Relu", [y + "_c"], [y])]
    nodes = (conv("data", "s", 4, 3, 1) + conv("s", "e1", 3, 5, 1) + conv("s", "e3", 3, 5, 3)
             + [helper.make_node("Concat", ["e1", "e3", "data"], ["fire"], axis=1)]  # reads a graph input too
             + conv("fire", "nxt", 14, 6, 1)
             + [helper.make_node("Sigmoid", ["nxt"], ["sg"]), helper.make_node("Tanh", ["nxt"], ["th"]),
                helper.make_node("Concat", ["sg", "th"], ["out"], axis=1)])  # TVM values only
    graph = helper.make_graph(nodes, "fire", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 4, 7, 7])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 12, 7, 7])], inits)
    path = str(tmp_path / "fire.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)

    graph, params, _, _ = load_model(path)
    g = infer_type(infer_shape(graph, params=params), params=params)
    plans = fusion.plan_offload(g, params)
    order = fusion.emission_order(g, plans)
    segs = [s for s in order if isinstance(s, fusion.Segment)]
    assert len(segs) == 1 and [plans[m].kind for m in segs[0].members].count("concat") == 1
    assert len(segs[0].members) == 5 and len(segs[0].outputs) == 1
    last = g.nodes.index(g.outputs[0].node)
    assert g.nodes[last].op == "concatenate" and last in order  # demoted: emitted as a TVM node
    x = RNG.standard_normal((1, 4, 7, 7)).astype(np.float32)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
    cm = compile_model(path, offload=True)
    assert cm.offloaded == {"segments": 1, "conv2d": 4, "dense": 0, "concat": 1}
    for _ in range(2):
        close(cm.run({"data": x})[0], ref)
