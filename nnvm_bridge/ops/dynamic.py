"""Extension ops whose output shape comes from a tensor at run time (ONNX Reshape/Expand/ConstantOfShape/
Range/Slice with computed shape inputs).

The importer knows the output shape symbolically (``Dim`` expressions over the graph inputs' symbols) and
writes it into ``out_shape`` (the ``__shape__`` text form); the shape rule reads it back, so shape inference
gives the same Dims an attribute-only op would.  The numpy compute takes the shape from the tensor.
"""
from __future__ import annotations

import numpy as np

from ..ir.symbolic import parse_shape
from .common import DTYPES
from .registry import Attr, register

OUT_SHAPE_ATTR = Attr("str", None, optional=True, doc="the output shape as the importer knows it (symbolic dims)")


def declared_out_shape(a, shapes):
    return [None if a.out_shape is None else parse_shape(a.out_shape)]


def _onnx_reshape_dims(src, spec):
    """ONNX Reshape (allowzero=0): 0 copies the input dim, -1 takes what is left."""
    spec = [int(v) for v in np.asarray(spec).reshape(-1)]
    out = [src[i] if v == 0 else v for i, v in enumerate(spec)]
    if -1 in out:
        rest = int(np.prod([v for v in out if v != -1]))
        out[out.index(-1)] = int(np.prod(src)) // rest if rest else 0
    return tuple(out)


def _reshape_compute(a, xs):
    return [xs[0].reshape(_onnx_reshape_dims(xs[0].shape, xs[1]))]


def _broadcast_compute(a, xs):
    target = tuple(int(v) for v in np.asarray(xs[1]).reshape(-1))
    return [np.broadcast_to(xs[0], np.broadcast_shapes(xs[0].shape, target)).copy()]


def _full_compute(a, xs):
    return [np.full(tuple(int(v) for v in np.asarray(xs[0]).reshape(-1)), a.value, dtype=a.dtype)]


def _arange_compute(a, xs):
    start, limit, delta = (np.asarray(x).reshape(-1)[0] for x in xs)
    return [np.arange(start, limit, delta).astype(a.dtype)]


def _slice_compute(a, xs):
    data = xs[0]
    starts, ends, axes, steps = (np.asarray(x).reshape(-1) for x in xs[1:])
    index = [slice(None)] * data.ndim
    for b, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax) % data.ndim] = slice(int(b), int(e), int(st))
    return [data[tuple(index)]]


register("dyn_reshape", inputs=("data", "shape"), attrs={"out_shape": OUT_SHAPE_ATTR}, infer_shape=declared_out_shape,
         compute=_reshape_compute, level=6, ext=True,
         doc="ONNX Reshape (allowzero=0) with the target shape from the int64 tensor `shape`")
register("dyn_broadcast_to", inputs=("data", "shape"), attrs={"out_shape": OUT_SHAPE_ATTR}, infer_shape=declared_out_shape,
         compute=_broadcast_compute, level=6, ext=True,
         doc="ONNX Expand: numpy broadcast of data with the int64 tensor `shape` (either side may be 1)")
register("dyn_full", inputs=("shape",), attrs={"value": Attr("float", 0.0), "out_shape": OUT_SHAPE_ATTR,
                                             "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=declared_out_shape, infer_type=lambda a, d: [a.dtype], compute=_full_compute, level=6, ext=True,
         doc="ONNX ConstantOfShape: a tensor of shape `shape` (int64 tensor) filled with `value`")
register("dyn_arange", inputs=("start", "limit", "delta"),
         attrs={"out_shape": OUT_SHAPE_ATTR, "dtype": Attr("dtype", "float32", choices=DTYPES)},
         infer_shape=declared_out_shape, infer_type=lambda a, d: [a.dtype], compute=_arange_compute, level=6, ext=True,
         doc="ONNX Range with run-time bounds: arange(start, limit, delta), each a one-element tensor")
register("dyn_slice", inputs=("data", "starts", "ends", "axes", "steps"), attrs={"out_shape": OUT_SHAPE_ATTR},
         infer_shape=declared_out_shape, compute=_slice_compute, level=6, ext=True,
         doc="ONNX Slice with run-time starts/ends (int64 tensors; axes and steps as tensors too, python "
             "slice semantics per axis)")


def pad_positions(before, n, length):
    """The source position of each of ``length`` outputs on an axis of length ``n`` padded by ``before``
    (negative: cropped), and whether it lies inside the axis."""
    index = np.arange(length, dtype=np.int64) - int(before)
    return index, (index >= 0) & (index < n)


def _pad_compute(a, xs):
    data, pads = xs[0], np.asarray(xs[1]).reshape(-1).astype(np.int64)
    r = data.ndim
    for axis in range(r):
        before, after = int(pads[axis]), int(pads[axis + r])
        n = data.shape[axis]
        index, inside = pad_positions(before, n, max(n + before + after, 0))
        if a.mode == "reflect":
            index = np.abs(index)
            index = np.where(index >= n, 2 * (n - 1) - index, index)
        taken = np.take(data, np.clip(index, 0, max(n - 1, 0)), axis=axis)
        if a.mode == "constant":
            mask = inside.reshape((-1,) + (1,) * (r - axis - 1))
            taken = np.where(mask, taken, np.asarray(a.pad_value, dtype=data.dtype))
        data = taken
    return [data]


register("bind_dims", inputs=("data",), attrs={"dims": Attr("str", doc="the symbols the values are")},
         infer_shape=lambda a, shapes: [shapes[0]], compute=lambda a, xs: [xs[0]], level=6, ext=True,
         doc="an integer tensor computed at run time, passed on unchanged: its elements are the symbolic dims "
             "`dims` (the emitters bind the symbols from it)")
register("dyn_pad", inputs=("data", "pads"),
         attrs={"out_shape": OUT_SHAPE_ATTR, "pad_value": Attr("float", 0.0),
                "mode": Attr("str", "constant", choices=("constant", "edge", "reflect"))},
         infer_shape=declared_out_shape, compute=_pad_compute, level=6, ext=True,
         doc="ONNX Pad with the pads from the int64 tensor `pads` (begins then ends, every axis; negative "
             "crops)")
