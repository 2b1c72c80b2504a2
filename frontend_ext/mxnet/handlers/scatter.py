"""MXNet export of the scatter/gather ops (ONNX semantics) and einsum.

MXNet's ``scatter_nd`` writes updates into zeros of a fixed ``shape`` attribute and ``_backward_gather_nd``
sums them there; a scatter is then a select (reduction none) or a sum (add) with the data.  Elementwise
scatters and gathers address every element by its full coordinates, which MXNet takes first-axis-major.
Where the shapes have symbolic dims, a scatter without reduction becomes ``_contrib_index_copy`` of rows:
the data seen as rows of its trailing (unindexed) dims, each index turned into its row number from the
data's run-time shape (``shape_array``), whose output shape is the data's at bind time; with reduction add,
a weighted ``_npi_bincount`` of the elements' flat positions sums them (its length computed at run time);
GatherElements is ``take`` of the flattened data at such numbers.  What MXNet cannot express (mul/max/min
reductions) is an error that says so.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import ShapeError, unsupported_feature
from nnvm_bridge.ir.symbolic import is_static

from ..context import mx_dtype
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


def _has_symbolic_dims(ctx, node):
    shapes = [ctx.shape(e) for e in node.inputs]
    return any(s is not None and not is_static(s) for s in shapes)


def _row_numbers(ctx, node, coords, dims):
    """The row of each coordinate tuple in data seen as rows of its dims after ``len(coords)``: Horner's
    ((c0 * d1 + c1) * d2 + c2) ..., the coordinates int64 entries that broadcast together (a negative one counts
    from the end), ``dims`` the data's run-time shape."""
    def dim(j):
        return ctx.add("slice_axis", f"{node.name}_dim{j}", [dims], {"axis": 0, "begin": j, "end": j + 1})

    def wrapped(j, c):
        below = ctx.add("_lesser_scalar", f"{node.name}_neg{j}", [c], {"scalar": 0.0})
        return ctx.add("broadcast_add", f"{node.name}_c{j}", [c, ctx.add("broadcast_mul", f"{node.name}_back{j}",
                                                                         [below, dim(j)])])
    row = wrapped(0, coords[0])
    for j, c in enumerate(coords[1:], 1):
        row = ctx.add("broadcast_add", f"{node.name}_row{j}",
                      [ctx.add("broadcast_mul", f"{node.name}_scaled{j}", [row, dim(j)]), wrapped(j, c)])
    return ctx.add("Reshape", f"{node.name}_rows", [row], {"shape": (-1,)})


def _add_at_rows(ctx, node, data, rows, updates, trailing):
    """``data`` (seen as rows of its last ``trailing`` dims) plus the rows of ``updates`` summed at rows
    ``rows``: a weighted bincount of every update element's flat position, whose length (the data's size, made
    so by one more position, the last, of weight 0) MXNet computes at run time."""
    spec = {"shape": (-1,) + (0,) * trailing, "reverse": True}
    data_rows = ctx.add("Reshape", f"{node.name}_data_rows", [data], spec)
    update_rows = ctx.add("Reshape", f"{node.name}_update_rows", [updates], spec)
    # the flat position of each element of a row, int64: a float count would lose them past 2**24
    row = ctx.add("Reshape", f"{node.name}_row0", [ctx.add("slice_axis", f"{node.name}_first", [
        ctx.add("Cast", f"{node.name}_idata", [data_rows], {"dtype": "int64"})], {"axis": 0, "begin": 0, "end": 1})],
        {"shape": (-1,)})
    width = ctx.add("shape_array", f"{node.name}_width", [row])
    offsets = ctx.add("reshape_like", f"{node.name}_offsets", [
        ctx.add("_contrib_arange_like", f"{node.name}_within", [row], {"axis": 0}),
        ctx.add("slice_axis", f"{node.name}_like_row", [update_rows], {"axis": 0, "begin": 0, "end": 1})])
    starts = ctx.add("broadcast_mul", f"{node.name}_starts", [rows, width])
    for a in range(trailing):
        starts = ctx.add("expand_dims", f"{node.name}_starts{a}", [starts], {"axis": 1})
    positions = ctx.add("Reshape", f"{node.name}_positions", [
        ctx.add("broadcast_add", f"{node.name}_at", [starts, offsets])], {"shape": (-1,)})
    size = ctx.add("size_array", f"{node.name}_size", [data])
    last = ctx.add("Cast", f"{node.name}_last", [ctx.add("_minus_scalar", f"{node.name}_last0", [size],
                                                         {"scalar": 1.0})], {"dtype": "int64"})
    weights = ctx.add("Concat", f"{node.name}_weights", [
        ctx.add("Reshape", f"{node.name}_flat_updates", [updates], {"shape": (-1,)}),
        ctx.add("zeros_like", f"{node.name}_no_weight", [ctx.add("Cast", f"{node.name}_last_w", [last], {
            "dtype": mx_dtype(ctx.dtype(node.inputs[2]))})])], {"dim": 0, "num_args": 2})
    summed = ctx.add("_npi_bincount", f"{node.name}_sum", [
        ctx.add("Concat", f"{node.name}_all_positions", [positions, last], {"dim": 0, "num_args": 2}), weights],
        {"has_weights": True, "minlength": 0})
    return ctx.add("elemwise_add", node.name, [data, ctx.add("reshape_like", f"{node.name}_summed", [summed, data])])


def _element_row_numbers(ctx, node, data, indices, axis):
    """The flat position in ``data`` of each element of ``indices`` (its own position, the index along
    ``axis``), computed at run time."""
    rank = len(ctx.shape(node.inputs[1]))
    index = ctx.add("Cast", f"{node.name}_idx", [indices], {"dtype": "int64"})
    coords = []
    for a in range(rank):
        if a == axis:
            coords.append(index)
            continue
        along = ctx.add("_contrib_arange_like", f"{node.name}_pos{a}", [index], {"axis": a})
        coords.append(ctx.add("Reshape", f"{node.name}_pos{a}_b", [along],
                              {"shape": (1,) * a + (-1,) + (1,) * (rank - a - 1)}))
    return _row_numbers(ctx, node, coords, ctx.add("shape_array", f"{node.name}_dims", [data]))


def _copy_rows(ctx, node, data, rows, updates, trailing):
    """``data`` seen as rows of its last ``trailing`` dims, with rows ``rows`` replaced by those of
    ``updates``; every shape is read at bind time. One zero row more goes to both sides and is cut off again:
    MXNet's index_copy divides by the number of rows copied, and a data-dependent count can be 0 (SIGFPE)."""
    spec = {"shape": (-1,) + (0,) * trailing, "reverse": True}
    data_rows = ctx.add("Reshape", f"{node.name}_data_rows", [data], spec)
    axes = tuple(range(1, trailing + 1))
    spare = ctx.add("_zeros", f"{node.name}_spare0", [], {"shape": (1,) * (trailing + 1),
                                                         "dtype": mx_dtype(ctx.dtype(node.inputs[0]))})
    if axes:
        spare = ctx.add("broadcast_like", f"{node.name}_spare", [spare, data_rows],
                        {"lhs_axes": axes, "rhs_axes": axes})
    row_count = ctx.add("shape_array", f"{node.name}_row_count", [data_rows])
    spare_row = ctx.add("slice_axis", f"{node.name}_spare_at", [row_count], {"axis": 0, "begin": 0, "end": 1})
    written = ctx.add("_contrib_index_copy", f"{node.name}_copy", [
        ctx.add("Concat", f"{node.name}_data_and_spare", [data_rows, spare], {"dim": 0, "num_args": 2}),
        ctx.add("Concat", f"{node.name}_rows_and_spare", [rows, spare_row], {"dim": 0, "num_args": 2}),
        ctx.add("Concat", f"{node.name}_updates_and_spare", [
            ctx.add("Reshape", f"{node.name}_update_rows", [updates], spec), spare], {"dim": 0, "num_args": 2})])
    written = ctx.add("slice_axis", f"{node.name}_no_spare", [written], {"axis": 0, "begin": 0, "end": -1})
    return ctx.add("reshape_like", node.name, [written, data])


def _run_time_scatter_nd(ctx, node, attrs, data, indices, updates):
    rank, k = len(ctx.shape(node.inputs[0])), ctx.shape(node.inputs[1])[-1]
    flat = ctx.add("Reshape", f"{node.name}_flat", [ctx.add("Cast", f"{node.name}_idx", [indices],
                                                             {"dtype": "int64"})], {"shape": (-1, k)})
    coords = [ctx.add("slice_axis", f"{node.name}_col{j}", [flat], {"axis": 1, "begin": j, "end": j + 1})
              for j in range(k)]
    rows = _row_numbers(ctx, node, coords, ctx.add("shape_array", f"{node.name}_dims", [data]))
    if attrs.reduction == "add":
        return _add_at_rows(ctx, node, data, rows, updates, rank - k)
    return _copy_rows(ctx, node, data, rows, updates, rank - k)


def _check_reduction(ctx, node, attrs):
    if attrs.reduction not in ("none", "add"):
        raise unsupported_feature(node.op, node.name, f"reduction={attrs.reduction}: MXNet has no scatter that "
                                  "multiplies or takes a max/min; compile it with TVM or keep it in ONNX",
                                  direction="MXNet export")


@MXNET_EXPORT.register("scatter_nd")
def _scatter_nd(ctx, node, attrs, inputs):
    _check_reduction(ctx, node, attrs)
    data, indices, updates = inputs
    if _has_symbolic_dims(ctx, node):
        return [_run_time_scatter_nd(ctx, node, attrs, data, indices, updates)]
    rank = len(_static(ctx, node, node.inputs[1], "indices"))
    coords = ctx.add("transpose", f"{node.name}_coords", [indices], {"axes": (rank - 1,) + tuple(range(rank - 1))})
    return [_scatter(ctx, node, attrs, data, coords, updates)]


@MXNET_EXPORT.register("scatter_elements")
def _scatter_elements(ctx, node, attrs, inputs):
    _check_reduction(ctx, node, attrs)
    data, indices, updates = inputs
    if _has_symbolic_dims(ctx, node):
        rows = _element_row_numbers(ctx, node, data, indices, attrs.axis)
        if attrs.reduction == "add":
            return [_add_at_rows(ctx, node, data, rows, updates, 0)]
        return [_copy_rows(ctx, node, data, rows, updates, 0)]
    return [_scatter(ctx, node, attrs, data, _element_coords(ctx, node, indices, attrs.axis), updates)]


@MXNET_EXPORT.register("gather_elements")
def _gather_elements(ctx, node, attrs, inputs):
    if _has_symbolic_dims(ctx, node):
        data, indices = inputs
        flat = ctx.add("Reshape", f"{node.name}_flat", [data], {"shape": (-1,)})
        picked = ctx.add("take", f"{node.name}_picked", [flat, _element_row_numbers(ctx, node, data, indices,
                                                                                     attrs.axis)])
        return [ctx.add("reshape_like", node.name, [picked, indices])]
    coords = _element_coords(ctx, node, inputs[1], attrs.axis)
    return [ctx.add("gather_nd", node.name, [inputs[0], coords])]


@MXNET_EXPORT.register("einsum")
def _einsum(ctx, node, attrs, inputs):
    return [ctx.add("_npi_einsum", node.name, inputs, {"subscripts": attrs.equation.replace(" ", ""),
                                                       "num_args": len(inputs)})]
