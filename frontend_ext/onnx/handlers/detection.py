"""ONNX export of MXNet's box_nms: the selection and layout MXNet computes, around ONNX NonMaxSuppression.

MXNet (bounding_box-inl.h) keeps the boxes with score > valid_thresh (and id != background_id), sorts them by
score (stable: ties keep input order), takes the first topk, suppresses greedily, then writes the kept rows in
that order and -1 rows after them.  Here: TopK over the masked scores picks and sorts the candidates (ONNX TopK
puts the lower index first on ties, as the stable sort does), NonMaxSuppression suppresses among them, a
ScatterND marks the kept ones, a second TopK brings them to the front in order, and Pad fills the -1 rows.
Class-aware suppression (force_suppress=False) gives each distinct class its own NMS class: the class of a
candidate is the position of the first candidate with the same integer id, so no class count is needed.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from nnvm_bridge.errors import unsupported_feature
from nnvm_bridge.ir import dtypes as _dt

from ..builder import INT64_MAX
from ..local_functions import wrap_as_function
from ..registry import ONNX_EXPORT

_F32_LOWEST = float(np.finfo(np.float32).min)


def _tensor1(value):
    return helper.make_tensor("value", TensorProto.FLOAT, [1], [value])


def _param(b, value, dtype):
    """MXNet holds the thresholds as float32 and compares them in the data's type."""
    return b.scalar(np.float32(value), dtype)


def _column(b, x, index):
    return b.squeeze(b.slice(x, [index], [index + 1], [2]), [2])


def _scalar(b, value, dtype):
    """A 0-d constant (Builder.const stores at least 1-d)."""
    return b.squeeze(b.scalar(value, dtype), [0])


def _gather_rows(b, x, idx):
    """x[b, idx[b, j], :] for (B, N, W) x and (B, k) idx."""
    idx3 = b.unsqueeze(idx, [2])
    width = b.slice(b.op("Shape", [x]), [2], [3], [0])
    idx3 = b.op("Expand", [idx3, b.op("Concat", [b.op("Shape", [idx]), width], axis=0)])
    return b.op("GatherElements", [x, idx3], axis=1)


def _center_to_corner(b, c, dtype):
    x, y, w, h = b.split(c, [1, 1, 1, 1], axis=2)
    two = b.scalar(2, dtype)
    hw, hh = b.op("Div", [w, two]), b.op("Div", [h, two])
    return [b.op("Sub", [x, hw]), b.op("Sub", [y, hh]), b.op("Add", [x, hw]), b.op("Add", [y, hh])]


def _corner_to_center(b, c, dtype):
    x1, y1, x2, y2 = b.split(c, [1, 1, 1, 1], axis=2)
    two = b.scalar(2, dtype)
    return [b.op("Div", [b.op("Add", [x1, x2]), two]), b.op("Div", [b.op("Add", [y1, y2]), two]),
            b.op("Sub", [x2, x1]), b.op("Sub", [y2, y1])]


def _nms_boxes(b, coords, center, dtype):
    """Corner boxes for NonMaxSuppression (float32).  A box with a negative extent has area 0 in MXNet and
    neither suppresses nor is suppressed; onnxruntime would swap its corners, so clamp it to zero width."""
    x1, y1, x2, y2 = _center_to_corner(b, coords, dtype) if center else b.split(coords, [1, 1, 1, 1], axis=2)
    corners = [x1, y1, b.op("Max", [x1, x2]), b.op("Max", [y1, y2])]
    boxes = b.op("Concat", corners, axis=2)
    return boxes if dtype == "float32" else b.cast(boxes, "float32")


def _nms_scores(b, cand, scores, k, attrs):
    """(B, classes, k) scores: one class, or one per distinct integer id (the first candidate of that id)."""
    if attrs.id_index < 0 or attrs.force_suppress:
        return b.unsqueeze(scores, [1])
    ids = b.cast(_column(b, cand, attrs.id_index), "int32")  # MXNet compares static_cast<int>(id)
    same = b.op("Equal", [b.unsqueeze(ids, [2]), b.unsqueeze(ids, [1])])
    first = b.op("ArgMax", [b.cast(same, "int32")], axis=2, keepdims=0)
    slots = b.unsqueeze(b.op("Range", [_scalar(b, 0, "int64"), b.squeeze(k, [0]), _scalar(b, 1, "int64")]), [0, 2])
    mine = b.op("Equal", [b.unsqueeze(first, [1]), slots])
    return b.op("Where", [mine, b.unsqueeze(scores, [1]), b.scalar(-np.inf, "float32")])


def _convert_format(b, out, cs, to_center, dtype):
    """MXNet converts the output boxes in place, skipping rows whose first coordinate is negative."""
    head = b.slice(out, [0], [cs], [2])
    coords = b.slice(out, [cs], [cs + 4], [2])
    tail = b.slice(out, [cs + 4], [INT64_MAX], [2])
    new = b.op("Concat", (_corner_to_center if to_center else _center_to_corner)(b, coords, dtype), axis=2)
    first = b.slice(coords, [0], [1], [2])
    coords = b.op("Where", [b.op("Less", [first, b.scalar(0, dtype)]), coords, new])
    return b.op("Concat", [head, coords, tail], axis=2)


@ONNX_EXPORT.register("box_nms", since=11)
def _box_nms(ctx, node, attrs, inputs):
    """One ai.nnvm_bridge.box_nms node, whose model-local function holds the ONNX ops below: from_onnx reads
    the node back as box_nms (and to_mxnet as MXNet's own op), runtimes inline the body."""
    start = len(ctx.b.nodes)
    out = _box_nms_body(ctx, node, attrs, inputs)
    mxnet_attrs = {k: getattr(attrs, k) for k in _BOX_NMS_ATTRS}
    return wrap_as_function(ctx.b, start, "box_nms", inputs[:1], out, mxnet_attrs)


_BOX_NMS_ATTRS = ("overlap_thresh", "valid_thresh", "topk", "coord_start", "score_index", "id_index",
                  "background_id", "force_suppress", "in_format", "out_format")


def _box_nms_body(ctx, node, attrs, inputs):
    b = ctx.b
    data, dtype, ndim = inputs[0], ctx.dtype(0), ctx.ndim(0)
    if attrs.topk == 0:  # MXNet returns the input as it is
        return b.op("Identity", [data])
    if not _dt.is_float(dtype):
        raise unsupported_feature(node.op, node.name, f"{dtype} data (MXNet's box_nms takes floats)",
                                  direction="ONNX export")
    x = data
    if ndim != 3:  # MXNet folds every leading dim into the batch
        tail = b.slice(b.op("Shape", [data]), [ndim - 2], [ndim], [0])
        x = b.op("Reshape", [data, b.op("Concat", [b.i64([-1]), tail], axis=0)])
    cs = attrs.coord_start
    n_dim = ctx.shape(0)[-2]
    if isinstance(n_dim, int):
        n = b.i64([n_dim])
        k = b.i64([n_dim if attrs.topk < 0 else min(n_dim, attrs.topk)])
    else:  # a symbolic box count (dynamic image size)
        n = b.slice(b.op("Shape", [x]), [1], [2], [0])
        limit = b.i64([attrs.topk])
        k = n if attrs.topk < 0 else b.op("Where", [b.op("Less", [n, limit]), n, limit])  # Min-11 is float-only

    scores = _column(b, x, attrs.score_index)
    valid = b.op("Greater", [scores, _param(b, attrs.valid_thresh, dtype)])
    if attrs.id_index >= 0:
        not_background = b.op("Not", [b.op("Equal", [_column(b, x, attrs.id_index),
                                                     _param(b, attrs.background_id, dtype)])])
        valid = b.op("And", [valid, not_background])
    masked = b.op("Where", [valid, scores, b.scalar(-np.inf, dtype)])
    top, top_idx = b.op("TopK", [masked, k], n_out=2, axis=1, largest=1, sorted=1)
    cand = _gather_rows(b, x, top_idx)  # (B, k, W), sorted by score; invalid ones score -inf

    top32 = top if dtype == "float32" else b.cast(top, "float32")
    boxes = _nms_boxes(b, b.slice(cand, [cs], [cs + 4], [2]), attrs.in_format == "center", dtype)
    selected = b.op("NonMaxSuppression", [boxes, _nms_scores(b, cand, top32, k, attrs), k,
                                          b.const(np.asarray([attrs.overlap_thresh], np.float32)),
                                          b.const(np.asarray([_F32_LOWEST], np.float32))])
    batch_and_box = b.op("Gather", [selected, b.i64([0, 2])], axis=1)
    ones = b.op("ConstantOfShape", [b.slice(b.op("Shape", [selected]), [0], [1], [0])],
                value=_tensor1(1.0))
    keep = b.op("ScatterND", [b.op("ConstantOfShape", [b.op("Shape", [top])], value=_tensor1(0.0)),
                              batch_and_box, ones])
    # kept candidates to the front, in their (score) order: key k - position for kept ones, 0 for the others
    position = b.op("Range", [_scalar(b, 0, "int64"), b.squeeze(k, [0]), _scalar(b, 1, "int64")])
    key = b.op("Mul", [keep, b.cast(b.op("Sub", [k, position]), "float32")])
    _, order = b.op("TopK", [key, k], n_out=2, axis=1, largest=1, sorted=1)
    kept = b.op("Greater", [b.op("GatherElements", [keep, order], axis=1), b.scalar(0, "float32")])
    rows = b.op("Where", [b.unsqueeze(kept, [2]), _gather_rows(b, cand, order), b.scalar(-1, dtype)])
    pads = b.op("Concat", [b.i64([0, 0, 0, 0]), b.op("Sub", [n, k]), b.i64([0])], axis=0)
    out = b.op("Pad", [rows, pads, _scalar(b, -1, dtype)], mode="constant")
    if attrs.in_format != attrs.out_format:
        out = _convert_format(b, out, cs, attrs.out_format == "center", dtype)
    if ndim != 3:
        out = b.op("Reshape", [out, b.op("Shape", [data])])
    return out
