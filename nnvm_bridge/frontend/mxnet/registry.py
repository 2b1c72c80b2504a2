"""The MXNet op -> handler table (see :mod:`nnvm_bridge.registry` for the rules every table follows).

A handler is ``fn(ctx, node, attrs, inputs) -> Entry | list[Entry]``: ``ctx`` is the
:class:`~.context.ConvertContext`, ``node`` the raw MXNet record (``.op``, ``.name``), ``attrs`` an
:class:`~.defaults.MxAttrs` reading the node's strings with MXNet's defaults, ``inputs`` the
already-converted input entries.  A list result gives one entry per MXNet output.

Options: ``attrs`` is the op's attribute spec (name -> :class:`~nnvm_bridge.ops.registry.Attr`, from
:mod:`.defaults`); ``labels`` and ``weights`` are the input slots that hold training labels (dropped
at inference) and parameters (never data inputs); ``subgraphs=True`` marks a fused op whose handler inlines
the subgraph it carries (``ctx.convert_subgraph``).  The driver (:mod:`.importer`) loads the handlers.
"""
from __future__ import annotations

from ...registry import Registry

MXNET_IMPORT = Registry("MXNet import", options={"attrs": None, "labels": (), "weights": (), "subgraphs": False})
