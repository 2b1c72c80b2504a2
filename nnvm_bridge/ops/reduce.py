"""Reductions (NNVM reduce.cc)."""
from __future__ import annotations

import numpy as np

from .common import known, norm_axis
from .registry import Attr, register
from .tensor import _DTYPES


def reduce_axes(a, ndim):
    """The axes a reduction runs over, honouring NNVM's ``exclude`` flag (empty = all)."""
    if not a.axis:
        axes = set(range(ndim))
        return tuple(sorted(axes)) if not a.exclude else ()
    axes = {norm_axis(x, ndim) for x in a.axis}
    if a.exclude:
        axes = set(range(ndim)) - axes
    return tuple(sorted(axes))


def _reduce_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    axes = reduce_axes(a, len(d))
    if a.keepdims:
        return [tuple(1 if i in axes else x for i, x in enumerate(d))]
    out = tuple(x for i, x in enumerate(d) if i not in axes)
    return [out if out else (1,)]


def _reduce_compute(fn):
    def compute(a, xs):
        x = xs[0]
        axes = reduce_axes(a, x.ndim)
        r = fn(x, axis=axes, keepdims=a.keepdims)
        r = np.asarray(r, dtype=x.dtype)
        if r.ndim == 0:
            r = r.reshape(1)
        return [r]
    return compute


def _arg_compute(fn):
    def compute(a, xs):
        x = xs[0]
        axes = reduce_axes(a, x.ndim)
        if len(axes) != 1:
            r = fn(x.reshape(-1)) if len(axes) == x.ndim else None
            if r is None:
                raise ValueError("argmax/argmin over several axes")
            r = np.asarray(r).reshape((1,) * x.ndim if a.keepdims else (1,))
        else:
            r = fn(x, axis=axes[0])
            if a.keepdims:
                r = np.expand_dims(r, axes[0])
        r = np.asarray(r)
        if r.ndim == 0:
            r = r.reshape(1)
        return [r.astype(a.dtype)]
    return compute


_RED = dict(axis=Attr("shape", ()), keepdims=Attr("bool", False), exclude=Attr("bool", False))
for _name, _fn in (("sum", np.sum), ("max", np.max), ("min", np.min), ("mean", np.mean), ("prod", np.prod)):
    register(_name, attrs=dict(_RED), infer_shape=_reduce_shape, compute=_reduce_compute(_fn), level=4)
for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(_name, attrs=dict(_RED, dtype=Attr("dtype", "int32", choices=_DTYPES)), infer_shape=_reduce_shape,
             infer_type=lambda a, d: [a.dtype], compute=_arg_compute(_fn), level=4)
register("collapse_sum", inputs=("data", "as"), attrs=dict(_RED), infer_shape=lambda a, s: [s[1]], level=4,
         internal=True)
