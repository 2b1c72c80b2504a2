"""Ops of this project's own ONNX domain: IR ops that to_onnx writes as a call of a model-local function
(frontend_ext/onnx/local_functions.py).  The node's attributes are the IR op's, so it is read back as that
op; the function body, which runtimes inline, is not needed here."""
from __future__ import annotations

from ...ops import get_op
from .registry import ONNX_IMPORT

BRIDGE_DOMAIN = "ai.nnvm_bridge"


def _read_back(ctx, op, attrs, inputs):
    unknown = sorted(set(attrs) - set(get_op(op).attrs))
    if unknown:
        raise ctx.unsupported(f"attributes {unknown} (not {op}'s)")
    return ctx.emit1(op, inputs, dict(attrs))


@ONNX_IMPORT.register("ai.nnvm_bridge.box_nms", since=1)
def box_nms(ctx, node, attrs, inputs):
    return _read_back(ctx, "box_nms", attrs, inputs)
