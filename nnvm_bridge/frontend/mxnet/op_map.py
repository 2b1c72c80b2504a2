"""The MXNet op -> handler table.

A handler is ``fn(node, attrs, inputs, ctx) -> Entry | list[Entry]`` where ``node`` is the raw
MXNet record (``.op``, ``.name``), ``attrs`` an :class:`~.defaults.MxAttrs` (MXNet defaults
applied), ``inputs`` the already-converted input entries and ``ctx`` the
:class:`~.context.ConvertContext`.  A list result gives one entry per MXNet output.

Users can add ops with :func:`register_mxnet_op`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple


class Handler(NamedTuple):
    fn: Callable
    table: str | None  # key of defaults.TABLE holding this op's attributes (None: the op's own name)
    label_inputs: tuple  # input slots that are training labels (dropped at inference)
    weight_inputs: tuple = ()  # input slots that hold parameters (never data inputs)


HANDLERS: dict[str, Handler] = {}


def handler(*names, table=None, labels=(), weights=()):
    def deco(fn):
        for n in names:
            HANDLERS[n] = Handler(fn, table, tuple(labels), tuple(weights))
        return fn
    return deco


def register_mxnet_op(name: str, fn: Callable, *, table: dict | None = None, labels=(), weights=(),
                      override=False):
    """Plug-in hook: convert MXNet op ``name`` with ``fn(node, attrs, inputs, ctx)``.

    ``table`` maps attribute names to ``(kind, default)`` (see ``defaults.TABLE``); ``labels`` and
    ``weights`` list the input slots that are training labels or parameters.
    """
    from . import defaults

    _load()
    if name in HANDLERS and not override:
        raise ValueError(f"MXNet op {name!r} already has a handler (pass override=True)")
    if table is not None:
        defaults.TABLE[name] = table
    HANDLERS[name] = Handler(fn, None, tuple(labels), tuple(weights))


_LOADED = False


def _load():
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import handlers_math, handlers_nn, handlers_tensor  # noqa: F401  (registration)


def get_handler(op: str):
    _load()
    return HANDLERS.get(op)


def supported_ops() -> list:
    _load()
    return sorted(HANDLERS)
