"""Scatter and gather extension ops with ONNX semantics (ScatterND, ScatterElements, GatherElements).

Indices are in range here (``0 <= i < dim``): the ONNX importer wraps negative ones before these ops, so
every emitter sees the one convention.  ``reduction`` says how an update meets the value it lands on;
with ``none`` duplicate indices are undefined (ONNX says so too), with the others each update is applied.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .common import norm_axis
from .registry import Attr, register

REDUCTIONS = ("none", "add", "mul", "max", "min")
_UFUNC = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
_REDUCTION = Attr("str", "none", choices=REDUCTIONS, doc="how an update combines with the value it replaces")


def _scatter_at(out, coords, updates, reduction):
    if reduction == "none":
        out[coords] = updates
    else:
        _UFUNC[reduction].at(out, coords, updates)
    return out


def _scatter_nd_shape(a, shapes):
    data, idx, upd = shapes
    if data is None or idx is None:
        return [data]
    m = idx[-1]
    if isinstance(m, int) and (m > len(data) or upd is not None and len(upd) != len(idx) - 1 + len(data) - m):
        raise ShapeError(f"scatter_nd: indices {tuple(idx)} and updates {upd} do not fit data {tuple(data)}")
    return [data]


def _scatter_nd(a, xs):
    data, idx, upd = xs
    m = idx.shape[-1]
    flat = idx.reshape(-1, m).astype(np.int64)
    coords = tuple(flat[:, k] for k in range(m))
    return [_scatter_at(data.copy(), coords, upd.reshape((-1,) + data.shape[m:]), a.reduction)]


def element_coords(indices, axis):
    """The full coordinates ScatterElements/GatherElements address: ``indices`` along ``axis``, the
    element's own position along every other axis."""
    grid = list(np.indices(indices.shape, sparse=True))
    grid[axis] = indices.astype(np.int64)
    return tuple(grid)


def _elements_shape(out_index):
    def rule(a, shapes):
        data, idx = shapes[0], shapes[1]
        if data is not None:
            norm_axis(a.axis, len(data))
            if idx is not None and len(idx) != len(data):
                raise ShapeError(f"indices {tuple(idx)} must have the rank of data {tuple(data)}")
        return [shapes[out_index]]
    return rule


def _scatter_elements(a, xs):
    data, idx, upd = xs
    axis = norm_axis(a.axis, data.ndim)
    return [_scatter_at(data.copy(), element_coords(idx, axis), upd, a.reduction)]


def _gather_elements(a, xs):
    data, idx = xs
    return [data[element_coords(idx, norm_axis(a.axis, data.ndim))]]


register("scatter_nd", inputs=("data", "indices", "updates"), attrs={"reduction": _REDUCTION},
         infer_shape=_scatter_nd_shape, compute=_scatter_nd, level=6, ext=True,
         doc="ONNX ScatterND: a copy of data with updates[i...] written at data[indices[i...]] (indices' last "
             "axis addresses data's leading axes)")
register("scatter_elements", inputs=("data", "indices", "updates"),
         attrs={"axis": Attr("int", 0), "reduction": _REDUCTION}, infer_shape=_elements_shape(0),
         compute=_scatter_elements, level=6, ext=True,
         doc="ONNX ScatterElements: a copy of data with each updates element written at its own position, "
             "except along axis, where indices says where")
register("gather_elements", inputs=("data", "indices"), attrs={"axis": Attr("int", 0)},
         infer_shape=_elements_shape(1), compute=_gather_elements, level=6, ext=True,
         doc="ONNX GatherElements (torch.gather): out[i][j][k] = data[indices[i][j][k]][j][k] for axis 0")
