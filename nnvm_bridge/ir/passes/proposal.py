"""MXNet's RPN ``proposal`` (Proposal / MultiProposal) spelled in other IR ops, for the emitters that have no
kernel of their own for it (ONNX, TVM Relax).

The steps of ops/roi.py's reference, on (batch, H*W*anchors) rows in MXNet's order (row, column, anchor):
anchors shifted over the grid (a constant), box decoding (BBoxTransformInv, or IoUTransformInv with
``iou_loss``), the clip to im_info's height and width, score -1 for positions beyond the image's real size and
for boxes under ``rpn_min_size * scale`` (which grow by half of it on each side), then ``box_nms`` (MXNet's
score sort, pre-NMS top n and greedy suppression; its areas get MXNet's +1 by giving it x2 + 1 and y2 + 1),
the first ``rpn_post_nms_top_n`` kept rows, repeated in turn when fewer were kept.  H and W must be static.
"""
from __future__ import annotations

import numpy as np

from ..graph import Entry, Graph, Node, variable
from ..symbolic import SymbolicDimError, is_static
from .infer import infer_shape
from .rewrite import rewrite

_BIG = 2 ** 31 - 1
_LOWEST = float(np.finfo(np.float32).min)


def has_proposal(graph: Graph) -> bool:
    return any(n.op == "proposal" for n in graph.op_nodes())


def expand_proposal(graph: Graph, params=None, *, shape=None):
    """Return ``(graph, params)`` with every ``proposal`` node replaced by IR ops (and its anchors as params)."""
    params = dict(params or {})
    if not has_proposal(graph):
        return graph, params
    g = infer_shape(graph, shape=shape, params=params)
    shapes = g.attrs["shape"]

    def visit(node, inputs, rw):
        if node.op != "proposal":
            return None
        cls_shape = shapes[g.entry_id(node.inputs[0])]
        if cls_shape is None or not is_static(cls_shape):
            raise SymbolicDimError(f"proposal needs a static cls_prob shape, got {cls_shape}; give the input "
                                   "shapes with shape=", node=node.name, op=node.op)
        return _Proposal(node, inputs, params).build(cls_shape)
    return rewrite(graph, visit), params


class _Proposal:
    def __init__(self, node, inputs, params):
        from ...ops import node_attrs

        self.node, self.inputs, self.params = node, inputs, params
        self.a = node_attrs(node)
        self.count = 0

    # ---- node builders ----------------------------------------------------------------------------
    def op(self, op, *inputs, **attrs) -> Entry:
        from ...ops import get_op

        opdef = get_op(op)
        self.count += 1
        return Entry(Node(opdef.name, f"{self.node.name}/{op}{self.count}", inputs, opdef.format_attrs(attrs)), 0)

    def const(self, suffix, array) -> Entry:
        name = f"{self.node.name}/{suffix}"
        self.params[name] = np.ascontiguousarray(array, dtype=np.float32)
        return Entry(variable(name), 0)

    def col(self, x, i, width=1):
        return self.op("strided_slice", x, begin=(0, 0, i), end=(_BIG, _BIG, i + width))

    def mask(self, op, x, y):  # 1.0 where the comparison holds (broadcasting), else 0.0
        return self.op("cast", self.op(op, x, y), dtype="float32")

    def scalar(self, op, x, value):
        return self.op(op, x, scalar=float(value))

    # ---- the steps ----------------------------------------------------------------------------------
    def build(self, cls_shape):
        from ...ops.roi import proposal_shifted_anchors

        a = self.a
        batch, channels, height, width = cls_shape
        num = channels // 2
        cls_prob, bbox_pred, im_info = self.inputs[:3]
        rows = height * width * num
        score = self.op("transpose", self.op("strided_slice", cls_prob, begin=(0, num, 0, 0),
                                             end=(_BIG, _BIG, _BIG, _BIG)), axes=(0, 2, 3, 1))
        score = self.op("reshape", score, shape=(batch, rows, 1))
        deltas = self.op("reshape", bbox_pred, shape=(batch, num, 4, height, width))
        deltas = self.op("reshape", self.op("transpose", deltas, axes=(0, 3, 4, 1, 2)), shape=(batch, rows, 4))
        anchors = proposal_shifted_anchors(a, height, width)
        im = [self.op("reshape", self.op("strided_slice", im_info, begin=(0, i), end=(_BIG, i + 1)),
                      shape=(batch, 1, 1)) for i in range(3)]
        boxes = self.clip(self.decode(anchors, [self.col(deltas, i) for i in range(4)]), im)
        outside = self.beyond_real_size(height, width, num, im)
        boxes, small = self.min_size_filter(boxes, im[2])
        dropped = self.op("broadcast_max", outside, small)
        score = self.op("broadcast_sub", self.op("broadcast_mul", score, self.scalar("__rsub_scalar__", dropped, 1)),
                        dropped)  # -1 where dropped, the score itself (exactly) elsewhere
        return self.select(score, boxes, batch, rows)

    def decode(self, anchors, d):
        f, dbl = np.float32, np.float64
        if self.a.iou_loss:
            return [self.op("broadcast_add", self.const(f"anchor{i}", anchors[None, :, i:i + 1]), d[i])
                    for i in range(4)]
        w = ((anchors[:, 2] - anchors[:, 0]).astype(dbl) + 1.0).astype(f)
        h = ((anchors[:, 3] - anchors[:, 1]).astype(dbl) + 1.0).astype(f)
        cx = (anchors[:, 0] + 0.5 * (w.astype(dbl) - 1.0)).astype(f)
        cy = (anchors[:, 1] + 0.5 * (h.astype(dbl) - 1.0)).astype(f)
        w, h, cx, cy = (self.const(k, v[None, :, None]) for k, v in zip(("width", "height", "ctr_x", "ctr_y"),
                                                                          (w, h, cx, cy)))
        pcx = self.op("broadcast_add", self.op("broadcast_mul", d[0], w), cx)
        pcy = self.op("broadcast_add", self.op("broadcast_mul", d[1], h), cy)
        half_w = self.scalar("__mul_scalar__", self.scalar("__sub_scalar__", self.op("broadcast_mul", self.op(
            "exp", d[2]), w), 1.0), 0.5)
        half_h = self.scalar("__mul_scalar__", self.scalar("__sub_scalar__", self.op("broadcast_mul", self.op(
            "exp", d[3]), h), 1.0), 0.5)
        return [self.op("broadcast_sub", pcx, half_w), self.op("broadcast_sub", pcy, half_h),
                self.op("broadcast_add", pcx, half_w), self.op("broadcast_add", pcy, half_h)]

    def clip(self, boxes, im):
        lim_w, lim_h = (self.scalar("__sub_scalar__", im[i], 1.0) for i in (1, 0))
        return [self.scalar("__max_scalar__", self.op("broadcast_min", b, lim), 0.0)
                for b, lim in zip(boxes, (lim_w, lim_h, lim_w, lim_h))]

    def beyond_real_size(self, height, width, num, im):
        """1.0 for rows at grid positions past int(im_h / stride) or int(im_w / stride)."""
        stride = float(self.a.feature_stride)
        grid_h, grid_w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        rows = [np.repeat(g.reshape(-1), num)[None, :, None] for g in (grid_h, grid_w)]
        real = [self.op("floor", self.scalar("__div_scalar__", im[i], stride)) for i in (0, 1)]
        return self.op("broadcast_max", *(self.mask("broadcast_greater_equal", self.const(k, r), lim)
                                          for k, r, lim in zip(("grid_row", "grid_col"), rows, real)))

    def min_size_filter(self, boxes, im_scale):
        """Boxes narrower or lower than rpn_min_size * scale grow by half of it on each side; 1.0 marks them."""
        min_size = self.scalar("__mul_scalar__", im_scale, self.a.rpn_min_size)
        extent = [self.scalar("__add_scalar__", self.op("broadcast_sub", boxes[i + 2], boxes[i]), 1.0) for i in (0, 1)]
        small = self.op("broadcast_max", *(self.mask("broadcast_less", e, min_size) for e in extent))
        grow = self.op("broadcast_mul", small, self.scalar("__mul_scalar__", min_size, 0.5))
        x1, y1, x2, y2 = boxes
        return [self.op("broadcast_sub", x1, grow), self.op("broadcast_sub", y1, grow),
                self.op("broadcast_add", x2, grow), self.op("broadcast_add", y2, grow)], small

    def select(self, score, boxes, batch, rows):
        a = self.a
        post = a.rpn_post_nms_top_n
        x1, y1, x2, y2 = boxes
        plus_one = [self.scalar("__add_scalar__", v, 1.0) for v in (x2, y2)]
        # rows [score, x1, y1, x2 + 1, y2 + 1, x2, y2]: box_nms suppresses with +1 areas, x2/y2 ride along
        dets = self.op("concatenate", score, x1, y1, *plus_one, x2, y2, axis=2)
        kept = self.op("box_nms", dets, overlap_thresh=a.threshold, valid_thresh=_LOWEST,
                       topk=a.rpn_pre_nms_top_n if a.rpn_pre_nms_top_n > 0 else -1, coord_start=1, score_index=0,
                       id_index=-1, force_suppress=True)  # kept rows first (x2 + 1 >= 1), then rows of -1
        n_kept = self.op("sum", self.mask("broadcast_greater_equal", self.col(kept, 3),
                                          self.const("zero", np.zeros((1, 1, 1)))), axis=(1,), keepdims=True)
        position = self.const("position", np.arange(post)[None, :, None])
        pick = self.op("cast", self.op("broadcast_mod", position, n_kept), dtype="int64")  # (B, post, 1)
        picked = self.op("gather_elements", kept, self.op("broadcast_to", pick, shape=(batch, post, 7)), axis=1)
        index = self.const("batch_index", np.broadcast_to(np.arange(batch)[:, None, None], (batch, post, 1)))
        rois = self.op("concatenate", index, self.col(picked, 1, 2), self.col(picked, 5, 2), axis=2)
        return [self.op("reshape", rois, shape=(batch * post, 5)),
                self.op("reshape", self.col(picked, 0), shape=(batch * post, 1))]
