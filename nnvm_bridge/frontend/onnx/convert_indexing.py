"""Converters for ONNX ops that are index arithmetic over a known shape: EyeLike, ReverseSequence."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import is_static
from .registry import ONNX_IMPORT


def _static(ctx, x, what):
    s = ctx.shape(x)
    if s is None or not is_static(s):
        raise ctx.error(ShapeError, f"{what} needs the static input shape; give the input shapes with shape=")
    return tuple(int(d) for d in s)


@ONNX_IMPORT.register("EyeLike", since=(9, 22))
def eye_like(ctx, node, attrs, inputs):
    s = ctx.shape(inputs[0])
    if s is not None and len(s) != 2:
        raise ctx.error(ShapeError, f"EyeLike takes a 2-d input, got shape {tuple(s)}")
    dtype = _dt.from_onnx(int(attrs["dtype"])) if "dtype" in attrs else ctx.dtype(inputs[0])
    k = int(attrs.get("k", 0))
    if s is not None and not is_static(s):
        return ctx.cast(_symbolic_eye(ctx, inputs[0], k), dtype)
    s = _static(ctx, inputs[0], "EyeLike")
    return np.eye(s[0], s[1], k, dtype=_dt.to_numpy(dtype))


def _symbolic_eye(ctx, x, k):
    """EyeLike of an (R, C) input with symbolic dims (XLNet's eye of the sequence length): the row and column
    numbers as running sums of ones along each axis, 1 where column - k == row."""
    ones = ctx.emit1("ones_like", [ctx.cast(x, "float32")])
    row = ctx.emit1("cumsum", [ones], {"axis": 0})
    col = ctx.emit1("cumsum", [ones], {"axis": 1})
    return ctx.emit1("broadcast_equal", [ctx.emit1("__sub_scalar__", [col], {"scalar": float(k)}), row])


@ONNX_IMPORT.register("ReverseSequence", since=(10, 28))
def reverse_sequence(ctx, node, attrs, inputs):
    """out[t, b] = x[lens[b] - 1 - t, b] for t < lens[b], else x[t, b]: one gather_nd over (time, batch)."""
    x, lens = inputs[0], inputs[1]
    s = _static(ctx, x, "ReverseSequence")
    time_axis, batch_axis = int(attrs.get("time_axis", 0)), int(attrs.get("batch_axis", 1))
    if sorted((time_axis, batch_axis)) != [0, 1]:
        raise ctx.unsupported(f"time_axis={time_axis}, batch_axis={batch_axis} (they are 0 and 1)")
    lead = s[:2]
    grids = np.indices(lead, dtype=np.int64)
    t, b = grids[time_axis], grids[batch_axis]
    lens_along = (1, -1) if batch_axis == 1 else (-1, 1)
    lv = ctx.const(lens)
    if lv is not None:
        lv = lv.astype(np.int64).reshape(lens_along)
        time_index = np.where(t < lv, lv - 1 - t, t)
    else:
        lv = ctx.reshape(ctx.cast(lens, "int64"), lens_along)
        reversed_t = ctx.emit1("broadcast_sub", [ctx.emit1("__sub_scalar__", [lv], {"scalar": 1.0}), t])
        time_index = ctx.emit1("where", [ctx.emit1("broadcast_greater", [lv, t]), reversed_t,
                                         ctx.emit1("broadcast_add", [ctx.emit1("zeros_like", [reversed_t]), t])])
    coords = [time_index, b] if time_axis == 0 else [b, time_index]
    if all(isinstance(c, np.ndarray) for c in coords):
        stacked = np.stack(coords, 0)
    else:
        stacked = ctx.emit1("stack", [ctx.entry(c) for c in coords], {"axis": 0, "num_args": 2})
    return ctx.emit1("gather_nd", [x, stacked])
