"""An opset-aware ONNX graph builder.

Handlers call :meth:`Builder.op` to add nodes and :meth:`Builder.const` for small constant
tensors, and use the helpers (``unsqueeze``, ``reduce``, ``split``, ``clip``, ``pad``,
``resize``, ``softmax`` ...) that hide where ONNX moved attributes into inputs between opsets.
Names are deterministic: the same graph always yields the same value and node names.
"""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.names import NameAllocator
from nnvm_bridge.ir.symbolic import SymbolicDimError, is_symbolic

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def onnx_dtype(name) -> int:
    return _dt.to_onnx(name)


class Builder:
    def __init__(self, opset: int, dynamic_batch: bool = False):
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.nodes = []
        self.initializers = []
        self.functions = {}  # model-local functions (local_functions.py), by body
        self._values = NameAllocator()
        self._node_names = NameAllocator()
        self._const_cache = {}
        self.scope = "graph"

    # ---- names -----------------------------------------------------------------------------
    def reserve(self, name: str):
        self._values.reserve(name)

    def fresh(self, hint: str) -> str:
        """A value name not used before: ``hint``, else ``hint_1``, ``hint_2``, ..."""
        return self._values.fresh(hint)

    def _node_name(self, op_type: str) -> str:
        return self._node_names.fresh(f"{self.scope}/{op_type}")

    # ---- nodes and constants -----------------------------------------------------------------
    def op(self, op_type: str, inputs, n_out: int = 1, outputs=None, domain: str = "", **attrs):
        """Add a node; returns its output name (one output) or list of names."""
        if outputs is None:
            outputs = [self.fresh(f"{self.scope}_{op_type}" + (f"_{i}" if n_out > 1 else "")) for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = helper.make_node(op_type, list(inputs), list(outputs), name=self._node_name(op_type), domain=domain,
                                **attrs)
        self.nodes.append(node)
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def const(self, value, dtype=None) -> str:
        """A constant initializer (written from raw bytes); identical small constants are shared."""
        arr = np.asarray(value, dtype=None if dtype is None else _dt.to_numpy(dtype))
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(f"{self.scope}_const")
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        self._const_cache[key] = name
        return name

    def i64(self, values) -> str:
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1))

    def scalar(self, value, dtype) -> str:
        return self.const(np.asarray(value, dtype=_dt.to_numpy(dtype)))

    # ---- schema moves hidden here ------------------------------------------------------------
    def unsqueeze(self, x, axes):
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.i64(axes)])
        return self.op("Unsqueeze", [x], axes=axes)

    def squeeze(self, x, axes):
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Squeeze", [x] + ([self.i64(axes)] if axes else []))
        return self.op("Squeeze", [x], axes=axes or None)

    def reduce(self, op_type, x, axes, keepdims: bool):
        """Reduce* over ``axes`` (a non-empty list); axes became an input at 13 (Sum) / 18 (others)."""
        axes = [int(a) for a in axes]
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if as_input:
            return self.op(op_type, [x, self.i64(axes)], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=axes, keepdims=int(keepdims))

    def split(self, x, sizes, axis: int):
        sizes = [int(s) for s in sizes]
        n = len(sizes)
        if n == 1:
            return [self.op("Identity", [x])]
        if self.opset >= 13:
            out = self.op("Split", [x, self.i64(sizes)], n_out=n, axis=axis)
        else:
            out = self.op("Split", [x], n_out=n, axis=axis, split=sizes)
        return out

    def clip(self, x, lo, hi, dtype):
        ins = [x, "" if lo is None else self.scalar(lo, dtype)]
        if hi is not None:
            ins.append(self.scalar(hi, dtype))
        if self.opset < 12 and not _dt.is_float(dtype):
            # Clip-11 takes floats only: spell it with Where for integers
            y = x
            if lo is not None:
                lo_c = self.scalar(lo, dtype)
                y = self.op("Where", [self.op("Less", [y, lo_c]), lo_c, y])
            if hi is not None:
                hi_c = self.scalar(hi, dtype)
                y = self.op("Where", [self.op("Greater", [y, hi_c]), hi_c, y])
            return y
        return self.op("Clip", ins)

    def pad(self, x, begins, ends, value, dtype, mode="constant"):
        pads = self.i64(list(begins) + list(ends))
        ins = [x, pads]
        if mode == "constant":
            ins.append(self.scalar(value, dtype))
        return self.op("Pad", ins, mode=mode)

    def resize(self, x, *, scales=None, sizes=None, sizes_value=None, mode="nearest", coord="asymmetric",
               nearest_mode="floor", **attrs):
        """Resize with scales (floats, one per dim) or sizes (ints, one per dim); ``attrs``: more Resize
        attributes (cubic_coeff_a, exclude_outside)."""
        # Resize-11 needs roi (and empty scales when sizes are given); from 13 they may be omitted
        empty_f = self.const(np.zeros((0,), np.float32)) if self.opset < 13 else ""
        if scales is not None:
            ins = [x, empty_f, self.const(np.asarray(scales, np.float32))]
        else:
            sizes_value = sizes_value or self.i64(sizes)
            ins = [x, empty_f, empty_f, sizes_value]
        return self.op("Resize", ins, mode=mode, coordinate_transformation_mode=coord,
                       nearest_mode=nearest_mode if mode == "nearest" else None, **attrs)

    def slice(self, x, starts, ends, axes, steps=None):
        ins = [x, self.i64(starts), self.i64(ends), self.i64(axes)]
        if steps is not None:
            ins.append(self.i64(steps))
        return self.op("Slice", ins)

    def cast(self, x, dtype):
        return self.op("Cast", [x], to=onnx_dtype(dtype))

    def transpose(self, x, perm):
        return self.op("Transpose", [x], perm=[int(p) for p in perm])

    def softmax(self, op_type, x, axis: int, ndim: int):
        """Softmax/LogSoftmax over one axis; before opset 13 the op coerces to 2-D, so move the
        axis last and use axis=ndim-1 (which then equals a softmax over that single axis)."""
        axis = axis % ndim if ndim else 0
        if self.opset >= 13:
            return self.op(op_type, [x], axis=axis)
        if axis == ndim - 1:
            return self.op(op_type, [x], axis=axis)
        perm = [i for i in range(ndim) if i != axis] + [axis]
        inv = [perm.index(i) for i in range(ndim)]
        y = self.op(op_type, [self.transpose(x, perm)], axis=ndim - 1)
        return self.transpose(y, inv)

    def reshape(self, x, target, src_shape=None):
        """Reshape to a static target shape; with a dynamic batch the batch dim is 0 (copy) when it
        is preserved, else -1, so no batch size is baked into the model."""
        target = _reshape_target(target, src_shape)
        if self.dynamic_batch and target and src_shape:
            if len(src_shape) > 0 and target[0] == src_shape[0]:
                target[0] = 0
            elif -1 not in target:
                target[0] = -1
        return self.op("Reshape", [x, self.i64(target)])

    def bcast_shape(self, values_shape, ndim, axis):
        """Shape that lays a 1-D per-channel vector along ``axis`` of an ndim tensor."""
        shape = [1] * (ndim - axis)
        shape[0] = int(values_shape)
        return shape


def _reshape_target(target, src_shape):
    """A Reshape target as ints: a symbolic dim becomes 0 where it copies the input's dim at the same
    position, else -1 (once); SymbolicDimError when a second symbolic dim would need -1."""
    out = []
    for k, d in enumerate(target):
        if not is_symbolic(d):
            out.append(int(d))
        elif src_shape is not None and k < len(src_shape) and src_shape[k] == d:
            out.append(0)
        elif -1 not in out and sum(is_symbolic(x) and not (src_shape is not None and i < len(src_shape)
                                                          and src_shape[i] == x) for i, x in enumerate(target)) == 1:
            out.append(-1)
        else:
            raise SymbolicDimError(f"cannot write a Reshape to {tuple(target)} with several new symbolic dims")
    return out
