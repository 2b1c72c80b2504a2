"""The rest of ONNX's operator set (issue 13): each op through compile_model (TVM) and import_to_gluon (MXNet)
against onnxruntime, at a few attribute settings; where MXNet cannot express an op, the specific error.

The random ops cannot match any other runtime's numbers: they are checked for shape, dtype, range and
distribution, and for staying random (never folded into a constant).
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402
from tolerance import assert_close  # noqa: E402

RNG = np.random.default_rng(13)
F = TensorProto.FLOAT


def _model(node, feeds, opset, consts=None, out_type=F, n_out=1):
    """A one-node model: ``feeds`` are its graph inputs, ``consts`` initializers."""
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in feeds.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    outputs = [helper.make_tensor_value_info(name, out_type, None) for name in list(node.output)[:n_out]]
    graph = helper.make_graph([node], node.op_type, inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _grid(*shape):
    return (RNG.random(shape) * 2.4 - 1.2).astype(np.float32)


def _gridsample(mode, padding, align, opset=20, three_d=False):
    x, g = (_x(1, 2, 3, 4, 5), _grid(1, 2, 3, 4, 3)) if three_d else (_x(2, 3, 5, 6), _grid(2, 4, 7, 2))
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding, align_corners=align)
    return _model(node, {"x": x, "g": g}, opset), {"x": x, "g": g}


def _group_norm(opset):
    x = _x(2, 6, 3, 4)
    groups = 3
    n = groups if opset == 18 else 6
    consts = {"scale": _x(n), "bias": _x(n)}
    node = helper.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], num_groups=groups, epsilon=1e-3)
    return _model(node, {"x": x}, opset, consts), {"x": x}


def _reverse_sequence(time_axis):
    x = _x(5, 3, 2) if time_axis == 0 else _x(3, 5, 2)
    lens = np.array([5, 1, 3], dtype=np.int64)
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], time_axis=time_axis, batch_axis=1 - time_axis)
    return _model(node, {"x": x, "lens": lens}, 10), {"x": x, "lens": lens}


def _pool(op, opset, **attrs):
    x = _x(1, 2, 9, 10)
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    return _model(node, {"x": x}, opset), {"x": x}


def _resize(mode, coord, antialias, sizes=None, scales=None, roi=None, extrapolation=0.0):
    x = _x(1, 2, 8, 9)
    consts = {"roi": np.asarray(roi if roi is not None else [], np.float32),
              "scales": np.asarray(scales if scales is not None else [], np.float32)}
    names = ["x", "roi", "scales"]
    if sizes is not None:
        consts["sizes"] = np.asarray(sizes, np.int64)
        names.append("sizes")
    node = helper.make_node("Resize", names, ["y"], mode=mode, coordinate_transformation_mode=coord,
                            antialias=antialias, extrapolation_value=extrapolation)
    return _model(node, {"x": x}, 19, consts), {"x": x}


def _dft(opset, inverse, onesided, complex_input, length=None):
    x = _x(2, 7, 3, 2 if complex_input else 1)
    consts, names = {}, ["x"]
    names.append("len" if length is not None else "")
    if length is not None:
        consts["len"] = np.array(length, np.int64)
    attrs = {"inverse": inverse, "onesided": onesided}
    if opset >= 20:
        names.append("axis")
        consts["axis"] = np.array(1, np.int64)
    else:
        attrs["axis"] = 1
    node = helper.make_node("DFT", names, ["y"], **attrs)
    return _model(node, {"x": x}, opset, consts), {"x": x}


def _stft():
    x = _x(2, 40, 1)
    consts = {"step": np.array(6, np.int64), "window": np.hanning(10).astype(np.float32)}
    node = helper.make_node("STFT", ["x", "step", "window"], ["y"], onesided=1)
    return _model(node, {"x": x}, 17, consts), {"x": x}


def _simple(op, opset, feeds, consts=None, out_type=F, **attrs):
    node = helper.make_node(op, list(feeds) + list(consts or {}), ["y"], **attrs)
    return _model(node, feeds, opset, consts, out_type), feeds


def _far_below(c_remainder):
    """Dividends far below their divisors in size (infinite ones too); the expected values stay finite."""
    if c_remainder:
        return {"a": np.array([-3, 3, -1, 1, 0, -1e-30, 2.5], np.float32),
                "b": np.array([np.inf, np.inf, -np.inf, -np.inf, np.inf, 1e30, -2], np.float32)}
    return {"a": np.array([3, -1, 0, 2.5, -4], np.float32), "b": np.array([np.inf, -np.inf, np.inf, -2, 3], np.float32)}


def _col2im():
    x = _x(1, 2 * 4, 12)  # 2 channels, 2x2 blocks, 3 x 4 block positions in a 5 x 7 image (strides 2, pads 1)
    consts = {"image": np.array([5, 7], np.int64), "block": np.array([2, 2], np.int64)}
    return _simple("Col2Im", 18, {"x": x}, consts, strides=[2, 2], pads=[1, 1, 0, 1])


CASES = {
    "gridsample-linear-zeros": lambda: _gridsample("linear", "zeros", 0),
    "gridsample-linear-zeros-align": lambda: _gridsample("linear", "zeros", 1),
    "gridsample-nearest-border-align": lambda: _gridsample("nearest", "border", 1),
    "gridsample-cubic-reflection": lambda: _gridsample("cubic", "reflection", 0),
    "gridsample-3d-linear-border": lambda: _gridsample("linear", "border", 1, three_d=True),
    "gridsample16-bilinear-zeros": lambda: _gridsample("bilinear", "zeros", 0, opset=16),
    "groupnorm-18-per-group": lambda: _group_norm(18),
    "groupnorm-21-per-channel": lambda: _group_norm(21),
    "eyelike-k1": lambda: _simple("EyeLike", 9, {"x": _x(3, 5)}, k=1),
    "reversesequence-time0": lambda: _reverse_sequence(0),
    "reversesequence-time1": lambda: _reverse_sequence(1),
    "det-batch": lambda: _simple("Det", 11, {"x": _x(3, 4, 4)}),
    "maxpool-dilations-ceil": lambda: _pool("MaxPool", 12, kernel_shape=[2, 3], dilations=[2, 2], strides=[2, 1],
                                            pads=[1, 0, 1, 2], ceil_mode=1),
    "avgpool-dilations-include-pad": lambda: _pool("AveragePool", 19, kernel_shape=[3, 2], dilations=[2, 3],
                                                   pads=[1, 1, 1, 1], count_include_pad=1),
    "lppool-dilations": lambda: _pool("LpPool", 18, kernel_shape=[2, 2], dilations=[3, 2], p=2),
    "resize-antialias-linear": lambda: _resize("linear", "half_pixel", 1, sizes=[1, 2, 3, 5]),
    "resize-antialias-cubic": lambda: _resize("cubic", "pytorch_half_pixel", 1, scales=[1, 1, 0.6, 0.5]),
    "resize-tf-crop": lambda: _resize("linear", "tf_crop_and_resize", 0, sizes=[1, 2, 5, 6],
                                      roi=[0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2], extrapolation=2.5),
    "hannwindow": lambda: _simple("HannWindow", 17, {}, {"n": np.array(10, np.int64)}),
    "blackmanwindow-symmetric": lambda: _simple("BlackmanWindow", 17, {}, {"n": np.array(7, np.int64)},
                                                periodic=0),
    "dft-real-onesided": lambda: _dft(17, 0, 1, False),
    "dft-complex-inverse-length": lambda: _dft(20, 1, 0, True, length=9),
    "dft-complex-truncated": lambda: _dft(20, 0, 0, True, length=5),
    "stft-window": _stft,
    "affinegrid-2d": lambda: _simple("AffineGrid", 20, {"theta": _x(2, 2, 3)},
                                     {"size": np.array([2, 3, 4, 5], np.int64)}),
    "affinegrid-3d-align": lambda: _simple("AffineGrid", 20, {"theta": _x(1, 3, 4)},
                                           {"size": np.array([1, 1, 2, 3, 4], np.int64)}, align_corners=1),
    "centercroppad-axes": lambda: _simple("CenterCropPad", 18, {"x": _x(5, 4, 3)},
                                          {"shape": np.array([3, 7], np.int64)}, axes=[0, -2]),
    "col2im-strides-pads": _col2im,
    "mod-float-python": lambda: _simple("Mod", 28, {"a": _x(3, 4) * 5, "b": _x(3, 4) + 0.1}),
    "mod-float-python-infinite-divisor": lambda: _simple("Mod", 28, _far_below(False)),
    "mod-float-c-infinite-divisor": lambda: _simple("Mod", 13, _far_below(True), fmod=1),
    "mod-int-fmod": lambda: _simple("Mod", 13, {"a": RNG.integers(-9, 10, (3, 4)),
                                                "b": RNG.choice([-4, -3, 2, 5], (3, 4))},
                                    out_type=TensorProto.INT64, fmod=1),
}
# no graph input the data flows from: a Gluon block takes no such model; they run as MXNet symbols
NO_DATA_INPUT = {"hannwindow", "blackmanwindow-symmetric", "eyelike-k1"}
# what MXNet cannot express, with the words its error must use
MXNET_CANNOT = {
    "gridsample-nearest-border-align": "BilinearSampler",
    "gridsample-cubic-reflection": "BilinearSampler",
    "gridsample-3d-linear-border": "BilinearSampler",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_with_tvm_matches_onnxruntime(name):
    model, feeds = CASES[name]()
    ref = _ort(model, feeds)
    cm = nb.compile_model(model)
    outs = cm.run({k: feeds[k] for k in cm.input_names})
    assert len(outs) == len(ref)
    for got, want in zip(outs, ref):
        assert_close(got, want)


def _run_symbol(mx, model, feeds):
    """The model as an MXNet symbol (import_model), bound with its parameters and run."""
    sym, params = nb.import_model(model)
    args = dict(params, **{k: mx.nd.array(v, dtype=v.dtype) for k, v in feeds.items()})
    ex = sym.bind(mx.cpu(), {n: args[n] for n in sym.list_arguments()}, grad_req="null",
                  aux_states={n: args[n] for n in sym.list_auxiliary_states()})
    return [o.asnumpy() for o in ex.forward(is_train=False)]


@pytest.mark.parametrize("name", sorted(set(CASES) - set(MXNET_CANNOT)))
def test_in_mxnet_matches_onnxruntime(name):
    mx = pytest.importorskip("mxnet")
    model, feeds = CASES[name]()
    ref = _ort(model, feeds)
    if name in NO_DATA_INPUT:
        got = _run_symbol(mx, model, feeds)
    else:
        got = nb.import_to_gluon(model)(*[mx.nd.array(v, dtype=v.dtype) for v in feeds.values()])
        got = [o.asnumpy() for o in (got if isinstance(got, (list, tuple)) else [got])]
    for g, want in zip(got, ref):
        assert_close(g.reshape(want.shape), want)


@pytest.mark.parametrize("name", sorted(MXNET_CANNOT))
def test_mxnet_refuses_what_it_cannot_sample(name):
    pytest.importorskip("mxnet")
    model, _ = CASES[name]()
    with pytest.raises(UnsupportedOperatorError, match=MXNET_CANNOT[name]):
        nb.import_to_gluon(model)


def test_reshape_with_allowzero_to_an_empty_tensor():
    """The IR gets the empty result right, and TVM runs it (an empty constant is made at run time: a library
    cannot hold one); MXNet reads a 0 dim as unknown."""
    model, feeds = _simple("Reshape", 14, {"x": np.zeros((0, 3, 4), np.float32)},
                           {"shape": np.array([3, 4, 0], np.int64)}, allowzero=1)
    graph, params = nb.frontend.from_onnx(model)
    out = graph.outputs[0].node
    value = out if out.is_variable else out.inputs[0].node  # the graph output is a copy of the constant
    assert value.is_variable and params[value.name].shape == (3, 4, 0) == _ort(model, feeds)[0].shape
    pytest.importorskip("tvm")
    cm = nb.compile_model(model)
    (got,) = cm.run({k: feeds[k] for k in cm.input_names})
    assert got.shape == (3, 4, 0) and got.dtype == np.float32


def test_cumprod_in_tvm_and_the_mxnet_error():
    x = (RNG.random((3, 5)) + 0.5).astype(np.float32)
    x[1, 2] = 0.0
    model, feeds = _simple("CumProd", 26, {"x": x}, {"axis": np.array(1, np.int64)}, exclusive=1, reverse=1)
    want = np.flip(np.cumprod(np.flip(x, 1), axis=1), 1)
    want = np.concatenate([want[:, 1:], np.ones((3, 1), np.float32)], axis=1)  # exclusive, from the end
    assert_close(nb.compile_model(model).run(feeds)[0], want)
    pytest.importorskip("mxnet")
    with pytest.raises(UnsupportedOperatorError, match="cumprod"):
        nb.import_to_gluon(model)


@pytest.mark.parametrize("name", ["gridsample-linear-zeros", "gridsample-cubic-reflection",
                                  "gridsample-3d-linear-border"])
def test_grid_sample_exports_to_onnx(name):
    model, feeds = CASES[name]()
    graph, params = nb.frontend.from_onnx(model)
    assert graph.op_counts() == {"grid_sample": 1}
    assert_close(_ort(nb.frontend.to_onnx(graph, params, opset=20), feeds)[0], _ort(model, feeds)[0])


# ---- random ops: shapes, dtypes, distributions ---------------------------------------------------
def _random_models():
    p = np.full((4, 2500), 0.3, np.float32)
    logits = np.log(np.array([[0.1, 0.6, 0.3]] * 2, np.float32))
    like = np.zeros((3, 2000), np.float64)
    return {
        "normal": (helper.make_node("RandomNormal", [], ["y"], shape=[4, 2500], mean=1.5, scale=2.0, seed=3.0), {},
                   lambda y: (y.shape == (4, 2500) and y.dtype == np.float32 and abs(y.mean() - 1.5) < 0.1
                              and abs(y.std() - 2.0) < 0.1)),
        "uniform-like": (helper.make_node("RandomUniformLike", ["x"], ["y"], low=-2.0, high=3.0), {"x": like},
                         lambda y: (y.shape == like.shape and y.dtype == np.float64 and y.min() >= -2.0
                                    and y.max() < 3.0 and abs(y.mean() - 0.5) < 0.1)),
        "bernoulli": (helper.make_node("Bernoulli", ["p"], ["y"]), {"p": p},
                      lambda y: (y.shape == p.shape and set(np.unique(y)) <= {0.0, 1.0}
                                 and abs(y.mean() - 0.3) < 0.03)),
        "multinomial": (helper.make_node("Multinomial", ["l"], ["y"], sample_size=3000, dtype=TensorProto.INT64),
                        {"l": logits}, lambda y: (y.shape == (2, 3000) and y.dtype == np.int64
                                                  and abs((y == 1).mean() - 0.6) < 0.05 and y.max() <= 2)),
    }


def _random_model(name):
    node, feeds, check = _random_models()[name]
    out_type = TensorProto.INT64 if name == "multinomial" else TensorProto.DOUBLE if name == "uniform-like" else F
    return _model(node, feeds, 22, out_type=out_type), feeds, check


@pytest.mark.parametrize("name", ["normal", "uniform-like", "bernoulli", "multinomial"])
def test_random_ops_in_tvm_have_the_shape_dtype_and_distribution(name):
    model, feeds, check = _random_model(name)
    graph, _ = nb.frontend.from_onnx(model)
    assert {"random_uniform", "random_normal"} & set(graph.op_counts()), "a random op was folded away"
    cm = nb.compile_model(model)
    y = cm.run({k: feeds[k] for k in cm.input_names})[0]
    assert check(y), (y.shape, y.dtype, y.mean())


@pytest.mark.parametrize("name", ["normal", "uniform-like", "bernoulli", "multinomial"])
def test_random_ops_in_mxnet_have_the_shape_dtype_and_distribution(name):
    mx = pytest.importorskip("mxnet")
    model, feeds, check = _random_model(name)
    y = _run_symbol(mx, model, feeds)[0]
    assert check(y), (y.shape, y.dtype, y.mean())


@pytest.mark.parametrize("length", [None, 9])
def test_inverse_dft_of_a_one_sided_spectrum_is_numpys_irfft(length):
    spectrum = _x(2, 5, 2)
    consts = {"axis": np.array(1, np.int64)}
    names = ["x", "len" if length else "", "axis"]
    if length:
        consts["len"] = np.array(length, np.int64)
    node = helper.make_node("DFT", names, ["y"], inverse=1, onesided=1)
    model = _model(node, {"x": spectrum}, 20, consts)
    want = np.fft.irfft(spectrum[..., 0] + 1j * spectrum[..., 1], n=length, axis=1)[..., None]
    assert_close(nb.compile_model(model).run({"x": spectrum})[0], want)


def _ints(dtype, *shape, high=40):
    return RNG.integers(0, high, shape).astype(dtype)


@pytest.mark.parametrize("op,dtype,opset", [("BitwiseAnd", np.int32, 18), ("BitwiseOr", np.uint8, 18),
                                            ("BitwiseXor", np.int64, 18), ("BitwiseNot", np.int32, 18),
                                            ("BitShift:LEFT", np.uint8, 11), ("BitShift:RIGHT", np.uint32, 11)])
def test_bitwise_and_shift_ops(op, dtype, opset):
    """Bitwise ops (broadcasting) and BitShift through TVM, MXNet (its numpy bitwise ops; it has no shifts) and
    back to ONNX, against onnxruntime."""
    op_type, _, direction = op.partition(":")
    unary = op_type == "BitwiseNot"
    feeds = {"a": _ints(dtype, 2, 3, 4)} if unary else {"a": _ints(dtype, 2, 3, 4), "b": _ints(dtype, 3, 1, high=5)}
    kw = {"direction": direction} if direction else {}
    model = _model(helper.make_node(op_type, list(feeds), ["y"], **kw), feeds, opset,
                   out_type=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    want = _ort(model, feeds)[0]
    np.testing.assert_array_equal(nb.compile_model(model).run(feeds)[0], want)
    graph, params = nb.frontend.from_onnx(model)
    back = nb.frontend.to_onnx(graph, params, opset=max(opset, 18))
    np.testing.assert_array_equal(_ort(back, feeds)[0], want)
    mx = pytest.importorskip("mxnet")
    if op_type == "BitShift":
        with pytest.raises(UnsupportedOperatorError, match="broadcast_.*_shift"):
            nb.import_to_gluon(model)
        return
    got = nb.import_to_gluon(model)(*[mx.nd.array(v, dtype=v.dtype) for v in feeds.values()])
    np.testing.assert_array_equal(got.asnumpy(), want)


def test_bitshift_with_a_bad_direction_is_a_clear_error():
    from nnvm_bridge.errors import InvalidModelError

    feeds = {"a": _ints(np.uint8, 3), "b": _ints(np.uint8, 3, high=3)}
    model = _model(helper.make_node("BitShift", ["a", "b"], ["y"], direction="UP"), feeds, 11,
                   out_type=TensorProto.UINT8)
    with pytest.raises(InvalidModelError, match="direction must be LEFT or RIGHT") as exc:
        nb.frontend.from_onnx(model)
    assert "BitShift" in str(exc.value)
