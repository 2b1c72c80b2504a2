"""The MXNet export table: NNVM op -> handler that writes MXNet symbol JSON nodes.

Handlers register under literal NNVM op names and are called as ``fn(ctx, node, attrs, inputs)``
(ctx: the :class:`~.context.MXNetEmitter` building the symbol, node: the IR node, attrs: its parsed
attributes, inputs: the MXNet entries ``(node id, output)`` of its inputs); they return one MXNet
entry per IR output (None for an output with no MXNet counterpart)::

    @MXNET_EXPORT.register("my_op")
    def _my_op(ctx, node, attrs, inputs):
        return [ctx.add("relu", node.name, inputs)]

User plug-ins use :func:`frontend_ext.mxnet.to_mxnet.register_mxnet_emitter`.
"""
from __future__ import annotations

from nnvm_bridge.registry import Registry

MXNET_EXPORT = Registry("MXNet export")
