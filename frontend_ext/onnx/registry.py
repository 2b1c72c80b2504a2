"""Registry of NNVM-op -> ONNX handlers, versioned by ONNX opset.

A handler is registered for one or more NNVM ops with the first ONNX opset it is valid for.
For a target opset the handler with the largest version <= that opset is used; when every
registered version is newer than the target, :class:`UnsupportedOpsetError` is raised (a newer
handler is never used silently).
"""
from __future__ import annotations

from typing import Callable

from nnvm_bridge.errors import UnsupportedOpsetError

MIN_OPSET = 11
MAX_OPSET = 21
DEFAULT_OPSET = 17

# op name -> {since_version: (handler, check)}
_HANDLERS: dict[str, dict[int, tuple]] = {}


def handler(*ops: str, since: int = MIN_OPSET, check: Callable | None = None):
    """Register ``fn(ctx) -> value name(s)`` for NNVM ``ops`` from ONNX opset ``since``.

    ``check(ctx)`` may return a reason string when the node cannot be converted (for example
    an unsupported layout); the exporter reports such nodes with the unsupported ops.
    """
    def deco(fn):
        for op in ops:
            versions = _HANDLERS.setdefault(op, {})
            if since in versions:
                raise ValueError(f"ONNX handler for {op} at opset {since} registered twice")
            versions[since] = (fn, check)
        return fn
    return deco


def has_handler(op: str) -> bool:
    return op in _HANDLERS


def versions(op: str) -> list:
    return sorted(_HANDLERS.get(op, {}))


def lookup(op: str, opset: int, node: str | None = None):
    """(handler, check) for ``op`` at ``opset``; None when the op has no handler at all."""
    table = _HANDLERS.get(op)
    if not table:
        return None
    usable = [v for v in table if v <= opset]
    if not usable:
        raise UnsupportedOpsetError(
            f"no ONNX converter for {op} at opset {opset}; converters exist from opsets {sorted(table)}",
            node=node, op=op)
    return table[max(usable)]


def supported_ops() -> dict:
    """op name -> sorted list of opset versions with a handler (for the support matrix)."""
    return {op: sorted(v) for op, v in sorted(_HANDLERS.items())}
