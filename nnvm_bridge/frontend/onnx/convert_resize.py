"""Resize and Upsample as exact separable gathers.

Every ONNX coordinate mode and nearest/linear/cubic interpolation is separable, so each resized
axis becomes ``sum_t take(x, index_t, axis) * weight_t``. On a static axis the index and weight arrays
are constants: ops/runtime_resize.py's recipe evaluated with numpy, the same float32 arithmetic that
``dyn_resize`` runs on a symbolic axis, so a model gives one answer whichever its axes are (onnxruntime's,
lengths floor(float32(n) * float32(scale)) included). Every piece exists in MXNet and TVM.
Integer nearest upsampling of H and W uses the cheaper ``upsampling`` op.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import Dim
from ...ops import runtime_resize
from ...ops.runtime_resize import COORDINATE_MODES, NEAREST_MODES
from .convert_datadep import data_dependent_dim
from .registry import ONNX_IMPORT
from .resize_matrices import resize_by_matrices
from .shape_values import small_fraction


def axis_taps(mode, method, nearest_mode, n, m, scale, cubic_a=-0.75, exclude_outside=False):
    """[(index array, weight array or None)] taps for one static axis of length n resized to m; ``scale``
    None when the length came from sizes. None for a mode the recipe does not have."""
    if mode not in COORDINATE_MODES or nearest_mode not in NEAREST_MODES or \
            method not in ("nearest", "linear", "cubic"):
        return None
    attrs = SimpleNamespace(method=method, coordinate_transformation_mode=mode, nearest_mode=nearest_mode,
                            cubic_coeff_a=cubic_a, exclude_outside=exclude_outside)
    taps = runtime_resize.axis_taps(runtime_resize.NumpyOps(), n, m, scale, attrs)
    return [(np.clip(index, 0, n - 1).astype(np.int64), weight) for index, weight in taps]


def scaled_length(n, scale):
    """onnxruntime's output length of a static axis: floor(n * scale) in float32 (10 * 0.7 is 7 there)."""
    return int(np.float32(n) * np.float32(scale))


def resize_entries(ctx, x, out_shape, scales, mode, method, nearest_mode, cubic_a=-0.75,
                   exclude_outside=False):
    xs = ctx.shape(x)
    r = len(xs)
    dtype = ctx.dtype(x)
    # cheap path: integer nearest upsampling of H and W with floor indices
    if (method == "nearest" and r == 4 and tuple(out_shape[:2]) == tuple(xs[:2])
            and out_shape[2] % xs[2] == 0 and out_shape[2] // xs[2] == out_shape[3] // xs[3]
            and out_shape[3] % xs[3] == 0 and out_shape[2] > xs[2]):
        s = out_shape[2] // xs[2]
        ok = True
        for ax in (2, 3):
            taps = axis_taps(mode, method, nearest_mode, xs[ax], out_shape[ax], scales[ax])
            ok = ok and taps is not None and np.array_equal(taps[0][0], np.arange(out_shape[ax]) // s)
        if ok:
            return ctx.emit1("upsampling", [x], {"scale": s, "method": "NEAREST_NEIGHBOR"})
    y = ctx.entry(x)
    for ax in range(r):
        n, m = xs[ax], out_shape[ax]
        if n == m and scales[ax] in (None, 1.0):
            continue
        taps = axis_taps(mode, method, nearest_mode, n, m, scales[ax], cubic_a, exclude_outside)
        if taps is None:
            raise ctx.unsupported(f"mode={method}/{mode}/{nearest_mode}")
        acc = None
        for idx, w in taps:
            t = ctx.emit1("take", [y, idx], {"axis": ax})
            if w is not None:
                wv = w.astype(dtype).reshape((m,) + (1,) * (r - ax - 1))
                t = ctx.emit1("broadcast_mul", [t, wv])
            acc = t if acc is None else ctx.emit1("broadcast_add", [acc, t])
        y = acc
    return y


def _resize_common(ctx, node, attrs, x, scales, sizes, mode, method, nearest_mode, sizes_input=None):
    xs = ctx.shape(x)
    if xs is None:
        raise ctx.error(ShapeError, f"{node.op_type} needs the input shape; give it with shape=")
    r = len(xs)
    axes = attrs.get("axes")
    axes = list(range(r)) if axes is None else [a % r for a in axes]
    full_scales = [1.0] * r
    out = list(xs)
    if sizes is not None and sizes.size:
        sizes = [v if isinstance(v, Dim) else int(v) for v in sizes.reshape(-1)]
        if any(isinstance(xs[a], Dim) or isinstance(sizes[i], Dim) for i, a in enumerate(axes)):
            return _resize_symbolic(ctx, node, attrs, x, xs, axes, sizes, [1.0] * len(axes), mode, method,
                                    nearest_mode, sizes_input)
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            # onnxruntime's float32 ratios, lengths round(ratio * n)
            ratios = [np.float32(sizes[i]) / np.float32(xs[a]) for i, a in enumerate(axes)]
            ratio = min(ratios) if policy == "not_larger" else max(ratios)
            for a in axes:
                full_scales[a] = float(ratio)
                out[a] = int(math.floor(float(ratio * np.float32(xs[a])) + 0.5))
        else:
            for i, a in enumerate(axes):
                out[a] = sizes[i]
                full_scales[a] = None  # the taps take m / n, as onnxruntime does
    elif scales is not None and scales.size:
        sc = [float(v) for v in scales.reshape(-1)]
        if any(isinstance(xs[a], Dim) for a in axes):
            return _resize_symbolic(ctx, node, attrs, x, xs, axes, None, sc, mode, method, nearest_mode, None)
        for i, a in enumerate(axes):
            full_scales[a] = sc[i]
            out[a] = scaled_length(xs[a], sc[i])
    else:
        raise ctx.error(ShapeError, f"{node.op_type} needs scales or sizes")
    if method in ("linear", "bilinear", "trilinear"):
        method = "linear"
    return resize_entries(ctx, x, out, full_scales, mode, method, nearest_mode,
                          float(attrs.get("cubic_coeff_a", -0.75)), bool(attrs.get("exclude_outside", 0)))


def _resize_symbolic(ctx, node, attrs, x, xs, axes, sizes, scales, mode, method, nearest_mode, sizes_input):
    """Resize where some axes are symbolic. When those keep their length (the batch and channel axes of an
    image resize), the others are resized with constant taps; otherwise the taps are computed at run time."""
    fixed_sizes, fixed_scales, kept = [], [], []
    for i, a in enumerate(axes):
        same = (sizes[i] == xs[a]) if sizes is not None else scales[i] == 1.0
        if isinstance(xs[a], Dim) or (sizes is not None and isinstance(sizes[i], Dim)):
            if not same:
                return _runtime_resize(ctx, attrs, x, xs, axes, sizes, sizes_input, scales, mode, method,
                                       nearest_mode)
            continue
        fixed_sizes.append(xs[a] if sizes is None else sizes[i])
        fixed_scales.append(scales[i])
        kept.append(a)
    attrs = dict(attrs, axes=kept)
    if sizes is not None:
        return _resize_common(ctx, node, attrs, x, None, np.asarray(fixed_sizes, dtype=np.int64), mode, method,
                              nearest_mode)
    return _resize_common(ctx, node, attrs, x, np.asarray(fixed_scales, dtype=np.float32), None, mode, method,
                          nearest_mode)


def _scaled_dim(ctx, n, scale):
    """floor(n * scale) for a symbolic n: exact when the float32 scale is a small fraction p / q."""
    if not isinstance(n, Dim):
        return scaled_length(n, scale)
    frac = small_fraction(scale)
    if frac is None:
        raise ctx.unsupported(f"scale {scale} on the symbolic axis {n}: the output length has no exact form; "
                              "give the input shapes with shape=")
    return n * frac.numerator // frac.denominator


def _integer_upsampling(xs, out, scales, mode, method, nearest_mode):
    """The factor k when this nearest resize is ``upsampling`` (H and W times k, each output row i reading
    row i // k at every length), else None."""
    if method != "nearest" or len(xs) != 4 or tuple(out[:2]) != tuple(xs[:2]):
        return None
    k = out[2] // xs[2]
    if not isinstance(k, int) or k < 2 or out[2] != k * xs[2] or out[3] != k * xs[3]:
        return None
    if scales is not None and (scales[2] != k or scales[3] != k):
        return None
    for n in (1, 2, 3, 5, 8):
        taps = axis_taps(mode, method, nearest_mode, n, k * n, float(k))
        if taps is None or not np.array_equal(taps[0][0], np.arange(k * n) // k):
            return None
    return k


def _runtime_resize(ctx, attrs, x, xs, axes, sizes, sizes_input, scales, mode, method, nearest_mode):
    """``dyn_resize``: the taps of the symbolic axes are computed at run time (ops/runtime_resize.py)."""
    r = len(xs)
    method = "linear" if method in ("linear", "bilinear", "trilinear") else method
    if method not in ("nearest", "linear", "cubic"):
        raise ctx.unsupported(f"{method} interpolation of a symbolic axis; give the input shapes with shape=")
    if mode not in COORDINATE_MODES or nearest_mode not in NEAREST_MODES:
        raise ctx.unsupported(f"coordinate_transformation_mode={mode} with nearest_mode={nearest_mode} on a "
                              "symbolic axis")
    if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch" or list(axes) != list(range(r)):
        raise ctx.unsupported("axes or keep_aspect_ratio_policy on a symbolic axis; give the input shapes "
                              "with shape=")
    if method != "nearest" and not ctx.dtype(x).startswith(("float", "bfloat")):
        raise ctx.unsupported(f"linear interpolation of {ctx.dtype(x)} data")
    if sizes is not None:
        out, full_scales = list(sizes), None
    else:
        full_scales = tuple(float(s) for s in scales)
        out = [_scaled_dim(ctx, n, s) for n, s in zip(xs, full_scales)]
    k = _integer_upsampling(xs, out, full_scales, mode, method, nearest_mode)
    if k is not None:
        return ctx.emit1("upsampling", [x], {"scale": k, "method": "NEAREST_NEIGHBOR"})
    op_attrs = {"method": method, "coordinate_transformation_mode": mode, "nearest_mode": nearest_mode,
                "scales": full_scales, "cubic_coeff_a": float(attrs.get("cubic_coeff_a", -0.75)),
                "exclude_outside": bool(attrs.get("exclude_outside", 0))}
    inputs = [x] if sizes is None else [x, ctx.cast(sizes_input, "int64")]
    return ctx.runtime_op("dyn_resize", inputs, out, op_attrs)


@ONNX_IMPORT.register("Resize", since=10)
def resize_v10(ctx, node, attrs, inputs):
    """Resize-10: scales only, asymmetric coordinates, floor for nearest (what Upsample does)."""
    scales = ctx.require_const(inputs[1], "Resize scales")
    return _resize_common(ctx, node, attrs, inputs[0], scales, None, "asymmetric", attrs.get("mode", "nearest"),
                          "floor")


@ONNX_IMPORT.register("Resize", since=(11, 13, 18, 19))
def resize(ctx, node, attrs, inputs):
    mode = attrs.get("coordinate_transformation_mode", "half_pixel")
    scales = ctx.require_const(inputs[2], "Resize scales") if inputs[2] else None
    sizes = _sizes(ctx, node, attrs, inputs) if inputs[3] else None
    if attrs.get("antialias", 0) or mode == "tf_crop_and_resize":
        roi = ctx.require_const(inputs[1], "Resize roi").reshape(-1) if inputs[1] else None
        return resize_by_matrices(ctx, node, attrs, inputs[0], roi, None if scales is None or not scales.size
                                  else scales.reshape(-1), None if sizes is None or not sizes.size
                                  else sizes.reshape(-1))
    return _resize_common(ctx, node, attrs, inputs[0], scales, sizes, mode, attrs.get("mode", "nearest"),
                          attrs.get("nearest_mode", "round_prefer_floor"), inputs[3] or None)


def _sizes(ctx, node, attrs, inputs):
    """Resize's sizes: a constant, a symbolic shape value, or (computed at run time) the dims that shape values
    give of the sizes, else those ONNX's shape inference knows of the output, and a new symbol for each other
    one, bound when the sizes are computed."""
    sizes = ctx.shape_value(inputs[3])
    if sizes is None:
        sizes = ctx.const(inputs[3])
    if sizes is not None:
        return sizes
    count, rank = ctx.shape(inputs[3]), ctx.rank(inputs[0])
    declared = ctx.declared.dims(node.outputs[0])
    known = ctx.partial_shape_values.get(inputs[3])  # torchvision's concat(shape(x)[:2], (h, w))
    if known is not None and declared is None and rank is not None and len(known) == rank:
        declared = [None] * rank
    if (count is None or not isinstance(count[0], int) or rank is None or declared is None or len(declared) != rank
            or attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch"):  # the sizes are not the output's
        ctx.require_const(inputs[3], "Resize sizes")  # the error: nothing says how many dims are resized
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    if len(axes) != count[0]:
        raise ctx.error(ShapeError, f"Resize has {count[0]} sizes for {len(axes)} axes")
    if known is None or len(known) != len(axes):
        known = [None] * len(axes)
    return np.array([k if k is not None else declared[a] if declared[a] is not None else data_dependent_dim(ctx, a)
                     for k, a in zip(known, axes)], dtype=object)


@ONNX_IMPORT.register("Upsample", since=7)
def upsample_attribute(ctx, node, attrs, inputs):
    scales = np.asarray(attrs.get("scales"), dtype=np.float32)
    return _resize_common(ctx, node, attrs, inputs[0], scales, None, "asymmetric", attrs.get("mode", "nearest"),
                          "floor")


# Upsample-10 only marks the op deprecated (Resize replaces it): files that still use it get this converter
@ONNX_IMPORT.register("Upsample", since=9)
def upsample(ctx, node, attrs, inputs):
    scales = ctx.require_const(inputs[1], "Upsample scales")
    return _resize_common(ctx, node, attrs, inputs[0], scales, None, "asymmetric", attrs.get("mode", "nearest"),
                          "floor")
