"""Extension ops whose output length depends on the input values: NonZero, NonMaxSuppression, TopK with a
run-time k, Unique.

No shape rule can compute such a length, so the importer names it: ``out_shape`` holds the output shape
with a new anonymous symbol for the data-dependent dim (``anonymous_dim(node, axis)``), or an expression
when the importer knows it (TopK's k from ``Shape`` arithmetic).  Emitters that compile shapes bind that
symbol from the computed tensor (Relax: ``match_cast``).  The numpy computes are the references.
"""
from __future__ import annotations

import numpy as np

from .common import norm_axis
from ..ir.symbolic import parse_shape
from .dynamic import OUT_SHAPE_ATTR, declared_out_shape
from .registry import Attr, register


def _nonzero(a, xs):
    x = xs[0]
    return [np.array(np.nonzero(x.reshape(1) if x.ndim == 0 else x), dtype=np.int64).reshape(max(x.ndim, 1), -1)]


def _dyn_topk(a, xs):
    x, k = xs
    ax = norm_axis(a.axis, x.ndim)
    k = int(np.asarray(k).reshape(-1)[0])
    order = np.argsort(x if a.is_ascend else -x, axis=ax, kind="stable")
    idx = np.take(order, np.arange(k), axis=ax)
    return [np.take_along_axis(x, idx, axis=ax), idx.astype(np.int64)]


def _corners(boxes, center_point_box):
    """(y1, x1, y2, x2) with y1 <= y2 and x1 <= x2, from either ONNX box format."""
    if center_point_box:
        xc, yc, w, h = np.moveaxis(boxes, -1, 0)
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)
    y1, x1, y2, x2 = np.moveaxis(boxes, -1, 0)
    return np.stack([np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)], -1)


def _iou(box, others):
    ih = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    iw = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.where((ih > 0) & (iw > 0), ih * iw, 0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((inter > 0) & (area > 0) & (areas > 0) & (union > 0), inter / union, 0)


def _nms(a, xs):
    """ONNX NonMaxSuppression: per batch and class, greedy selection by descending score (ties: lower box
    index first) of boxes scoring above score_threshold whose IoU with every box already selected is at
    most iou_threshold, at most max_output_boxes_per_class of them."""
    boxes, scores = xs[0], xs[1]
    limit, iou_threshold, score_threshold = (np.asarray(x).reshape(-1)[0] for x in xs[2:5])
    out = []
    for b in range(boxes.shape[0]):
        corners = _corners(boxes[b].astype(np.float64), a.center_point_box)
        for c in range(scores.shape[1]):
            s = scores[b, c]
            order = np.argsort(-s, kind="stable")
            order = order[s[order] > score_threshold]
            picked = []
            for i in order:
                if len(picked) >= limit:
                    break
                if not picked or np.all(_iou(corners[i], corners[picked]) <= iou_threshold):
                    picked.append(i)
            out += [(b, c, i) for i in picked]
    return [np.array(out, dtype=np.int64).reshape(-1, 3)]


def _unique(a, xs):
    """ONNX Unique: np.unique's four results; sorted=False lists the values in order of first occurrence."""
    x = xs[0].reshape(-1) if a.axis is None else xs[0]
    axis = None if a.axis is None else norm_axis(a.axis, x.ndim)
    y, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    if not a.sorted:
        order = np.argsort(first, kind="stable")
        y, first, counts = np.take(y, order, axis=axis or 0), first[order], counts[order]
        inverse = np.argsort(order)[inverse]
    return [y, first.astype(np.int64), inverse.reshape(-1).astype(np.int64), counts.astype(np.int64)]


def _unique_shapes(a, shapes):
    if a.out_shape is None or shapes[0] is None:
        return [None] * 4
    y = parse_shape(a.out_shape)
    axis = 0 if a.axis is None else norm_axis(a.axis, len(shapes[0]))
    length = np.prod(shapes[0], dtype=object) if a.axis is None else shapes[0][axis]
    return [y, (y[axis],), (int(length) if isinstance(length, (int, np.integer)) else length,), (y[axis],)]


register("nonzero", attrs={"out_shape": OUT_SHAPE_ATTR}, infer_shape=declared_out_shape, infer_type=lambda a, d: ["int64"],
         compute=_nonzero, level=6, ext=True,
         doc="ONNX NonZero: the int64 (rank, n) indices of the non-zero elements, in row-major order")
register("dyn_topk", inputs=("data", "k"),
         attrs={"axis": Attr("int", -1), "is_ascend": Attr("bool", False), "out_shape": OUT_SHAPE_ATTR},
         num_outputs=2, output_names=("values", "indices"), infer_shape=lambda a, s: declared_out_shape(a, s) * 2,
         infer_type=lambda a, d: [d[0], "int64"], compute=_dyn_topk, level=6, ext=True,
         doc="ONNX TopK with k from a one-element int64 tensor at run time (sorted; ties by lower index)")
register("all_class_non_max_suppression",
         inputs=("boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"),
         attrs={"center_point_box": Attr("int", 0, choices=(0, 1)), "out_shape": OUT_SHAPE_ATTR},
         infer_shape=declared_out_shape, infer_type=lambda a, d: ["int64"], compute=_nms, level=6, ext=True,
         doc="ONNX NonMaxSuppression: selected_indices (n, 3) of [batch, class, box]; boxes (B, N, 4), "
             "scores (B, C, N); the limit and thresholds are one-element tensors (no score threshold: -inf)")
register("unique", attrs={"sorted": Attr("bool", True), "axis": Attr("int", None, optional=True),
                          "out_shape": OUT_SHAPE_ATTR},
         num_outputs=4, output_names=("output", "indices", "inverse_indices", "counts"), infer_shape=_unique_shapes,
         infer_type=lambda a, d: [d[0], "int64", "int64", "int64"], compute=_unique, level=6, ext=True,
         doc="ONNX Unique: the distinct values (of the flattened data, or slices along axis), sorted or in order of "
             "first occurrence, with the first index of each, each element's position among them and the counts")
