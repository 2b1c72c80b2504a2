"""ONNX handlers for control flow: ``if`` -> If, ``loop`` -> Loop (bodies built by the exporter, ir/control.py)."""
from __future__ import annotations

from nnvm_bridge.ir.control import body_inputs, loop_layout

from ..registry import ONNX_EXPORT

BOOL = 9  # onnx.TensorProto.BOOL


@ONNX_EXPORT.register("if", since=11)
def _if(ctx, node, attrs, inputs):
    b = ctx.b
    branches = []
    for body in node.subgraphs:  # ONNX branches take no inputs: each formal reads the outer value
        outer = dict(zip(body_inputs(body), inputs[1:]))
        branches.append(ctx.build_body(body, ctx.in_shapes[1:], ctx.in_dtypes[1:], outer))
    cond = inputs[0] if len(ctx.in_shapes[0] or ()) == 0 else b.op("Reshape", [inputs[0], b.i64([])])
    if ctx.dtype(0) != "bool":
        cond = b.op("Cast", [cond], to=BOOL)
    return b.op("If", [cond], n_out=attrs.num_outputs, then_branch=branches[0], else_branch=branches[1])


@ONNX_EXPORT.register("loop", since=11)
def _loop(ctx, node, attrs, inputs):
    b = ctx.b
    body = node.subgraphs[0]
    n_carried, _, n_scan = loop_layout(node, attrs)
    formals = body_inputs(body)
    outer = {f: x for f, x in zip(formals[2 + n_carried:], inputs[2 + n_carried:])}
    shapes = [(), ()] + list(ctx.in_shapes[2:])
    dtypes = ["int64", "bool"] + list(ctx.in_dtypes[2:])
    graph = ctx.build_body(body, shapes, dtypes, outer)
    trips = inputs[0] if len(ctx.in_shapes[0] or ()) == 0 else b.op("Reshape", [inputs[0], b.i64([])])
    cond = inputs[1] if len(ctx.in_shapes[1] or ()) == 0 else b.op("Reshape", [inputs[1], b.i64([])])
    if ctx.dtype(1) != "bool":
        cond = b.op("Cast", [cond], to=BOOL)
    return b.op("Loop", [trips, cond] + list(inputs[2:2 + n_carried]), n_out=n_carried + n_scan, body=graph)
