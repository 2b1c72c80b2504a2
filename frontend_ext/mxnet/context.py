"""The ``ctx`` an MXNet export handler gets: the symbol JSON under construction.

Nodes get unique names (``name``, ``name_1``, ...), attribute values are written in dmlc's
canonical text form, and constants a handler needs become parameters of the exported model.
"""
from __future__ import annotations

import numpy as np

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


class MXNetEmitter:
    def __init__(self, graph, params):
        self.graph = graph
        self.params = params
        self.nodes = []
        self.names = NameAllocator()
        self.param_overrides = {}  # constants the handlers added: name -> array
        self.dim_sources = {}  # symbolic Dim -> (MXNet entry, axis): a tensor that has that length there

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
        nid = len(self.nodes)
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
        name = self.names.fresh(name)
        value = np.asarray(value)
        self.param_overrides[name] = value
        return self.var(name, param_hints(value))

    def shape(self, entry):
        return self.graph.shape_of(entry)

    def dtype(self, entry):
        return self.graph.dtype_of(entry)


def same(op, **fixed):
    """A handler writing the one MXNet op ``op`` (with the ``fixed`` attrs) for an IR op."""
    def fn(ctx, node, attrs, inputs):
        return [ctx.add(op, node.name, inputs, dict(fixed))]
    return fn
