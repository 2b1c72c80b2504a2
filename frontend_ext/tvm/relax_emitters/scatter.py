"""Relax emitters for the scatter/gather ops (ONNX semantics, indices in range) and einsum."""
from __future__ import annotations

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op

_REDUCTION = {"none": "update", "add": "add", "mul": "mul", "max": "max", "min": "min"}


@RELAX_EXPORT.register("scatter_nd")
def _scatter_nd(ctx, node, attrs, inputs):
    data, indices, updates = inputs
    d, i, u = (_relax_shape(x) for x in inputs)
    if d is not None and i is not None and u is not None and isinstance(i[-1], int):
        # ONNX requires updates of indices.shape[:-1] + data.shape[K:]: where equal run-time lengths came with
        # different symbols (a resized image pasted into its padded canvas), say so, checked when it runs
        want = list(i[:-1]) + list(d[i[-1]:])
        if len(want) == len(u) and not ctx.symbols.same_shape(want, u):
            updates = ctx.bb.match_cast(updates, compat.tensor_type(want, ctx.in_dtypes[2]))
    return relax_op().scatter_nd(data, relax_op().astype(indices, "int64"), updates, _REDUCTION[attrs.reduction])


def _relax_shape(x):
    """The dims of the Relax tensor ``x`` (ints and tir expressions), or None where Relax does not know them."""
    shape = compat.shape_dtype_of(x)[0]
    return None if shape is None else [int(v.value) if type(v).__name__ == "IntImm" else v for v in shape]


@RELAX_EXPORT.register("scatter_elements")
def _scatter_elements(ctx, node, attrs, inputs):
    data, indices, updates = inputs
    return relax_op().scatter_elements(data, indices, updates, axis=attrs.axis, reduction=_REDUCTION[attrs.reduction])


@RELAX_EXPORT.register("gather_elements")
def _gather_elements(ctx, node, attrs, inputs):
    return relax_op().gather_elements(inputs[0], inputs[1], axis=attrs.axis)


@RELAX_EXPORT.register("einsum")
def _einsum(ctx, node, attrs, inputs):
    return relax_op().einsum(list(inputs), attrs.equation.replace(" ", ""))
