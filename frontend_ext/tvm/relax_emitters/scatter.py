"""Relax emitters for the scatter/gather ops (ONNX semantics, indices in range) and einsum."""
from __future__ import annotations

from ..registry import RELAX_EXPORT
from .context import relax_op

_REDUCTION = {"none": "update", "add": "add", "mul": "mul", "max": "max", "min": "min"}


@RELAX_EXPORT.register("scatter_nd")
def _scatter_nd(ctx, node, attrs, inputs):
    data, indices, updates = inputs
    return relax_op().scatter_nd(data, relax_op().astype(indices, "int64"), updates, _REDUCTION[attrs.reduction])


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
