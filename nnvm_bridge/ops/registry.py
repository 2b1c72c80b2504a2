"""The op table as data.

One :class:`OpDef` per NNVM operator: positional inputs, output counts (total and visible),
typed attributes with defaults, mutable (auxiliary) inputs, and the rules for shape and dtype
inference and for numpy evaluation (used by constant folding).  Everything else in the
project -- attribute parsing, validation, converters, the generated support matrix -- reads
this table instead of hard-coding per-op facts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import AttributeParseError, InvalidModelError
from ..ir import attrs as _attrs

REQUIRED = object()


@dataclass(frozen=True)
class Attr:
    kind: str
    default: Any = REQUIRED
    optional: bool = False  # value may be None ("None" in JSON)
    choices: tuple | None = None
    doc: str = ""
    min: int | None = None  # smallest allowed value (every element, for tuples)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class AttrDict(dict):
    """Parsed attributes with defaults applied; also readable as ``attrs.name``."""

    def __getattr__(self, item):
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None


@dataclass
class OpDef:
    name: str
    inputs: tuple = ("data",)
    attrs: dict = field(default_factory=dict)
    num_outputs: int | Callable = 1
    num_visible_outputs: int | Callable | None = None  # None: same as num_outputs
    output_names: tuple = ("output",)
    variadic: bool = False  # inputs are varargs (concatenate, elemwise_sum, stack)
    num_inputs: Callable | None = None  # attrs -> count, for optional inputs (use_bias)
    mutate_inputs: tuple = ()  # indices of auxiliary-state inputs
    level: int = 1
    ext: bool = False  # an extension beyond NNVM v0.6's "top" op set
    internal: bool = False  # compiler-internal, never produced by importers
    subgraphs: tuple = ()  # names of the node's subgraphs (control flow, see ir/control.py)
    infer_shape: Callable | None = None  # (attrs, [in_shape]) -> [out_shape]
    infer_type: Callable | None = None  # (attrs, [in_dtype]) -> [out_dtype]
    compute: Callable | None = None  # (attrs, [np.ndarray]) -> [np.ndarray]
    doc: str = ""
    aliases: tuple = ()

    # ------------------------------------------------------------------
    def parse_attrs(self, raw: dict, node: str | None = None, file=None) -> AttrDict:
        """Parse string attrs leniently and apply defaults; errors name the node and op."""
        out = AttrDict()
        for key, value in raw.items():
            if key.startswith("__") and key.endswith("__"):
                continue  # MXNet hints such as __shape__, __init__, __lr_mult__
            spec = self.attrs.get(key)
            if spec is None:
                raise AttributeParseError(
                    f"unknown attribute {key!r}; {self.name} takes {sorted(self.attrs) or 'none'}",
                    node=node, op=self.name, file=file)
            try:
                val = _attrs.parse_value(spec.kind, value, optional=spec.optional)
            except (_attrs.BadValue, ValueError, TypeError, OverflowError) as exc:
                raise AttributeParseError(f"attribute {key!r}={value!r}: {exc}", node=node, op=self.name,
                                          file=file) from None
            if spec.choices is not None and val not in spec.choices and val is not None:
                raise AttributeParseError(f"attribute {key!r}={value!r} must be one of {list(spec.choices)}",
                                          node=node, op=self.name, file=file)
            if spec.min is not None and val is not None and _below(val, spec.min):
                raise AttributeParseError(f"attribute {key!r}={value!r}: values must be >= {spec.min}",
                                          node=node, op=self.name, file=file)
            out[key] = val
        for key, spec in self.attrs.items():
            if key not in out:
                if spec.required:
                    raise AttributeParseError(f"missing required attribute {key!r}", node=node, op=self.name,
                                              file=file)
                out[key] = spec.default
        return out

    def format_attrs(self, values: dict, *, keep_defaults: bool = False) -> dict:
        """Canonical string attrs, sorted by key; defaults are omitted unless asked for."""
        out = {}
        for key in sorted(values):
            spec = self.attrs.get(key)
            if spec is None:
                raise AttributeParseError(f"unknown attribute {key!r}", op=self.name)
            val = values[key]
            if not keep_defaults and not spec.required and _same(val, spec.default):
                continue
            out[key] = _attrs.format_value(spec.kind, val)
        return out

    def count_inputs(self, attrs: AttrDict) -> int | None:
        if self.variadic:
            return None
        if self.num_inputs is not None:
            return self.num_inputs(attrs)
        return len(self.inputs)

    def count_outputs(self, attrs: AttrDict) -> int:
        return self.num_outputs(attrs) if callable(self.num_outputs) else self.num_outputs

    def count_visible(self, attrs: AttrDict) -> int:
        v = self.num_visible_outputs
        if v is None:
            return self.count_outputs(attrs)
        return v(attrs) if callable(v) else v


def _below(value, low) -> bool:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return any(isinstance(v, (int, float)) and v < low for v in items)


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return tuple(a) == tuple(b)
    return a == b and type(a) is type(b) or (isinstance(a, float) and isinstance(b, float) and a == b)


OPS: dict[str, OpDef] = {}
ALIASES: dict[str, str] = {}


def register(name: str, **kw) -> OpDef:
    if name in OPS:
        raise ValueError(f"op {name} registered twice")
    op = OpDef(name=name, **kw)
    OPS[name] = op
    for alias in op.aliases:
        ALIASES[alias] = name
    return op


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def get_op(name: str, node: str | None = None) -> OpDef:
    op = OPS.get(ALIASES.get(name, name))
    if op is None:
        from ..errors import UnsupportedOperatorError

        raise UnsupportedOperatorError({name: [node or "?"]}, direction="the NNVM op table")
    return op


def node_attrs(node, file=None) -> AttrDict:
    """Parsed attributes of a graph node (cached on the node's attrs identity is not safe; parse)."""
    return get_op(node.op, node.name).parse_attrs(node.attrs, node=node.name, file=file)


def num_outputs(node) -> int:
    if node.op == "null":
        return 1
    op = get_op(node.op, node.name)
    return op.count_outputs(node_attrs(node))


def num_visible_outputs(node) -> int:
    if node.op == "null":
        return 1
    op = get_op(node.op, node.name)
    return op.count_visible(node_attrs(node))


def check_node(node, file=None):
    """Validate a node against the table: known op, parsable attrs, right input count."""
    op = get_op(node.op, node.name)
    attrs = op.parse_attrs(node.attrs, node=node.name, file=file)
    if len(node.subgraphs) != len(op.subgraphs):
        raise InvalidModelError(f"expects {len(op.subgraphs)} subgraphs {list(op.subgraphs)}, got "
                                f"{len(node.subgraphs)}", node=node.name, op=node.op, file=file)
    n = op.count_inputs(attrs)
    if n is not None and len(node.inputs) != n:
        raise InvalidModelError(f"expects {n} inputs, got {len(node.inputs)}", node=node.name, op=node.op,
                                file=file)
    for e in node.inputs:
        if e.node.op != "null":
            k = num_outputs(e.node)
            if not 0 <= e.index < k:
                raise InvalidModelError(f"input refers to output {e.index} of {e.node.name!r}, which has {k}",
                                        node=node.name, op=node.op, file=file)
    return attrs
