"""Relax emitter of MXNet's box_nms, with MXNet's exact selection, order and layout.

MXNet (bounding_box-inl.h) keeps the boxes with score > valid_thresh (and id != background_id), sorts them by
score (stable), takes the first topk, suppresses greedily (iou > overlap_thresh, per integer class unless
force_suppress), writes the kept rows in that order and -1 rows after them, converting the box format of rows
whose first coordinate is not negative.  Here a stable descending argsort of the masked scores picks the
candidates (TVM's CPU sort is ``std::stable_sort``), and one TIR kernel (``call_tir``) does the rest.  TVM's
own vision.non_max_suppression differs (``iou >= thresh``, min/max corners, no background or formats).
"""
from __future__ import annotations

import numpy as np

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op


def _param(value, dtype):
    """MXNet holds the thresholds as float32 and compares them in the data's type."""
    return compat.tir().const(float(np.asarray(np.float32(value), dtype)), dtype)


def _candidates(n, topk):
    """How many of the sorted boxes MXNet suppresses among: the first topk, at most all."""
    if topk < 0:
        return n
    tir = compat.tir()
    if isinstance(n, tir.IntImm):
        return min(int(n), topk)
    return tir.min(n, tir.const(topk, "int64"))


def _box_nms_kernel(attrs):
    """The TE extern: data (B, N, W), order (B, N) int64 -> out (B, N, W) and a (B, k) scratch keep mask."""
    tvm, tir = compat.tvm(), compat.tir()
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T

    cs, si, ii = attrs.coord_start, attrs.score_index, attrs.id_index
    center = attrs.in_format == "center"
    convert = attrs.in_format != attrs.out_format

    def ir(data, order, out, keep):
        dtype = data.dtype
        batch, n, width = data.shape
        k = keep.shape[1]
        zero, half = tir.const(0.0, dtype), tir.const(0.5, dtype)
        minus_one = tir.const(-1.0, dtype)
        thresh = _param(attrs.overlap_thresh, dtype)
        with IRBuilder() as ib:
            data, order, out, keep = (T.buffer_proxy(b) for b in (data, order, out, keep))

            def box(b, i):
                row = order[b, i]
                return [data[b, row, cs + c] for c in range(4)]

            def extent(a1, a2, b1, b2):  # MXNet's Intersect: corner (lo, hi) or center (mid, length)
                if center:
                    a1, a2, b1, b2 = a1 - a2 * half, a1 + a2 * half, b1 - b2 * half, b1 + b2 * half
                w = tvm.te.min(a2, b2) - tvm.te.max(a1, b1)
                return tir.Select(w > zero, w, zero)

            def area(c):
                w, h = (c[2], c[3]) if center else (c[2] - c[0], c[3] - c[1])
                return tir.Select(tir.any(w < zero, h < zero), zero, w * h)

            with T.parallel(0, batch) as b:
                with T.serial(0, k) as i:
                    row = order[b, i]
                    valid = data[b, row, si] > _param(attrs.valid_thresh, dtype)
                    if ii >= 0:
                        valid = tir.all(valid, data[b, row, ii] != _param(attrs.background_id, dtype))
                    keep[b, i] = tir.Select(valid, tir.const(1, "int32"), tir.const(0, "int32"))
                with T.serial(0, k) as i:
                    with T.If(keep[b, i] > 0):
                        with T.Then():
                            with T.serial(i + 1, k) as j:
                                live = keep[b, j] > 0
                                if ii >= 0 and not attrs.force_suppress:  # MXNet compares static_cast<int>(id)
                                    live = tir.all(live, data[b, order[b, i], ii].astype("int32")
                                                   == data[b, order[b, j], ii].astype("int32"))
                                with T.If(live):
                                    with T.Then():
                                        p, q = box(b, i), box(b, j)
                                        inter = extent(p[0], p[2], q[0], q[2]) * extent(p[1], p[3], q[1], q[3])
                                        iou = inter / (area(p) + area(q) - inter)
                                        with T.If(iou > thresh):
                                            with T.Then():
                                                keep[b, j] = tir.const(0, "int32")
                with T.serial(0, n) as j:
                    with T.serial(0, width) as c:
                        out[b, j, c] = minus_one
                count = T.buffer_proxy(T.alloc_buffer((1,), "int32", scope="local"))
                count[0] = tir.const(0, "int32")
                with T.serial(0, k) as i:
                    with T.If(keep[b, i] > 0):
                        with T.Then():
                            row = order[b, i]
                            with T.serial(0, width) as c:
                                out[b, count[0], c] = data[b, row, c]
                            if convert:
                                x0, x1, x2, x3 = box(b, i)
                                if attrs.out_format == "center":
                                    new = ((x0 + x2) * half, (x1 + x3) * half, x2 - x0, x3 - x1)
                                else:
                                    new = (x0 - x2 * half, x1 - x3 * half, x0 + x2 * half, x1 + x3 * half)
                                for c in range(4):  # MXNet skips rows whose first coordinate is negative
                                    out[b, count[0], cs + c] = tir.Select(x0 < zero, box(b, i)[c], new[c])
                            count[0] = count[0] + 1
        return ib.get()

    def compute(data, order):
        te = tvm.te
        batch, n, _ = data.shape
        k = _candidates(n, attrs.topk)
        out_buf = tir.decl_buffer(data.shape, data.dtype, "box_nms_out")
        keep_buf = tir.decl_buffer((batch, k), "int32", "box_nms_keep")
        out, _ = te.extern([data.shape, (batch, k)], [data, order], lambda ins, outs: ir(*ins, *outs),
                           dtype=[data.dtype, "int32"], out_buffers=[out_buf, keep_buf],
                           in_buffers=[tir.decl_buffer(data.shape, data.dtype, "box_nms_data"),
                                       tir.decl_buffer(order.shape, order.dtype, "box_nms_order")],
                           name="box_nms", tag="box_nms")
        return out

    return compute


def _column(x, index):
    op = relax_op()
    return op.squeeze(op.strided_slice(x, axes=[2], begin=[index], end=[index + 1]), axis=[2])


@RELAX_EXPORT.register("box_nms")
def _box_nms(ctx, node, attrs, inputs):
    op = relax_op()
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if attrs.topk == 0:  # MXNet returns the input as it is
        return inputs[0]
    if not dtype.startswith("float"):
        ctx.fail(f"{dtype} data: MXNet's box_nms takes floats")
    x = inputs[0]
    if len(shape) != 3:  # MXNet folds every leading dim into the batch
        x = ctx.emit(op.reshape(x, [-1, ctx.prim(shape[-2]), ctx.prim(shape[-1])]))
    scores = ctx.emit(_column(x, attrs.score_index))
    valid = op.greater(scores, compat.relax().const(np.asarray(np.float32(attrs.valid_thresh), dtype), dtype))
    if attrs.id_index >= 0:
        ids = _column(x, attrs.id_index)
        background = compat.relax().const(np.asarray(np.float32(attrs.background_id), dtype), dtype)
        valid = op.logical_and(valid, op.not_equal(ids, background))
    masked = ctx.emit(op.where(valid, scores, ctx.scalar(-np.inf, dtype)))
    order = ctx.emit(op.argsort(masked, axis=1, descending=True, dtype="int64"))
    out = ctx.bb.emit_te(_box_nms_kernel(attrs), x, order, primfunc_name_hint="box_nms")
    if len(shape) != 3:
        out = op.reshape(out, ctx.shape(shape))
    return out
