"""MXNet export of ``dyn_resize``: the run-time taps of nnvm_bridge.ops.runtime_resize, as MXNet ops.

MXNet learns the lengths when the symbol is bound: an input length is read with ``shape_array``, an output
length from a tensor of the graph that has it (``_contrib_arange_like``), or, for k times an input length
(``scale_factor=2``), from that axis repeated k times. An output length that no tensor has gets a ShapeError
asking for shape=.
"""
from __future__ import annotations

from nnvm_bridge.ir.symbolic import format_dim, is_symbolic
from nnvm_bridge.ops.runtime_resize import resize_axis, resized_axes

from ..context import mx_dtype
from ..registry import MXNET_EXPORT
from .dynamic import element_f32, needs_shape_error, run_time_positions

# (tensor op, op with a float on the right, op with a float on the left)
_BINARY = {"add": ("broadcast_add", "_plus_scalar", "_plus_scalar"),
           "sub": ("broadcast_sub", "_minus_scalar", "_rminus_scalar"),
           "mul": ("broadcast_mul", "_mul_scalar", "_mul_scalar"),
           "div": ("broadcast_div", "_div_scalar", "_rdiv_scalar")}


class _MXNetOps:
    """The tensor-ops adapter resize_axis computes with; lengths are float32 (1,) tensors."""

    def __init__(self, ctx, node, data, data_shape, dtype, sizes=None, out_shape=None):
        self.ctx, self.node, self.data, self.data_shape, self.dtype = ctx, node, data, data_shape, dtype
        self.sizes, self.out_shape = sizes, out_shape  # the int64 sizes tensor (None with scales) and its dims

    def _add(self, op, inputs, attrs=None):
        return self.ctx.add(op, f"{self.node.name}_{op.strip('_')}", inputs, attrs)

    def _binary(self, kind, a, b):
        both, right, left = _BINARY[kind]
        if isinstance(b, float):
            return self._add(right, [a], {"scalar": b})
        if isinstance(a, float):
            return self._add(left, [b], {"scalar": a})
        return self._add(both, [a, b])

    def _source(self, d):
        """(entry, axis, k): a tensor whose ``axis`` has the length d / k (k = 1 where a tensor has d)."""
        src = self.ctx.dim_source(d)
        if src is not None:
            return src[0], src[1], 1
        for axis, n in enumerate(self.data_shape):
            k = d // n
            if isinstance(k, int) and k > 1 and k * n == d:
                return self.data, axis, k
        if self.sizes is not None and d in self.out_shape:  # a length only the sizes tell: cut at run time
            a = self.out_shape.index(d)
            name = f"{self.node.name}_size{a}"
            steps = run_time_positions(self.ctx, self.node, element_f32(self.ctx, self.node, self.sizes, a, name), name)
            self.ctx.note_dims([d], steps)
            return steps, 0, 1
        raise needs_shape_error(self.node, f"no tensor of the graph has the output length {format_dim(d)}")

    def length(self, d):
        if not is_symbolic(d):
            return self._add("_full", [], {"shape": (1,), "value": float(d), "dtype": "float32"})
        entry, axis, k = self._source(d)
        shape = self._add("shape_array", [entry])
        n = self._add("Cast", [self._add("slice_axis", [shape], {"axis": 0, "begin": axis, "end": axis + 1})],
                      {"dtype": "float32"})
        return n if k == 1 else self._binary("mul", n, float(k))

    def arange(self, m):
        if not is_symbolic(m):
            return self._add("_arange", [], {"start": 0, "stop": int(m), "dtype": "float32"})
        entry, axis, k = self._source(m)
        steps = self._add("_contrib_arange_like", [entry], {"axis": axis})
        if k > 1:  # k * n positions: the n steps repeated k times, counted again
            repeated = self._add("repeat", [steps], {"repeats": k, "axis": 0})
            steps = self._add("_contrib_arange_like", [repeated], {"axis": 0})
        return self._add("Cast", [steps], {"dtype": "float32"})  # arange_like keeps its input's dtype

    def add(self, a, b):
        return self._binary("add", a, b)

    def sub(self, a, b):
        return self._binary("sub", a, b)

    def mul(self, a, b):
        return self._binary("mul", a, b)

    def div(self, a, b):
        return self._binary("div", a, b)

    def floor(self, x):
        return self._add("floor", [x])

    def ceil(self, x):
        return self._add("ceil", [x])

    def maximum(self, x, v):
        return self._add("_maximum_scalar", [x], {"scalar": v})

    def greater(self, x, v):
        return self._add("_greater_scalar", [x], {"scalar": v})

    def greater_equal(self, x, v):
        return self._add("_greater_equal_scalar", [x], {"scalar": v})

    def take(self, x, index, axis):
        return self._add("take", [x, index], {"axis": axis, "mode": "clip"})

    def along(self, w, axis, rank):
        if self.dtype != "float32":
            w = self._add("Cast", [w], {"dtype": mx_dtype(self.dtype)})
        return self._add("Reshape", [w], {"shape": (-1,) + (1,) * (rank - axis - 1)})


@MXNET_EXPORT.register("dyn_resize")
def _dyn_resize(ctx, node, attrs, inputs):
    data, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if data is None or out is None:
        raise needs_shape_error(node, "unknown shapes")
    t = _MXNetOps(ctx, node, inputs[0], data, ctx.dtype(node.inputs[0]), inputs[1] if len(inputs) > 1 else None,
                  list(out))
    y = inputs[0]
    for axis in resized_axes(data, out, attrs.scales):
        scale = None if attrs.scales is None else attrs.scales[axis]
        y = resize_axis(t, y, axis, len(data), data[axis], out[axis], scale, attrs)
    return [y]
