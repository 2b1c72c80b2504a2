"""MXNet export of the scatter/gather ops (ONNX semantics) and einsum.

MXNet's ``scatter_nd`` writes updates into zeros of a fixed ``shape`` attribute and ``_backward_gather_nd``
sums them there; a scatter is then a select (reduction none) or a sum (add) with the data.  Elementwise
scatters and gathers address every element by its full coordinates, which MXNet takes first-axis-major.
What MXNet cannot express (mul/max/min reductions, symbolic shapes) is an error that says so.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import ShapeError, unsupported_feature
from nnvm_bridge.ir.symbolic import is_static

from ..registry import MXNET_EXPORT


def _static(ctx, node, entry, what):
    shape = ctx.shape(entry)
    if shape is None or not is_static(shape):
        raise ShapeError(f"MXNet's scatter/gather ops need a fixed {what} shape (it has symbolic dims); give the "
                         "input dims with shape={input: dims}", node=node.name, op=node.op)
    return tuple(int(d) for d in shape)


def _scatter(ctx, node, attrs, data, coords, updates):
    """data with updates scattered at MXNet-layout coords (m, ...), by reduction none or add."""
    shape = _static(ctx, node, node.inputs[0], "data")
    if attrs.reduction == "add":
        summed = ctx.add("_backward_gather_nd", f"{node.name}_sum", [updates, coords], {"shape": shape})
        return ctx.add("elemwise_add", node.name, [data, summed])
    ones = ctx.add("ones_like", f"{node.name}_ones", [updates])
    hit = ctx.add("scatter_nd", f"{node.name}_hit", [ones, coords], {"shape": shape})
    written = ctx.add("scatter_nd", f"{node.name}_written", [updates, coords], {"shape": shape})
    return ctx.add("where", node.name, [hit, written, data])


def _element_coords(ctx, node, indices, axis):
    """The (rank, *indices.shape) int64 coordinates of every element of ``indices`` (its own position, the
    index along ``axis``)."""
    ishape = _static(ctx, node, node.inputs[1], "indices")
    grid = np.indices(ishape, dtype=np.int64)
    along = ctx.add("expand_dims", f"{node.name}_along", [ctx.add("Cast", f"{node.name}_idx", [indices],
                                                                  {"dtype": "int64"})], {"axis": 0})
    parts = ([ctx.const(f"{node.name}_before", grid[:axis])] if axis else []) + [along] \
        + ([ctx.const(f"{node.name}_after", grid[axis + 1:])] if axis + 1 < len(ishape) else [])
    if len(parts) == 1:
        return along
    return ctx.add("Concat", f"{node.name}_coords", parts, {"dim": 0, "num_args": len(parts)})


def _check_reduction(node, attrs):
    if attrs.reduction not in ("none", "add"):
        raise unsupported_feature(node.op, node.name, f"reduction={attrs.reduction}: MXNet has no scatter that "
                                  "multiplies or takes a max/min; compile it with TVM or keep it in ONNX",
                                  direction="MXNet export")


@MXNET_EXPORT.register("scatter_nd")
def _scatter_nd(ctx, node, attrs, inputs):
    _check_reduction(node, attrs)
    data, indices, updates = inputs
    rank = len(_static(ctx, node, node.inputs[1], "indices"))
    coords = ctx.add("transpose", f"{node.name}_coords", [indices], {"axes": (rank - 1,) + tuple(range(rank - 1))})
    return [_scatter(ctx, node, attrs, data, coords, updates)]


@MXNET_EXPORT.register("scatter_elements")
def _scatter_elements(ctx, node, attrs, inputs):
    _check_reduction(node, attrs)
    data, indices, updates = inputs
    return [_scatter(ctx, node, attrs, data, _element_coords(ctx, node, indices, attrs.axis), updates)]


@MXNET_EXPORT.register("gather_elements")
def _gather_elements(ctx, node, attrs, inputs):
    coords = _element_coords(ctx, node, inputs[1], attrs.axis)
    return [ctx.add("gather_nd", node.name, [inputs[0], coords])]


@MXNET_EXPORT.register("einsum")
def _einsum(ctx, node, attrs, inputs):
    return [ctx.add("_npi_einsum", node.name, inputs, {"subscripts": attrs.equation.replace(" ", ""),
                                                       "num_args": len(inputs)})]
