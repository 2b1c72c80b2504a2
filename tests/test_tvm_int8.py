"""TVM's integer path for quantized models (frontend_ext/tvm/cpu/qdq.py, int8.py) against onnxruntime.

QDQ conv2d and matmul models written here with onnx.helper (per-channel and per-tensor int8 weights, uint8 and
int8 activations, padding/stride, a bias and a Relu before the output QuantizeLinear, 3-d matmul data), and a
dynamic one (DynamicQuantizeLinear + MatMulInteger). Each is compiled with ``int8=True`` and with
``int8=False``; both must match onnxruntime (its own int8 kernels) within one output quantization step (outputs
are dequantized). Then: the rewrite really happens (integer kernels with int32 accumulation in the module,
none with ``int8=False``); the schedule without VNNI (an AVX2 target) is correct too; weights that are not
int8 times a scale keep the float path; and ``integer_weights`` recovers exactly what was quantized.
"""
from __future__ import annotations

import platform

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tvm")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import quantized_fixtures as qf  # noqa: E402
from frontend_ext.tvm.cpu.qdq import integer_weights  # noqa: E402
from nnvm_bridge import compile_model  # noqa: E402

X_SCALE, Y_SCALE = 0.02, 0.05


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def _qdq_model(kind, act, per_channel, rng, relu=False, shape=None):
    """x -> Q -> DQ -> Conv / MatMul (DQ'd int8 weights) [+ bias] [-> Relu] -> Q -> DQ -> y."""
    zx = np.array(3 if act == "uint8" else -5, dtype=act)
    zy = np.array(120 if act == "uint8" else 4, dtype=act)
    if kind == "conv":
        shape = shape or (2, 6, 9, 9)
        wshape, axis, k = (8, shape[1], 3, 3), 0, 8
    else:
        shape = shape or (2, 5, 12)
        wshape, axis, k = (shape[-1], 20), 1, 20
    wq = rng.integers(-127, 128, wshape).astype(np.int8)
    ws = (rng.uniform(0.002, 0.01, k) if per_channel else np.array(0.006)).astype(np.float32)
    inits = [_const("sx", np.float32(X_SCALE)), _const("zx", zx), _const("sy", np.float32(Y_SCALE)),
             _const("zy", zy), _const("wq", wq), _const("ws", ws), _const("zw", np.zeros(ws.shape, np.int8))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xf"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "zw"], ["wf"], axis=axis)]
    if kind == "conv":
        bias = rng.integers(-500, 500, k).astype(np.int32)
        inits += [_const("bq", bias), _const("bs", (X_SCALE * ws * np.ones(k)).astype(np.float32)),
                  _const("bz", np.zeros(k, np.int32))]
        nodes += [helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bf"], axis=0),
                  helper.make_node("Conv", ["xf", "wf", "bf"], ["yf"], pads=[1, 1, 1, 1], strides=[2, 1])]
    else:
        nodes.append(helper.make_node("MatMul", ["xf", "wf"], ["yf"]))
    last = "yf"
    if relu:
        nodes.append(helper.make_node("Relu", ["yf"], ["yr"]))
        last = "yr"
    nodes += [helper.make_node("QuantizeLinear", [last, "sy", "zy"], ["yq"]),
              helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"])]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), shape


def _dynamic_model(rng):
    """DynamicQuantizeLinear + MatMulInteger (int8 weights) + the float rescale: quantize_dynamic's form."""
    wq = rng.integers(-127, 128, (16, 24)).astype(np.int8)
    inits = [_const("wq", wq), _const("zw", np.int8(0)), _const("ws", np.float32(0.004))]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "wq", "xz", "zw"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["xs", "ws"], ["s"]),
             helper.make_node("Mul", ["accf", "s"], ["y"])]
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (3, 4, 16))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), (3, 4, 16)


def _run_ort(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def _check(model, shape, rng, step, **compile_kw):
    x = (rng.standard_normal(shape) * 1.5).astype(np.float32)
    ref = _run_ort(model, x)
    for int8 in (True, False):
        got = compile_model(model, int8=int8, **compile_kw).run({"x": x})[0]
        assert got.shape == ref.shape
        err = np.abs(got.astype(np.float64) - ref)
        # one output quantization step at most, and only where float rounding meets a tie
        assert err.max() <= step * 1.001 + 1e-6, (int8, err.max())
        assert (err > 1e-6).mean() < 0.02, (int8, (err > 1e-6).mean())


@pytest.mark.parametrize("kind", ["conv", "matmul"])
@pytest.mark.parametrize("act", ["uint8", "int8"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_qdq_matches_onnxruntime(kind, act, per_channel):
    if act == "int8" and not qf.int8_kernels_are_exact():  # (its uint8 cases pass there)
        pytest.skip(qf.SATURATING_INT8)
    rng = np.random.default_rng(11)
    model, shape = _qdq_model(kind, act, per_channel, rng, relu=(act == "uint8"))
    _check(model, shape, rng, Y_SCALE)


def test_dynamic_matmul_integer_matches_onnxruntime():
    if not qf.int8_kernels_are_exact():
        pytest.skip(qf.SATURATING_INT8)
    rng = np.random.default_rng(12)
    model, shape = _dynamic_model(rng)
    x = rng.standard_normal(shape).astype(np.float32)
    ref = _run_ort(model, x)
    for int8 in (True, False):
        got = compile_model(model, int8=int8).run({"x": x})[0]
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86 AVX2 target")
def test_without_vnni_matches_onnxruntime():
    """AVX2 (no VNNI): the same kernels as plain int32 vector code."""
    rng = np.random.default_rng(13)
    model, shape = _qdq_model("conv", "uint8", True, rng, shape=(1, 5, 7, 7))
    target = {"kind": "llvm", "mtriple": "x86_64-linux-gnu", "mcpu": "haswell"}
    _check(model, shape, rng, Y_SCALE, target=target)


def _prepared(model, int8):
    import nnvm_bridge as nb
    from frontend_ext.tvm import compat
    from frontend_ext.tvm.cpu import prepare
    from frontend_ext.tvm.to_relax import to_relax

    graph, params = nb.frontend.from_onnx(model)
    mod, _ = to_relax(graph, params)
    return prepare(mod, compat.make_target("llvm"), int8=int8)


def _kernels(mod):
    return {gv.name_hint: str(f) for gv, f in mod.functions.items() if "qconv2d" in gv.name_hint
            or "qmatmul" in gv.name_hint}


@pytest.mark.parametrize("kind", ["conv", "matmul"])
def test_rewrite_happens(kind):
    model, _ = _qdq_model(kind, "uint8", True, np.random.default_rng(14))
    kernels = _kernels(_prepared(model, True))
    assert len(kernels) == 1, list(kernels)
    text = next(iter(kernels.values()))
    assert '"uint8"' in text and '"int8"' in text and 'T.Cast("int32"' in text  # int32 accumulation of int8 data
    assert not _kernels(_prepared(model, False))


def test_float_weights_keep_the_float_path():
    """A conv on dequantized data whose weight is a float tensor (not int8 x scale): no integer kernel."""
    rng = np.random.default_rng(15)
    model, _ = _qdq_model("conv", "uint8", True, rng)
    w = next(i for i in model.graph.initializer if i.name == "wq")
    w.CopyFrom(_const("wq", rng.standard_normal((8, 6, 3, 3)).astype(np.float32)))
    model.graph.node[2].CopyFrom(helper.make_node("Identity", ["wq"], ["wf"]))
    assert not _kernels(_prepared(model, True))


def test_integer_weights_recovers_the_quantization():
    rng = np.random.default_rng(16)
    q = rng.integers(-127, 128, (8, 6, 3, 3)).astype(np.int8)
    q[:, 0, 0, 0] = 127  # onnxruntime's symmetric scales: max|w| / 127
    for s in (rng.uniform(1e-3, 1e-2, 8).astype(np.float32), np.full(8, 0.004, np.float32)):
        w = (q.astype(np.float32) * s[:, None, None, None]).astype(np.float32)
        wq, ws = integer_weights(w, 0)
        np.testing.assert_array_equal(wq, q)
        np.testing.assert_allclose(ws, s, rtol=1e-6)
    assert integer_weights(rng.standard_normal((8, 6, 3, 3)).astype(np.float32), 0) is None
    ints = q.astype(np.float32)  # MatMulInteger / ConvInteger: the scale is 1
    wq, ws = integer_weights(ints, 0)
    np.testing.assert_array_equal(wq, q)
    assert np.all(ws == 1)


def test_auto_takes_the_integer_path_where_measured_faster():
    """int8="auto": conv2d on AVX-512 VNNI targets (measured faster), matmul never (not measured faster)."""
    from frontend_ext.tvm import compat
    from frontend_ext.tvm.cpu.int8 import has_vnni
    from frontend_ext.tvm.cpu.pipeline import int8_kinds

    vnni = {"kind": "llvm", "mtriple": "x86_64-linux-gnu", "mcpu": "cascadelake"}
    avx2 = {"kind": "llvm", "mtriple": "x86_64-linux-gnu", "mcpu": "haswell"}
    assert has_vnni(compat.make_target(vnni)) and not has_vnni(compat.make_target(avx2))
    assert int8_kinds(compat.make_target(vnni), "auto") == ("conv2d",)
    assert int8_kinds(compat.make_target(avx2), "auto") == ()
    assert int8_kinds(compat.make_target(avx2), True) == ("conv2d", "matmul")
    assert int8_kinds(compat.make_target(vnni), False) == ()
