"""Data-dependent ops whose result (or input) is empty at run time, through MXNet (import_to_gluon) and TVM
(compile_model), no shape=, against onnxruntime: one block / one library per model, run on a feed that gives
values and on one that gives none (a detector whose scores are all below its threshold).

MXNet 1.9 reads a 0 dim as unknown unless numpy shape semantics are on; the Gluon block turns them on for its
forward, so an empty array is an ordinary one there.  MXNet's oneDNN kernels of Activation, elemwise_add,
FullyConnected, Convolution and Pooling (and its reductions along an axis) still fail on an empty float32 input
(docs/onnx_to_mxnet.md): the models here avoid them after the empty value.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from test_control_flow_runtime import boxes_and_scores, detection_model  # noqa: E402
from tolerance import assert_close  # noqa: E402

F32 = np.float32


def _vi(name, dtype=T.FLOAT, shape=None):
    return h.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=13):
    return h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)),
                        opset_imports=[h.make_opsetid("", opset)])


def _const(name, value, dtype=np.int64):
    return nh.from_array(np.asarray(value, dtype), name)


def _boxes(rng, n):
    low = rng.rand(1, n, 2).astype(F32) * 4
    return np.concatenate([low, low + 0.5 + rng.rand(1, n, 2).astype(F32) * 2], -1)


def nms_tail():
    """NonMaxSuppression, then the selected boxes' scores (Gather of its third column): what follows NMS in a
    detector."""
    nodes = [h.make_node("NonMaxSuppression", ["boxes", "scores", "limit", "iou", "thr"], ["selected"]),
             h.make_node("Gather", ["selected", "two"], ["box"], axis=1),
             h.make_node("Reshape", ["scores", "flat"], ["all_scores"]),
             h.make_node("Gather", ["all_scores", "box"], ["kept"])]
    return _model(nodes, [_vi("boxes", shape=[1, "N", 4]), _vi("scores", shape=[1, 1, "N"])],
                  [_vi("selected", T.INT64), _vi("kept")],
                  [_const("limit", [10]), _const("iou", [0.4], F32), _const("thr", [0.3], F32), _const("two", 2),
                   _const("flat", [-1])], opset=11)


def _nms_feeds(rng, n, best):
    return {"boxes": _boxes(rng, n), "scores": (rng.rand(1, 1, n) * best).astype(F32)}


def nonzero_model():
    """NonZero of x > 0, the positive values gathered by it (Compress's pattern)."""
    nodes = [h.make_node("Greater", ["x", "zero"], ["mask"]), h.make_node("NonZero", ["mask"], ["where"]),
             h.make_node("Compress", ["x", "mask"], ["picked"], axis=0)]
    return _model(nodes, [_vi("x", shape=["N"])], [_vi("where", T.INT64), _vi("picked")], [_const("zero", 0.0, F32)])


def topk_model():
    """TopK with k = min(k, N) given at run time (k may be 0)."""
    nodes = [h.make_node("Shape", ["x"], ["n"]), h.make_node("Slice", ["n", "one", "two"], ["cols"]),
             h.make_node("Min", ["cols", "k"], ["kk"]), h.make_node("TopK", ["x", "kk"], ["values", "indices"])]
    return _model(nodes, [_vi("x", shape=[2, "N"]), _vi("k", T.INT64, [1])],
                  [_vi("values"), _vi("indices", T.INT64)], [_const("one", [1]), _const("two", [2])])


def gather_model():
    """Rows of x at a run-time list of indices (which may be empty), scaled and flattened."""
    return _model([h.make_node("Gather", ["x", "idx"], ["y"]), h.make_node("Mul", ["y", "two"], ["z"]),
                   h.make_node("Reshape", ["z", "flat"], ["w"])],
                  [_vi("x", shape=["N", 3]), _vi("idx", T.INT64, ["M"])], [_vi("w")],
                  [_const("two", [2.0], F32), _const("flat", [-1])])


def gather_nd_model():
    """GatherND of x's rows at a run-time list of indices (both may be empty: a detector level's candidates)."""
    return _model([h.make_node("GatherND", ["x", "idx"], ["y"]), h.make_node("Mul", ["y", "two"], ["z"])],
                  [_vi("x", shape=["N", 4]), _vi("idx", T.INT64, ["M", 1])], [_vi("z")], [_const("two", [2.0], F32)])


def flatten_model():
    """Flatten of x (its first length may be 0: a detector's boxes of no candidates)."""
    return _model([h.make_node("Flatten", ["x"], ["y"], axis=1), h.make_node("Mul", ["y", "two"], ["z"])],
                  [_vi("x", shape=["N", 1, 4])], [_vi("z")], [_const("two", [2.0], F32)])


def _cases():
    rng = np.random.RandomState(0)
    x = rng.randn(7).astype(F32)
    return {
        "nms of boxes all below the threshold": (nms_tail, [_nms_feeds(rng, 6, 1.0), _nms_feeds(rng, 6, 0.2)]),
        "nms of no boxes": (nms_tail, [_nms_feeds(rng, 5, 1.0), _nms_feeds(rng, 0, 1.0)]),
        "nonzero of nothing": (nonzero_model, [{"x": x}, {"x": -np.abs(x)}]),
        "topk with k = 0": (topk_model, [{"x": rng.randn(2, 6).astype(F32), "k": np.array([3])},
                                         {"x": rng.randn(2, 4).astype(F32), "k": np.array([0])}]),
        # a detector level with no score above the threshold: MXNet's boolean_mask aborts on an empty input
        "topk of an empty axis": (topk_model, [{"x": rng.randn(2, 5).astype(F32), "k": np.array([3])},
                                               {"x": np.zeros((2, 0), F32), "k": np.array([3])}]),
        "gather of no indices": (gather_model, [{"x": rng.randn(5, 3).astype(F32), "idx": np.array([4, 0, 4])},
                                                {"x": rng.randn(4, 3).astype(F32), "idx": np.zeros(0, np.int64)}]),
        "gathernd of no indices from no rows": (gather_nd_model, [
            {"x": rng.randn(5, 4).astype(F32), "idx": np.array([[4], [1]])},
            {"x": np.zeros((0, 4), F32), "idx": np.zeros((0, 1), np.int64)}]),
        "flatten of no rows": (flatten_model, [{"x": rng.randn(3, 1, 4).astype(F32)}, {"x": np.zeros((0, 1, 4), F32)}]),
        "detection tail without detections": (lambda: detection_model(nms=True),
                                              [boxes_and_scores(30, 0), boxes_and_scores(20, 2, detections=False)]),
    }


CASES = _cases()


def _ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _compare(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        if w.dtype.kind in "iu":
            assert np.array_equal(g, w), (g, w)
        else:
            assert_close(g, w)


@pytest.mark.parametrize("case", list(CASES))
def test_empty_results_in_gluon(case):
    mx = pytest.importorskip("mxnet")
    make, feed_sets = CASES[case]
    model = make()
    block = nb.import_to_gluon(model)
    names = [i.name for i in model.graph.input]
    for feeds in feed_sets:
        out = block(*[mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in names])
        _compare([o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])], _ort(model, feeds))


@pytest.mark.parametrize("case", list(CASES))
def test_empty_results_in_tvm(case):
    pytest.importorskip("tvm")
    make, feed_sets = CASES[case]
    model = make()
    compiled = nb.compile_model(model)
    for feeds in feed_sets:
        _compare(compiled.run(feeds), _ort(model, feeds))
