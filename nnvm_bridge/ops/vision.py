"""Vision ops: NNVM v0.6's (level 5), registered so such graphs load and validate (converters for them are
not provided yet: they are reported as unsupported), and MXNet's box_nms as an extension."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import known
from .registry import Attr, register


def _reorg_shape(a, shapes):
    if not known(shapes):
        return [None]
    n, c, h, w = shapes[0]
    s = a.stride
    return [(n, c * s * s, h // s, w // s)]


register("multibox_prior", attrs={"sizes": Attr("tuple_float", (1.0,)), "ratios": Attr("tuple_float", (1.0,)),
                                  "steps": Attr("tuple_float", (-1.0, -1.0)),
                                  "offsets": Attr("tuple_float", (0.5, 0.5)), "clip": Attr("bool", False)}, level=5)
register("multibox_transform_loc", inputs=("cls_prob", "loc_pred", "anchor"), num_outputs=2,
         attrs={"clip": Attr("bool", True), "threshold": Attr("float", 0.01),
                "variances": Attr("tuple_float", (0.1, 0.1, 0.2, 0.2))}, level=5)
register("non_max_suppression", inputs=("data", "valid_count"),
         attrs={"max_output_size": Attr("int", -1), "iou_threshold": Attr("float", 0.5),
                "force_suppress": Attr("bool", False), "top_k": Attr("int", -1), "coord_start": Attr("int", 2),
                "score_index": Attr("int", 1), "id_index": Attr("int", 0), "return_indices": Attr("bool", True),
                "invalid_to_bottom": Attr("bool", False)}, level=5)
register("yolo_reorg", attrs={"stride": Attr("int", 1)}, infer_shape=_reorg_shape, level=5)


# ---- box_nms: MXNet's _contrib_box_nms (src/operator/contrib/bounding_box-inl.h, MXNet 1.9.1) ----------
BOX_FORMATS = ("corner", "center")


def _box_nms_shape(a, shapes):
    shape = shapes[0]
    if shape is None:
        return [None]
    if len(shape) < 2:
        raise ShapeError(f"box_nms needs (..., boxes, width) data, got {len(shape)} dims")
    width = shape[-1]
    if isinstance(width, int):
        cols = {"score_index": a.score_index, **({"id_index": a.id_index} if a.id_index >= 0 else {})}
        coords = range(a.coord_start, a.coord_start + 4)
        if a.coord_start < 0 or coords[-1] >= width:
            raise ShapeError(f"box_nms coordinates {a.coord_start}..{coords[-1]} are outside the width {width}")
        for name, col in cols.items():
            if not 0 <= col < width or col in coords:
                raise ShapeError(f"box_nms {name}={col} is outside the width {width} or among the coordinates")
        if a.id_index >= 0 and a.id_index == a.score_index:
            raise ShapeError("box_nms id_index and score_index are the same column")
    return [shape]


def _param(value, dtype):
    """MXNet keeps these attributes as float32 and compares in the data's type."""
    return np.asarray(np.float32(value), dtype)


def _intersect(a1, a2, b1, b2, center):
    """Overlap of two 1-d extents (MXNet's Intersect): corner (lo, hi) or center (mid, length)."""
    if center:
        a1, a2, b1, b2 = a1 - a2 / 2, a1 + a2 / 2, b1 - b2 / 2, b1 + b2 / 2
    w = np.minimum(a2, b2) - np.maximum(a1, b1)
    return np.where(w > 0, w, np.zeros_like(w))


def _box_area(box, center):
    w, h = (box[..., 2], box[..., 3]) if center else (box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])
    return np.where((w < 0) | (h < 0), np.zeros_like(w), w * h)


def _nms_keep(boxes, ids, thresh, center):
    """Greedy suppression over boxes sorted by score; ``ids`` None suppresses across classes."""
    keep = np.ones(len(boxes), bool)
    area = _box_area(boxes, center)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(len(boxes)):
            if not keep[i]:
                continue
            rest = slice(i + 1, None)
            inter = (_intersect(boxes[i, 0], boxes[i, 2], boxes[rest, 0], boxes[rest, 2], center)
                     * _intersect(boxes[i, 1], boxes[i, 3], boxes[rest, 1], boxes[rest, 3], center))
            iou = inter / (area[i] + area[rest] - inter)
            hit = iou > thresh
            if ids is not None:
                hit &= ids[rest] == ids[i]
            keep[rest] &= ~hit
    return keep


def convert_box_format(coords, to_center):
    """MXNet's corner_to_center / center_to_corner on the 4 coordinate columns, skipping rows whose
    first coordinate is negative (the -1 padding, and any box left of 0, stay as they are)."""
    c0, c1, c2, c3 = (coords[..., i] for i in range(4))
    if to_center:
        new = ((c0 + c2) / 2, (c1 + c3) / 2, c2 - c0, c3 - c1)
    else:
        new = (c0 - c2 / 2, c1 - c3 / 2, c0 + c2 / 2, c1 + c3 / 2)
    return np.where((c0 < 0)[..., None], coords, np.stack(new, axis=-1).astype(coords.dtype))


def box_nms_reference(a, xs):
    data = xs[0]
    n, width = data.shape[-2:]
    x = data.reshape(-1, n, width)
    topk = n if a.topk < 0 else min(n, a.topk)
    if topk < 1:
        return [data.copy()]
    center = a.in_format == "center"
    cs = a.coord_start
    scores = x[..., a.score_index]
    valid = scores > _param(a.valid_thresh, x.dtype)
    if a.id_index >= 0:
        valid &= x[..., a.id_index] != _param(a.background_id, x.dtype)
    out = np.full_like(x, -1)
    for b in range(x.shape[0]):
        cand = np.flatnonzero(valid[b])
        cand = cand[np.argsort(-scores[b, cand], kind="stable")][:topk]
        rows = x[b, cand]
        ids = None
        if a.id_index >= 0 and not a.force_suppress:
            ids = rows[:, a.id_index].astype(np.int64)  # MXNet compares static_cast<int>(id)
        keep = _nms_keep(rows[:, cs:cs + 4], ids, _param(a.overlap_thresh, x.dtype), center)
        out[b, :int(keep.sum())] = rows[keep]
    if a.in_format != a.out_format:
        out[..., cs:cs + 4] = convert_box_format(out[..., cs:cs + 4], a.out_format == "center")
    return [out.reshape(data.shape)]


register("box_nms", attrs={"overlap_thresh": Attr("float", 0.5), "valid_thresh": Attr("float", 0.0),
                           "topk": Attr("int", -1), "coord_start": Attr("int", 2), "score_index": Attr("int", 1),
                           "id_index": Attr("int", -1), "background_id": Attr("int", -1),
                           "force_suppress": Attr("bool", False),
                           "in_format": Attr("str", "corner", choices=BOX_FORMATS),
                           "out_format": Attr("str", "corner", choices=BOX_FORMATS)},
         infer_shape=_box_nms_shape, compute=box_nms_reference, level=6, ext=True,
         doc="MXNet's box_nms: boxes above valid_thresh (and not background_id), sorted by score, the first topk "
             "suppressed greedily (per class unless force_suppress); kept rows first, the rest -1")
