"""The project's exception family.

Every error raised because of what a user handed us derives from :class:`BridgeError`,
so callers (and the CLI) can catch one type.  Messages name the file, node and op
involved where they are known.
"""
from __future__ import annotations

from collections import Counter


class BridgeError(Exception):
    """Base class of every error nnvm_bridge raises on user input."""

    def __init__(self, message: str, *, file=None, node=None, op=None):
        self.file = None if file is None else str(file)
        self.node = node
        self.op = op
        where = []
        if self.file:
            where.append(f"file {self.file!r}")
        if node is not None:
            where.append(f"node {node!r}")
        if op is not None:
            where.append(f"op {op!r}")
        self.bare_message = message
        super().__init__(message + (f" ({', '.join(where)})" if where else ""))


class InvalidModelError(BridgeError):
    """The model file or graph is malformed (bad JSON/protobuf, dangling input, cycle, ...)."""


class AttributeParseError(InvalidModelError):
    """An operator attribute is missing, of the wrong type or has a nonsense value."""


class ShapeError(BridgeError):
    """Shapes are inconsistent, unknown where they must be known, or of the wrong rank."""


class DTypeError(BridgeError):
    """A data type is unknown or not supported where it is used."""


class ParamsError(BridgeError):
    """A parameter file or parameter dict is unreadable, incomplete or inconsistent."""


class MissingDependencyError(BridgeError):
    """An optional package (mxnet, tvm, onnxruntime) is needed but not installed."""


class UnsupportedOperatorError(BridgeError):
    """One or more operators cannot be converted.

    ``ops`` maps each unsupported op name to the list of node names using it, so that
    every unsupported op of a model is reported at once.
    """

    def __init__(self, ops: dict, *, direction: str = "", file=None, extra: str = ""):
        self.ops = {k: list(v) for k, v in ops.items()}
        counts = Counter({k: len(v) for k, v in self.ops.items()})
        parts = []
        for name, n in sorted(counts.items()):
            nodes = self.ops[name]
            shown = ", ".join(repr(x) for x in nodes[:3]) + (", ..." if len(nodes) > 3 else "")
            parts.append(f"{name} x{n} (nodes {shown})")
        head = f"{len(counts)} unsupported operator{'s' if len(counts) != 1 else ''}"
        if direction:
            head += f" for {direction}"
        msg = head + ": " + "; ".join(parts)
        if extra:
            msg += ". " + extra
        super().__init__(msg, file=file)


class OpTally:
    """Collects what cannot be converted (op name -> node names) so that a model's whole list is
    reported at once, as one UnsupportedOperatorError."""

    def __init__(self):
        self.ops: dict = {}

    def add(self, op: str, node: str, reason: str | None = None):
        key = op if reason is None else f"{op} ({reason})"
        self.ops.setdefault(key, []).append(node)

    def __bool__(self):
        return bool(self.ops)

    def error(self, *, direction: str, file=None, extra: str = "") -> UnsupportedOperatorError:
        return UnsupportedOperatorError(self.ops, direction=direction, file=file, extra=extra)

    def raise_if_any(self, *, direction: str, file=None, extra: str = ""):
        if self.ops:
            raise self.error(direction=direction, file=file, extra=extra)


def unsupported_feature(op: str, node: str, what: str, *, direction: str, file=None) -> UnsupportedOperatorError:
    """The error for one node whose op is known but whose attributes or inputs are not supported."""
    return UnsupportedOperatorError({f"{op} ({what})": [node]}, direction=direction, file=file)


class UnsupportedOpsetError(BridgeError):
    """The requested or declared opset is outside what a converter supports."""


class CompileError(BridgeError):
    """TVM could not compile or load a model."""


def require(module: str, extra: str):
    """Import an optional dependency or raise MissingDependencyError naming the pip extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"this feature needs the '{module}' package: pip install 'nnvm_bridge[{extra}]' ({exc})"
        ) from exc
