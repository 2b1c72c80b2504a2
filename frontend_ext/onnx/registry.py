"""The ONNX export table: NNVM op -> ONNX handler, versioned by ONNX opset.

Handlers register under literal NNVM op names with the first opset they are valid for, and are
called as ``fn(ctx, node, attrs, inputs)`` (ctx: :class:`~.context.NodeContext`, node: the IR node,
attrs: its parsed attributes, inputs: the ONNX value names of its inputs); they return the value
name(s) of the node's outputs::

    @ONNX_EXPORT.register("my_op", since=11)
    def _my_op(ctx, node, attrs, inputs):
        return ctx.b.op("Relu", [inputs[0]])

For a target opset the handler with the largest ``since`` <= that opset is used; when every
version is newer, :class:`~nnvm_bridge.errors.UnsupportedOpsetError` is raised (a newer handler is
never used silently).  ``check=fn(ctx, node, attrs, inputs)`` may return a reason string when a
node cannot be converted (an unsupported layout, say); the exporter reports such nodes with the
unsupported ops.  User plug-in ops register the same way (the op must also be in the NNVM op table).
"""
from __future__ import annotations

from nnvm_bridge.registry import Registry

MIN_OPSET = 11
MAX_OPSET = 21
DEFAULT_OPSET = 17

ONNX_EXPORT = Registry("ONNX export", versioned=True, options={"check": None})
