"""ONNX Sequence and Optional ops, resolved at import time into lists of IR entries (sequence_values.py).

A sequence's length and an optional's presence must be known when the model is imported: the converters
here build and take apart :class:`SequenceValue` tuples, and only the tensor ops they need (split, squeeze,
concatenate, ...) reach the IR. SequenceMap is unrolled over its sequences; a Loop that carries a sequence
or an optional is unrolled by :func:`unroll_loop` (convert_control.py sends it here). Where the structure
would depend on data (a run-time position, split or trip count), the error says so.
"""
from __future__ import annotations

import numpy as np

from ...errors import InvalidModelError
from ...ir import dtypes as _dt
from ...ir.symbolic import Dim
from .registry import ONNX_IMPORT
from .sequence_values import EmptyOptional, SequenceValue, is_structured, is_tensor
from .subgraph import BodyContext, convert_graph

MAX_UNROLLED_TRIPS = 1 << 12  # a Loop carrying a sequence is unrolled at import, up to this many iterations


def _sequence(ctx, name, what="input"):
    value = ctx.value(name)
    if not isinstance(value, SequenceValue):
        raise ctx.error(InvalidModelError, f"{what} {name!r} must be a sequence")
    return value


def _known_int(ctx, name, what):
    """A scalar integer input that decides a sequence's layout: it must be known at import."""
    value = ctx.const(name)
    if value is None:
        raise ctx.unsupported(f"{what} known only at run time: the sequence's layout would depend on data; "
                              "it must be a constant")
    value = np.asarray(value).reshape(-1)
    if value.size != 1:
        raise ctx.error(InvalidModelError, f"{what} must hold one value, got {value.size}")
    return int(value[0])


def _position(ctx, seq, position, insert=False):
    limit = len(seq) + (1 if insert else 0)
    if not -len(seq) <= position < limit:
        raise ctx.error(InvalidModelError, f"position {position} is out of range for a sequence of {len(seq)}")
    return position + len(seq) if position < 0 else position


def _elem_dtype(ctx, items, default=None):
    return ctx.dtype(items[0]) if items else default


@ONNX_IMPORT.register("SequenceConstruct", since=11)
def sequence_construct(ctx, node, attrs, inputs):
    items = [ctx.value(x) for x in inputs]
    if any(not is_tensor(v) for v in items):
        raise ctx.error(InvalidModelError, "SequenceConstruct takes tensors")
    return [SequenceValue(items, _elem_dtype(ctx, items))]


@ONNX_IMPORT.register("SequenceEmpty", since=11)
def sequence_empty(ctx, node, attrs, inputs):
    return [SequenceValue((), _dt.from_onnx(int(attrs.get("dtype", 1))))]


@ONNX_IMPORT.register("SequenceAt", since=11)
def sequence_at(ctx, node, attrs, inputs):
    seq = _sequence(ctx, inputs[0])
    return [seq[_position(ctx, seq, _known_int(ctx, inputs[1], "the position"))]]


@ONNX_IMPORT.register("SequenceInsert", since=11)
def sequence_insert(ctx, node, attrs, inputs):
    seq = _sequence(ctx, inputs[0])
    tensor = ctx.value(inputs[1])
    if not is_tensor(tensor):
        raise ctx.error(InvalidModelError, "SequenceInsert inserts a tensor")
    at = len(seq) if inputs[2] is None else _position(ctx, seq, _known_int(ctx, inputs[2], "the position"), True)
    items = list(seq)
    items.insert(at, tensor)
    return [SequenceValue(items, seq.elem_dtype or ctx.dtype(tensor))]


@ONNX_IMPORT.register("SequenceErase", since=11)
def sequence_erase(ctx, node, attrs, inputs):
    seq = _sequence(ctx, inputs[0])
    if not seq:
        raise ctx.error(InvalidModelError, "SequenceErase on an empty sequence")
    at = len(seq) - 1 if inputs[1] is None else _position(ctx, seq, _known_int(ctx, inputs[1], "the position"))
    return [SequenceValue(seq[:at] + seq[at + 1:], seq.elem_dtype)]


@ONNX_IMPORT.register("SequenceLength", since=11)
def sequence_length(ctx, node, attrs, inputs):
    return [np.array(len(_sequence(ctx, inputs[0])), dtype=np.int64)]


@ONNX_IMPORT.register("SplitToSequence", since=(11, 24))
def split_to_sequence(ctx, node, attrs, inputs):
    x = inputs[0]
    rank = ctx.require_rank(x)
    axis = int(attrs.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    length = ctx.shape(x)[axis]
    if isinstance(length, Dim):
        raise ctx.unsupported(f"a split of an axis of symbolic size {length}: the sequence's length would "
                              "depend on the input's size; give the input shapes with shape=")
    if inputs[1] is None:
        sizes = [1] * length
    else:
        split = ctx.const(inputs[1])
        if split is None:
            raise ctx.unsupported("split known only at run time: the sequence's length would depend on data; "
                                  "the split must be a constant")
        split = np.asarray(split).astype(np.int64)
        if split.ndim == 0:
            chunk = int(split)
            if chunk <= 0:
                raise ctx.error(InvalidModelError, f"split must be positive, got {chunk}")
            sizes = [chunk] * (length // chunk) + ([length % chunk] if length % chunk else [])
        else:
            sizes = [int(v) for v in split]
            if sum(sizes) != length or any(v < 0 for v in sizes):
                raise ctx.error(InvalidModelError, f"split sizes {sizes} do not add up to the axis length {length}")
    if len(sizes) <= 1:
        parts = [ctx.entry(x)] * len(sizes)
    else:
        points = tuple(int(v) for v in np.cumsum(sizes)[:-1])
        parts = ctx.emit("split", [x], {"indices_or_sections": points, "axis": axis})
    if inputs[1] is None and not int(attrs.get("keepdims", 1)):
        parts = [ctx.emit1("squeeze", [p], {"axis": (axis,)}) for p in parts]
    return [SequenceValue(parts, ctx.dtype(x))]


@ONNX_IMPORT.register("ConcatFromSequence", since=11)
def concat_from_sequence(ctx, node, attrs, inputs):
    seq = _sequence(ctx, inputs[0])
    if not seq:
        raise ctx.error(InvalidModelError, "ConcatFromSequence of an empty sequence")
    rank = ctx.require_rank(seq[0], "the sequence's tensors")
    new_axis = bool(int(attrs.get("new_axis", 0)))
    axis = int(attrs["axis"])
    axis = axis + rank + new_axis if axis < 0 else axis
    items = [ctx.emit1("expand_dims", [t], {"axis": axis}) for t in seq] if new_axis else list(seq)
    if len(items) == 1:
        return [ctx.entry(items[0])]
    return [ctx.emit1("concatenate", items, {"axis": axis})]


@ONNX_IMPORT.register("SequenceMap", since=17)
def sequence_map(ctx, node, attrs, inputs):
    """The body once per position of the sequences (unrolled), with the tensor inputs the same every time."""
    graph = attrs["body"]
    values = [ctx.value(x) for x in inputs]
    lengths = {len(v) for v in values if isinstance(v, SequenceValue)}
    if not isinstance(values[0], SequenceValue) or len(lengths) != 1:
        raise ctx.error(InvalidModelError, "SequenceMap needs a sequence first and sequences of one length")
    names = [vi.name for vi in graph.input]
    if len(names) != len(values):
        raise ctx.error(InvalidModelError, f"the body takes {len(names)} inputs, the node gives {len(values)}")
    results = [[] for _ in graph.output]
    for i in range(lengths.pop()):
        body = _iteration(ctx)
        for name, v in zip(names, values):
            body.vals[name] = v[i] if isinstance(v, SequenceValue) else v
        for k, out in enumerate(convert_graph(body, graph)):
            results[k].append(body.value(out))
        ctx.node = node
    return [SequenceValue(items, _elem_dtype(ctx, items) if items and is_tensor(items[0]) else None)
            for items in results]


@ONNX_IMPORT.register("Optional", since=(15, 28))
def optional(ctx, node, attrs, inputs):
    return [EmptyOptional(attrs.get("type")) if inputs[0] is None else ctx.value(inputs[0])]


@ONNX_IMPORT.register("OptionalHasElement", since=(15, 18, 28))
def optional_has_element(ctx, node, attrs, inputs):
    present = inputs[0] is not None and not isinstance(ctx.value(inputs[0]), EmptyOptional)
    return [np.array(present)]


@ONNX_IMPORT.register("OptionalGetElement", since=(15, 18, 28))
def optional_get_element(ctx, node, attrs, inputs):
    value = ctx.value(inputs[0])
    if isinstance(value, EmptyOptional):
        raise ctx.error(InvalidModelError, f"OptionalGetElement of {inputs[0]!r}, an empty optional")
    return [value]


def _iteration(ctx):
    """The context of one unrolled pass of a body: converted into the enclosing graph, with constants of its
    own (each pass has the same ONNX names for other values)."""
    return BodyContext(ctx, inline=True, own_constants=True)


# ---- Loop carrying sequences ----------------------------------------------------------------------
def needs_unrolling(ctx, node, reads) -> bool:
    """Whether a Loop carries, or its body reads (``reads``: the outer names), a sequence or an optional: a
    structure the IR's loop cannot hold, so the Loop is unrolled at import."""
    names = [x for x in node.inputs[2:] if x] + sorted(reads)
    return any(is_structured(_peek(ctx, name)) for name in names)


def _peek(ctx, name):
    """The value of ``name`` in the nearest scope that has it, without capturing it into a body."""
    while ctx is not None:
        if dict.__contains__(ctx.vals, name):
            return dict.__getitem__(ctx.vals, name)
        ctx = getattr(ctx, "parent", None)
    return None


def unroll_loop(ctx, node, graph):
    """The Loop's body converted once per iteration into the enclosing graph; the trip count and every
    iteration's condition must be known at import."""
    trips = MAX_UNROLLED_TRIPS + 1 if node.inputs[0] is None else \
        _known_int(ctx, node.inputs[0], "a trip count")
    going = True if node.inputs[1] is None else \
        bool(_known_int(ctx, node.inputs[1], "a condition"))
    carried = [ctx.value(x) for x in node.inputs[2:]]
    names = [vi.name for vi in graph.input]
    scans = [[] for _ in range(len(graph.output) - 1 - len(carried))]
    i = 0
    while going and i < trips:
        if i == MAX_UNROLLED_TRIPS:
            raise ctx.unsupported(f"a Loop carrying a sequence over more than {MAX_UNROLLED_TRIPS} iterations "
                                  "(it is unrolled at import)")
        body = _iteration(ctx)
        body.vals[names[0]] = np.array(i, dtype=np.int64)
        body.vals[names[1]] = np.array(going)
        for name, v in zip(names[2:], carried):
            body.vals[name] = v
        outs = [body.value(o) for o in convert_graph(body, graph)]
        ctx.node = node
        cond = ctx.const(outs[0]) if is_tensor(outs[0]) else None
        if cond is None:
            raise ctx.unsupported("a Loop carrying a sequence whose condition is decided at run time: the "
                                  "sequence's length would depend on data; the condition must be a constant")
        going = bool(np.asarray(cond).reshape(-1)[0])
        carried = outs[1:1 + len(carried)]
        for k, y in enumerate(outs[1 + len(carried):]):
            scans[k].append(y)
        i += 1
    if scans and not i:
        raise ctx.unsupported("scan outputs of a Loop carrying a sequence that runs no iteration")
    stacked = [ctx.emit1("concatenate", [ctx.emit1("expand_dims", [y], {"axis": 0}) for y in ys], {"axis": 0})
               for ys in scans]
    return carried + stacked
