"""ONNX ops of issue 13 that the importer writes as IR compositions: the ai.onnx.preview.training optimizers
(Adagrad, Adam, Momentum), BatchNormalization with training_mode=1, one-sided IsInf, MeanVarianceNormalization,
Pad mode=wrap, GatherND batch_dims, MelWeightMatrix, MaxPool's Indices output, MaxUnpool, DeformConv and LSTM
with peepholes.

Each model runs through every emitter -- back to ONNX (onnxruntime), MXNet (Gluon) and TVM -- against
onnxruntime, or against onnx's reference implementation where onnxruntime has no kernel (the training ops),
with attributes at non-default values and odd shapes.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from onnx_mx_helpers import ort_run  # noqa: E402
from tolerance import assert_close  # noqa: E402

F32 = TensorProto.FLOAT
TRAINING = "ai.onnx.preview.training"


def _model(node, inputs, outputs, inits=(), opset=19, domain_opsets=()):
    graph = helper.make_graph([node], node.op_type.lower(), inputs, outputs, list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domain_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _init(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


# ---- the cases: name -> (model, feeds, reference) ------------------------------------------------------
def _optimizer(op, roles, attrs, step, shapes):
    """An optimizer node updating len(shapes) tensors: inputs R, T, then ``roles`` groups of them."""
    rng = np.random.default_rng(3)
    names = [f"{role}{i}" for role in roles for i in range(len(shapes))]
    feeds = {"R": np.array(0.3, np.float32), "T": np.array(step, np.int64)}
    for role in roles:
        for i, s in enumerate(shapes):
            v = rng.standard_normal(s).astype(np.float32)
            feeds[f"{role}{i}"] = np.abs(v) if role == "H" else v  # squared-gradient sums are >= 0
    outs = [f"{role}{i}_new" for role in roles if role != "G" for i in range(len(shapes))]
    node = helper.make_node(op, ["R", "T"] + names, outs, domain=TRAINING, **attrs)
    inputs = [_vi("R", F32, []), _vi("T", TensorProto.INT64, [])] + [
        _vi(n, F32, shapes[int(n[1:])]) for n in names]
    outputs = [_vi(n, F32, shapes[int(n[1:-4])]) for n in outs]
    return _model(node, inputs, outputs, opset=17, domain_opsets=[(TRAINING, 1)]), feeds, "onnx"


def _batch_norm_training():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 4, 5, 2)) * 2 + 1).astype(np.float32)
    stats = {"scale": rng.uniform(0.5, 1.5, 4), "bias": rng.standard_normal(4), "mean": rng.standard_normal(4),
             "var": rng.uniform(0.5, 2, 4)}
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y", "rm", "rv"],
                            training_mode=1, momentum=0.7, epsilon=1e-3)
    model = _model(node, [_vi("x", F32, x.shape)], [_vi("y", F32, x.shape), _vi("rm", F32, [4]),
                                                      _vi("rv", F32, [4])],
                   [_init(k, v.astype(np.float32)) for k, v in stats.items()], opset=15)
    return model, {"x": x}, "ort"


def _isinf(positive, negative):
    x = np.array([[1.0, np.inf, -np.inf], [np.nan, -2.0, np.inf]], np.float32)
    node = helper.make_node("IsInf", ["x"], ["y"], detect_positive=positive, detect_negative=negative)
    return _model(node, [_vi("x", F32, x.shape)], [_vi("y", TensorProto.BOOL, x.shape)], opset=20), {"x": x}, "ort"


def _mvn():
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5)).astype(np.float32) * 3 + 2
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"], axes=[1, 3])
    return _model(node, [_vi("x", F32, x.shape)], [_vi("y", F32, x.shape)], opset=13), {"x": x}, "ort"


def _wrap_pad():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap")
    pads = np.array([0, 2, 1, 0, 1, 3], np.int64)
    return (_model(node, [_vi("x", F32, x.shape)], [_vi("y", F32, [2, 6, 8])], [_init("pads", pads)]),
            {"x": x}, "ort")


def _gather_nd_batch_dims():
    rng = np.random.default_rng(6)
    data = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    idx = np.stack([rng.integers(0, 4, (2, 3, 2)), rng.integers(0, 5, (2, 3, 2))], axis=-1).astype(np.int64)
    node = helper.make_node("GatherND", ["data", "idx"], ["y"], batch_dims=2)
    return (_model(node, [_vi("data", F32, data.shape)], [_vi("y", F32, [2, 3, 2])], [_init("idx", idx)], opset=13),
            {"data": data}, "ort")


def _gather_nd_negative_indices():
    """Indices counting from the end (GPT-style exports pick the key of a fused QKV with [-2]), on a data
    tensor of symbolic length: the wrap must use the run-time dims."""
    data = np.random.default_rng(8).standard_normal((5, 3, 4)).astype(np.float32)
    idx = np.array([[-1, 0], [-5, -3], [2, -1]], np.int64)
    node = helper.make_node("GatherND", ["data", "idx"], ["y"])
    return (_model(node, [_vi("data", F32, ["n", 3, 4]), _vi("idx", TensorProto.INT64, [3, 2])],
                   [_vi("y", F32, [3, 4])], opset=13), {"data": data, "idx": idx}, "ort")


def _mel_weight_matrix():
    """A power spectrum (frames, dft_length // 2 + 1) through the filter bank, as log-mel front ends use it."""
    mel = helper.make_node("MelWeightMatrix", ["bins", "dft", "rate", "low", "high"], ["mel"])
    apply = helper.make_node("MatMul", ["spectrum", "mel"], ["y"])
    inits = [_init("bins", np.int64(6)), _init("dft", np.int64(32)), _init("rate", np.int64(8000)),
             _init("low", np.float32(100.0)), _init("high", np.float32(3500.0))]
    spectrum = np.random.default_rng(11).uniform(0, 2, (5, 17)).astype(np.float32)
    graph = helper.make_graph([mel, apply], "mel", [_vi("spectrum", F32, spectrum.shape)], [_vi("y", F32, [5, 6])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {"spectrum": spectrum}, "ort"


def _max_pool_indices(storage_order, ceil_mode):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 6)).astype(np.float32)
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
                            dilations=[1, 2], storage_order=storage_order, ceil_mode=ceil_mode)
    return (_model(node, [_vi("x", F32, x.shape)], [_vi("y", F32, None), _vi("i", TensorProto.INT64, None)],
                   opset=12), {"x": x}, "ort")


def _max_pool_indices_int8():
    """Padding a max never picks: the type's minimum where there is no -inf."""
    x = np.random.default_rng(12).integers(-128, 127, (1, 2, 5, 6)).astype(np.int8)
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    return (_model(node, [_vi("x", TensorProto.INT8, x.shape)],
                   [_vi("y", TensorProto.INT8, None), _vi("i", TensorProto.INT64, None)], opset=12), {"x": x}, "ort")


def _max_pool_indices_at_the_padding_value():
    """Inputs equal to the padding (-inf, the integer minimum) along the borders: the index still names an
    input position, never a padded slot."""
    x = np.random.default_rng(13).standard_normal((1, 2, 5, 6)).astype(np.float32)
    x[:, :, :2, :] = -np.inf
    x[:, 1, :, :3] = -np.inf
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 1, 1, 1],
                            dilations=[1, 2])
    return (_model(node, [_vi("x", F32, x.shape)], [_vi("y", F32, None), _vi("i", TensorProto.INT64, None)],
                   opset=12), {"x": x}, "ort")


def _max_unpool(output_shape):
    """MaxPool's indices into MaxUnpool, the way a segmentation decoder uses them; an odd-sized input needs
    output_shape (without it the unpooled shape is the inferred one, 2 * the pooled one)."""
    shape = (1, 2, 5, 7) if output_shape else (1, 2, 6, 8)
    x = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    pool = helper.make_node("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2], strides=[2, 2])
    unpool = helper.make_node("MaxUnpool", ["p", "i"] + (["shape"] if output_shape else []), ["y"],
                              kernel_shape=[2, 2], strides=[2, 2])
    inits = [_init("shape", np.array(x.shape, np.int64))] if output_shape else []
    graph = helper.make_graph([pool, unpool], "unpool", [_vi("x", F32, x.shape)], [_vi("y", F32, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), {"x": x}, "ort"


def _deform_conv():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    w = rng.standard_normal((6, 2, 2, 3)).astype(np.float32)  # group 2
    out_hw = (3, 2)  # stride (2, 2), pads (1, 0, 0, 1), dilation (1, 2)
    offset = (rng.standard_normal((2, 2 * 2 * 6) + out_hw) * 1.5).astype(np.float32)  # offset_group 2
    mask = rng.uniform(0, 1, (2, 2 * 6) + out_hw).astype(np.float32)
    node = helper.make_node("DeformConv", ["x", "w", "offset", "b", "mask"], ["y"], group=2, offset_group=2,
                            strides=[2, 2], pads=[1, 0, 0, 1], dilations=[1, 2], kernel_shape=[2, 3])
    inits = [_init("w", w), _init("b", rng.standard_normal(6).astype(np.float32))]
    inputs = [_vi("x", F32, x.shape), _vi("offset", F32, offset.shape), _vi("mask", F32, mask.shape)]
    return (_model(node, inputs, [_vi("y", F32, (2, 6) + out_hw)], inits),
            {"x": x, "offset": offset, "mask": mask}, "ort")


def _lstm_peepholes(direction):
    rng = np.random.default_rng(10)
    dirs, hidden, steps, batch, size = (2 if direction == "bidirectional" else 1), 3, 4, 2, 5
    x = rng.standard_normal((steps, batch, size)).astype(np.float32)
    params = {"W": (dirs, 4 * hidden, size), "R": (dirs, 4 * hidden, hidden), "B": (dirs, 8 * hidden),
              "P": (dirs, 3 * hidden), "h0": (dirs, batch, hidden), "c0": (dirs, batch, hidden)}
    inits = [_init(k, (rng.standard_normal(s) * 0.5).astype(np.float32)) for k, s in params.items()]
    node = helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0", "P"], ["y", "yh", "yc"],
                            hidden_size=hidden, direction=direction)
    outputs = [_vi("y", F32, [steps, dirs, batch, hidden]), _vi("yh", F32, [dirs, batch, hidden]),
               _vi("yc", F32, [dirs, batch, hidden])]
    return _model(node, [_vi("x", F32, x.shape)], outputs, inits, opset=14), {"x": x}, "ort"


CASES = {
    "adagrad-two-tensors": lambda: _optimizer("Adagrad", "XGH", {"decay_factor": 0.2, "epsilon": 1e-4,
                                                                 "norm_coefficient": 0.05}, 3, [(3,), (2, 2)]),
    "adam-first-step": lambda: _optimizer("Adam", "XGVH", {"alpha": 0.8, "beta": 0.9, "epsilon": 1e-3,
                                                           "norm_coefficient": 0.02,
                                                           "norm_coefficient_post": 0.01}, 0, [(4,)]),
    "adam-later-step": lambda: _optimizer("Adam", "XGVH", {"alpha": 0.8, "beta": 0.9}, 5, [(2, 3), (1,)]),
    "momentum-first-step": lambda: _optimizer("Momentum", "XGV", {"alpha": 0.7, "beta": 0.4, "mode": "standard",
                                                                  "norm_coefficient": 0.1}, 0, [(3,)]),
    "nesterov-later-step": lambda: _optimizer("Momentum", "XGV", {"alpha": 0.7, "beta": 0.4, "mode": "nesterov",
                                                                  "norm_coefficient": 0.1}, 2, [(3,), (2,)]),
    "batchnorm-training": _batch_norm_training,
    "isinf-negative-only": lambda: _isinf(0, 1),
    "isinf-neither": lambda: _isinf(0, 0),
    "mvn-axes-1-3": _mvn,
    "pad-wrap-longer-than-axis": _wrap_pad,
    "gathernd-batch-dims-2": _gather_nd_batch_dims,
    "gathernd-negative-indices": _gather_nd_negative_indices,
    "melweightmatrix": _mel_weight_matrix,
    "maxpool-indices-row-major-ceil": lambda: _max_pool_indices(0, 1),
    "maxpool-indices-column-major": lambda: _max_pool_indices(1, 0),
    "maxpool-indices-int8-padded": _max_pool_indices_int8,
    "maxpool-indices-input-at-the-padding-value": _max_pool_indices_at_the_padding_value,
    "maxunpool-inferred-shape": lambda: _max_unpool(False),
    "maxunpool-output-shape": lambda: _max_unpool(True),
    "deformconv-groups-mask-bias": _deform_conv,
    "lstm-peepholes-bidirectional": lambda: _lstm_peepholes("bidirectional"),
    "lstm-peepholes-reverse": lambda: _lstm_peepholes("reverse"),
}


def _reference(model, feeds, kind):
    if kind == "ort":
        return ort_run(model, feeds)
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)


def _check(outs, refs):
    assert len(outs) == len(refs)
    for got, want in zip(outs, refs):
        want = np.asarray(want)
        got = np.asarray(got).reshape(want.shape) if want.ndim == 0 else np.asarray(got)
        if want.dtype == np.bool_:
            got = got.astype(bool)
        assert_close(got, want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_to_ir_and_back_matches(case):
    model, feeds, kind = CASES[case]()
    graph, params = nb.frontend.from_onnx(model)
    _check(ort_run(nb.frontend.to_onnx(graph, params), feeds), _reference(model, feeds, kind))


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_in_mxnet_matches(case):
    mx = pytest.importorskip("mxnet")
    model, feeds, kind = CASES[case]()
    refs = _reference(model, feeds, kind)
    block = nb.import_to_gluon(model)
    # MXNet has no 0-d arrays: a scalar input is given as (1,)
    out = block(*[mx.nd.array(v.reshape(-1) if v.ndim == 0 else v, dtype=v.dtype) for v in feeds.values()])
    _check([o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])], refs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_compiled_with_tvm_matches(case):
    pytest.importorskip("tvm")
    model, feeds, kind = CASES[case]()
    cm = nb.compile_model(model, offload=False)
    _check(cm.run(feeds), _reference(model, feeds, kind))


def test_an_unknown_momentum_mode_is_refused_naming_the_node():
    model, _, _ = _optimizer("Momentum", "XGV", {"alpha": 0.7, "beta": 0.4, "mode": "heavy",
                                                 "norm_coefficient": 0.1}, 1, [(3,)])
    with pytest.raises(nb.errors.InvalidModelError, match="mode"):
        nb.frontend.from_onnx(model)


def test_lstm_peepholes_need_a_static_sequence_length():
    model, _, _ = _lstm_peepholes("forward")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "seq"
    with pytest.raises(nb.errors.ShapeError, match="static sequence length"):
        nb.frontend.from_onnx(model)
