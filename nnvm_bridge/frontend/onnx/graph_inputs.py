"""A graph input tensor as the importer declares it: its dims from the file (symbols kept) and its IR variable.

Shared by plain tensor inputs (importer.py) and the tensors inside sequence/optional inputs (structured_io.py).
"""
from __future__ import annotations

import re

import numpy as np

from ...ir import dtypes as _dt
from ...ir.symbolic import anonymous_dim, format_shape_hint, sym


def tensor_type_dims(tensor_type, name):
    """A tensor type's declared dims with its symbolic dims, or None when not even the rank is declared: a
    ``dim_param`` is the symbol of that name, a dim with neither value nor name the anonymous symbol of its axis
    (``anonymous_dim``); a declared 0 stays 0."""
    if not tensor_type.HasField("shape"):
        return None
    dims = []
    for axis, d in enumerate(tensor_type.shape.dim):
        if d.HasField("dim_value"):
            dims.append(max(int(d.dim_value), 0))
        elif d.HasField("dim_param") and d.dim_param.strip():
            dims.append(_dim_param(d.dim_param.strip(), name, axis))
        else:
            dims.append(anonymous_dim(name, axis))
    return tuple(dims)


def _dim_param(text, var, axis):
    """A ``dim_param`` is a name, whatever it reads like: exporters label lengths with expressions that do not
    hold ("past_sequence_length + 1" on a mask of past + sequence). The model's own arithmetic relates it to
    other dims where it must (``ir/passes/unify.py``), and the compiled model checks that when it runs."""
    if text.isidentifier():
        return sym(text)
    name = re.sub(r"\W+", "_", text).strip("_")  # the same text in two inputs stays one length
    return sym(name) if name.isidentifier() else anonymous_dim(var, axis)


def unknown_dim(d) -> bool:
    """A dim of a user's ``shape=`` that leaves the axis to the file: None or negative."""
    return d is None or (isinstance(d, (int, np.integer)) and int(d) < 0)


def input_variable(ctx, name, dims, dtype):
    """The IR variable of graph input ``name`` (dims None: unknown rank), its shape and dtype hints set."""
    attrs = {"__dtype__": _dt.dtype_hint(dtype)}
    if dims is not None:
        attrs["__shape__"] = format_shape_hint(dims, mxnet=0 in dims)
        if 0 in dims:  # an empty input: its shape is left to the converters' run-time paths
            dims = None
    ctx.reserve(name)
    return ctx.variable(name, dims, dtype, None, attrs)
