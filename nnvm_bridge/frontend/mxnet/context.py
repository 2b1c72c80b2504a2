"""The conversion context handed to every MXNet op handler.

It builds IR nodes (canonical attribute strings from the op table), infers each new node's
shapes and dtypes as it is emitted (one pass over the graph, so handlers can ask for input
shapes cheaply), owns the parameter dict, and checks weights against the shapes an op expects.
"""
from __future__ import annotations

import numpy as np

from ...errors import AttributeParseError, BridgeError, InvalidModelError, ParamsError, ShapeError
from ...ir import dtypes as _dt
from ...ir.attrs import parse_shape
from ...ir.graph import Entry, Node
from ...ir.names import NameAllocator
from ...ops import get_op

# A stand-in for "to the end of the axis" in strided_slice ends.
BIG = 2 ** 31 - 1


class ConvertContext:
    def __init__(self, params: dict, params_given: bool, shape: dict, dtype, file=None):
        self.params = params
        self.params_given = params_given
        self.user_shape = shape
        self.user_dtype = dtype
        self.file = file
        self.node_name = None  # the MXNet node being converted (for error messages)
        self.op_name = None
        self._shape = {}  # (id(node), index) -> tuple | None
        self._dtype = {}
        self._names = NameAllocator()
        self.weight_vars = set()  # variable names used in a weight slot
        # set by the importer: convert_subgraph(subgraph_json, bindings, replace=None) -> head entries
        self.convert_subgraph = None
        self.entry_facts = {}  # (node name, output index) -> what handlers record for later ones (e.g. MXNet dtypes)

    # ---- naming -------------------------------------------------------------------------------
    def aux_name(self, suffix: str) -> str:
        return self._names.fresh(f"{self.node_name}_{suffix}")

    # ---- variables ----------------------------------------------------------------------------
    def variable(self, name: str, attrs: dict) -> Entry:
        self._names.reserve(name)
        node = Node("null", name, (), attrs)
        shape = self.user_shape.get(name)
        if shape is None and name in self.params:
            shape = self.params[name].shape
        if shape is None and "__shape__" in attrs:
            try:
                shape = parse_shape(attrs["__shape__"])
            except Exception:
                shape = None
            if shape is not None and any(d <= 0 for d in shape):
                shape = None  # MXNet writes 0 for an unknown dim
        self._shape[(id(node), 0)] = None if shape is None else tuple(int(d) for d in shape)
        if name in self.params:
            dt = _dt.canonical(self.params[name].dtype)
        elif isinstance(self.user_dtype, dict) and name in self.user_dtype:
            dt = _dt.canonical(self.user_dtype[name])
        elif self.user_dtype is not None and not isinstance(self.user_dtype, dict):
            dt = _dt.canonical(self.user_dtype)
        elif "__dtype__" in attrs:
            try:
                dt = _dt.from_mxnet(int(attrs["__dtype__"]))
            except (BridgeError, ValueError):
                dt = "float32"
        else:
            dt = "float32"
        self._dtype[(id(node), 0)] = dt
        return Entry(node, 0)

    def const(self, suffix: str, array) -> Entry:
        """A new parameter variable holding ``array`` (named after the current node)."""
        name = self.aux_name(suffix)
        arr = np.ascontiguousarray(array)
        self.params[name] = arr
        return self.variable(name, {})

    def scalar_const(self, suffix: str, value, like: Entry) -> Entry:
        return self.const(suffix, np.array([value], dtype=_dt.to_numpy(self.dtype(like) or "float32")))

    # ---- emission -----------------------------------------------------------------------------
    def emit(self, op: str, inputs, attrs=None, name=None) -> Node:
        opdef = get_op(op, self.node_name)
        strs = opdef.format_attrs(attrs or {})
        node = Node(op, self._names.fresh(name or self.node_name), list(inputs), strs)
        parsed = opdef.parse_attrs(strs, node=node.name)
        n_in = opdef.count_inputs(parsed)
        if n_in is not None and n_in != len(node.inputs):
            raise InvalidModelError(f"expects {n_in} inputs, got {len(node.inputs)}", node=self.node_name,
                                    op=self.op_name, file=self.file)
        n_out = opdef.count_outputs(parsed)
        in_shapes = [self.shape(e) for e in node.inputs]
        if opdef.infer_shape is None:
            shapes = [None] * n_out
        else:
            try:
                shapes = opdef.infer_shape(parsed, in_shapes)
            except BridgeError as exc:
                raise ShapeError(f"{exc.bare_message} (while converting to {op})", node=self.node_name,
                                 op=self.op_name, file=self.file) from None
            except (ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
                raise ShapeError(f"{op}: shape inference failed for input shapes {in_shapes}: {exc}",
                                 node=self.node_name, op=self.op_name, file=self.file) from None
        in_types = [self.dtype(e) for e in node.inputs]
        if opdef.infer_type is not None:
            types = opdef.infer_type(parsed, in_types)
        else:
            types = [in_types[0] if in_types else "float32"] * n_out
        for k in range(n_out):
            s = shapes[k] if k < len(shapes) else None
            self._shape[(id(node), k)] = None if s is None else tuple(int(d) for d in s)
            self._dtype[(id(node), k)] = types[k] if k < len(types) else None
        return node

    def out(self, op: str, inputs, attrs=None, name=None) -> Entry:
        """Emit and return output 0."""
        return Entry(self.emit(op, inputs, attrs, name), 0)

    def aux(self, op: str, inputs, attrs=None, suffix=None) -> Entry:
        """Emit a helper node named '<mxnet node>_<suffix>'."""
        return self.out(op, inputs, attrs, name=self.aux_name(suffix or op))

    # ---- shape / dtype queries ----------------------------------------------------------------
    def shape(self, entry: Entry):
        return self._shape.get((id(entry.node), entry.index))

    def dtype(self, entry: Entry):
        return self._dtype.get((id(entry.node), entry.index))

    def need_shape(self, entry: Entry, why: str) -> tuple:
        s = self.shape(entry)
        if s is None:
            raise ShapeError(f"{why} needs the input shape, which is unknown here; pass shape={{input: shape}}",
                             node=self.node_name, op=self.op_name, file=self.file)
        return s

    def ndim(self, entry: Entry, why: str) -> int:
        return len(self.need_shape(entry, why))

    # ---- weights ------------------------------------------------------------------------------
    def expect(self, entry: Entry, shape, role: str):
        """Check that a weight input has ``shape`` (a missing dim may be None)."""
        node = entry.node
        if node.is_variable:
            self.weight_vars.add(node.name)
            if node.name not in self.params and self.params_given:
                raise ParamsError(f"parameter {node.name!r} ({role} of {self.op_name} {self.node_name!r}) is "
                                  f"missing from the given params", node=node.name, op=self.op_name,
                                  file=self.file)
        if shape is None or any(d is None for d in shape):
            return
        shape = tuple(int(d) for d in shape)
        have = self.shape(entry)
        if have is None:
            if node.is_variable:
                # infer the weight's shape backward, as MXNet does, and record it as a hint
                self._shape[(id(node), 0)] = shape
                node.attrs["__shape__"] = str(shape)
            return
        if tuple(have) != shape:
            what = f"parameter {node.name!r}" if node.is_variable else f"input {node.name!r}"
            raise ShapeError(f"{what} ({role} of {self.op_name} {self.node_name!r}) has shape {tuple(have)}, "
                             f"expected {shape}", node=node.name, op=self.op_name, file=self.file)

    def set_ones(self, entry: Entry, like: Entry) -> Entry:
        """Make a gamma input all ones (MXNet fix_gamma): rewrite the param, or use ones_like."""
        node = entry.node
        if node.is_variable and node.name in self.params:
            p = self.params[node.name]
            self.params[node.name] = np.ones(p.shape, dtype=p.dtype)
            return entry
        return self.aux("ones_like", [like], suffix="gamma_ones")

    def fail(self, message: str, cls=None):
        return (cls or AttributeParseError)(message, node=self.node_name, op=self.op_name, file=self.file)
