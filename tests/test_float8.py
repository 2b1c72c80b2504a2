"""float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) and bfloat16 tensors: the dtype table, Cast / CastLike with
ONNX's rounding (to nearest even) and saturate, QuantizeLinear / DequantizeLinear to and from float8.

TVM's own LLVM casts are wrong for these types, so the compiled code converts with integer arithmetic on
the bits (frontend_ext/tvm/relax_emitters/narrow_floats.py): checked here bit for bit against ml_dtypes over
all 256 codes and over float32 values chosen to hit every rounding case (ties, their neighbours, values past
the largest, subnormals, NaN, inf, -0), and against onnxruntime on small models.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402
from nnvm_bridge.ir import dtypes as _dt  # noqa: E402
from nnvm_bridge.ops.numpy_ref import cast_array  # noqa: E402

FLOAT8 = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")
ONNX_CODE = {"float8_e4m3fn": TensorProto.FLOAT8E4M3FN, "float8_e4m3fnuz": TensorProto.FLOAT8E4M3FNUZ,
             "float8_e5m2": TensorProto.FLOAT8E5M2, "float8_e5m2fnuz": TensorProto.FLOAT8E5M2FNUZ}


def _np(name):
    return np.dtype(getattr(ml_dtypes, name))


def _all_codes(name):
    return np.arange(256, dtype=np.uint8).view(_np(name))


def _probe_values(name, seed=0):
    """float32 values for every rounding case of ``name``: each code's value, each midpoint between
    neighbours (a tie) and the floats just either side of it, random values over a wide exponent range,
    float32 subnormals and the specials."""
    rng = np.random.default_rng(seed)
    exact = _all_codes(name).astype(np.float32)
    finite = np.unique(exact[np.isfinite(exact)])
    mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)
    big = np.float32(ml_dtypes.finfo(_np(name)).max)
    specials = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e30, -1e30, 3.4e38, 1e-30, -1e-30,
                         1e-45, -1e-45, big * 1.03, big * 1.07, -big * 1.07, big * 2], np.float32)
    wide = rng.standard_normal(4000).astype(np.float32) * np.float32(10.0) ** rng.integers(-9, 7, 4000)
    return np.concatenate([exact, mids, np.nextafter(mids, np.float32(np.inf)),
                           np.nextafter(mids, np.float32(-np.inf)), wide.astype(np.float32), specials])


def _oracle(x, name, saturate):
    """ml_dtypes' cast, with Cast-19's saturation (out of range and +-inf to +-max) when asked."""
    if saturate:
        info = ml_dtypes.finfo(_np(name))
        x = np.clip(x, float(info.min), float(info.max))
    return x.astype(_np(name))


def _assert_same_values(got, want):
    """Equal as floats, NaN where NaN, and the same sign on zeros."""
    g, w = np.asarray(got).astype(np.float32), np.asarray(want).astype(np.float32)
    assert g.shape == w.shape
    same = (g == w) & (np.signbit(g) == np.signbit(w)) | np.isnan(g) & np.isnan(w)
    assert same.all(), f"{(~same).sum()} differ, e.g. got {g[~same][:5]} want {w[~same][:5]}"


def _model(nodes, inputs, outputs, opset=19):
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _cast_model(name, n):
    """x (float32) -> float8 with saturate 1 and 0; c (float8) -> float32 and float16."""
    code = ONNX_CODE[name]
    nodes = [helper.make_node("Cast", ["x"], ["sat"], to=code),
             helper.make_node("Cast", ["x"], ["nosat"], to=code, saturate=0),
             helper.make_node("Cast", ["c"], ["wide"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["c"], ["half"], to=TensorProto.FLOAT16)]
    return _model(nodes, [("x", TensorProto.FLOAT, [n]), ("c", code, [256])],
                  [("sat", code, [n]), ("nosat", code, [n]), ("wide", TensorProto.FLOAT, [256]),
                   ("half", TensorProto.FLOAT16, [256])])


# ---- the dtype table --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FLOAT8 + ("float8_e8m0fnu", "bfloat16"))
def test_dtype_table(name):
    assert _dt.canonical(_np(name)) == name and _dt.canonical(getattr(ml_dtypes, name)) == name
    assert _dt.to_numpy(name) == _np(name)
    assert _dt.from_onnx(_dt.to_onnx(name)) == name
    assert _dt.from_dtype_hint(_dt.dtype_hint(name)) == name
    assert _dt.is_float(name)


def test_float8_has_no_mxnet_code():
    with pytest.raises(nb.errors.DTypeError, match="MXNet has no float8_e5m2"):
        _dt.to_mxnet("float8_e5m2")


# ---- the IR's numpy reference against onnx's reference evaluator --------------------------------------
@pytest.mark.parametrize("name", FLOAT8)
def test_numpy_reference_matches_onnx_reference(name):
    from onnx.reference import ReferenceEvaluator

    x = _probe_values(name)
    model = _cast_model(name, len(x))
    sat, nosat, wide, half = ReferenceEvaluator(model).run(None, {"x": x, "c": _all_codes(name)})
    _assert_same_values(cast_array(x, name, True), sat)
    _assert_same_values(cast_array(x, name, False), nosat)
    _assert_same_values(cast_array(_all_codes(name), "float32"), wide)


# ---- TVM: exhaustive against ml_dtypes ----------------------------------------------------------------
@pytest.mark.parametrize("name", FLOAT8)
def test_tvm_float8_casts_are_exact(name):
    pytest.importorskip("tvm")
    x = _probe_values(name)
    cm = nb.compile_model(_cast_model(name, len(x)))
    sat, nosat, wide, half = cm.run({"x": x, "c": _all_codes(name)})
    assert sat.dtype == _np(name) and wide.dtype == np.float32
    _assert_same_values(sat, _oracle(x, name, True))
    _assert_same_values(nosat, _oracle(x, name, False))
    _assert_same_values(wide, _all_codes(name).astype(np.float32))
    _assert_same_values(half, _all_codes(name).astype(np.float16))


def test_tvm_float16_and_float8_sources(tmp_path):
    """float16 -> float8 and float8 -> float8 (through float32, exact) against ml_dtypes' direct casts; the
    exported library takes and gives the same ml_dtypes arrays."""
    pytest.importorskip("tvm")
    h = np.concatenate([np.arange(0, 65536, 7, dtype=np.uint16).view(np.float16),
                        np.array([np.inf, -np.inf, np.nan, 0, -0.0], np.float16)])
    codes = _all_codes("float8_e5m2")
    e4, e5 = TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2FNUZ
    model = _model([helper.make_node("Cast", ["h"], ["a"], to=e4),
                    helper.make_node("Cast", ["h"], ["b"], to=e5, saturate=0),
                    helper.make_node("Cast", ["c"], ["d"], to=e4)],
                   [("h", TensorProto.FLOAT16, [len(h)]), ("c", TensorProto.FLOAT8E5M2, [256])],
                   [("a", e4, [len(h)]), ("b", e5, [len(h)]), ("d", e4, [256])])
    cm = nb.compile_model(model)
    a, b, d = cm.run({"h": h, "c": codes})
    _assert_same_values(a, _oracle(h, "float8_e4m3fn", True))
    _assert_same_values(b, _oracle(h, "float8_e5m2fnuz", False))
    _assert_same_values(d, _oracle(codes.astype(np.float32), "float8_e4m3fn", True))
    loaded = nb.load_compiled(cm.export_library(str(tmp_path / "f8.so")))
    for got, want in zip(loaded.run({"h": h, "c": codes}), (a, b, d)):
        assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))


def test_tvm_bfloat16_casts_are_exact():
    """float32 -> bfloat16 rounds to nearest even and keeps every NaN a NaN (TVM's own cast makes
    NaNs with low payload bits inf); bfloat16 -> float32 over all 65536 codes."""
    pytest.importorskip("tvm")
    rng = np.random.default_rng(3)
    ties = np.arange(0, 65536, dtype=np.uint32) << 16 | 0x8000
    nan_payloads = np.array([0x7F800001, 0xFF800001, 0x7F80FFFF, 0x7FC00000, 0x7FFFFFFF], np.uint32)
    bits = np.concatenate([rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32), ties, ties + 1,
                           ties - 1, nan_payloads])
    x = bits.view(np.float32)
    codes = np.arange(65536, dtype=np.uint16).view(ml_dtypes.bfloat16)
    model = _model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.BFLOAT16),
                    helper.make_node("Cast", ["b"], ["z"], to=TensorProto.FLOAT)],
                   [("x", TensorProto.FLOAT, [len(x)]), ("b", TensorProto.BFLOAT16, [65536])],
                   [("y", TensorProto.BFLOAT16, [len(x)]), ("z", TensorProto.FLOAT, [65536])])
    y, z = nb.compile_model(model).run({"x": x, "b": codes})
    assert y.dtype == np.dtype(ml_dtypes.bfloat16)
    _assert_same_values(y, x.astype(ml_dtypes.bfloat16))
    _assert_same_values(z, codes.astype(np.float32))


# ---- onnxruntime: round trips through float8, and Q/DQ --------------------------------------------------
def _ort(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _round_trip_model(name):
    """float32 -> float8 (saturate 1 and 0) -> float32: onnxruntime feeds no float8 arrays from numpy."""
    code = ONNX_CODE[name]
    nodes = [helper.make_node("Cast", ["x"], ["s8"], to=code),
             helper.make_node("Cast", ["x"], ["n8"], to=code, saturate=0),
             helper.make_node("Cast", ["s8"], ["sat"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["n8"], ["nosat"], to=TensorProto.FLOAT)]
    return _model(nodes, [("x", TensorProto.FLOAT, ["n"])],
                  [("sat", TensorProto.FLOAT, ["n"]), ("nosat", TensorProto.FLOAT, ["n"])])


def _onnxruntime_agrees(x, name):
    """Where onnxruntime's non-saturating cast follows ONNX's table: not just past the largest value, where
    it rounds e4m3fn's (464, 496) to 448 (ONNX: NaN) and e5m2's (61440, 65536) to NaN (ONNX: inf)."""
    big = float(ml_dtypes.finfo(_np(name)).max)
    return ~np.isfinite(x) | (np.abs(x) <= big) | (np.abs(x) >= 2 * big)


@pytest.mark.parametrize("name", FLOAT8)
def test_cast_round_trip_matches_onnxruntime(name):
    pytest.importorskip("tvm")
    x = _probe_values(name, seed=1)
    model = _round_trip_model(name)
    want = _ort(model, {"x": x})
    agree = _onnxruntime_agrees(x, name)
    graph, params = nb.frontend.from_onnx(model)
    exported = nb.frontend.to_onnx(graph, params, opset=19)  # writes float8 and saturate=0
    for got in (nb.compile_model(model).run({"x": x}), _ort(exported, {"x": x})):
        _assert_same_values(got[0], want[0])
        _assert_same_values(got[1][agree], want[1][agree])


@pytest.mark.parametrize("name,saturate", [("float8_e4m3fn", 1), ("float8_e5m2", 0), ("float8_e4m3fnuz", 1)])
def test_quantize_dequantize_float8_matches_onnxruntime(name, saturate):
    pytest.importorskip("tvm")
    code = ONNX_CODE[name]
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 3, 5)) * 300).astype(np.float32)
    x.flat[:3] = [np.inf, -1e9, 0.0]
    scale = np.array([0.5, 2.0, 0.25], np.float32)  # per axis 1
    zp = np.zeros(3, _np(name))
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1, saturate=saturate),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5])],
                          [onnx.numpy_helper.from_array(scale, "s"), onnx.numpy_helper.from_array(zp, "z")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    want = _ort(model, {"x": x})[0]
    _assert_same_values(nb.compile_model(model).run({"x": x})[0], want)
    graph, params = nb.frontend.from_onnx(model)
    _assert_same_values(_ort(nb.frontend.to_onnx(graph, params, opset=19), {"x": x})[0], want)


# ---- what cannot hold float8 says so --------------------------------------------------------------------
def test_onnx_export_below_opset_19_names_the_opset():
    graph, params = nb.frontend.from_onnx(_round_trip_model("float8_e5m2"))
    with pytest.raises(UnsupportedOperatorError, match="float8_e5m2 needs opset 19"):
        nb.frontend.to_onnx(graph, params, opset=17)


def test_mxnet_says_it_has_no_float8():
    graph, params = nb.frontend.from_onnx(_round_trip_model("float8_e4m3fn"))
    with pytest.raises(UnsupportedOperatorError, match="float8_e4m3fn: MXNet has no float8 arrays") as info:
        nb.frontend.to_mxnet(graph, params)
    assert "cast" in str(info.value)


def test_tvm_refuses_arithmetic_on_float8():
    pytest.importorskip("tvm")
    code = TensorProto.FLOAT8E4M3FN
    model = _model([helper.make_node("Add", ["x", "x"], ["s"], name="add"),
                    helper.make_node("Flatten", ["s"], ["r"], name="moves", axis=0),
                    helper.make_node("Mul", ["r", "r"], ["y"], name="mul")],
                   [("x", code, [4])], [("y", code, [1, 4])])
    with pytest.raises(nb.errors.CompileError, match="only casts, .de.quantizes and moves float8 values") as info:
        nb.compile_model(model)
    assert "'add' (broadcast_add), 'y' (broadcast_mul)" in str(info.value)  # every one at once (IR names)


# ---- float8_e8m0fnu (Cast-24: a power of two, chosen by round_mode) -------------------------------------
def _e8m0_model(n):
    e8 = TensorProto.FLOAT8E8M0
    modes = [(mode, sat) for mode in ("up", "down", "nearest") for sat in (1, 0)]
    nodes = [helper.make_node("Cast", ["x"], [f"{mode}{sat}"], to=e8, round_mode=mode, saturate=sat)
             for mode, sat in modes] + [helper.make_node("Cast", ["c"], ["wide"], to=TensorProto.FLOAT)]
    outputs = [(f"{mode}{sat}", e8, [n]) for mode, sat in modes] + [("wide", TensorProto.FLOAT, [256])]
    return _model(nodes, [("x", TensorProto.FLOAT, [n]), ("c", e8, [256])], outputs, opset=24), modes


def _e8m0_probes():
    """Powers of two, the values either side of each, midpoints (1.5 * 2**k and neighbours), the extremes."""
    k = np.arange(-149, 128, dtype=np.float64)
    p2 = np.exp2(k).astype(np.float32)
    mids = (1.5 * np.exp2(k[:-1])).astype(np.float32)
    xs = np.concatenate([p2, np.nextafter(p2, np.float32(0)), np.nextafter(p2, np.float32(np.inf)), mids,
                         np.nextafter(mids, np.float32(0)), np.nextafter(mids, np.float32(np.inf)),
                         np.array([0, -0.0, -3.0, np.inf, -np.inf, np.nan, 3.4e38, 1.2e-38], np.float32)])
    return np.concatenate([xs, -xs]).astype(np.float32)


def test_e8m0_matches_onnx_reference_and_tvm():
    from onnx.reference import ReferenceEvaluator

    x, codes = _e8m0_probes(), np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu)
    model, modes = _e8m0_model(len(x))
    want = ReferenceEvaluator(model).run(None, {"x": x, "c": codes})
    for (mode, sat), w in zip(modes, want):
        _assert_same_values(cast_array(x, "float8_e8m0fnu", bool(sat), mode), w)
    pytest.importorskip("tvm")
    got = nb.compile_model(model).run({"x": x, "c": codes})
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        _assert_same_values(g, w)
    graph, params = nb.frontend.from_onnx(model)
    with pytest.raises(UnsupportedOperatorError, match="float8_e8m0fnu needs opset 24"):
        nb.frontend.to_onnx(graph, params, opset=21)
