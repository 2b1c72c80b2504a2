"""The one handler-table type behind every converter direction.

Five tables use it: MXNet import (``frontend/mxnet``), ONNX import (``frontend/onnx``), ONNX export
(``frontend_ext/onnx``), MXNet export (``frontend_ext/mxnet``) and Relax (``frontend_ext/tvm``).
The rules are the same for all of them:

* a handler is registered under literal op names, ``@TABLE.register("Conv", since=(1, 11, 22))``;
* every handler is called as ``fn(ctx, node, attrs, inputs)`` (what each of the four means is the
  table's business; the names are the same everywhere);
* registering a name (at a version) twice raises unless ``override=True``;
* a versioned table (the ONNX ones) picks the largest version <= the model's opset, and never a
  newer one (:func:`select_version`);
* loading is explicit: the driver module of a direction imports its handler modules and then calls
  :meth:`Registry.mark_loaded`; reading a table before that is a programming error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .errors import UnsupportedOpsetError


@dataclass(frozen=True)
class Handler:
    """One registered handler: the op name, the function, its first opset (versioned tables) and
    the table-specific options (``labels``/``weights`` for MXNet import, ``check`` for ONNX export)."""

    name: str
    fn: Callable
    since: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, item):
        options = object.__getattribute__(self, "options")
        try:
            return options[item]
        except KeyError:
            raise AttributeError(item) from None

    def __call__(self, ctx, node, attrs, inputs):
        return self.fn(ctx, node, attrs, inputs)


def select_version(versions: Iterable[int], opset: int, op: str, node: str | None = None) -> int:
    """The largest of ``versions`` <= ``opset``; UnsupportedOpsetError when all are newer."""
    versions = sorted(versions)
    usable = [v for v in versions if v <= opset]
    if not usable:
        raise UnsupportedOpsetError(
            f"{op} at opset {opset} has no converter; converters exist from opsets {versions}", node=node, op=op)
    return usable[-1]


class Registry:
    """A table of op handlers.

    ``what`` names the table in messages; ``versioned`` tables key handlers by (name, since);
    ``options`` declares the extra keyword arguments ``register`` accepts, with their defaults.
    """

    def __init__(self, what: str, *, versioned: bool = False, options: Mapping[str, Any] | None = None):
        self.what = what
        self.versioned = versioned
        self._defaults = dict(options or {})
        self._table: dict[str, dict[int | None, Handler]] = {}
        self._loaded = False

    # ---- registration ---------------------------------------------------------------------------------------
    def register(self, *names: str, since: int | Iterable[int] | None = None, override: bool = False,
                 **options):
        """Decorator: register ``fn`` under every name in ``names`` (and every version in ``since``)."""
        if not names:
            raise TypeError(f"{self.what}: register() needs at least one op name")

        def deco(fn):
            for name in names:
                self.add(name, fn, since=since, override=override, **options)
            return fn
        return deco

    def add(self, name: str, fn: Callable, *, since: int | Iterable[int] | None = None, override: bool = False,
            **options) -> None:
        """Register ``fn`` for ``name``; a duplicate raises ValueError unless ``override=True``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.what}: op names are non-empty strings, got {name!r}")
        if not callable(fn):
            raise TypeError(f"{self.what}: the handler for {name!r} is not callable")
        unknown = sorted(set(options) - set(self._defaults))
        if unknown:
            raise TypeError(f"{self.what}: unknown option(s) {unknown}; this table takes {sorted(self._defaults)}")
        opts = dict(self._defaults, **options)
        for version in self._versions_of(since, name):
            slot = self._table.setdefault(name, {})
            if version in slot and not override:
                at = f" at opset {version}" if self.versioned else ""
                raise ValueError(f"{self.what}: {name!r}{at} is already registered (pass override=True to replace "
                                 f"it)")
            slot[version] = Handler(name, fn, version, opts)

    def _versions_of(self, since, name) -> list:
        if not self.versioned:
            if since is not None:
                raise TypeError(f"{self.what} is not versioned: no since= for {name!r}")
            return [None]
        if since is None:
            raise TypeError(f"{self.what} is versioned: {name!r} needs since=")
        versions = [since] if isinstance(since, int) else list(since)
        if not versions or not all(isinstance(v, int) and v >= 1 for v in versions):
            raise TypeError(f"{self.what}: since= for {name!r} must be opset numbers >= 1, got {since!r}")
        return versions

    # ---- loading --------------------------------------------------------------------------------------------
    def mark_loaded(self) -> None:
        """Called by the driver module once it has imported every built-in handler module."""
        self._loaded = True

    def _check_loaded(self):
        if not self._loaded:
            raise RuntimeError(f"the {self.what} table was read before its handler modules were imported")

    # ---- lookup ---------------------------------------------------------------------------------------------
    def __contains__(self, name) -> bool:
        self._check_loaded()
        return name in self._table

    def get(self, name: str, opset: int | None = None, node: str | None = None) -> Handler | None:
        """The handler for ``name`` (at ``opset`` for a versioned table); None when the op has none."""
        self._check_loaded()
        slot = self._table.get(name)
        if not slot:
            return None
        if not self.versioned:
            return slot[None]
        if opset is None:
            raise TypeError(f"{self.what} is versioned: get({name!r}) needs the opset")
        return slot[select_version(slot, opset, name, node)]

    def versions(self, name: str) -> list:
        """Sorted versions registered for ``name`` (empty for an unknown op or an unversioned table)."""
        self._check_loaded()
        return sorted(v for v in self._table.get(name, {}) if v is not None)

    def supported(self):
        """Sorted op names; for a versioned table, op name -> sorted versions."""
        self._check_loaded()
        if self.versioned:
            return {name: sorted(slot) for name, slot in sorted(self._table.items())}
        return sorted(self._table)

    def __repr__(self):
        return f"Registry({self.what!r}, {len(self._table)} ops)"
