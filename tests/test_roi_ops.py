"""Region ops of two-stage detectors (roi_align, roi_pool, proposal) against the real executors: MXNet's own
ROIAlign / ROIPooling / Proposal / MultiProposal and onnxruntime's RoiAlign / MaxRoiPool, through every
direction (MXNet -> ONNX -> onnxruntime, MXNet -> MXNet, MXNet -> TVM, ONNX -> MXNet, ONNX -> TVM)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402
from nnvm_bridge.ops import get_op  # noqa: E402
from tolerance import assert_close  # noqa: E402

N, C, H, W = 2, 8, 9, 11


def _rois(scale, count=24, seed=0, min_size=0.0, unassigned=False):
    """Random boxes in image coordinates plus the border cases: the whole image, boxes hanging over each
    edge, one wholly outside, a tiny one (``unassigned``: every 5th with batch index -1, as GluonCV's FPN marks
    the rois another level pools; see ``_mx_align``; not with position_sensitive, where MXNet 1.9.1 then
    pools the next roi wrongly)."""
    rng = np.random.default_rng(seed)
    iw, ih = W / scale, H / scale
    x1, y1 = rng.uniform(-0.2 * iw, iw, count), rng.uniform(-0.2 * ih, ih, count)
    x2, y2 = x1 + rng.uniform(min_size, iw, count), y1 + rng.uniform(min_size, ih, count)
    boxes = np.stack([x1, y1, x2, y2], 1)
    border = np.array([[0, 0, iw - 1, ih - 1], [-5, -5, 0.5 * iw, 0.5 * ih], [0.8 * iw, 0.8 * ih, iw + 9, ih + 9],
                       [iw + 2, ih + 2, iw + 8, ih + 8], [0.5 * iw, 0.5 * ih, 0.5 * iw + 0.7, 0.5 * ih + 0.6],
                       [0, 0.3 * ih, iw, 0.3 * ih + 1]])
    boxes = np.concatenate([border, boxes])
    index = rng.integers(0, N, len(boxes))
    if unassigned:
        index[::5] = -1
    return np.concatenate([index[:, None], boxes], 1).astype(np.float32)


def _data(seed=1, channels=C):
    return np.random.default_rng(seed).standard_normal((N, channels, H, W)).astype(np.float32)


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _mx_run(sym, feeds):
    mx = pytest.importorskip("mxnet")
    exe = sym.bind(mx.cpu(), {k: mx.nd.array(v) for k, v in feeds.items()})
    return [o.asnumpy() for o in exe.forward()]


def _ir_compute(op, attrs, xs):
    opdef = get_op(op)
    return opdef.compute(opdef.parse_attrs({k: str(v) for k, v in attrs.items()}), xs)


# ---- roi_align --------------------------------------------------------------------------------------
MX_ALIGN = [  # MXNet ROIAlign settings: pooled_size, spatial_scale, sample_ratio, aligned, position_sensitive
    ((3, 3), 0.5, 2, False, False), ((2, 4), 0.25, -1, False, False), ((3, 2), 0.5, 1, True, False),
    ((2, 2), 1.0, -1, True, False), ((2, 2), 0.5, 2, False, True), ((2, 2), 0.25, -1, True, True)]


def _mx_align_kw(case):
    pooled, scale, ratio, aligned, ps = case
    return dict(pooled_size=pooled, spatial_scale=scale, sample_ratio=ratio, aligned=aligned, position_sensitive=ps)


def _mx_align(data, rois, case):
    """MXNet's ROIAlign, with the rows of rois whose batch index is negative set to zeros: MXNet skips them,
    leaving whatever the output buffer held (usually zeros), and GluonCV's FPN sums the levels counting on
    zeros; the IR defines them as zeros."""
    mx = pytest.importorskip("mxnet")
    out = mx.nd.contrib.ROIAlign(mx.nd.array(data), mx.nd.array(rois), **_mx_align_kw(case)).asnumpy()
    out[rois[:, 0] < 0] = 0.0
    return out


def _mx_align_sym(case):
    mx = pytest.importorskip("mxnet")
    return mx.sym.contrib.ROIAlign(mx.sym.var("data"), mx.sym.var("rois"), **_mx_align_kw(case))


def _case_id(case):
    return "-".join(str(v) for v in case).replace(" ", "")


@pytest.mark.parametrize("case", MX_ALIGN, ids=_case_id)
def test_roi_align_reference_matches_mxnet(case):
    data = _data(channels=12 if case[4] else C)
    rois = _rois(case[1], min_size=0.5 if case[3] else 0.0, unassigned=not case[4])
    ref = _mx_align(data, rois, case)
    assert_close(_ir_compute("roi_align", _mx_align_kw(case), [data, rois])[0], ref, tol=1e-6)


@pytest.mark.parametrize("case", MX_ALIGN, ids=_case_id)
def test_mxnet_roi_align_to_onnx_mxnet_and_tvm(case):
    sym = _mx_align_sym(case)
    data = _data(channels=12 if case[4] else C)
    rois = _rois(case[1], min_size=0.5 if case[3] else 0.0, unassigned=not case[4])
    feeds = {"data": data, "rois": rois}
    ref = _mx_align(data, rois, case)
    shapes = {k: v.shape for k, v in feeds.items()}
    graph, params = nb.frontend.from_mxnet(sym.tojson(), shape=shapes)
    assert graph.op_counts() == {"roi_align": 1}
    assert_close(_ort(nb.frontend.to_onnx(graph, params, opset=16), feeds)[0], ref)
    mx = pytest.importorskip("mxnet")
    json_text, _, _ = nb.frontend.to_mxnet(graph, params)
    back = _mx_run(mx.sym.load_json(json_text), feeds)[0]
    assert_close(back[rois[:, 0] >= 0], ref[rois[:, 0] >= 0])  # MXNet's own op again: its skipped rows as above
    pytest.importorskip("tvm")
    assert_close(nb.compile_model(graph, params=params, offload=False).run(feeds)[0], ref)


def _onnx_roi_align(opset, **attrs):
    node = helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "roi_align",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [N, C, H, W]),
         helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["R", 4]),
         helper.make_tensor_value_info("batch_indices", TensorProto.INT64, ["R"])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _onnx_feeds(scale, seed=0):
    rois = _rois(scale, seed=seed)
    return {"X": _data(), "rois": rois[:, 1:].copy(), "batch_indices": rois[:, 0].astype(np.int64)}


ONNX_ALIGN = [  # opset, attributes
    (10, dict(output_height=3, output_width=3, sampling_ratio=2, spatial_scale=0.5)),
    (10, dict(output_height=2, output_width=4, spatial_scale=0.25, mode="max")),
    (16, dict(output_height=3, output_width=2, sampling_ratio=0, spatial_scale=0.5)),  # half_pixel by default
    (16, dict(output_height=2, output_width=2, sampling_ratio=3, spatial_scale=1.0,
              coordinate_transformation_mode="output_half_pixel")),
    (16, dict(output_height=2, output_width=3, sampling_ratio=1, spatial_scale=0.5, mode="max")),
    (22, dict(output_height=3, output_width=3, spatial_scale=0.25, coordinate_transformation_mode="half_pixel")),
]


def _ort_roi_align(opset, attrs, feeds):
    """onnxruntime's RoiAlign; it implements versions 10 and 16 (22 only widens the types)."""
    return _ort(_onnx_roi_align(min(opset, 16), **attrs), feeds)[0]


def _onnx_case_id(case):
    return f"opset{case[0]}-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", ONNX_ALIGN, ids=_onnx_case_id)
def test_onnx_roi_align_reference_matches_onnxruntime(case):
    opset, attrs = case
    model = _onnx_roi_align(opset, **attrs)
    feeds = _onnx_feeds(attrs["spatial_scale"])
    graph, params = nb.frontend.from_onnx(model)
    ir_attrs = [n for n in graph.op_nodes() if n.op == "roi_align"][0].attrs
    rois = np.concatenate([feeds["batch_indices"][:, None].astype(np.float32), feeds["rois"]], 1)
    out = _ir_compute("roi_align", ir_attrs, [feeds["X"], rois])[0]
    assert_close(out, _ort_roi_align(opset, attrs, feeds), tol=1e-6)


@pytest.mark.parametrize("case", ONNX_ALIGN, ids=_onnx_case_id)
def test_onnx_roi_align_through_the_ir_to_onnx_mxnet_and_tvm(case):
    opset, attrs = case
    model = _onnx_roi_align(opset, **attrs)
    feeds = _onnx_feeds(attrs["spatial_scale"], seed=3)
    ref = _ort_roi_align(opset, attrs, feeds)
    graph, params = nb.frontend.from_onnx(model)
    assert_close(_ort(nb.frontend.to_onnx(graph, params), feeds)[0], ref)
    if attrs.get("mode") == "max":  # MXNet's ROIAlign only averages: a clear refusal
        with pytest.raises(UnsupportedOperatorError, match="mode=max"):
            nb.frontend.to_mxnet(graph, params)
    else:
        mx = pytest.importorskip("mxnet")
        block = nb.import_to_gluon(model)
        assert_close(block(*(mx.nd.array(feeds[k], dtype=feeds[k].dtype) for k in ("X", "rois", "batch_indices")))
                     .asnumpy(), ref)
    pytest.importorskip("tvm")
    assert_close(nb.compile_model(model, offload=False).run(feeds)[0], ref)


def test_symbolic_roi_count_compiles_once_for_every_count():
    pytest.importorskip("tvm")
    model = _onnx_roi_align(16, output_height=2, output_width=2, sampling_ratio=2, spatial_scale=0.5)
    cm = nb.compile_model(model, offload=False)
    for seed, count in ((0, 24), (5, 3)):
        feeds = _onnx_feeds(0.5, seed=seed)
        feeds = {"X": feeds["X"], "rois": feeds["rois"][:count], "batch_indices": feeds["batch_indices"][:count]}
        assert_close(cm.run(feeds)[0], _ort(model, feeds)[0])


def test_aligned_roi_align_needs_opset_16():
    feeds = {"data": _data(), "rois": _rois(0.5)}
    shapes = {k: v.shape for k, v in feeds.items()}
    graph, params = nb.frontend.from_mxnet(_mx_align_sym(((2, 2), 0.5, 2, True, False)).tojson(), shape=shapes)
    with pytest.raises(UnsupportedOperatorError, match="opset >= 16"):
        nb.frontend.to_onnx(graph, params, opset=13)
    unaligned, p2 = nb.frontend.from_mxnet(_mx_align_sym(((2, 2), 0.5, 2, False, False)).tojson(), shape=shapes)
    assert_close(_ort(nb.frontend.to_onnx(unaligned, p2, opset=13), feeds)[0], _mx_run(_mx_align_sym(
        ((2, 2), 0.5, 2, False, False)), feeds)[0])


def test_spatial_scale_above_one_reaches_mxnet():
    """ONNX allows spatial_scale > 1, MXNet's ROIAlign does not: the scale moves into the boxes."""
    mx = pytest.importorskip("mxnet")
    model = _onnx_roi_align(16, output_height=2, output_width=2, sampling_ratio=2, spatial_scale=2.0)
    feeds = _onnx_feeds(2.0)
    block = nb.import_to_gluon(model)
    out = block(*(mx.nd.array(feeds[k], dtype=feeds[k].dtype) for k in ("X", "rois", "batch_indices"))).asnumpy()
    assert_close(out, _ort(model, feeds)[0])


# ---- roi_pool ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("pooled, scale", [((3, 3), 0.5), ((2, 4), 0.25), ((1, 1), 1.0)])
def test_mxnet_roi_pooling_everywhere(pooled, scale):
    mx = pytest.importorskip("mxnet")
    sym = mx.sym.ROIPooling(mx.sym.var("data"), mx.sym.var("rois"), pooled_size=pooled, spatial_scale=scale)
    feeds = {"data": _data(), "rois": _rois(scale, seed=4)}
    ref = _mx_run(sym, feeds)[0]
    assert_close(_ir_compute("roi_pool", dict(pooled_size=pooled, spatial_scale=scale), list(feeds.values()))[0],
                 ref, tol=0)
    graph, params = nb.frontend.from_mxnet(sym.tojson(), shape={k: v.shape for k, v in feeds.items()})
    assert_close(_ort(nb.frontend.to_onnx(graph, params), feeds)[0], ref)
    json_text, _, _ = nb.frontend.to_mxnet(graph, params)
    assert_close(_mx_run(mx.sym.load_json(json_text), feeds)[0], ref)
    pytest.importorskip("tvm")
    assert_close(nb.compile_model(graph, params=params, offload=False).run(feeds)[0], ref)


def test_onnx_max_roi_pool_to_tvm():
    pytest.importorskip("tvm")
    node = helper.make_node("MaxRoiPool", ["X", "rois"], ["Y"], pooled_shape=[2, 3], spatial_scale=0.5)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [N, C, H, W]),
                                               helper.make_tensor_value_info("rois", TensorProto.FLOAT, [30, 5])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    feeds = {"X": _data(), "rois": _rois(0.5, seed=6)}
    assert_close(nb.compile_model(model, offload=False).run(feeds)[0], _ort(model, feeds)[0])


# ---- proposal ---------------------------------------------------------------------------------------
PROPOSAL = [
    dict(rpn_pre_nms_top_n=100, rpn_post_nms_top_n=20),
    dict(rpn_pre_nms_top_n=60, rpn_post_nms_top_n=40, threshold=0.5, rpn_min_size=4, iou_loss=True),
    dict(rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=500, scales=(2.0, 4.0), ratios=(1.0,), feature_stride=8),
]


def _proposal_inputs(kw, batch, seed=0):
    """RPN outputs for a (batch, 2A, 6, 7) feature map; the images are smaller than the map covers, so
    padded positions, clipping and the minimum size all take part."""
    rng = np.random.default_rng(seed)
    anchors = len(kw.get("scales", (4, 8, 16, 32))) * len(kw.get("ratios", (0.5, 1, 2)))
    stride, fh, fw = kw.get("feature_stride", 16), 6, 7
    cls = rng.uniform(0, 1, (batch, 2 * anchors, fh, fw)).astype(np.float32)
    bbox = (rng.standard_normal((batch, 4 * anchors, fh, fw)) * (3.0 if kw.get("iou_loss") else 0.3))
    im_info = np.array([[fh * stride - 5, fw * stride - 20, 1.0], [fh * stride - 30, fw * stride, 0.8]],
                       dtype=np.float32)[:batch]
    return {"cls_prob": cls, "bbox_pred": bbox.astype(np.float32), "im_info": im_info}


def _mx_proposal_sym(kw, multi):
    mx = pytest.importorskip("mxnet")
    op = mx.sym.contrib.MultiProposal if multi else mx.sym.contrib.Proposal
    return op(mx.sym.var("cls_prob"), mx.sym.var("bbox_pred"), mx.sym.var("im_info"), output_score=True, **kw)


@pytest.mark.parametrize("kw", PROPOSAL, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("multi", [False, True], ids=["Proposal", "MultiProposal"])
def test_mxnet_proposal_reference_and_round_trip(kw, multi):
    mx = pytest.importorskip("mxnet")
    sym = _mx_proposal_sym(kw, multi)
    feeds = _proposal_inputs(kw, 2 if multi else 1)
    ref = _mx_run(sym, feeds)
    graph, params = nb.frontend.from_mxnet(sym.tojson(), shape={k: v.shape for k, v in feeds.items()})
    assert graph.op_counts() == {"proposal": 1}
    ir = _ir_compute("proposal", dict(kw, output_score=True), list(feeds.values()))
    # the same boxes in the same order; coordinates within float32 rounding of MXNet's exp
    for got, want in zip(ir, ref):
        assert_close(got, want, tol=1e-6)
    json_text, _, _ = nb.frontend.to_mxnet(graph, params)
    for got, want in zip(_mx_run(mx.sym.load_json(json_text), feeds), ref):
        assert_close(got, want, tol=0)
