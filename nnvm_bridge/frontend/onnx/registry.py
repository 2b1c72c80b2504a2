"""Versioned ONNX converter registry.

``@converter("Conv", 1, 11)`` registers one handler for the schema versions 1 and 11 of the
default domain.  :func:`select` picks the largest registered version <= the model's opset and
never silently a newer one: an op whose first converter is newer than the model's opset gets
an UnsupportedOpsetError that lists the versions we have.
"""
from __future__ import annotations

from ...errors import UnsupportedOpsetError

CONVERTERS: dict = {}  # op_type -> {since_version: fn}


def converter(op_type: str, *versions: int):
    versions = versions or (1,)

    def deco(fn):
        table = CONVERTERS.setdefault(op_type, {})
        for v in versions:
            table[v] = fn
        return fn
    return deco


def supported_ops() -> list:
    return sorted(CONVERTERS)


def select(op_type: str, opset: int, node: str | None = None):
    """The handler for ``op_type`` at ``opset``; None when the op is unknown."""
    table = CONVERTERS.get(op_type)
    if not table:
        return None
    usable = [v for v in table if v <= opset]
    if not usable:
        raise UnsupportedOpsetError(
            f"{op_type} at opset {opset} needs a converter; supported versions: {sorted(table)}",
            node=node, op=op_type)
    return table[max(usable)]
