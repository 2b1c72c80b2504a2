"""Graph inputs and outputs that are ONNX sequences or optionals: flat IR tensors plus their layout.

A sequence input needs its length at import: ``shape={name: [shape, ...]}`` gives one shape per tensor
(``[]``: an empty sequence). An optional input is present unless ``shape={name: None}`` says it is empty;
present, it is the tensor (or sequence) it holds. Each tensor becomes an IR variable (a sequence ``x``'s
are ``x_0``, ``x_1``, ...), each output tensor an IR output, and the layout, a tree of flat names, goes to
``graph.attrs["structure"]`` (ir/structure.py).
"""
from __future__ import annotations

from ...errors import DTypeError, ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import anonymous_dim, parse_dim
from .graph_inputs import input_variable, tensor_type_dims, unknown_dim
from .sequence_values import EmptyOptional, SequenceValue, is_structured


def is_structured_type(type_proto) -> bool:
    return type_proto.HasField("sequence_type") or type_proto.HasField("optional_type")


def bind_input(ctx, vi, shape, given: bool):
    """(importer value, layout tree) of the structured graph input ``vi``; ``shape`` as the user gave it."""
    return _bind(ctx, vi.type, vi.name, vi.name, shape, given)


def _bind(ctx, t, name, flat_name, shape, given):
    if t.HasField("optional_type"):
        if given and shape is None:
            return EmptyOptional(t.optional_type.elem_type), None
        return _bind(ctx, t.optional_type.elem_type, name, flat_name, shape, given)
    if t.HasField("sequence_type"):
        if not given or not isinstance(shape, (list, tuple)) or any(
                not isinstance(s, (list, tuple)) for s in shape):
            raise ShapeError(f"input {name!r} is a sequence: its length must be known at import; give the shape "
                             f"of each of its tensors with shape={{{name!r}: [shape, ...]}}")
        items, trees = [], []
        for k, s in enumerate(shape):
            v, tree = _bind(ctx, t.sequence_type.elem_type, f"{name}[{k}]", ctx.unique(f"{flat_name}_{k}"), s, True)
            items.append(v)
            trees.append(tree)
        return SequenceValue(items, _elem_dtype(t.sequence_type.elem_type)), trees
    if not t.HasField("tensor_type"):
        raise DTypeError(f"input {name!r} is neither a tensor, a sequence nor an optional")
    dtype = _elem_dtype(t) or "float32"
    dims = tensor_type_dims(t.tensor_type, flat_name) if shape is None else \
        tuple(anonymous_dim(flat_name, i) if unknown_dim(d) else parse_dim(d) for i, d in enumerate(shape))
    return input_variable(ctx, flat_name, dims, dtype), flat_name


def _elem_dtype(t):
    if t.HasField("tensor_type") and t.tensor_type.elem_type:
        return _dt.from_onnx(t.tensor_type.elem_type)
    return None


def output_leaves(ctx, name, value):
    """(layout tree, [(flat name, tensor)]) of a structured graph output."""
    if isinstance(value, EmptyOptional):
        return None, []
    if not isinstance(value, SequenceValue):
        return name, [(name, value)]
    trees, flat = [], []
    for k, item in enumerate(value):
        if is_structured(item):
            tree, more = output_leaves(ctx, f"{name}_{k}", item)
        else:
            leaf = ctx.unique(f"{name}_{k}")
            tree, more = leaf, [(leaf, item)]
        trees.append(tree)
        flat.extend(more)
    return trees, flat
