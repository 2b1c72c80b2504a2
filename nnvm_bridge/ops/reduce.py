"""Reductions (NNVM reduce.cc)."""
from __future__ import annotations

import numpy as np

from . import numpy_ref as ref
from .common import DTYPES, reduce_axes, reduce_shape
from .registry import Attr, register


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
_REDUCTIONS = {"sum": np.sum, "max": np.max, "min": np.min, "mean": np.mean, "prod": np.prod}
for _name, _fn in _REDUCTIONS.items():
    register(_name, attrs=dict(_RED), infer_shape=reduce_shape, compute=_reduce_compute(_fn), level=4)
_ARG_REDUCTIONS = {"argmax": np.argmax, "argmin": np.argmin}
for _name, _fn in _ARG_REDUCTIONS.items():
    register(_name, attrs=dict(_RED, dtype=Attr("dtype", "int32", choices=DTYPES)), infer_shape=reduce_shape,
             infer_type=lambda a, d: [a.dtype], compute=_arg_compute(_fn), level=4)
register("collapse_sum", inputs=("data", "as"), attrs=dict(_RED), infer_shape=lambda a, s: [s[1]], level=4,
         internal=True, compute=ref.collapse_sum)
