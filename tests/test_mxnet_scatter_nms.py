"""MXNet (import_to_gluon, no shape=) for the scatter/gather ops at symbolic sizes and for ONNX
NonMaxSuppression, against onnxruntime: one Gluon block per model, run at several sizes or inputs.

Integer outputs must match exactly, floats within tests/tolerance.py's bound (they are copies, so exact too).
Empty inputs and results: tests/test_empty_values.py.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
mx = pytest.importorskip("mxnet")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import BridgeError  # noqa: E402
from tolerance import assert_close  # noqa: E402

F32 = np.float32
vi = helper.make_tensor_value_info


def _model(nodes, inputs, outputs, inits=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _check(model, feed_sets):
    """One Gluon block, every feed set against onnxruntime; returns onnxruntime's outputs."""
    block = nb.import_to_gluon(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in model.graph.input]
    wants = []
    for feeds in feed_sets:
        got = block(*[mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in names])
        got = got if isinstance(got, (list, tuple)) else [got]
        want = session.run(None, feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            g = g.asnumpy()
            if w.dtype.kind in "iu":
                assert g.shape == w.shape and np.array_equal(g, w), (g, w)
            else:
                assert_close(g, w)
        wants.append(want)
    return wants


def _distinct_positions(rng, dims, count, negative=True):
    """``count`` distinct coordinate tuples into ``dims`` (a scatter's targets must not repeat), some of them
    counted from the end (negative), as ONNX allows."""
    flat = rng.choice(int(np.prod(dims)), size=count, replace=False)
    coords = np.stack(np.unravel_index(flat, dims), -1).astype(np.int64)
    if negative:
        coords = np.where(rng.rand(*coords.shape) < 0.3, coords - np.asarray(dims), coords)
    return coords


# ---- ScatterND / ScatterElements / GatherElements at symbolic sizes ----------------------------------------
def _scatter_nd_model(data_shape, index_shape, update_shape, reduction=None):
    attrs = {} if reduction is None else {"reduction": reduction}
    return _model([helper.make_node("ScatterND", ["data", "indices", "updates"], ["y"], **attrs)],
                  [vi("data", T.FLOAT, data_shape), vi("indices", T.INT64, index_shape),
                   vi("updates", T.FLOAT, update_shape)], [vi("y", T.FLOAT, None)])


@pytest.mark.parametrize("k", [1, 2, 3], ids=["rows", "slices", "elements"])
def test_scatter_nd_with_symbolic_dims_at_two_sizes(k):
    """Data (N, S, 4) with M index tuples of length k, all three dims of the data and M symbolic."""
    rng = np.random.RandomState(k)
    model = _scatter_nd_model(["N", "S", 4], ["M", k], ["M"] + ["S", 4][k - 1:] if k < 3 else ["M"])
    feeds = []
    for n, s, m in ((5, 3, 4), (6, 2, 5)):
        idx = _distinct_positions(rng, (n, s, 4)[:k], m)
        feeds.append({"data": rng.randn(n, s, 4).astype(F32), "indices": idx,
                      "updates": rng.randn(m, *(s, 4)[k - 1:]).astype(F32)})
    _check(model, feeds)


@pytest.mark.parametrize("k", [1, 3], ids=["rows", "elements"])
def test_scatter_nd_of_no_updates_at_symbolic_sizes(k):
    """A data-dependent number of updates can be 0 (a detector keeping no box): MXNet's index_copy divided by
    it and killed the process (SIGFPE); the block gives the data back, and still scatters at other counts."""
    rng = np.random.RandomState(k)
    model = _scatter_nd_model(["N", "S", 4], ["M", k], ["M", "S", 4][:4 - k] if k < 3 else ["M"])
    feeds = []
    for n, s, m in ((5, 3, 0), (4, 2, 3), (3, 2, 0)):
        idx = _distinct_positions(rng, (n, s, 4)[:k], m).reshape(m, k)
        feeds.append({"data": rng.randn(n, s, 4).astype(F32), "indices": idx,
                      "updates": rng.randn(m, *(s, 4)[k - 1:]).astype(F32)})
    _check(model, feeds)


def test_scatter_nd_with_a_grid_of_indices():
    """Indices (A, B, 1) into data (N, 5): the updates (A, B, 5) are whole rows."""
    rng = np.random.RandomState(3)
    model = _scatter_nd_model(["N", 5], ["A", "B", 1], ["A", "B", 5])
    feeds = [{"data": rng.randn(n, 5).astype(F32),
              "indices": _distinct_positions(rng, (n,), a * b).reshape(a, b, 1),
              "updates": rng.randn(a, b, 5).astype(F32)} for n, a, b in ((7, 2, 3), (4, 1, 4))]
    _check(model, feeds)


@pytest.mark.parametrize("k", [1, 2], ids=["rows", "elements"])
def test_scatter_nd_add_with_symbolic_dims_sums_repeated_targets(k):
    """reduction=add at symbolic sizes (a run-time bincount): indices repeat (their updates add up), some
    counted from the end."""
    rng = np.random.RandomState(20 + k)
    model = _scatter_nd_model(["N", "C"], ["M", k], ["M", "C"][:3 - k], reduction="add")
    feeds = []
    for n, c, m in ((4, 3, 9), (6, 5, 4)):
        idx = np.stack([rng.randint(-d, d, size=m) for d in (n, c)[:k]], -1).astype(np.int64)
        feeds.append({"data": rng.randn(n, c).astype(F32), "indices": idx,
                      "updates": rng.randn(*(m, c)[:3 - k]).astype(F32)})
    _check(model, feeds)


@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements_add_with_symbolic_dims_sums_repeated_targets(axis):
    rng = np.random.RandomState(30 + axis)
    model = _model([helper.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], axis=axis,
                                     reduction="add")],
                   [vi("data", T.FLOAT, ["N", "C"]), vi("indices", T.INT64, ["P", "Q"]),
                    vi("updates", T.FLOAT, ["P", "Q"])], [vi("y", T.FLOAT, None)], opset=18)
    feeds = []
    for (n, c), (p, q) in (((5, 6), (7, 4)), ((3, 9), (2, 3))):
        length = (n, c)[axis]
        p, q = (p, min(q, c)) if axis == 0 else (min(p, n), q)  # the other axis within the data's
        feeds.append({"data": rng.randn(n, c).astype(F32),
                      "indices": rng.randint(-length, length, size=(p, q)).astype(np.int64),
                      "updates": rng.randn(p, q).astype(F32)})
    _check(model, feeds)


def test_scatter_nd_add_of_integers_with_symbolic_dims():
    rng = np.random.RandomState(40)
    model = _model([helper.make_node("ScatterND", ["data", "indices", "updates"], ["y"], reduction="add")],
                   [vi("data", T.INT64, ["N"]), vi("indices", T.INT64, ["M", 1]), vi("updates", T.INT64, ["M"])],
                   [vi("y", T.INT64, None)])
    _check(model, [{"data": rng.randint(-9, 9, size=n), "indices": rng.randint(0, n, size=(m, 1)),
                    "updates": rng.randint(-9, 9, size=m)} for n, m in ((5, 8), (9, 3))])


@pytest.mark.parametrize("reduction", ["mul", "max", "min"])
def test_scatter_nd_mul_max_min_are_refused_with_what_to_do(reduction):
    with pytest.raises(BridgeError, match=f"reduction={reduction}.*TVM") as info:
        nb.import_to_gluon(_scatter_nd_model(["N", 4], ["M", 1], ["M", 4], reduction=reduction))
    assert "ScatterND" in str(info.value) or "scatter_nd" in str(info.value)


def test_causal_mask_written_by_torch_legacy_exporter(tmp_path):
    """Llama's mask: a (B, 1, S, S) causal mask whose key columns are then overwritten where the attention mask
    is 0 (an index_put the legacy exporter writes as ScatterND over indices built from the run-time shape)."""
    torch = pytest.importorskip("torch")

    class CausalMask(torch.nn.Module):
        def forward(self, attention_mask):
            b, s = attention_mask.shape
            mask = torch.full((s, s), -1e9).triu(1)[None, None].expand(b, 1, s, s).clone()
            padded = mask[:, :, :, :s] + attention_mask[:, None, None, :].float()
            mask[:, :, :, :s] = padded.masked_fill(attention_mask[:, None, None, :] == 0, -5.0)
            return mask

    path = str(tmp_path / "mask.onnx")
    torch.onnx.export(CausalMask(), (torch.ones(2, 5, dtype=torch.int64),), path, dynamo=False, opset_version=17,
                      input_names=["attention_mask"], output_names=["mask"],
                      dynamic_axes={"attention_mask": {0: "batch", 1: "sequence"}})
    model = onnx.load(path)
    assert any(n.op_type == "ScatterND" for n in model.graph.node)
    rng = np.random.RandomState(0)
    _check(model, [{"attention_mask": (rng.rand(b, s) > 0.3).astype(np.int64)} for b, s in ((2, 5), (3, 8))])


@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements_with_symbolic_dims_at_two_sizes(axis):
    """Indices smaller than the data along both axes, distinct targets along ``axis``, some negative."""
    rng = np.random.RandomState(axis)
    model = _model([helper.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], axis=axis)],
                   [vi("data", T.FLOAT, ["N", "C"]), vi("indices", T.INT64, ["P", "Q"]),
                    vi("updates", T.FLOAT, ["P", "Q"])], [vi("y", T.FLOAT, None)])
    feeds = []
    for (n, c), (p, q) in (((5, 6), (3, 4)), ((4, 9), (2, 3))):
        length, lines = (n, q) if axis == 0 else (c, p)
        idx = np.stack([rng.choice(length, size=(p, q)[axis], replace=False) for _ in range(lines)], 1 - axis)
        idx = np.where(rng.rand(p, q) < 0.3, idx - length, idx).astype(np.int64)
        feeds.append({"data": rng.randn(n, c).astype(F32), "indices": idx, "updates": rng.randn(p, q).astype(F32)})
    _check(model, feeds)


@pytest.mark.parametrize("axis", [0, -1])
def test_gather_elements_with_symbolic_dims_at_two_sizes(axis):
    rng = np.random.RandomState(5)
    model = _model([helper.make_node("GatherElements", ["data", "indices"], ["y"], axis=axis)],
                   [vi("data", T.FLOAT, ["N", "C", 3]), vi("indices", T.INT64, ["P", "Q", 2])],
                   [vi("y", T.FLOAT, None)])
    feeds = []
    for (n, c), (p, q) in (((4, 5), (6, 2)), ((2, 7), (1, 7))):
        length = (n, c, 3)[axis]
        shape = (p, q, 2) if axis == 0 else (min(p, n), min(q, c), 2)
        feeds.append({"data": rng.randn(n, c, 3).astype(F32),
                      "indices": rng.randint(-length, length, size=shape).astype(np.int64)})
    _check(model, feeds)


# ---- NonMaxSuppression -------------------------------------------------------------------------------------
def _boxes(rng, b, n, flip=True, spread=4.0):
    """(b, n, 4) corner boxes [y1, x1, y2, x2] that overlap often; with ``flip``, some with the corners swapped
    (ONNX takes either diagonal)."""
    low = rng.rand(b, n, 2).astype(F32) * spread
    boxes = np.concatenate([low, low + 0.5 + rng.rand(b, n, 2).astype(F32) * 2], -1)
    if flip:
        swap = rng.rand(b, n) < 0.3
        boxes[swap] = boxes[swap][:, [2, 3, 0, 1]]
    return boxes


def _nms_model(center_point_box=0, limit=3, iou=0.4, score=0.3, tensors=(), n="N"):
    """NonMaxSuppression over (B, n, 4) boxes and (B, C, n) scores; each of limit/iou/score is a constant,
    left out (None), or a graph input (named in ``tensors``)."""
    values = {"limit": (np.array([limit], np.int64) if limit is not None else None, T.INT64),
              "iou": (np.array([iou], F32) if iou is not None else None, T.FLOAT),
              "score": (np.array([score], F32) if score is not None else None, T.FLOAT)}
    names = ["boxes", "scores"] + [k if v[0] is not None or k in tensors else "" for k, v in values.items()]
    while names[-1] == "":
        names.pop()
    inputs = [vi("boxes", T.FLOAT, ["B", n, 4]), vi("scores", T.FLOAT, ["B", "C", n])]
    inputs += [vi(k, values[k][1], [1]) for k in tensors]
    inits = [numpy_helper.from_array(v, k) for k, (v, _) in values.items() if v is not None and k not in tensors]
    node = helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center_point_box)
    return _model([node], inputs, [vi("selected", T.INT64, None)], inits, opset=11)


def _center(boxes):
    y1, x1, y2, x2 = np.moveaxis(boxes, -1, 0)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, np.abs(x2 - x1), np.abs(y2 - y1)], -1).astype(F32)


@pytest.mark.parametrize("center_point_box", [0, 1], ids=["corners", "centers"])
def test_nms_of_several_batches_and_classes(center_point_box):
    rng = np.random.RandomState(10 + center_point_box)
    feeds = []
    for b, c, n in ((3, 4, 12), (2, 1, 20)):
        boxes = _boxes(rng, b, n, flip=not center_point_box)
        feeds.append({"boxes": _center(boxes) if center_point_box else boxes,
                      "scores": rng.rand(b, c, n).astype(F32)})
    wants = _check(_nms_model(center_point_box), feeds)
    assert all(len(w[0]) > 4 for w in wants)  # enough selected to check the order


def test_nms_ties_keep_the_lower_box_first():
    """Scores on a few levels, repeated within and across classes: among equal scores the lower box index is
    taken first (onnxruntime's order), which decides what is suppressed."""
    rng = np.random.RandomState(2)
    feeds = [{"boxes": _boxes(rng, 2, n, spread=2.0), "scores": rng.randint(1, 4, size=(2, 3, n)).astype(F32) / 4}
             for n in (10, 16)]
    wants = _check(_nms_model(limit=100, iou=0.3, score=0.0), feeds)
    assert all(len(w[0]) > 6 for w in wants)


def test_nms_thresholds_are_strict():
    """IoU exactly at the threshold does not suppress; a score exactly at the threshold is not selected."""
    boxes = np.array([[[0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 2, 2], [5, 5, 6, 6], [5, 5, 6, 6.5]]], F32)
    scores = np.array([[[0.9, 0.8, 0.7, 0.5, 0.6]]], F32)  # IoU(0, 1) = 0.5, IoU(1, 2) = 0.5, IoU(0, 2) = 0.25
    (want,), = _check(_nms_model(limit=10, iou=0.5, score=0.5), [{"boxes": boxes, "scores": scores}])
    assert want[:, 2].tolist() == [0, 1, 2, 4]


def test_nms_limit_and_score_threshold_given_at_run_time():
    """The limit and the score threshold as graph inputs, no IoU threshold (0: any overlap suppresses); a limit
    of 0 selects nothing."""
    rng = np.random.RandomState(4)
    boxes, scores = _boxes(rng, 2, 9), rng.randn(2, 3, 9).astype(F32)
    model = _nms_model(limit=None, iou=None, score=None, tensors=("limit", "score"))
    feeds = [{"boxes": boxes, "scores": scores, "limit": np.array([k]), "score": np.array([t], F32)}
             for k, t in ((2, -0.5), (9, 0.2), (0, -1.0), (2**63 - 1, -10.0))]
    wants = _check(model, feeds)
    assert [len(w[0]) for w in wants][2] == 0


@pytest.mark.parametrize("center_point_box", [0, 1], ids=["corners", "centers"])
def test_nms_with_a_run_time_iou_threshold_over_a_fixed_number_of_boxes(center_point_box):
    """box_nms takes the IoU threshold as an attribute: given at run time, the selection is computed on (N, N)
    matrices instead; ties, several batches and classes, thresholds at 0 and 1."""
    rng = np.random.RandomState(7)
    model = _nms_model(center_point_box, limit=4, score=0.1, tensors=("iou",), n=11)
    feeds = []
    for (b, c), iou in (((2, 3), 0.3), ((1, 2), 0.0), ((3, 1), 1.0), ((2, 2), 0.6)):
        boxes = _boxes(rng, b, 11, flip=not center_point_box, spread=2.0)
        feeds.append({"boxes": _center(boxes) if center_point_box else boxes,
                      "scores": rng.randint(0, 5, size=(b, c, 11)).astype(F32) / 4, "iou": np.array([iou], F32)})
    wants = _check(model, feeds)
    assert len({len(w[0]) for w in wants}) > 2


def test_nms_with_a_run_time_iou_threshold_over_a_symbolic_number_of_boxes_is_refused():
    with pytest.raises(BridgeError, match="IoU threshold computed at run time.*known only at run time.*TVM"):
        nb.import_to_gluon(_nms_model(tensors=("iou",)))


def test_nms_in_torchvision_style_post_processing():
    """torchvision's detection tail: If (no candidate) an empty list, else NMS of the candidates (its limit and
    IoU threshold constants of the branch), the selected scores; the number of candidates is symbolic."""
    branch_consts = [numpy_helper.from_array(np.array([2**63 - 1]), "limit"),
                     numpy_helper.from_array(np.array([0.45], F32), "iou"),
                     numpy_helper.from_array(np.array([0]), "axis0"), numpy_helper.from_array(np.array(2), "two")]
    then = helper.make_graph([helper.make_node("Constant", [], ["none"], value=numpy_helper.from_array(
        np.zeros(0, F32), "v"))], "then", [], [vi("none", T.FLOAT, [0])])
    other = helper.make_graph([
        helper.make_node("Unsqueeze", ["boxes", "axis0"], ["b3"]),
        helper.make_node("Unsqueeze", ["scores", "axis0"], ["s2"]),
        helper.make_node("Unsqueeze", ["s2", "axis0"], ["s3"]),
        helper.make_node("NonMaxSuppression", ["b3", "s3", "limit", "iou"], ["sel"]),
        helper.make_node("Gather", ["sel", "two"], ["picked"], axis=1),
        helper.make_node("Gather", ["scores", "picked"], ["kept"])], "else", [], [vi("kept", T.FLOAT, ["K"])],
        branch_consts)
    nodes = [helper.make_node("Size", ["scores"], ["n"]), helper.make_node("Equal", ["n", "zero"], ["nothing"]),
             helper.make_node("If", ["nothing"], ["out"], then_branch=then, else_branch=other)]
    model = _model(nodes, [vi("boxes", T.FLOAT, ["N", 4]), vi("scores", T.FLOAT, ["N"])],
                   [vi("out", T.FLOAT, None)], [numpy_helper.from_array(np.array(0), "zero")], opset=13)
    rng = np.random.RandomState(6)
    _check(model, [{"boxes": _boxes(rng, 1, n)[0], "scores": rng.rand(n).astype(F32)} for n in (7, 30)])


def test_slice_of_a_symbolic_axis_clamps_like_numpy():
    """torchvision keeps the first 300 detections of a list of run-time length: x[1:300] on a symbolic axis
    (MXNet's slice clamps its bounds at run time)."""
    model = _model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])], [vi("x", T.FLOAT, ["N", 3])],
                   [vi("y", T.FLOAT, None)], [numpy_helper.from_array(np.array(v), k) for k, v in
                                              (("starts", [1]), ("ends", [300]), ("axes", [0]))], opset=13)
    rng = np.random.RandomState(8)
    _check(model, [{"x": rng.randn(n, 3).astype(F32)} for n in (2, 7)])


def test_slice_from_the_end_of_a_symbolic_axis_longer_than_it():
    """x[-4:-1] of 2 and of 7 rows."""
    model = _model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])], [vi("x", T.FLOAT, [3, "N"])],
                   [vi("y", T.FLOAT, None)], [numpy_helper.from_array(np.array(v), k) for k, v in
                                              (("starts", [-4]), ("ends", [-1]), ("axes", [1]))], opset=13)
    rng = np.random.RandomState(9)
    _check(model, [{"x": rng.randn(3, n).astype(F32)} for n in (2, 7)])


@pytest.mark.parametrize("shape", [["N"], [2, "N"], ["N", 3], [1, 2, "N", 4]], ids=["1d", "last", "first", "4d"])
def test_slice_from_the_end_to_a_bound_from_the_start_of_a_symbolic_axis(shape):
    """x[-4:300] and x[-3:2] at lengths 2, 3, 7 and 400: a negative start clamps at 0 on an axis shorter than
    it (oneDNN's slice does not clamp it: "could not construct a sub-memory"), the end at the axis length."""
    rng = np.random.RandomState(11)
    axis = shape.index("N")
    for start, end in ((-4, 300), (-3, 2)):
        model = _model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])],
                       [vi("x", T.FLOAT, shape)], [vi("y", T.FLOAT, None)],
                       [numpy_helper.from_array(np.array(v), k) for k, v in
                        (("starts", [start]), ("ends", [end]), ("axes", [axis]))], opset=13)
        _check(model, [{"x": rng.randn(*[n if d == "N" else d for d in shape]).astype(F32)} for n in (2, 3, 7, 400)])
