"""``dyn_resize``: ONNX Resize (nearest, linear, cubic) on axes whose lengths are known only at run time.

The output lengths come from the ``sizes`` input (int64, one per dim) or from fixed ``scales``; the importer
declares them symbolically in ``out_shape``. Every axis whose length changes is resized on its own (Resize is
separable): its source coordinates are computed at run time from the output index, the two lengths and the
scale, in float32 with onnxruntime's formulas, and the axis is gathered with ``take`` (indices clipped to the
axis). :func:`axis_taps` is that recipe, written once over a small tensor-ops adapter: the numpy reference
below and the MXNet and Relax emitters each supply one, and the importer evaluates it with numpy for the
constant taps of static axes, so a model gives the same numbers whether its axes are static or symbolic.
The one place that follows ONNX rather than onnxruntime: align_corners with ``scales`` divides by the
unrounded length n * scale, as ONNX's reference and conformance cases do (onnx/onnx#2462).
"""
from __future__ import annotations

import numpy as np

from .dynamic import OUT_SHAPE_ATTR, declared_out_shape
from .registry import Attr, register

COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                    "half_pixel_symmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def source_coordinate(t, mode, j, n, m, scale, resized):
    """onnxruntime's source coordinate of the output positions ``j`` (upsamplebase.h), evaluated in its order.
    ``n``/``m``: the input/output length, ``scale``: the axis' scale (a float, or m/n as a tensor),
    ``resized``: the length align_corners divides by. An output of length 1 reads position 0 in the modes
    that say so, decided at run time (a symbol may be 1 there)."""
    if mode in ("half_pixel", "pytorch_half_pixel"):
        x = t.sub(t.div(t.add(j, 0.5), scale), 0.5)
        return t.mul(x, t.greater(m, 1.0)) if mode == "pytorch_half_pixel" else x
    if mode == "align_corners":  # a length below 2 has only position 0, which reads 0
        return t.div(t.mul(j, t.sub(n, 1.0)), t.maximum(t.sub(resized, 1.0), 1.0))
    if mode == "asymmetric":
        return t.div(j, scale)
    if mode == "tf_half_pixel_for_nn":
        return t.div(t.add(j, 0.5), scale)
    # half_pixel_symmetric
    adjustment = t.div(m, t.mul(n, scale))
    offset = t.mul(t.div(n, 2.0), t.sub(1.0, adjustment))
    return t.sub(t.add(offset, t.div(t.add(j, 0.5), scale)), 0.5)


def nearest_index(t, x, nearest_mode):
    """The nearest source index (a float tensor) of coordinates ``x``; rounding from the exact fraction
    ``x - floor(x)``, so halves go where ``nearest_mode`` says."""
    if nearest_mode == "ceil":
        return t.ceil(x)
    base = t.floor(x)
    if nearest_mode == "floor":
        return base
    frac = t.sub(x, base)
    up = t.greater(frac, 0.5) if nearest_mode == "round_prefer_floor" else t.greater_equal(frac, 0.5)
    return t.add(base, up)


def axis_taps(t, n, m, scale, attrs):
    """[(index, weight or None)] of an axis of length ``n`` resized to ``m`` (ints or Dims): output position j
    is sum_k x[index_k[j]] * weight_k[j], the float indices clipped onto the axis by ``take``. ``scale`` is the
    attribute's float, or None (then m / n, as onnxruntime derives it from sizes)."""
    j = t.arange(m)
    n, m = t.length(n), t.length(m)
    if scale is None:
        scale, resized = t.div(m, n), m
    else:
        resized = t.mul(n, scale)
    coord = source_coordinate(t, attrs.coordinate_transformation_mode, j, n, m, scale, resized)
    if attrs.method == "nearest":
        return [(nearest_index(t, coord, attrs.nearest_mode), None)]
    if attrs.method == "cubic":
        return _cubic_taps(t, n, coord, attrs)
    coord = t.maximum(coord, 0.0)
    low = t.floor(coord)
    frac = t.sub(coord, low)
    # the upper neighbour of the last position is clipped onto it, as onnxruntime's clamp of the coordinate
    return [(low, t.sub(1.0, frac)), (t.add(low, 1.0), frac)]


def resize_axis(t, x, axis, rank, n, m, scale, attrs):
    """``x`` resized along ``axis`` from length ``n`` to ``m``: its :func:`axis_taps` gathered and summed."""
    acc = None
    for index, weight in axis_taps(t, n, m, scale, attrs):
        term = t.take(x, index, axis)
        if weight is not None:
            term = t.mul(term, t.along(weight, axis, rank))
        acc = term if acc is None else t.add(acc, term)
    return acc


def _cubic_taps(t, n, coord, attrs):
    """onnxruntime's bicubic taps (GetCubicCoeffs): four neighbours of floor(coord), clipped onto the axis, or
    with ``exclude_outside`` left out and the rest renormalised."""
    a = attrs.cubic_coeff_a
    low = t.floor(coord)
    s = t.sub(coord, low)

    def near(d):  # |d| <= 1
        return t.add(t.mul(t.mul(t.sub(t.mul(d, a + 2), a + 3), d), d), 1.0)

    def far(d):  # 1 < |d| < 2
        return t.sub(t.mul(t.add(t.mul(t.sub(t.mul(d, a), 5 * a), d), 8 * a), d), 4 * a)

    weights = [far(t.add(s, 1.0)), near(s), near(t.sub(1.0, s)), far(t.sub(2.0, s))]
    indices = [t.add(low, float(k)) for k in (-1, 0, 1, 2)]
    if attrs.exclude_outside:
        last = t.sub(n, 1.0)
        weights = [t.mul(w, t.mul(t.greater_equal(i, 0.0), t.greater_equal(t.sub(last, i), 0.0)))
                   for w, i in zip(weights, indices)]
        total = t.add(t.add(weights[0], weights[1]), t.add(weights[2], weights[3]))
        weights = [t.div(w, total) for w in weights]
    return list(zip(indices, weights))


def resized_axes(in_shape, out_shape, scales):
    """The axes to resize: their length changes, or their scale is not 1 (equal Dims stay)."""
    return [a for a, (i, o) in enumerate(zip(in_shape, out_shape))
            if i != o or (scales is not None and scales[a] != 1.0)]


class NumpyOps:
    """The adapter of the numpy reference: float32 throughout, like the emitters."""

    @staticmethod
    def _f(v):
        return np.asarray(v, dtype=np.float32)

    def length(self, d):
        return self._f(d)

    def arange(self, m):
        return np.arange(int(m), dtype=np.float32)

    def add(self, a, b):
        return self._f(a) + self._f(b)

    def sub(self, a, b):
        return self._f(a) - self._f(b)

    def mul(self, a, b):
        return np.asarray(a) * self._f(b)

    def div(self, a, b):
        return self._f(a) / self._f(b)

    def floor(self, x):
        return np.floor(x)

    def ceil(self, x):
        return np.ceil(x)

    def maximum(self, x, v):
        return np.maximum(x, self._f(v))

    def greater(self, x, v):
        return (x > self._f(v)).astype(np.float32)

    def greater_equal(self, x, v):
        return (x >= self._f(v)).astype(np.float32)

    def take(self, x, index, axis):
        return np.take(x, index.astype(np.int64), axis=axis, mode="clip")

    def along(self, w, axis, rank):
        """Weights over ``axis`` shaped to broadcast against the data (adapters also cast them to its dtype)."""
        return w.reshape((-1,) + (1,) * (rank - axis - 1))


def _output_lengths(a, data_shape, sizes):
    """The run-time output shape: ``sizes``, or floor(n * scale) as onnxruntime rounds it (in float32)."""
    if sizes is not None:
        return tuple(int(v) for v in np.asarray(sizes).reshape(-1))
    return tuple(int(np.float32(n) * np.float32(s)) for n, s in zip(data_shape, a.scales))


def _compute(a, xs):
    x = xs[0]
    out = _output_lengths(a, x.shape, xs[1] if len(xs) > 1 else None)
    t = NumpyOps()
    y = x
    for axis in resized_axes(x.shape, out, a.scales):
        scale = None if a.scales is None else a.scales[axis]
        y = resize_axis(t, y, axis, x.ndim, x.shape[axis], out[axis], scale, a).astype(x.dtype)
    return [y]


def _num_inputs(a):
    return 1 if a.scales is not None else 2


register("dyn_resize", inputs=("data", "sizes"), num_inputs=_num_inputs,
         attrs={"method": Attr("str", "nearest", choices=("nearest", "linear", "cubic")),
                "cubic_coeff_a": Attr("float", -0.75), "exclude_outside": Attr("bool", False),
                "coordinate_transformation_mode": Attr("str", "half_pixel", choices=COORDINATE_MODES),
                "nearest_mode": Attr("str", "round_prefer_floor", choices=NEAREST_MODES),
                "scales": Attr("tuple_float", None, optional=True, doc="one per dim; without it, `sizes`"),
                "out_shape": OUT_SHAPE_ATTR},
         infer_shape=declared_out_shape, compute=_compute, level=6, ext=True,
         doc="ONNX Resize (nearest, linear, cubic) on lengths known at run time: the output shape from the int64 "
             "tensor `sizes` or from `scales`; onnxruntime's float32 coordinates (runtime_resize.resize_axis)")
