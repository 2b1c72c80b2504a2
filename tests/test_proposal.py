"""MXNet's RPN Proposal / MultiProposal through ONNX (onnxruntime) and TVM, against MXNet's own op.

Neither has a kernel of its own there: ir/passes/proposal.py spells the IR's ``proposal`` in other IR
ops (box decoding, clip, min-size filter, box_nms, the repeat of kept rows), which every emitter has.  Scores
are distinct uniform draws and the pre-NMS cut stays within the boxes that keep their score, so MXNet's
unstable sort has no ties to order.
"""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.ir.passes import expand_proposal, infer_shape  # noqa: E402
from tolerance import assert_close  # noqa: E402

RNG = np.random.default_rng(0)
STRIDE = 16

# (op, batch, anchors as (scales, ratios), grid (H, W), attributes); im_info rows below
CASES = {
    "multi_clip_and_min_size": ("MultiProposal", 2, ((2, 4, 8), (1.0,)), (6, 8),
                                dict(rpn_pre_nms_top_n=50, rpn_post_nms_top_n=20, rpn_min_size=8, output_score=True)),
    "single_iou_loss": ("Proposal", 1, ((4, 8), (0.5, 1.0, 2.0)), (5, 7),
                        dict(rpn_pre_nms_top_n=60, rpn_post_nms_top_n=12, threshold=0.5, iou_loss=True)),
    "too_few_kept_repeat": ("MultiProposal", 2, ((8,), (0.5, 2.0)), (4, 5),
                            dict(rpn_pre_nms_top_n=30, rpn_post_nms_top_n=25, threshold=0.05, rpn_min_size=4,
                                 output_score=True)),
    "all_boxes_defaults": ("Proposal", 1, ((4.0, 8.0, 16.0, 32.0), (0.5, 1.0, 2.0)), (4, 4),
                           dict(rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=40, rpn_min_size=0, output_score=True)),
}


def case_inputs(batch, scales, ratios, grid):
    a, (h, w) = len(scales) * len(ratios), grid
    cls = RNG.uniform(0, 1, (batch, 2 * a, h, w)).astype(np.float32)
    bbox = RNG.normal(0, 0.2, (batch, 4 * a, h, w)).astype(np.float32)
    # the second image is smaller than the grid (its last rows/columns score -1) and scaled
    im = np.array([[h * STRIDE, w * STRIDE, 1.0], [h * STRIDE - 20, w * STRIDE - 40, 1.5]][:batch], np.float32)
    return cls, bbox, im


def case_symbol(name, prefix=""):
    op, batch, (scales, ratios), grid, kw = CASES[name]
    fn = getattr(mx.sym.contrib, op)
    v = [mx.sym.var(prefix + k) for k in ("cls", "bbox", "im")]
    out = fn(*v, scales=scales, ratios=ratios, feature_stride=STRIDE, **kw)
    return out if kw.get("output_score") else out[0] if len(out) > 1 else out


def mxnet_outputs(sym, feeds):
    return [o.asnumpy() for o in sym.eval(ctx=mx.cpu(), **{k: mx.nd.array(v) for k, v in feeds.items()})]


def case_feeds(name, prefix=""):
    _, batch, (scales, ratios), grid, _ = CASES[name]
    return dict(zip((prefix + "cls", prefix + "bbox", prefix + "im"), case_inputs(batch, scales, ratios, grid)))


def assert_proposals(got, ref, what):
    assert len(got) == len(ref), what
    for g, r in zip(got, ref):
        assert_close(g, r, 1e-5)  # boxes: float32 steps in another order than MXNet's double ones


@pytest.mark.parametrize("name", list(CASES))
def test_proposal_onnx(name):
    sym, feeds = case_symbol(name), case_feeds(name)
    ref = mxnet_outputs(sym, feeds)
    graph, params = nb.frontend.from_mxnet(sym, shape={k: v.shape for k, v in feeds.items()})
    expanded, consts = expand_proposal(graph, params)
    assert "proposal" not in {n.op for n in expanded.op_nodes()}
    assert infer_shape(expanded, params=consts).attrs["shape"][expanded.entry_id(expanded.outputs[0])] == ref[0].shape
    model = nb.export_model(sym, {}, {k: v.shape for k, v in feeds.items()})
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert_proposals(sess.run(None, feeds), ref, "onnxruntime")


def test_proposal_tvm():
    """Every case in one compiled model (inputs prefixed by the case's index)."""
    names = list(CASES)
    syms = [case_symbol(n, f"c{i}_") for i, n in enumerate(names)]
    feeds = {k: v for i, n in enumerate(names) for k, v in case_feeds(n, f"c{i}_").items()}
    group = mx.sym.Group([o for s in syms for o in (s if len(s.list_outputs()) > 1 else [s])])
    cm = nb.compile_model(group, shape={k: v.shape for k, v in feeds.items()}, params={})
    got = cm.run(feeds)
    ref = mxnet_outputs(group, feeds)
    assert_proposals(got, ref, "tvm")


def test_proposal_symbolic_grid_is_a_clear_error():
    sym = case_symbol("single_iou_loss")
    graph, params = nb.frontend.from_mxnet(sym, shape={"cls": (1, 12, 0, 0), "bbox": (1, 24, 0, 0), "im": (1, 3)})
    with pytest.raises(nb.errors.ShapeError, match="static cls_prob shape"):
        expand_proposal(graph, params)
