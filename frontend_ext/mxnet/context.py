"""The ``ctx`` an MXNet export handler gets: the symbol JSON under construction.

Nodes get unique names (``name``, ``name_1``, ...), attribute values are written in dmlc's
canonical text form, and constants a handler needs become parameters of the exported model.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import ShapeError
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.attrs import format_literal
from nnvm_bridge.ir.names import NameAllocator
from nnvm_bridge.ir.symbolic import is_symbolic


def mx_dtype(name):
    """The MXNet dtype for an IR dtype: MXNet's legacy executor has no bool, so bool is uint8 (0/1)."""
    name = _dt.canonical(name)
    return "uint8" if name == "bool" else name


def param_hints(value) -> dict:
    """``__shape__``/``__dtype__`` of a variable that holds ``value``."""
    value = np.asarray(value)
    return {"__shape__": format_literal(tuple(int(d) for d in value.shape)),
            "__dtype__": str(_dt.to_mxnet(mx_dtype(_dt.canonical(value.dtype))))}


# legacy Reshape's special values -> numpy-extension reshape's (0 copy, -2 copy the rest, -3 merge, -4 split)
_NPX_CODES = {0: -2, -2: -4, -3: -5, -4: -6}


# MXNet ops whose oneDNN kernels may write a blocked memory layout, those that keep their input's, and those
# that fail on one (slicing channels across a block): these get their input reordered by a legacy Reshape
_ONEDNN_LAYOUT_MAKERS = frozenset({"Convolution", "Deconvolution", "_sg_mkldnn_conv"})
_ONEDNN_LAYOUT_KEEPERS = frozenset({
    "Activation", "LeakyReLU", "relu", "sigmoid", "tanh", "erf", "exp", "log", "sqrt", "square", "abs",
    "negative", "_copy", "identity", "Cast", "clip", "BatchNorm", "Pooling", "LRN", "add_n", "ElementWiseSum",
    "Concat", "concat", "elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_plus", "_minus", "_mul",
    "broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div", "_plus_scalar", "_minus_scalar",
    "_rminus_scalar", "_mul_scalar", "_div_scalar", "_rdiv_scalar", "_power_scalar", "_maximum_scalar",
    "_minimum_scalar"})
_ONEDNN_LAYOUT_REFUSERS = frozenset({"slice", "slice_axis"})


def _npx_reshape(attrs):
    """``Reshape`` (or Flatten) written as ``_npx_reshape``, the same reshape in other codes: MXNet's oneDNN
    Reshape and Flatten fail on an empty float32 array, which a data-dependent op may give. Not on a tensor
    that may be in a oneDNN layout (a Convolution's output): ``_npx_reshape`` runs in place and keeps that
    layout under the new shape, which oneDNN's transpose, slice and pooling then fail on and its concat and
    softmax misread; the legacy ops reorder it first (and a Convolution fails on an empty input already)."""
    spec, out, i = list(attrs["shape"]), [], 0
    while i < len(spec):
        if spec[i] == -4:  # a split: its two sizes are plain numbers (or -1)
            out += [-6, *spec[i + 1:i + 3]]
            i += 3
            continue
        out.append(_NPX_CODES.get(spec[i], spec[i]))
        i += 1
    rest = {k: v for k, v in attrs.items() if k != "shape"}
    return "_npx_reshape", {"newshape": tuple(out), **rest}


def dfs_inputs(nodes, heads):
    """The variable nodes in nnvm's IndexedGraph order: post-order depth first from each head in turn."""
    order, seen = [], set()
    for head in heads:
        stack = [(head[0], False)]
        while stack:
            nid, done = stack.pop()
            if done:
                if nodes[nid]["op"] == "null":
                    order.append(nid)
                continue
            if nid in seen:
                continue
            seen.add(nid)
            stack.append((nid, True))
            stack.extend((i[0], False) for i in reversed(nodes[nid]["inputs"]))
    return order


class MXNetEmitter:
    def __init__(self, graph, params):
        self.graph = graph
        self.params = params
        self.nodes = []
        self.onednn_layout = set()  # node ids whose output may be in a oneDNN blocked layout
        self.names = NameAllocator()
        self.param_overrides = {}  # constants the handlers added: name -> array
        self.dim_sources = {}  # symbolic Dim -> (MXNet entry, axis): a tensor that has that length there
        # emit_subgraph(body, IR shapes, IR dtypes) -> (subgraph JSON, formal of each input): set by to_mxnet
        self.emit_subgraph = None

    def note_dims(self, shape, entry):
        """Remember ``entry`` (whose IR shape is ``shape``) as the first tensor holding each of its symbolic
        dims: an op whose length comes from a tensor at run time takes it from there (``dim_source``)."""
        for axis, d in enumerate(shape or ()):
            if is_symbolic(d):
                self.dim_sources.setdefault(d, (entry, axis))

    def dim_source(self, d):
        """(entry, axis) of a tensor whose axis has the symbolic length ``d``, or None."""
        return self.dim_sources.get(d)

    def add(self, op, name, inputs, attrs=None):
        """Append an MXNet op node named after ``name``; returns its first output entry."""
        blocked = any(i[0] in self.onednn_layout for i in inputs)
        if blocked and op in _ONEDNN_LAYOUT_REFUSERS:
            inputs = [self.add("Reshape", f"{name}_plain_layout", [inputs[0]], {"shape": (-2,)}), *inputs[1:]]
            blocked = False
        if op in ("Reshape", "Flatten") and not blocked:
            op, attrs = _npx_reshape(attrs if op == "Reshape" else {"shape": (0, -1)})
        nid = len(self.nodes)
        if op in _ONEDNN_LAYOUT_MAKERS or (blocked and op in _ONEDNN_LAYOUT_KEEPERS):
            self.onednn_layout.add(nid)
        self.nodes.append({"op": op, "name": self.names.fresh(name),
                           "attrs": {k: format_literal(v) for k, v in (attrs or {}).items() if v is not None},
                           "inputs": [[i[0], i[1], 0] for i in inputs]})
        return (nid, 0)

    def var(self, name, attrs=None):
        nid = len(self.nodes)
        self.names.reserve(name)
        node = {"op": "null", "name": name, "inputs": []}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        return (nid, 0)

    def const(self, name, value):
        value = np.asarray(value)
        name = self.names.fresh(name)
        self.param_overrides[name] = value
        return self.var(name, param_hints(value))

    def empty(self, name, value, seed):
        """An empty constant (a branch's "no detections", optimum's stand-in for a cache the branch does not
        compute), which cannot be a parameter (MXNet reads a 0 dim as unknown): the run-time nonzero of zeros
        shaped like the one-element ``seed``, (0, rank), made (0,) or (0, m), or reshaped to the value's shape
        under numpy shape semantics. MXNet 1.9 computes on few empty arrays, so this can only fail later and
        more clearly: in the branch that is taken."""
        if value.ndim == 0 or value.shape[0] != 0:
            raise ShapeError(f"MXNet has no empty arrays of shape {value.shape} (a 0 dim reads as unknown)",
                             node=name)
        rank = value.shape[1] if value.ndim == 2 and value.shape[1] else 1
        zero = self.add("Reshape", f"{name}_zero", [self.add("zeros_like", f"{name}_zeros", [seed])],
                        {"shape": (1,) * rank})
        rows = self.add("_npx_nonzero", f"{name}_rows", [zero])
        if value.ndim == 1:
            rows = self.add("squeeze", f"{name}_squeeze", [rows], {"axis": (1,)})
        elif value.shape[1:] != (rank,):
            rows = self.add("_npx_reshape", f"{name}_shaped", [rows], {"newshape": value.shape})
        return self.add("Cast", name, [rows], {"dtype": mx_dtype(_dt.canonical(value.dtype))})

    def spare_row(self, name, x, first=False):
        """``x`` with one more row of zeros along axis 0 (after its rows, or before them: ``first``), also when
        it has no rows: MXNet 1.9 fails on some empty inputs (``_contrib_boolean_mask`` aborts the process;
        ``gather_nd`` of no indices into data of no rows fails its bound check under Gluon's CachedOp), and the
        handlers give it one row it never uses."""
        spare = self.add("sum", f"{name}_spare", [self.add("zeros_like", f"{name}_zeros", [x])],
                         {"axis": 0, "keepdims": True})  # (1, ...) zeros, also from (0, ...)
        return self.add("Concat", f"{name}_padded", [spare, x] if first else [x, spare], {"dim": 0, "num_args": 2})

    def shape(self, entry):
        return self.graph.shape_of(entry)

    def dtype(self, entry):
        return self.graph.dtype_of(entry)


def same(op, **fixed):
    """A handler writing the one MXNet op ``op`` (with the ``fixed`` attrs) for an IR op."""
    def fn(ctx, node, attrs, inputs):
        return [ctx.add(op, node.name, inputs, dict(fixed))]
    return fn
