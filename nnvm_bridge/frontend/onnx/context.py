"""The state an ONNX import builds up: ONNX tensor name -> IR entry or known constant.

Converters call :meth:`ImportContext.emit` to add IR nodes.  Every emitted node gets its output
shapes and dtypes inferred at once (so converters can ask ranks and shapes), and when all of its
inputs have known values and the op has a numpy rule it is evaluated: that is how Constant,
ConstantOfShape and Shape -> Gather -> Concat -> Reshape chains fold away.
"""
from __future__ import annotations

import re

import numpy as np

from ...errors import BridgeError, InvalidModelError, ShapeError, unsupported_feature
from ...ir import control
from ...ir import dtypes as _dt
from ...ir.graph import Entry, Node
from ...ir.passes.infer import infer_shape, infer_type
from ...ir.names import unique_name
from ...ir.symbolic import as_dim, format_shape_hint, is_static
from ...ops import get_op
from .declared_shapes import DeclaredShapes
from .run_time_values import opaque_sizes
from .sequence_values import is_structured, kind

_SAFE = re.compile(r"[^0-9A-Za-z_.:/\-]")


class OnnxInputs(tuple):
    """A node's input tensor names.  An omitted optional input (the empty name in the file, or one
    past the end of the list) reads as None, so ``inputs[2]`` is None for a Conv without a bias."""

    def __new__(cls, names=()):
        return super().__new__(cls, (name or None for name in names))

    def __getitem__(self, index):
        if isinstance(index, int) and index >= len(self):
            return None
        return super().__getitem__(index)


class OnnxNode:
    """A light view of an ONNX NodeProto with parsed attributes."""

    def __init__(self, proto, index):
        from onnx import helper

        self.proto = proto
        self.op_type = proto.op_type
        self.domain = proto.domain or ""
        self.name = proto.name or (proto.output[0] if proto.output else f"{proto.op_type}_{index}")
        self.inputs = OnnxInputs(proto.input)
        self.outputs = list(proto.output)
        attrs = {}
        for a in proto.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [x.decode("utf-8", "replace") for x in v]
            attrs[a.name] = v
        self.attrs = attrs

    def output_used(self, i, consumers) -> bool:
        return i < len(self.outputs) and bool(self.outputs[i]) and self.outputs[i] in consumers


# ONNX ops whose output is 0-d when every input is (ImportContext.keep_scalar)
_ELEMENTWISE = frozenset({"Abs", "Add", "And", "Cast", "Ceil", "Clip", "Div", "Equal", "Floor", "Greater",
                          "GreaterOrEqual", "Identity", "Less", "LessOrEqual", "Max", "Min", "Mod", "Mul", "Neg",
                          "Not", "Or", "Pow", "Round", "Sign", "Sqrt", "Sub", "Where"})


# run-time shape ops whose emitters bind new output symbols from the shape they compute
_BINDS_OUTPUT_DIMS = frozenset({"dyn_pad", "dyn_full", "dyn_broadcast_to"})


class ImportContext:
    def __init__(self, opset: int, file=None, model=None):
        self.opset = opset
        self.file = file
        self.declared = DeclaredShapes(model)  # what ONNX's shape inference says, asked only where needed
        self.vals: dict = {}  # onnx name -> Entry | np.ndarray
        self.info: dict = {}  # (id(node), index) -> [shape, dtype, value]
        self.params: dict = {}
        self._names: set = set()
        self._const_entries: dict = {}
        self.node: OnnxNode | None = None
        self.consumers: set = set()
        self.initializer_names: set = set()
        self.shape_values: dict = {}  # onnx name -> object ndarray of ints and Dims (a symbolic shape tensor)
        self.partial_shape_values: dict = {}  # onnx name -> list of ints, Dims and None (run time only)
        self.aranges: dict = {}  # onnx name -> pieces (start, step, length) of a run-time Range's elements
        self._scalar_entries: set = set()  # (id(node), index) of entries holding an ONNX 0-d value as (1,)
        # info and caches are keyed by id(node): keep every node alive so ids are never reused
        self._alive: list = []
        # (ctx, OnnxNode) -> None: converts one node of a subgraph; the importer's driver sets it
        self.convert_node = None

    # ---- naming ------------------------------------------------------------------------
    def unique(self, base: str) -> str:
        return unique_name(_SAFE.sub("_", base or "node") or "node", self._names)

    def reserve(self, name: str):
        self._names.add(name)

    def give_name(self, node: Node, name: str):
        """Rename ``node`` to a name reserved earlier (a graph output's ONNX tensor name)."""
        self._names.add(name)
        node.name = name

    # ---- errors ------------------------------------------------------------------------
    def error(self, cls, message):
        n = self.node
        return cls(message, node=None if n is None else n.name, op=None if n is None else n.op_type, file=self.file)

    def unsupported(self, what):
        """The error for the current node when its op is known but ``what`` (an attribute value, an
        input, a dtype) is not supported."""
        return unsupported_feature(self.node.op_type, self.node.name, what, direction="ONNX import", file=self.file)

    # ---- values --------------------------------------------------------------------------
    def variable(self, name: str, shape=None, dtype="float32", value=None, attrs=None) -> Entry:
        node = Node("null", name, (), attrs or {})
        self._alive.append(node)
        e = Entry(node, 0)
        self.info[(id(node), 0)] = [None if shape is None else tuple(as_dim(d) for d in shape), dtype, value]
        return e

    def const_entry(self, value: np.ndarray, hint: str = "const") -> Entry:
        """An IR variable (a parameter) holding ``value``; 0-d values become shape (1,)
        because MXNet's legacy executor has no 0-d arrays."""
        value = np.asarray(value)
        name = self.unique(hint)
        self.params[name] = value.reshape(1) if value.ndim == 0 else value
        # folding keeps the true (possibly 0-d) value; only the stored parameter is (1,)
        return self.variable(name, value.shape, _dt.canonical(value.dtype), value)

    def entry(self, x, hint=None) -> Entry:
        """IR entry for an ONNX tensor name, an ndarray or an Entry."""
        if isinstance(x, Entry):
            return x
        if not isinstance(x, str):
            return self.const_entry(np.asarray(x), hint or "const")
        v = self._lookup(x)
        if isinstance(v, Entry):
            return v
        e = self._const_entries.get(x)
        if e is None and x in self.initializer_names:
            value = np.asarray(v)
            if x not in self.params:
                self.params[x] = value.reshape(1) if value.ndim == 0 else value
            e = self.variable(x, value.shape, _dt.canonical(value.dtype), value)
            self._const_entries[x] = e
        elif e is None:
            e = self.const_entry(v, x)
            self._const_entries[x] = e
        return e

    def _lookup(self, name):
        value = self.value(name)
        if is_structured(value):
            raise self.error(InvalidModelError, f"input {name!r} is {kind(value)}, where a tensor is expected")
        return value

    def value(self, name):
        """The value of an ONNX name: an Entry, a constant, or a sequence / empty optional (sequence_values.py)."""
        try:
            return self.vals[name]
        except KeyError:
            raise self.error(InvalidModelError, f"input {name!r} is produced by no node, graph input or "
                                                f"initializer") from None

    def const(self, x):
        """The known value of an ONNX tensor name / Entry / ndarray, or None."""
        if x is None:
            return None
        if isinstance(x, np.ndarray):
            return x
        if isinstance(x, Entry):
            return self.info[(id(x.node), x.index)][2]
        v = self._lookup(x)
        if isinstance(v, Entry):
            return self.info[(id(v.node), v.index)][2]
        return v

    def require_const(self, x, what: str):
        v = self.const(x)
        if v is None:
            raise self.error(ShapeError, f"{what} must be a constant (or computable from known input shapes); "
                                         f"give the input shapes with shape=")
        return v

    def shape_value(self, x):
        """The value of a small integer tensor as ints and Dims (an ndarray, dtype object when symbolic), or None."""
        if x is None:
            return None
        if isinstance(x, str) and x in self.shape_values:
            return self.shape_values[x]
        v = self.const(x)
        if v is not None and v.dtype.kind == "f" and v.size <= 64 and np.all(np.mod(v, 1) == 0):
            return v  # whole floats: torch.arange(seq, dtype=float)'s bounds
        return None if v is None or v.dtype.kind not in "iub" else v

    def shape(self, x):
        if isinstance(x, np.ndarray):
            return x.shape
        if isinstance(x, Entry):
            return self.info[(id(x.node), x.index)][0]
        v = self._lookup(x)
        if isinstance(v, Entry):
            return self.info[(id(v.node), v.index)][0]
        return v.shape

    def is_tensor_dim(self, d):
        """Whether some value converted so far has the symbolic length ``d`` on an axis (so ``d`` is not negative)."""
        return any(s is not None and d in s for s, *_ in self.info.values())

    def rank(self, x):
        s = self.shape(x)
        return None if s is None else len(s)

    def onnx_rank(self, x):
        """The rank in the ONNX graph: a symbolic 0-d shape value, an entry marked with :meth:`scalar`, or a (1,)
        run-time value that ONNX's own shape inference declares 0-d, is a (1,) tensor in the IR."""
        if isinstance(x, str) and x in self.shape_values:
            return self.shape_values[x].ndim
        v = x if isinstance(x, Entry) else self._lookup(x) if isinstance(x, str) else None
        if isinstance(v, Entry) and (id(v.node), v.index) in self._scalar_entries:
            return 0
        if isinstance(x, str) and self.shape(x) == (1,) and self.const(x) is None and self.declared.rank(x) == 0:
            return 0
        return self.rank(x)

    def keep_scalar(self, n):
        """Mark the output of the elementwise node ``n`` when its inputs are ONNX 0-d and one of them is marked
        (PyTorch's ``x.size(1) * 2``: Gather -> Mul -> Unsqueeze)."""
        if n.op_type not in _ELEMENTWISE or not n.outputs:
            return
        out = self.vals.get(n.outputs[0])  # a tensor output (Identity passes sequences on too)
        inputs = [x for x in n.inputs if x]
        if isinstance(out, Entry) and self.shape(out) == (1,) and inputs and \
                all(self.onnx_rank(x) == 0 for x in inputs):
            self.scalar(out)

    def scalar(self, e):
        """Mark the (1,) entry ``e`` as an ONNX 0-d value (MXNet has no 0-d arrays), so that Unsqueeze and
        Squeeze count its ONNX rank."""
        if isinstance(e, Entry):  # a folded constant keeps its own 0-d shape
            self._scalar_entries.add((id(e.node), e.index))
        return e

    def require_rank(self, x, what="input"):
        r = self.rank(x)
        if r is None:
            raise self.error(ShapeError, f"the rank of {what} must be known; give the input shapes with shape=")
        return r

    def dtype(self, x):
        if isinstance(x, np.ndarray):
            return _dt.canonical(x.dtype)
        if isinstance(x, Entry):
            return self.info[(id(x.node), x.index)][1]
        v = self._lookup(x)
        if isinstance(v, Entry):
            return self.info[(id(v.node), v.index)][1]
        return _dt.canonical(v.dtype)

    # ---- emitting IR nodes -----------------------------------------------------------
    def emit(self, op: str, inputs, attrs=None, name=None, subgraphs=()) -> list:
        """Add one IR node; returns all its output entries (shapes, dtypes, values known where possible).
        ``subgraphs``: the bodies of a control-flow node (``if``, ``loop``; see ir/control.py)."""
        opdef = get_op(op)
        inputs = [self._materialize(self.entry(x)) for x in inputs]
        raw = opdef.format_attrs(attrs or {})
        base = name or (self.node.name if self.node is not None else op)
        node = Node(opdef.name, self.unique(base), inputs, raw, subgraphs=subgraphs)
        self._alive.append(node)
        parsed = opdef.parse_attrs(raw, node=node.name)
        n_out = opdef.count_outputs(parsed)
        infos = [self.info[(id(e.node), e.index)] for e in inputs]
        in_shapes = [i[0] for i in infos]
        in_types = [i[1] for i in infos]
        try:
            if opdef.subgraphs:
                shapes = control.infer_shapes(node, parsed, in_shapes, lambda g, s: infer_shape(g, shape=s))
            else:
                shapes = opdef.infer_shape(parsed, in_shapes) if opdef.infer_shape else [None] * n_out
        except BridgeError as exc:
            raise self.error(ShapeError, f"{op}: {exc.bare_message}") from None
        except (ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
            raise self.error(ShapeError, f"{op}: shape inference failed for {in_shapes}: {exc}") from None
        if opdef.subgraphs:
            types = control.infer_types(node, parsed, in_types, lambda g, d: infer_type(g, dtype=d))
        elif opdef.infer_type is not None:
            types = opdef.infer_type(parsed, in_types)
        else:
            types = [in_types[0] if in_types else "float32"] * n_out
        values = [None] * n_out
        in_vals = [i[2] for i in infos]
        if opdef.compute is not None and all(v is not None for v in in_vals) and (inputs or not opdef.inputs):
            try:
                values = [np.asarray(v) for v in opdef.compute(parsed, in_vals)]
            except (ValueError, IndexError, TypeError, ZeroDivisionError, FloatingPointError) as exc:
                raise self.error(ShapeError, f"{op}: cannot evaluate on constants: {exc}") from None
            values = [v.astype(_dt.to_numpy(t), copy=False) if t else v for v, t in zip(values, types)]
            shapes = [v.shape for v in values]
        for k in range(n_out):
            s = shapes[k] if k < len(shapes) else None
            self.info[(id(node), k)] = [None if s is None else tuple(as_dim(d) for d in s),
                                        None if types[k] is None else _dt.canonical(types[k]), values[k]]
        return [Entry(node, k) for k in range(n_out)]

    def _materialize(self, e: Entry) -> Entry:
        """A folded (constant-valued) op output becomes a parameter, so the chain that made it
        does not stay in the graph."""
        if e.node.is_variable:
            return e
        value = self.info[(id(e.node), e.index)][2]
        if value is None:
            return e
        key = (id(e.node), e.index)
        cached = self._const_entries.get(key)
        if cached is None:
            cached = self.const_entry(value, e.node.name)
            self._const_entries[key] = cached
        return cached

    def param_entry(self, name: str, like: Entry) -> Entry:
        """A variable of this graph for the parameter ``name`` (shape, dtype and value as ``like``'s)."""
        key = ("param", name)
        e = self._const_entries.get(key)
        if e is None:
            shape, dtype, value = self.info[(id(like.node), like.index)]
            e = self.variable(name, shape, dtype, value)
            self._const_entries[key] = e
        return e

    def emit1(self, op, inputs, attrs=None, name=None) -> Entry:
        return self.emit(op, inputs, attrs, name)[0]

    # ---- small helpers used by many converters ---------------------------------------
    def cast(self, x, dtype):
        e = self.entry(x)
        if self.dtype(e) == _dt.canonical(dtype):
            return e
        return self.emit1("cast", [e], {"dtype": _dt.canonical(dtype)})

    def reshape(self, x, shape):
        """IR reshape to ``shape``: ints, or dims (Dims too) that a 0/-1 spec can express (ShapeError if not)."""
        if all(isinstance(d, (int, np.integer)) for d in shape):
            return self.emit1("reshape", [x], {"shape": tuple(int(d) for d in shape)})
        spec = self.reshape_spec(self.shape(x), shape)
        if spec is None:
            raise self.error(ShapeError, f"cannot express a reshape of {self.shape(x)} to {tuple(shape)} "
                                         f"without the sizes; give the input shapes with shape=")
        return self.emit1("reshape", [x], {"shape": spec})

    @staticmethod
    def reshape_spec(src, out):
        """An IR reshape spec (ints, 0 copies, -1 infers) giving the dims ``out`` from ``src``, or None."""
        from ...ops.transform import reshape_output_shape

        if src is None:
            return None
        out = tuple(out)
        if is_static(src) and is_static(out):
            return tuple(int(d) for d in out)
        spec = []
        for i, d in enumerate(out):
            if not isinstance(d, (int, np.integer)):
                spec.append(0 if i < len(src) and src[i] == d else -1)
            elif int(d) <= 0:
                return None
            else:
                spec.append(int(d))
        if spec.count(-1) > 1:
            return None
        try:
            if tuple(reshape_output_shape(src, spec)) == out:
                return tuple(spec)
        except (ShapeError, ValueError, TypeError, ZeroDivisionError):
            pass
        return None

    def runtime_op(self, op, inputs, out_shape, attrs=None):
        """A run-time shape op (ops/dynamic.py) that declares the output dims it is known to have."""
        if op in _BINDS_OUTPUT_DIMS:
            out_shape = opaque_sizes(out_shape)
        return self.emit1(op, inputs, dict(attrs or {}, out_shape=format_shape_hint(tuple(out_shape))))

    def shape_tensor(self, x):
        """An int64 IR tensor holding the run-time shape of ``x``."""
        return self.emit1("shape_of", [x], {"dtype": "int64"})

    def broadcast_shape_tensor(self, xs, rank):
        """The run-time broadcast shape (an int64 tensor of ``rank`` dims) of ``xs``, lower ranks padded."""
        acc = None
        for x in xs:
            r = self.rank(x)
            t = self.shape_tensor(x) if r else None
            if r < rank:
                ones = np.ones(rank - r, dtype=np.int64)
                t = ones if t is None else self.emit1("concatenate", [ones, t], {"axis": 0})
            acc = t if acc is None else self.emit1("broadcast_max", [acc, t])
        return acc

    def broadcast_to(self, x, out, shape_tensor=None):
        """``x`` broadcast to the dims ``out`` (ints or Dims).  Where a Dim must come from a 1 the size is
        only known at run time: ``shape_tensor()`` then gives an int64 tensor that ``x`` broadcasts with
        (numpy rules, both ways) to ``out``."""
        s = tuple(self.shape(x))
        if s == tuple(out):
            return self.entry(x)
        if len(s) < len(out):
            x = self.reshape(x, (1,) * (len(out) - len(s)) + s)
            s = tuple(self.shape(x))
        spec = [0 if a == b and not isinstance(b, int) else b for a, b in zip(s, out)]
        if all(isinstance(d, int) for d in spec):
            return self.emit1("broadcast_to", [x], {"shape": tuple(spec)})
        if shape_tensor is None:
            raise self.error(ShapeError, f"cannot broadcast {s} to {tuple(out)} without the sizes")
        return self.runtime_op("dyn_broadcast_to", [x, shape_tensor()], out)
