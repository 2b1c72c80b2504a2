"""Relax emitters of the region ops: roi_align and roi_pool as TE kernels with the IR's exact semantics.

TVM's own vision.roi_align has no half-pixel offset (its ``aligned`` only drops the 1-pixel minimum), its max
mode takes the largest interpolated sample where onnxruntime takes the largest weighted corner, and neither op
guards the batch index; so both are written here in TE (one ``call_tir`` each), following the Caffe2 kernel
that MXNet and onnxruntime share.
"""
from __future__ import annotations

from .. import compat
from ..registry import RELAX_EXPORT


def _batch_index(rois, i, n):
    """The roi's image and whether it exists (a missing one pools nothing instead of reading out of bounds)."""
    tir = compat.tir()
    b = rois[i, 0].astype("int64")
    valid = tir.all(b >= 0, b < tir.Cast("int64", n))
    return tir.Select(valid, b, tir.const(0, "int64")), valid


def _axis_sample(pos, limit, dtype):
    """Caffe2's bilinear rule along one axis: (low, high, weight of low, weight of high), zero weights outside."""
    te, tir = compat.tvm().te, compat.tir()
    one, zero = tir.const(1.0, dtype), tir.const(0.0, dtype)
    limit = tir.Cast("int64", limit)
    inside = tir.all(pos >= tir.const(-1.0, dtype), pos <= limit.astype(dtype))
    pos = te.max(pos, zero)
    low = te.floor(pos).astype("int64")
    at_end = low >= limit - 1
    low = tir.Select(at_end, limit - 1, low)
    high = tir.Select(at_end, limit - 1, low + 1)
    frac = tir.Select(at_end, zero, pos - low.astype(dtype))
    return low, high, tir.Select(inside, one - frac, zero), tir.Select(inside, frac, zero)


def _roi_align_te(attrs):
    te, tir = compat.tvm().te, compat.tir()
    ph_n, pw_n = (int(v) for v in attrs.pooled_size)

    def compute(data, rois):
        n, c_in, height, width = data.shape
        dtype = data.dtype
        c_out = c_in // (ph_n * pw_n) if attrs.position_sensitive else c_in

        def const(v):
            return tir.const(v, dtype)

        def geometry(i):
            offset = const(0.5 if attrs.aligned else 0.0)
            x1, y1, x2, y2 = (rois[i, k] * const(attrs.spatial_scale) - offset for k in range(1, 5))
            roi_w, roi_h = x2 - x1, y2 - y1
            if not attrs.aligned:
                roi_w, roi_h = te.max(roi_w, const(1.0)), te.max(roi_h, const(1.0))
            if attrs.sample_ratio > 0:
                grid_h = grid_w = tir.const(attrs.sample_ratio, "int32")
            else:
                grid_h = te.ceil(roi_h / const(ph_n)).astype("int32")
                grid_w = te.ceil(roi_w / const(pw_n)).astype("int32")
            return x1, y1, roi_h / const(ph_n), roi_w / const(pw_n), grid_h, grid_w

        def pooled(i, ph, pw, c):
            x1, y1, bin_h, bin_w, grid_h, grid_w = geometry(i)
            b, _ = _batch_index(rois, i, n)
            ch = (c * ph_n + ph) * pw_n + pw if attrs.position_sensitive else c
            iy = te.reduce_axis((0, grid_h), name="iy")
            ix = te.reduce_axis((0, grid_w), name="ix")
            y = y1 + ph.astype(dtype) * bin_h + (iy.astype(dtype) + const(0.5)) * bin_h / grid_h.astype(dtype)
            x = x1 + pw.astype(dtype) * bin_w + (ix.astype(dtype) + const(0.5)) * bin_w / grid_w.astype(dtype)
            yl, yh, wyl, wyh = _axis_sample(y, height, dtype)
            xl, xh, wxl, wxh = _axis_sample(x, width, dtype)
            terms = [wyl * wxl * data[b, ch, yl, xl], wyl * wxh * data[b, ch, yl, xh],
                     wyh * wxl * data[b, ch, yh, xl], wyh * wxh * data[b, ch, yh, xh]]
            if attrs.mode == "max":  # onnxruntime's: the largest weighted corner of each sample
                return te.max(te.max(te.max(terms[0], terms[1]), te.max(terms[2], terms[3])), axis=[iy, ix])
            return te.sum(terms[0] + terms[1] + terms[2] + terms[3], axis=[iy, ix])

        # channels innermost: the samples' positions and weights, the same for every channel, are computed
        # once per vector of channels (cpu/schedules.py's WINDOW_GATHER_BLOCKS; 10x faster on Mask R-CNN's
        # mask RoIs than the row-reduction schedule of bins innermost)
        acc = te.compute((rois.shape[0], ph_n, pw_n, c_out), pooled, name="roi_align_acc")

        def finish(i, c, ph, pw):
            *_, grid_h, grid_w = geometry(i)
            _, valid = _batch_index(rois, i, n)
            count = grid_h * grid_w
            value = acc[i, ph, pw, c] if attrs.mode == "max" else acc[i, ph, pw, c] / te.max(count, 1).astype(dtype)
            return tir.Select(tir.all(valid, count > 0), value, const(0.0))

        return te.compute((rois.shape[0], c_out, ph_n, pw_n), finish, name="roi_align")

    return compute


@RELAX_EXPORT.register("roi_align")
def _roi_align(ctx, node, attrs, inputs):
    return ctx.bb.emit_te(_roi_align_te(attrs), inputs[0], inputs[1], primfunc_name_hint="roi_align")


def _round_half_away(x, dtype):
    te, tir = compat.tvm().te, compat.tir()
    half = tir.const(0.5, dtype)
    return tir.Select(x >= tir.const(0.0, dtype), te.floor(x + half), te.ceil(x - half)).astype("int64")


def _roi_pool_te(attrs):
    te, tir = compat.tvm().te, compat.tir()
    ph_n, pw_n = (int(v) for v in attrs.pooled_size)

    def compute(data, rois):
        n, channels, height, width = data.shape
        rdt = rois.dtype

        def bounds(i, ph, pw):
            scale = tir.const(attrs.spatial_scale, rdt)
            x1, y1, x2, y2 = (_round_half_away(rois[i, k] * scale, rdt) for k in range(1, 5))
            one = tir.const(1, "int64")
            bin_h = te.max(y2 - y1 + one, one).astype(rdt) / tir.const(ph_n, rdt)
            bin_w = te.max(x2 - x1 + one, one).astype(rdt) / tir.const(pw_n, rdt)

            def clamp(v, start, limit):
                return te.min(te.max(v.astype("int64") + start, tir.const(0, "int64")), tir.Cast("int64", limit))

            h0 = clamp(te.floor(ph.astype(rdt) * bin_h), y1, height)
            h1 = clamp(te.ceil((ph + 1).astype(rdt) * bin_h), y1, height)
            w0 = clamp(te.floor(pw.astype(rdt) * bin_w), x1, width)
            w1 = clamp(te.ceil((pw + 1).astype(rdt) * bin_w), x1, width)
            return h0, h1, w0, w1

        def pooled(i, c, ph, pw):
            h0, h1, w0, w1 = bounds(i, ph, pw)
            b, _ = _batch_index(rois, i, n)
            zero = tir.const(0, "int64")
            rh = te.reduce_axis((zero, te.max(h1 - h0, zero)), name="rh")
            rw = te.reduce_axis((zero, te.max(w1 - w0, zero)), name="rw")
            return te.max(data[b, c, h0 + rh, w0 + rw], axis=[rh, rw])

        acc = te.compute((rois.shape[0], channels, ph_n, pw_n), pooled, name="roi_pool_acc")

        def finish(i, c, ph, pw):
            h0, h1, w0, w1 = bounds(i, ph, pw)
            _, valid = _batch_index(rois, i, n)
            return tir.Select(tir.all(valid, h1 > h0, w1 > w0), acc[i, c, ph, pw], tir.const(0.0, data.dtype))

        return te.compute(acc.shape, finish, name="roi_pool")

    return compute


@RELAX_EXPORT.register("roi_pool")
def _roi_pool(ctx, node, attrs, inputs):
    return ctx.bb.emit_te(_roi_pool_te(attrs), inputs[0], inputs[1], primfunc_name_hint="roi_pool")
