"""Region ops of two-stage detectors (level 6 extensions): ROI Align, ROI pooling and the RPN's proposals.

Boxes are (batch_index, x1, y1, x2, y2) rows, as MXNet, NNVM and TVM write them (ONNX's separate
``batch_indices`` input is joined into the first column by the importer). The numpy computes follow the
reference kernels: roi_align MXNet's roi_align.cc and onnxruntime's RoiAlign (the same Caffe2 code;
``mode="max"`` is onnxruntime's, the largest weighted corner of each sample), roi_pool Caffe's ROI pooling
(MXNet ROIPooling, ONNX MaxRoiPool), proposal MXNet's CPU Proposal/MultiProposal.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import known
from .registry import Attr, register


# ---- roi_align ------------------------------------------------------------------------------------
def _pooled_size(a):
    if len(a.pooled_size) != 2:
        raise ShapeError(f"pooled_size={tuple(a.pooled_size)} must be (height, width)")
    return tuple(a.pooled_size)


def _roi_align_shape(a, shapes):
    if not known(shapes):
        return [None]
    data, rois = shapes
    if len(data) != 4:
        raise ShapeError(f"roi_align takes 4-d NCHW data, got shape {tuple(data)}")
    if len(rois) != 2 or (isinstance(rois[1], int) and rois[1] != 5):
        raise ShapeError(f"roi_align takes rois of shape (num_rois, 5), got {tuple(rois)}")
    ph, pw = _pooled_size(a)
    channels = data[1]
    if a.position_sensitive:
        if isinstance(channels, int) and channels % (ph * pw):
            raise ShapeError(f"position_sensitive roi_align needs channels ({channels}) divisible by {ph}x{pw}")
        channels = channels // (ph * pw)
    return [(rois[0], channels, ph, pw)]


def _axis_samples(start, bin_size, pooled, grid, limit):
    """Per output bin and sample along one axis: low/high indices, the weights of each and validity
    (the Caffe2 bilinear rule: outside [-1, limit] samples nothing; clamped to the last row)."""
    f = np.float32
    pos = (start + np.arange(pooled, dtype=f)[:, None] * bin_size
           + (np.arange(grid, dtype=f)[None, :] + f(0.5)) * bin_size / f(grid)).reshape(-1)
    valid = (pos >= -1.0) & (pos <= limit)
    pos = np.maximum(pos, f(0))
    low = np.floor(pos).astype(np.int64)
    at_end = low >= limit - 1
    low = np.where(at_end, limit - 1, low)
    high = np.where(at_end, limit - 1, low + 1)
    pos = np.where(at_end, low.astype(f), pos)
    frac = (pos - low).astype(f)
    return low, high, (f(1) - frac) * valid, frac * valid


def _roi_align_one(feat, roi, a):
    f = np.float32
    ph, pw = a.pooled_size
    _, height, width = feat.shape
    offset = f(0.5) if a.aligned else f(0)
    x1, y1, x2, y2 = (f(v) * f(a.spatial_scale) - offset for v in roi)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not a.aligned:
        roi_w, roi_h = max(roi_w, f(1)), max(roi_h, f(1))
    bin_h, bin_w = f(roi_h / ph), f(roi_w / pw)
    gh = a.sample_ratio if a.sample_ratio > 0 else int(np.ceil(roi_h / ph))
    gw = a.sample_ratio if a.sample_ratio > 0 else int(np.ceil(roi_w / pw))
    if gh * gw == 0:  # an empty aligned roi samples nothing
        return np.zeros((feat.shape[0], ph, pw), dtype=f)
    yl, yh, wyl, wyh = _axis_samples(y1, bin_h, ph, gh, height)
    xl, xh, wxl, wxh = _axis_samples(x1, bin_w, pw, gw, width)
    corners = [(yl, xl, wyl, wxl), (yl, xh, wyl, wxh), (yh, xl, wyh, wxl), (yh, xh, wyh, wxh)]
    # each term: (C, ph*gh, pw*gw)
    terms = [feat[:, ys[:, None], xs[None, :]] * (wy[:, None] * wx[None, :]) for ys, xs, wy, wx in corners]
    shape = (feat.shape[0], ph, gh, pw, gw)
    if a.mode == "max":
        return np.maximum.reduce(terms).reshape(shape).max(axis=(2, 4))
    total = (terms[0] + terms[1] + terms[2] + terms[3]).reshape(shape).sum(axis=(2, 4), dtype=f)
    return total / f(max(gh * gw, 1))


def _roi_align(a, xs):
    data, rois = xs
    ph, pw = a.pooled_size
    out_c = data.shape[1] // (ph * pw) if a.position_sensitive else data.shape[1]
    out = np.zeros((rois.shape[0], out_c, ph, pw), dtype=data.dtype)
    ci = (np.arange(out_c)[:, None, None] * ph + np.arange(ph)[None, :, None]) * pw + np.arange(pw)[None, None, :]
    for r, roi in enumerate(rois):
        b = int(roi[0])
        if not 0 <= b < data.shape[0]:
            continue  # MXNet leaves such rows undefined, onnxruntime refuses them: zeros here
        full = _roi_align_one(data[b].astype(np.float32), roi[1:5], a)
        if a.position_sensitive:
            # output channel c at bin (i, j) reads input channel (c * ph + i) * pw + j
            full = full[ci, np.arange(ph)[None, :, None], np.arange(pw)[None, None, :]]
        out[r] = full
    return [out]


register("roi_align", inputs=("data", "rois"),
         attrs={"pooled_size": Attr("shape", min=1), "spatial_scale": Attr("float"),
                "sample_ratio": Attr("int", -1, doc="samples per bin and axis; <= 0: ceil(roi size / pooled size)"),
                "mode": Attr("str", "avg", choices=("avg", "max")),
                "aligned": Attr("bool", False, doc="half-pixel offset and no 1-pixel minimum roi (ONNX half_pixel)"),
                "position_sensitive": Attr("bool", False, doc="R-FCN: bin (i, j) of channel c reads input "
                                                              "channel (c*ph + i)*pw + j")},
         infer_shape=_roi_align_shape, compute=_roi_align, level=6, ext=True,
         doc="ROI Align over NCHW data; rois (num_rois, 5) as (batch_index, x1, y1, x2, y2) in image coordinates")


# ---- roi_pool -------------------------------------------------------------------------------------
def _roi_pool_shape(a, shapes):
    if not known(shapes):
        return [None]
    data, rois = shapes
    if len(data) != 4 or len(rois) != 2:
        raise ShapeError(f"roi_pool takes NCHW data and (num_rois, 5) rois, got {tuple(data)} and {tuple(rois)}")
    return [(rois[0], data[1]) + _pooled_size(a)]


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _roi_pool(a, xs):
    data, rois = xs
    f = np.float32
    n, c, height, width = data.shape
    ph_n, pw_n = a.pooled_size
    out = np.zeros((rois.shape[0], c, ph_n, pw_n), dtype=data.dtype)
    for r, roi in enumerate(rois):
        b = int(roi[0])
        if not 0 <= b < n:
            continue
        x1, y1, x2, y2 = (int(_round_half_away(f(v) * f(a.spatial_scale))) for v in roi[1:5])
        bin_h, bin_w = f(max(y2 - y1 + 1, 1)) / f(ph_n), f(max(x2 - x1 + 1, 1)) / f(pw_n)
        for i in range(ph_n):
            h0 = min(max(int(np.floor(f(i) * bin_h)) + y1, 0), height)
            h1 = min(max(int(np.ceil(f(i + 1) * bin_h)) + y1, 0), height)
            for j in range(pw_n):
                w0 = min(max(int(np.floor(f(j) * bin_w)) + x1, 0), width)
                w1 = min(max(int(np.ceil(f(j + 1) * bin_w)) + x1, 0), width)
                if h1 > h0 and w1 > w0:
                    out[r, :, i, j] = data[b, :, h0:h1, w0:w1].max(axis=(1, 2))
    return [out]


register("roi_pool", inputs=("data", "rois"),
         attrs={"pooled_size": Attr("shape", min=1), "spatial_scale": Attr("float")},
         infer_shape=_roi_pool_shape, compute=_roi_pool, level=6, ext=True,
         doc="max ROI pooling (Caffe's: rounded roi corners, 1-pixel minimum); rois (num_rois, 5) as "
             "(batch_index, x1, y1, x2, y2); an empty bin gives 0")


# ---- proposal -------------------------------------------------------------------------------------
def _proposal_shape(a, shapes):
    cls = shapes[0]
    if cls is None:
        return [None, None]
    if len(cls) != 4:
        raise ShapeError(f"proposal takes 4-d cls_prob (N, 2*anchors, H, W), got {tuple(cls)}")
    anchors = len(a.scales) * len(a.ratios)
    if isinstance(cls[1], int) and cls[1] != 2 * anchors:
        raise ShapeError(f"cls_prob has {cls[1]} channels; {len(a.scales)} scales x {len(a.ratios)} ratios "
                         f"need {2 * anchors}")
    rows = cls[0] * a.rpn_post_nms_top_n
    return [(rows, 5), (rows, 1)]


def proposal_anchors(a) -> np.ndarray:
    """The (ratios x scales, 4) base anchors of MXNet's GenerateAnchors (ratios outer, float32 steps)."""
    f = np.float32
    size = f(a.feature_stride)
    ctr = f(0.5 * (float(size) - 1.0))
    out = []
    for ratio in a.ratios:
        for scale in a.scales:
            size_ratios = np.floor(f(size * size) / f(ratio))
            new_w = np.floor(np.sqrt(size_ratios) + f(0.5)) * f(scale)
            new_h = np.floor(new_w / f(scale) * f(ratio) + f(0.5)) * f(scale)
            out.append([ctr - f(0.5) * (new_w - f(1)), ctr - f(0.5) * (new_h - f(1)),
                        ctr + f(0.5) * (new_w - f(1)), ctr + f(0.5) * (new_h - f(1))])
    return np.asarray(out, dtype=f)


def proposal_shifted_anchors(a, height: int, width: int) -> np.ndarray:
    """(height * width * anchors, 4) anchors in MXNet's order (row, column, anchor)."""
    f = np.float32
    base = proposal_anchors(a)
    sx = (np.arange(width) * a.feature_stride).astype(f)
    sy = (np.arange(height) * a.feature_stride).astype(f)
    shift = np.stack(np.broadcast_arrays(sx[None, :, None], sy[:, None, None], sx[None, :, None],
                                         sy[:, None, None]), axis=-1)  # (H, W, 1, 4)
    return (base[None, None] + shift).reshape(-1, 4)


def _decode(anchors, deltas, a, im_h, im_w):
    """MXNet's BBoxTransformInv / IoUTransformInv and the clip (float32, with its double steps)."""
    f, d = np.float32, np.float64
    dx, dy, dw, dh = (deltas[:, k] for k in range(4))
    if a.iou_loss:
        boxes = [anchors[:, 0] + dx, anchors[:, 1] + dy, anchors[:, 2] + dw, anchors[:, 3] + dh]
    else:
        w = (anchors[:, 2] - anchors[:, 0]).astype(d) + 1.0
        h = (anchors[:, 3] - anchors[:, 1]).astype(d) + 1.0
        w, h = w.astype(f), h.astype(f)
        cx = (anchors[:, 0] + 0.5 * (w.astype(d) - 1.0)).astype(f)
        cy = (anchors[:, 1] + 0.5 * (h.astype(d) - 1.0)).astype(f)
        pcx, pcy = dx * w + cx, dy * h + cy
        pw, ph = np.exp(dw) * w, np.exp(dh) * h
        boxes = [(pcx - 0.5 * (pw.astype(d) - 1.0)).astype(f), (pcy - 0.5 * (ph.astype(d) - 1.0)).astype(f),
                 (pcx + 0.5 * (pw.astype(d) - 1.0)).astype(f), (pcy + 0.5 * (ph.astype(d) - 1.0)).astype(f)]
    lims = [im_w, im_h, im_w, im_h]
    return np.stack([np.maximum(np.minimum(b, f(lim - f(1))), f(0)) for b, lim in zip(boxes, lims)], axis=1)


def _nms_plus_one(dets, thresh, limit):
    """MXNet's greedy NMS over boxes sorted by score (areas with +1; suppress when IoU > thresh)."""
    f = np.float32
    x1, y1, x2, y2 = (dets[:, k] for k in range(4))
    area = (x2 - x1 + f(1)) * (y2 - y1 + f(1))
    suppressed = np.zeros(len(dets), dtype=bool)
    keep = []
    for i in range(len(dets)):
        if len(keep) >= limit:
            break
        if suppressed[i]:
            continue
        keep.append(i)
        w = np.maximum(f(0), np.minimum(x2[i], x2[i + 1:]) - np.maximum(x1[i], x1[i + 1:]) + f(1))
        h = np.maximum(f(0), np.minimum(y2[i], y2[i + 1:]) - np.maximum(y1[i], y1[i + 1:]) + f(1))
        inter = w * h
        suppressed[i + 1:] |= inter / (area[i] + area[i + 1:] - inter) > f(thresh)
    return np.asarray(keep, dtype=np.int64)


def _proposal(a, xs):
    cls_prob, bbox_pred, im_info = (np.asarray(x, dtype=np.float32) for x in xs)
    f = np.float32
    n, channels, height, width = cls_prob.shape
    num_anchors = channels // 2
    count = num_anchors * height * width
    pre = min(a.rpn_pre_nms_top_n if a.rpn_pre_nms_top_n > 0 else count, count)
    post = min(a.rpn_post_nms_top_n, pre)
    anchors = proposal_shifted_anchors(a, height, width)
    rois = np.zeros((n * a.rpn_post_nms_top_n, 5), dtype=f)
    scores = np.zeros((n * a.rpn_post_nms_top_n, 1), dtype=f)
    for b in range(n):
        im_h, im_w, im_scale = im_info[b, :3]
        score = cls_prob[b, num_anchors:].transpose(1, 2, 0).reshape(-1).copy()
        deltas = bbox_pred[b].reshape(num_anchors, 4, height, width).transpose(2, 3, 0, 1).reshape(-1, 4)
        boxes = _decode(anchors, deltas, a, im_h, im_w)
        # padded positions (beyond the image's real size) score -1
        rows = np.arange(height)[:, None, None] >= int(im_h / f(a.feature_stride))
        cols = np.arange(width)[None, :, None] >= int(im_w / f(a.feature_stride))
        score[np.broadcast_to(rows | cols, (height, width, num_anchors)).reshape(-1)] = -1
        # boxes smaller than the minimum size grow by half of it on each side and score -1
        min_size = f(a.rpn_min_size) * im_scale
        small = ((boxes[:, 2] - boxes[:, 0] + f(1)) < min_size) | ((boxes[:, 3] - boxes[:, 1] + f(1)) < min_size)
        boxes[small] += np.array([-1, -1, 1, 1], dtype=f) * (min_size / f(2))
        score[small] = -1
        order = np.argsort(-score, kind="stable")[:pre]
        dets, det_scores = boxes[order], score[order]
        keep = _nms_plus_one(dets, a.threshold, post)
        picks = keep[np.arange(a.rpn_post_nms_top_n) % len(keep)]  # too few boxes: repeat the kept ones
        rows_out = slice(b * a.rpn_post_nms_top_n, (b + 1) * a.rpn_post_nms_top_n)
        rois[rows_out, 0] = b
        rois[rows_out, 1:] = dets[picks]
        scores[rows_out, 0] = det_scores[picks]
    return [rois, scores]


register("proposal", inputs=("cls_prob", "bbox_pred", "im_info"), num_outputs=2,
         num_visible_outputs=lambda a: 2 if a.output_score else 1, output_names=("output", "score"),
         attrs={"rpn_pre_nms_top_n": Attr("int", 6000), "rpn_post_nms_top_n": Attr("int", 300, min=1),
                "threshold": Attr("float", 0.7), "rpn_min_size": Attr("int", 16),
                "scales": Attr("tuple_float", (4.0, 8.0, 16.0, 32.0)), "ratios": Attr("tuple_float", (0.5, 1.0, 2.0)),
                "feature_stride": Attr("int", 16, min=1), "output_score": Attr("bool", False),
                "iou_loss": Attr("bool", False)},
         infer_shape=_proposal_shape, infer_type=lambda a, d: ["float32", "float32"], compute=_proposal, level=6,
         ext=True,
         doc="MXNet's RPN proposals (MultiProposal): anchors from scales/ratios/feature_stride, box decoding, clip "
             "to im_info (height, width, scale), min size, pre-NMS top n, NMS with +1 areas, post-NMS top n "
             "(repeating kept boxes when fewer remain); rois (N*post, 5) with the image index, scores (N*post, 1)")
