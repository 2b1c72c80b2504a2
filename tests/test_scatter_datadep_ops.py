"""Scatter/gather, data-dependent ops and Einsum: one-node ONNX models and small torch-exported models
against onnxruntime, through compile_model (TVM), import_to_gluon (MXNet) and ONNX -> IR -> ONNX.

Tolerance: tests/tolerance.py's float32 bound (integer outputs exactly)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import BridgeError  # noqa: E402

RNG = np.random.RandomState(7)
vi = helper.make_tensor_value_info
F32 = np.float32


def _model(node, inputs, out_types=(T.FLOAT,), opset=18, inits=()):
    outs = [vi(name, t, None) for name, t in zip(node.output, out_types)]
    graph = helper.make_graph([node], "g", inputs, outs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _reference(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(want).max(initial=0))))


def _tvm(model, feed_sets):
    cm = nb.compile_model(model)
    for feeds in feed_sets:
        for got, want in zip(cm.run(feeds), _reference(model, feeds)):
            _close(got, want)


def _gluon(model, feed_sets):
    import mxnet as mx

    block = nb.import_to_gluon(model)
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    for feeds in feed_sets:
        outs = block(*[mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in names])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for got, want in zip(outs, _reference(model, feeds)):
            _close(got.asnumpy(), want)


def _roundtrip(model, feeds, opset=18):
    graph, params = nb.frontend.from_onnx(model)
    again = nb.frontend.to_onnx(graph, params, opset=min(opset, 21))
    for got, want in zip(_reference(again, feeds), _reference(model, feeds)):
        _close(got, want)


# ---- one-node models --------------------------------------------------------------------------------
def _scatter_nd(reduction, opset=18):
    node = helper.make_node("ScatterND", ["data", "indices", "updates"], ["y"],
                            **({} if reduction == "none" else {"reduction": reduction}))
    model = _model(node, [vi("data", T.FLOAT, ["N", 3, 4]), vi("indices", T.INT64, [2, 2]),
                          vi("updates", T.FLOAT, [2, 4])], opset=opset)
    feeds = []
    for n in (3, 5):
        idx = np.array([[0, 1], [-1, 2]]) if reduction == "none" else np.array([[0, 1], [0, 1]])
        feeds.append({"data": RNG.randn(n, 3, 4).astype(F32), "indices": idx, "updates": RNG.randn(2, 4).astype(F32)})
    return model, feeds


def _scatter_elements(reduction, axis, op="ScatterElements", opset=18):
    attrs = {"axis": axis, **({} if reduction == "none" else {"reduction": reduction})}
    model = _model(helper.make_node(op, ["data", "indices", "updates"], ["y"], **attrs),
                   [vi("data", T.FLOAT, [4, 5]), vi("indices", T.INT64, [2, 3]), vi("updates", T.FLOAT, [2, 3])],
                   opset=opset)
    idx = np.array([[0, 1, 3], [-1, 2, 0]]) if reduction == "none" else np.array([[0, 1, 1], [1, 1, 0]])
    return model, [{"data": RNG.randn(4, 5).astype(F32), "indices": idx, "updates": RNG.randn(2, 3).astype(F32)}]


def _gather_elements(axis):
    model = _model(helper.make_node("GatherElements", ["data", "indices"], ["y"], axis=axis),
                   [vi("data", T.FLOAT, ["N", 4]), vi("indices", T.INT64, [2, 4])], opset=13)
    return model, [{"data": RNG.randn(n, 4).astype(F32), "indices": np.array([[0, 1, 2, -1], [2, 0, 1, 1]])}
                   for n in (3, 6)]


def _nonzero():
    model = _model(helper.make_node("NonZero", ["x"], ["y"]), [vi("x", T.FLOAT, ["N", 5])], (T.INT64,), opset=13)
    return model, [{"x": (RNG.rand(n, 5) > 0.5).astype(F32)} for n in (3, 7)]


def _compress(axis):
    attrs = {} if axis is None else {"axis": axis}
    model = _model(helper.make_node("Compress", ["x", "c"], ["y"], **attrs),
                   [vi("x", T.FLOAT, [3, 4]), vi("c", T.BOOL, [4])], opset=11)
    return model, [{"x": RNG.randn(3, 4).astype(F32), "c": np.array([True, False, True, True])}]


def _topk(largest, axis):
    model = _model(helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest),
                   [vi("x", T.FLOAT, [4, 6]), vi("k", T.INT64, [1])], (T.FLOAT, T.INT64), opset=11)
    return model, [{"x": RNG.randn(4, 6).astype(F32), "k": np.array([k])} for k in (2, 4)]


def _einsum(equation, *shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    model = _model(helper.make_node("Einsum", names, ["y"], equation=equation),
                   [vi(n, T.FLOAT, s) for n, s in zip(names, shapes)], opset=12)
    sizes = [(2, 3), (3, 4)]
    feeds = [{n: RNG.randn(*[sz[0] if d == "B" else sz[1] if d == "S" else d for d in s]).astype(F32)
              for n, s in zip(names, shapes)} for sz in sizes]
    return model, feeds


def _nms(center_point_box, tensor_limit, most=2):
    boxes = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.1, 1.0, 1.1], [0.0, -0.1, 1.0, 0.9], [0.0, 10.0, 1.0, 11.0],
                       [1.0, 10.1, 0.0, 11.1], [0.0, 100.0, 1.0, 101.0]]], dtype=F32)
    if center_point_box:
        boxes = np.array([[[0.5, 0.5, 1.0, 1.0], [0.5, 0.6, 1.0, 1.0], [0.5, 0.4, 1.0, 1.0], [0.5, 10.5, 1.0, 1.0],
                           [0.5, 10.6, 1.0, 1.0], [0.5, 100.5, 1.0, 1.0]]], dtype=F32)
    boxes = np.concatenate([boxes, boxes[:, ::-1]], 0)
    scores = RNG.rand(2, 2, 6).astype(F32)
    limit, iou, score = np.array([most]), np.array([0.5], F32), np.array([0.2], F32)
    names = ["boxes", "scores", "limit", "iou", "score"]
    inputs = [vi("boxes", T.FLOAT, [2, 6, 4]), vi("scores", T.FLOAT, [2, 2, 6])]
    inits = [onnx.numpy_helper.from_array(v, n) for n, v in zip(names[3:], (iou, score))]
    feeds = {"boxes": boxes, "scores": scores}
    if tensor_limit:
        inputs.append(vi("limit", T.INT64, [1]))
        feeds["limit"] = limit
    else:
        inits.append(onnx.numpy_helper.from_array(limit, "limit"))
    model = _model(helper.make_node("NonMaxSuppression", names, ["y"], center_point_box=center_point_box),
                   inputs, (T.INT64,), opset=11, inits=inits)
    return model, [feeds]


def _nms_logits():
    """Scores that are logits (<= 0 too), a run-time limit, IoU and score thresholds left out (IoU 0: any
    overlap suppresses), ties in the scores (the lower box index first)."""
    corner = RNG.rand(2, 9, 2).astype(F32)
    boxes = np.concatenate([corner, corner + RNG.rand(2, 9, 2).astype(F32)], -1)
    scores = RNG.randn(2, 3, 9).astype(F32)
    scores[:, :, 4] = scores[:, :, 2]
    model = _model(helper.make_node("NonMaxSuppression", ["boxes", "scores", "limit"], ["y"]),
                   [vi("boxes", T.FLOAT, [2, 9, 4]), vi("scores", T.FLOAT, [2, 3, 9]), vi("limit", T.INT64, [1])],
                   (T.INT64,), opset=11)
    return model, [{"boxes": boxes, "scores": scores, "limit": np.array([k])} for k in (0, 2, 9)]


def _nms_symbolic_boxes(limit, tensor_limit=False):
    """A number of boxes known only at run time (one compiled model, three sizes), a negative score threshold;
    torchvision writes the limit 2**63 - 1."""
    consts = {"limit": np.array([limit]), "iou": np.array([0.4], F32), "score": np.array([-0.5], F32)}
    inputs = [vi("boxes", T.FLOAT, [1, "N", 4]), vi("scores", T.FLOAT, [1, 2, "N"])]
    if tensor_limit:
        inputs.append(vi("limit", T.INT64, [1]))
    model = _model(helper.make_node("NonMaxSuppression", ["boxes", "scores", *consts], ["y"]), inputs, (T.INT64,),
                   opset=11, inits=[onnx.numpy_helper.from_array(v, k) for k, v in consts.items()
                                    if not (tensor_limit and k == "limit")])
    feeds = []
    for n in (5, 11, 0):
        corner = RNG.rand(1, n, 2).astype(F32)
        feeds.append({"boxes": np.concatenate([corner, corner + 0.5], -1), "scores": RNG.randn(1, 2, n).astype(F32),
                      **({"limit": consts["limit"]} if tensor_limit else {})})
    return model, feeds


def _unique(shape, sorted_, axis):
    """Unique's four outputs, values with repeats (whole slices repeated along ``axis``), at two sizes."""
    attrs = {"sorted": sorted_, **({} if axis is None else {"axis": axis})}
    model = _model(helper.make_node("Unique", ["x"], ["y", "first", "inverse", "counts"], **attrs),
                   [vi("x", T.FLOAT, shape)], (T.FLOAT, T.INT64, T.INT64, T.INT64), opset=11)
    feeds = []
    for n in (5, 8):
        dims = [n if d == "N" else d for d in shape]
        x = RNG.randint(-2, 3, size=dims).astype(F32)
        if axis is not None:
            x = np.take(x, RNG.randint(0, 3, size=dims[axis]), axis=axis)
        feeds.append({"x": x})
    return model, feeds


CASES = {
    "scatter_nd_none": lambda: _scatter_nd("none"),
    "scatter_nd_none_opset11": lambda: _scatter_nd("none", opset=11),
    "scatter_nd_add": lambda: _scatter_nd("add"),
    "scatter_nd_mul": lambda: _scatter_nd("mul", opset=16),
    "scatter_nd_max": lambda: _scatter_nd("max"),
    "scatter_nd_min": lambda: _scatter_nd("min"),
    "scatter_elements_axis0": lambda: _scatter_elements("none", 0),
    "scatter_elements_axis1_add": lambda: _scatter_elements("add", 1),
    "scatter_elements_mul": lambda: _scatter_elements("mul", -1),
    "scatter_elements_max": lambda: _scatter_elements("max", 1),
    "scatter_old_op": lambda: _scatter_elements("none", 1, op="Scatter", opset=10),
    "gather_elements_axis0": lambda: _gather_elements(0),
    "gather_elements_axis1": lambda: _gather_elements(-1),
    "nonzero": _nonzero,
    "compress_axis1": lambda: _compress(1),
    "compress_flat": lambda: _compress(None),
    "topk_tensor_k_largest": lambda: _topk(1, 1),
    "topk_tensor_k_smallest_axis0": lambda: _topk(0, 0),
    "einsum_attention": lambda: _einsum("bhqd,bhkd->bhqk", ["B", 2, "S", 8], ["B", 2, "S", 8]),
    "einsum_matmul_ellipsis": lambda: _einsum("...ij,...jk->...ik", ["B", 3, 4], ["B", 4, 5]),
    "einsum_outer_sum": lambda: _einsum("ij,k->jk", [3, 4], [5]),
    "einsum_implicit_three": lambda: _einsum("ij,jk,kl", [2, 3], [3, 4], [4, 2]),
    "einsum_diagonal": lambda: _einsum("bii->bi", ["B", 4, 4]),
    "nms_corners_const_limit": lambda: _nms(0, False),
    "nms_center_const_limit": lambda: _nms(1, False),
    "nms_center_tensor_limit": lambda: _nms(1, True),
    "nms_torchvision_limit": lambda: _nms(0, False, 2**63 - 1),
    "nms_logit_scores_tensor_limit": _nms_logits,
    "nms_symbolic_boxes": lambda: _nms_symbolic_boxes(3),
    "nms_symbolic_boxes_torchvision_limit": lambda: _nms_symbolic_boxes(2**63 - 1),
    "nms_symbolic_boxes_tensor_limit": lambda: _nms_symbolic_boxes(4, tensor_limit=True),
    "unique_flat_sorted": lambda: _unique(["N", 4], 1, None),
    "unique_flat_first_occurrence": lambda: _unique(["N", 3], 0, None),
    "unique_rows_sorted": lambda: _unique(["N", 3], 1, 0),
    "unique_middle_axis_first_occurrence": lambda: _unique([2, "N", 3], 0, -2),
}

# what MXNet cannot express, with the error the user gets
MXNET_CANNOT = {"scatter_nd_mul": "reduction=mul", "scatter_nd_max": "reduction=max", "scatter_nd_min": "reduction=min",
                "scatter_elements_mul": "reduction=mul", "scatter_elements_max": "reduction=max"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compile_model_matches_onnxruntime(case):
    pytest.importorskip("tvm")
    _tvm(*CASES[case]())


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_to_gluon_matches_onnxruntime(case):
    pytest.importorskip("mxnet")
    model, feeds = CASES[case]()
    if case in MXNET_CANNOT:
        with pytest.raises(BridgeError, match=MXNET_CANNOT[case]):
            _gluon(model, feeds)
        return
    # MXNet 1.9 reads a 0 dim as unknown: it runs no op on an empty input
    _gluon(model, [f for f in feeds if all(v.size for v in f.values())])


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_roundtrip_matches_onnxruntime(case):
    model, feeds = CASES[case]()
    _roundtrip(model, feeds[0])


def test_scatter_nd_with_fixed_shapes_runs_in_mxnet():
    pytest.importorskip("mxnet")
    model, feeds = _scatter_nd("add")
    import mxnet as mx

    block = nb.import_to_gluon(model, shape={"data": (5, 3, 4)})
    f = feeds[1]
    got = block(mx.nd.array(f["data"]), mx.nd.array(f["indices"], dtype="int64"), mx.nd.array(f["updates"]))
    _close(got.asnumpy(), _reference(model, f)[0])


def test_einsum_lowers_to_batch_matmul_and_keeps_diagonals_as_einsum():
    graph, _ = nb.frontend.from_onnx(_einsum("bhqd,bhkd->bhqk", ["B", 2, "S", 8], ["B", 2, "S", 8])[0])
    ops = {n.op for n in graph.op_nodes()}
    assert "batch_matmul" in ops and "einsum" not in ops
    graph, _ = nb.frontend.from_onnx(_einsum("bii->bi", ["B", 4, 4])[0])
    assert {n.op for n in graph.op_nodes()} == {"einsum"}


def test_nonzero_length_is_a_new_symbol_of_its_own():
    from nnvm_bridge.ir.passes import infer_shape
    from nnvm_bridge.ir.symbolic import is_symbolic

    graph, _ = nb.frontend.from_onnx(_nonzero()[0])
    g = infer_shape(graph)
    rank, length = g.shape_of(g.outputs[0])
    assert rank == 2 and is_symbolic(length) and length.symbols() not in ({"N"}, set())


# ---- a torch-exported model that uses them the way PyTorch writes them -----------------------------------
def _torch_model(tmp_path):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x, w):
            y = torch.einsum("bij,jk->bik", x, w)  # MatMul-like einsum
            k = y.shape[1] // 2 + 1  # a tensor k under dynamic axes
            top, _ = torch.topk(y, k, dim=1)
            picked = torch.gather(y, 2, torch.argsort(y, dim=2))  # GatherElements
            mask = torch.zeros_like(picked)
            mask[:, 0] = 1.0  # index_put -> ScatterND
            count = torch.nonzero(top > 0).shape[0]  # NonZero
            return top.sum(1) + picked.sum(1) * mask.sum(1), torch.full((1,), count, dtype=torch.float32)

    path = tmp_path / "net.onnx"
    x, w = torch.randn(2, 6, 4), torch.randn(4, 3)
    torch.onnx.export(Net(), (x, w), str(path), input_names=["x", "w"], output_names=["y", "count"],
                      dynamic_axes={"x": {0: "B", 1: "S"}}, opset_version=17, dynamo=False)
    return onnx.load(str(path))


@pytest.mark.slow
def test_torch_exported_model_at_two_sizes(tmp_path):
    pytest.importorskip("tvm")
    model = _torch_model(tmp_path)
    ops = {n.op_type for n in model.graph.node}
    assert {"Einsum", "TopK", "GatherElements", "ScatterND", "NonZero"} <= ops, ops
    w = RNG.randn(4, 3).astype(F32)
    feeds = [{"x": RNG.randn(b, s, 4).astype(F32), "w": w} for b, s in ((2, 6), (3, 9))]
    _tvm(model, feeds)


def test_unique_of_a_constant_folds_to_what_onnxruntime_computes():
    x = np.array([[3, 1, 3], [2, 1, 2], [3, 1, 3], [0, 5, 0]], dtype=F32)
    node = helper.make_node("Unique", ["x"], ["y", "first", "inverse", "counts"], sorted=0, axis=0)
    outs = [vi(n, t, None) for n, t in zip(node.output, (T.FLOAT,) + (T.INT64,) * 3)]
    graph = helper.make_graph([node], "g", [], outs, initializer=[onnx.numpy_helper.from_array(x, "x")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    graph_ir, params = nb.frontend.from_onnx(model)
    assert not [n for n in graph_ir.nodes if n.op == "unique"]  # folded by the numpy reference
    folded = nb.frontend.to_onnx(graph_ir, params, opset=11)
    for got, want in zip(_reference(folded, {}), _reference(model, {})):
        _close(got, want)


def test_unique_in_tvm_takes_an_empty_input():
    pytest.importorskip("tvm")
    model, _ = _unique(["N"], 1, None)
    _tvm(model, [{"x": np.zeros(0, F32)}, {"x": np.array([2, -1, 2], F32)}])
