"""GluonCV detectors (SSD, YOLOv3, CenterNet, Faster and Mask R-CNN) and MXNet's box_nms: MXNet -> ONNX
(onnxruntime), MXNet -> ONNX -> MXNet (import_to_gluon) and MXNet -> TVM (compile_model) against MXNet itself.

box_nms is checked attribute by attribute against ``mx.nd.contrib.box_nms`` (the IR's numpy reference and the
ONNX export, which must give the same boxes in the same order).  The detectors are built with random weights
from GluonCV's own classes, saved with ``net.export``, and every BatchNorm of the exported symbol gets the
statistics of what it sees on the test input (REAL_MODELS.md: with default statistics SSD's features vanish
and every class score is 1/21); detections whose scores tie within float32 error may swap places.
"""
from __future__ import annotations


import numpy as np
import onnx
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")

import gluon_fixtures  # noqa: E402
import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.ops import get_op  # noqa: E402

RNG = np.random.default_rng(0)


def tolerance(ref):
    return 1e-4 * max(1.0, float(np.max(np.abs(ref)))) if ref.size else 0.0


def onnx_run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})


# ---- box_nms, op by op ------------------------------------------------------------------------------
def boxes(shape, classes=3, center=False):
    """Rows [id, score, x1, y1, x2, y2] (or [id, score, x, y, w, h]); ids include -1 (MXNet drops those
    when id_index is set), many boxes overlap."""
    d = RNG.uniform(0, 1, shape + (6,)).astype(np.float32)
    d[..., 0] = RNG.integers(-1, classes, shape)
    xy, wh = RNG.uniform(0, 10, shape + (2,)), RNG.uniform(0.5, 4, shape + (2,))
    d[..., 2:4] = xy + (wh / 2 if center else 0)
    d[..., 4:6] = wh if center else xy + wh
    return d


NMS_CASES = [
    dict(), dict(id_index=0), dict(id_index=0, force_suppress=True), dict(topk=7, id_index=0, valid_thresh=0.3),
    dict(id_index=0, background_id=1, overlap_thresh=0.2), dict(overlap_thresh=0.7, valid_thresh=0.5),
    dict(in_format="center", out_format="corner", id_index=0), dict(in_format="corner", out_format="center"),
    dict(in_format="center", out_format="center", topk=12), dict(topk=0), dict(valid_thresh=2.0),
    dict(coord_start=1, score_index=5, id_index=0, topk=100),
]


@pytest.mark.parametrize("kw", NMS_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
@pytest.mark.parametrize("shape", [(2, 40), (2, 3, 25), (30,)], ids=["batch2", "batch2x3", "unbatched"])
def test_box_nms(kw, shape):
    data = boxes(shape, center=kw.get("in_format") == "center")
    ref = mx.nd.contrib.box_nms(mx.nd.array(data), **kw).asnumpy()
    attrs = get_op("box_nms").parse_attrs({k: str(v) for k, v in kw.items()})
    np.testing.assert_array_equal(get_op("box_nms").compute(attrs, [data])[0], ref)  # the IR's reference
    sym = mx.sym.contrib.box_nms(mx.sym.var("x"), **kw)
    for opset in (11, 17):
        model = nb.export_model(sym, {}, {"x": data.shape}, opset=opset)
        np.testing.assert_array_equal(onnx_run(model, {"x": data})[0], ref, err_msg=f"onnxruntime at opset {opset}")
    onnx.checker.check_model(model, full_check=True)
    back = nb.import_to_gluon(model)(mx.nd.array(data)).asnumpy()  # ONNX -> MXNet: MXNet's own box_nms again
    np.testing.assert_array_equal(back, ref, err_msg="MXNet -> ONNX -> MXNet")


@pytest.mark.parametrize("shape", [(2, 40), (2, 3, 25)], ids=["batch2", "batch2x3"])
def test_box_nms_tvm(shape):
    """Every case of test_box_nms compiled with TVM, as one model per shape (one output per case)."""
    corner, center = boxes(shape), boxes(shape, center=True)
    x, xc = mx.sym.var("x"), mx.sym.var("xc")
    sym = mx.sym.Group([mx.sym.contrib.box_nms(xc if kw.get("in_format") == "center" else x, **kw)
                        for kw in NMS_CASES])
    cm = nb.compile_model(sym, shape={"x": shape + (6,), "xc": shape + (6,)}, params={})
    got = cm.run({"x": corner, "xc": center})
    for kw, g in zip(NMS_CASES, got):
        ref = mx.nd.contrib.box_nms(mx.nd.array(center if kw.get("in_format") == "center" else corner), **kw)
        np.testing.assert_array_equal(g, ref.asnumpy(), err_msg=str(kw))


def degenerate_boxes(n):
    data = boxes((2, n)).astype(np.float64)
    data[0, :10, 4] = data[0, :10, 2] - 1  # negative width: area 0, never suppresses nor is suppressed
    data[1, :5, 2:6] = data[1, 5:10, 2:6]  # identical boxes
    data[1, 10:20, 1] = 0.5  # tied scores: the lower index first
    return data


def test_box_nms_float64_and_degenerate_boxes():
    data = degenerate_boxes(50)
    kw = dict(id_index=0, topk=30, overlap_thresh=0.3)
    ref = mx.nd.contrib.box_nms(mx.nd.array(data, dtype="float64"), **kw).asnumpy()
    sym = mx.sym.contrib.box_nms(mx.sym.var("x"), **kw)
    got = onnx_run(nb.export_model(sym, {}, {"x": data.shape}, input_type="float64"), {"x": data})[0]
    np.testing.assert_array_equal(got, ref)
    cm = nb.compile_model(sym, shape={"x": data.shape}, dtype="float64", params={})
    np.testing.assert_array_equal(cm.run({"x": data})[0], ref, err_msg="tvm")


def test_box_nms_tvm_symbolic_box_count():
    """One library for every box count (MXNet's 0 = unknown dim), fewer boxes than topk included."""
    kw = dict(id_index=0, topk=30, overlap_thresh=0.3, in_format="center", out_format="center")
    sym = mx.sym.contrib.box_nms(mx.sym.var("x"), **kw)
    cm = nb.compile_model(nb.frontend.from_mxnet(sym, shape={"x": (2, 0, 6)}))
    for n in (50, 17):
        data = degenerate_boxes(n).astype(np.float32)
        ref = mx.nd.contrib.box_nms(mx.nd.array(data), **kw).asnumpy()
        np.testing.assert_array_equal(cm.run({"x": data})[0], ref, err_msg=f"{n} boxes")


def test_box_nms_onnx_functions():
    """box_nms is one ai.nnvm_bridge node per use, its ONNX ops in a model-local function: nodes of the same
    attributes and shapes share one, others get their own overload."""
    x = mx.sym.var("x")
    doubled = x * 2  # MXNet numbers its name by how many such symbols the process made before
    sym = mx.sym.Group([mx.sym.contrib.box_nms(x, topk=5), mx.sym.contrib.box_nms(doubled, topk=5),
                        mx.sym.contrib.box_nms(x, topk=7, id_index=0)])
    data = boxes((2, 40))
    model = nb.export_model(sym, {}, {"x": data.shape})
    assert [(n.domain, n.op_type) for n in model.graph.node if n.domain] == [("ai.nnvm_bridge", "box_nms")] * 3
    assert sorted(f.overload for f in model.functions) == ["v0", "v1"]
    assert [t.name for t in model.graph.initializer] == [f"{doubled.name}_const"]  # the bodies' constants are theirs
    refs = [o.asnumpy() for o in sym.eval(ctx=mx.cpu(), x=mx.nd.array(data))]
    for got, ref in zip(onnx_run(model, {"x": data}), refs):
        np.testing.assert_array_equal(got, ref)


def test_box_nms_roundtrip_to_mxnet():
    """IR -> MXNet writes MXNet's own op back, attributes and all."""
    kw = dict(overlap_thresh=0.3, valid_thresh=0.1, topk=9, coord_start=2, score_index=1, id_index=0,
              background_id=2, force_suppress=True, in_format="center", out_format="corner")
    graph, params = nb.frontend.from_mxnet(mx.sym.contrib.box_nms(mx.sym.var("x"), **kw), shape={"x": (2, 20, 6)})
    sym_json, _, _ = nb.frontend.to_mxnet(graph, params)
    data = boxes((2, 20), center=True)
    back = mx.sym.load_json(sym_json).eval(ctx=mx.cpu(), x=mx.nd.array(data))[0].asnumpy()
    np.testing.assert_array_equal(back, mx.nd.contrib.box_nms(mx.nd.array(data), **kw).asnumpy())


# ---- models -----------------------------------------------------------------------------------------
def import_gluoncv():
    try:
        return gluon_fixtures.import_gluoncv()
    except gluon_fixtures.GluonCVMissing:
        pytest.skip("gluoncv is not installed")


def initialize(net, x):
    """Xavier weights; GluonCV's feature expanders ask Xavier for their BatchNorm vectors too, which it
    refuses: those start at ones and zeros (calibrated later)."""
    for p in net.collect_params().values():
        if p.name.endswith(("gamma", "running_var", "moving_var")):
            p.init = mx.init.One()
        elif p.name.endswith(("beta", "bias", "running_mean", "moving_mean")):
            p.init = mx.init.Zero()
    mx.random.seed(0)
    net.initialize(mx.init.Xavier(), force_reinit=True)
    net.hybridize()
    net(x)


def export_detector(name, size, tmp_path, rpn_proposals=None, calibration_batch=1, **kw):
    """``rpn_proposals``: cut an R-CNN's test-time region proposals (before, after the RPN's NMS) to bound
    the time; both the net and its RPN hold the count.  ``calibration_batch`` > 1: BatchNorm statistics from
    that many images, so those after 1x1 feature maps get a variance and other image sizes stay finite."""
    gcv = import_gluoncv()
    net = gcv.model_zoo.get_model(name, pretrained=False, pretrained_base=False, **kw)
    if rpn_proposals:
        net.rpn._test_pre_nms, net.rpn._test_post_nms = rpn_proposals
        net._rpn_test_post_nms = rpn_proposals[1]
        if hasattr(net, "_rcnn_max_dets"):  # Mask R-CNN's masked detections: at most the proposals, as its
            net._rcnn_max_dets = min(net._rcnn_max_dets, *rpn_proposals)  # constructor would have set
    x = RNG.uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    initialize(net, mx.nd.array(x))
    prefix = str(tmp_path / "model")
    net.export(prefix)
    sym_file, params_file = prefix + "-symbol.json", prefix + "-0000.params"
    gluon_fixtures.calibrate_exported(sym_file, params_file, np.concatenate(
        [x, RNG.uniform(-1, 1, (calibration_batch - 1,) + x.shape[1:]).astype(np.float32)]), RNG)
    return sym_file, params_file, x


def run_exported(sym_file, params_file, x, dtype="float32"):
    return gluon_fixtures.run_exported(sym_file, params_file, {"data": x}, dtype)


def references(sym_file, params_file, x, images=4):
    """MXNet's float64 outputs on ``x``, and float32's own error per output over ``x`` and ``images`` - 1
    other images (one batch): the error on one image is too noisy a sample of a random-weight detector's
    float32 error to bound another float32 engine's, whose sums run in another order."""
    ref = run_exported(sym_file, params_file, x, "float64")
    batch = np.concatenate([x, RNG.uniform(-1, 1, (images - 1,) + x.shape[1:]).astype(np.float32)])
    noise = gluon_fixtures.float32_noise(run_exported(sym_file, params_file, batch),
                                         run_exported(sym_file, params_file, batch, "float64"))
    return ref, noise


def assert_detections_close(got, ref, what, noise=None):
    """(ids, scores, boxes) rows equal within 1e-4 x max(1, max|ref|) per output, or twice MXNet float32's
    own error (``noise``, against a float64 ``ref``); rows whose scores tie within that may swap places, also
    across the top-k cut (gluon_fixtures.match_detections)."""
    tols = [max(tolerance(r), 2 * e) for r, e in zip(ref, noise or [0.0] * len(ref))]
    problem, _ = gluon_fixtures.match_detections(got, ref, tols)
    assert problem is None, f"{what}: {problem}"


def check_detector(sym_file, params_file, x):
    ref, noise = references(sym_file, params_file, x)
    scores = ref[1][ref[1] >= 0]
    assert scores.size and np.ptp(scores) > 1e-3, "degenerate fixture: the scores do not vary"
    model = nb.export_model(sym_file, params_file, {"data": x.shape})
    assert_detections_close(onnx_run(model, {"data": x}), ref, "onnxruntime", noise)
    return model, ref, noise


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ssd_512_mobilenet1.0_voc", "yolo3_mobilenet1.0_voc", "center_net_resnet18_v1b_voc"])
def test_detector(name, tmp_path):
    """onnxruntime, and MXNet -> ONNX -> MXNet (box_nms comes back as MXNet's own op)."""
    sym_file, params_file, x = export_detector(name, 256, tmp_path)
    model, ref, noise = check_detector(sym_file, params_file, x)
    back = [o.asnumpy() for o in nb.import_to_gluon(model)(mx.nd.array(x))]
    assert_detections_close(back, ref, "MXNet -> ONNX -> MXNet", noise)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["yolo3_mobilenet1.0_voc"])  # SSD and CenterNet too, but 1-2 min each to compile:
def test_detector_tvm(name, tmp_path):  # the box_nms kernel they share is checked case by case above
    sym_file, params_file, x = export_detector(name, 256, tmp_path)
    ref, noise = references(sym_file, params_file, x)
    cm = nb.compile_model(sym_file, shape={"data": x.shape}, params=params_file)
    assert_detections_close(cm.run({"data": x}), ref, "tvm", noise)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["faster_rcnn_resnet50_v1b_voc", "mask_rcnn_resnet18_v1b_coco"])
def test_two_stage_detector(name, tmp_path):
    """RPN (box_decode, box_nms), ROIAlign, per-class box_nms and Mask R-CNN's masks (row by row with their
    detections; its mask head upsamples with a 2x2 Deconvolution) through onnxruntime and TVM."""
    sym_file, params_file, x = export_detector(name, 128, tmp_path, rpn_proposals=(300, 50))
    ref32, ref = run_exported(sym_file, params_file, x), run_exported(sym_file, params_file, x, "float64")
    noise = gluon_fixtures.float32_noise(ref32, ref)
    model = nb.export_model(sym_file, params_file, {"data": x.shape})
    assert_detections_close(onnx_run(model, {"data": x}), ref, "onnxruntime", noise)
    cm = nb.compile_model(sym_file, shape={"data": x.shape}, params=params_file)
    assert_detections_close(cm.run({"data": x}), ref, "tvm", noise)


@pytest.mark.slow
def test_segmentation_dynamic_image_size(tmp_path):
    """One ONNX file with symbolic H and W (dynamic_axes), run at two sizes against MXNet at each; FCN resizes
    to its crop_size, so the outputs keep that size.  Judged against MXNet in float64: there float32's own
    error (~2e-4 relative on this random-weight ResNet-50) is larger than 1e-4."""
    gcv = import_gluoncv()
    net = gcv.model_zoo.get_model("fcn_resnet50_voc", pretrained=False, pretrained_base=False, crop_size=128)
    x = RNG.uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    initialize(net, mx.nd.array(x))
    prefix = str(tmp_path / "model")
    net.export(prefix)
    sym_file, params_file = prefix + "-symbol.json", prefix + "-0000.params"
    gluon_fixtures.calibrate_exported(sym_file, params_file, x, RNG)
    model = nb.export_model(sym_file, params_file, {"data": x.shape}, dynamic_axes={"data": {2: "H", 3: "W"}})
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim[2:]] == ["H", "W"]
    for h, w in ((128, 128), (160, 192)):
        xi = RNG.uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
        ref32, ref = run_exported(sym_file, params_file, xi), run_exported(sym_file, params_file, xi, "float64")
        for g, r32, r in zip(onnx_run(model, {"data": xi}), ref32, ref):
            assert g.shape == r.shape
            tol = max(tolerance(r), 2 * float(np.abs(r32 - r).max()))
            assert float(np.abs(g - r).max()) <= tol, f"{h}x{w}"


@pytest.mark.slow
@pytest.mark.parametrize("name, size, other", [("center_net_resnet18_v1b_voc", 128, (160, 192)),
                                               ("ssd_512_mobilenet1.0_voc", 256, (224, 288)),
                                               ("yolo3_mobilenet1.0_voc", 256, (224, 288))])
def test_detector_dynamic_image_size(name, size, other, tmp_path):
    """One ONNX file with symbolic H and W, run at two sizes: SSD and YOLOv3 cut their precomputed anchors
    (and YOLOv3 its grid offsets) to the feature maps with slice_like, and YOLOv3 upsamples with repeat.
    (At 128 pixels the random SSD and YOLOv3 give boxes of 1e3-1e4, whose float32 error exceeds 1e-4.)"""
    sym_file, params_file, x = export_detector(name, size, tmp_path, calibration_batch=4)
    model = nb.export_model(sym_file, params_file, {"data": x.shape}, dynamic_axes={"data": {2: "H", 3: "W"}})
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim[2:]] == ["H", "W"]
    for h, w in ((size, size), other):
        xi = RNG.uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
        ref, noise = references(sym_file, params_file, xi)
        assert_detections_close(onnx_run(model, {"data": xi}), ref, f"onnxruntime at {h}x{w}", noise)
