"""cumprod (extension, level 6): ONNX CumProd, the running product beside ops/ext.py's cumsum."""
from __future__ import annotations

import numpy as np

from .common import norm_axis
from .registry import Attr, register


def _cumprod_shape(a, shapes):
    if shapes[0] is not None:
        norm_axis(a.axis, len(shapes[0]))
    return [shapes[0]]


def _cumprod(a, xs):
    x = xs[0]
    ax = norm_axis(a.axis, x.ndim)
    y = np.flip(x, ax) if a.reverse else x
    p = np.cumprod(y, axis=ax, dtype=x.dtype)
    if a.exclusive:  # shift by one: each element's product leaves it out (no division, zeros are fine)
        ones = np.ones_like(np.take(p, [0], axis=ax))
        p = np.concatenate([ones, np.take(p, np.arange(p.shape[ax] - 1), axis=ax)], axis=ax)
    return [np.ascontiguousarray(np.flip(p, ax) if a.reverse else p)]


register("cumprod", attrs={"axis": Attr("int"), "exclusive": Attr("bool", False), "reverse": Attr("bool", False)},
         infer_shape=_cumprod_shape, compute=_cumprod, level=6, ext=True,
         doc="running product along axis; exclusive leaves each element out of its own product, reverse runs "
             "from the end")
