"""The importer's values for ONNX sequences and optionals, whose structure is known at import time.

A sequence is a :class:`SequenceValue`, a tuple of tensors (IR entries or constants) that also remembers its
element dtype (an empty sequence has no element to ask); an optional that holds a value *is* that value, and an
empty optional is :class:`EmptyOptional`. None of them ever reaches the IR: the converters of the Sequence and
Optional ops work on them at import time, and the graph's edge spreads them into flat tensors
(``ir/structure.py``).
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Entry


class SequenceValue(tuple):
    """An ONNX sequence: its tensors, in order."""

    def __new__(cls, items=(), elem_dtype=None):
        seq = super().__new__(cls, items)
        seq.elem_dtype = elem_dtype
        return seq


class EmptyOptional:
    """An ONNX optional without a value (``elem_type``: the ONNX TypeProto it would hold, if known)."""

    def __init__(self, elem_type=None):
        self.elem_type = elem_type

    def __repr__(self):
        return "EmptyOptional()"


def is_structured(value) -> bool:
    return isinstance(value, (SequenceValue, EmptyOptional))


def kind(value) -> str:
    return "a sequence" if isinstance(value, SequenceValue) else "an empty optional"


def map_tensors(value, fn):
    """``value`` with every tensor in it replaced by ``fn(tensor)`` (sequences rebuilt, an empty optional kept)."""
    if isinstance(value, SequenceValue):
        return SequenceValue((map_tensors(v, fn) for v in value), value.elem_dtype)
    if isinstance(value, EmptyOptional):
        return value
    return fn(value)


def tensors(value) -> list:
    """The tensors inside ``value``, in order."""
    if isinstance(value, SequenceValue):
        return [t for v in value for t in tensors(v)]
    if isinstance(value, EmptyOptional):
        return []
    return [value]


def same_layout(a, b) -> bool:
    """Whether ``a`` and ``b`` are made of tensors in the same way (same sequence lengths, same presence)."""
    if isinstance(a, SequenceValue) or isinstance(b, SequenceValue):
        return isinstance(a, SequenceValue) and isinstance(b, SequenceValue) and len(a) == len(b) and \
            all(same_layout(x, y) for x, y in zip(a, b))
    return isinstance(a, EmptyOptional) == isinstance(b, EmptyOptional)


def refill(value, flat):
    """``value``'s layout holding the tensors ``flat`` (an iterator), in order."""
    return map_tensors(value, lambda _: next(flat))


def is_tensor(value) -> bool:
    return isinstance(value, (Entry, np.ndarray))
