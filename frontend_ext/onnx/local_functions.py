"""Model-local ONNX functions: an IR op with no ONNX counterpart written as one node of this project's domain
whose body (a FunctionProto in the model) spells it in standard ONNX ops.

Runtimes inline the body (onnxruntime does), so the file runs anywhere; ``from_onnx`` reads the node itself
back as the IR op with its attributes, so MXNet -> ONNX -> MXNet gives MXNet's own op again.  Each body is
specialised to its node's attributes and shapes; nodes with the same body share one function (ONNX's
``overload`` tells the bodies of one op apart, hence IR version 10).
"""
from __future__ import annotations

from onnx import helper

from nnvm_bridge.frontend.onnx.convert_bridge_domain import BRIDGE_DOMAIN

FUNCTION_IR_VERSION = 10  # FunctionProto.overload


def wrap_as_function(b, start: int, op_type: str, inputs, output: str, attrs: dict) -> str:
    """Move the nodes ``b.nodes[start:]`` (computing ``output`` from ``inputs``) into a function and add a
    call node with ``attrs`` instead; the constants the body reads become Constant nodes inside it."""
    body = b.nodes[start:]
    del b.nodes[start:]
    produced = {o for n in body for o in n.output}
    tensors = {t.name: t for t in b.initializers}
    outer = list(dict.fromkeys(x for n in body for x in n.input if x and x not in produced and x not in inputs))
    missing = [x for x in outer if x not in tensors]
    if missing:
        raise AssertionError(f"{op_type} body reads graph values {missing}")  # a bug in the handler
    consts = [helper.make_node("Constant", [], [x], value=tensors[x]) for x in outer]
    nodes = _local_names(consts + body, inputs, output)
    key = (op_type, len(inputs), tuple(n.SerializeToString(deterministic=True) for n in nodes))
    fn = b.functions.get(key)
    if fn is None:
        fn = helper.make_function(BRIDGE_DOMAIN, op_type, [f"input{i}" for i in range(len(inputs))], ["output"],
                                  nodes, [helper.make_opsetid("", b.opset)], attributes=sorted(attrs),
                                  overload=f"v{sum(f.name == op_type for f in b.functions.values())}")
        b.functions[key] = fn
    return b.op(op_type, list(inputs), domain=BRIDGE_DOMAIN, overload=fn.overload, **attrs)


def _local_names(nodes, inputs, output):
    """The body with names of its own (input0.., output, v0.., n0..), so equal bodies compare equal."""
    names = {x: f"input{i}" for i, x in enumerate(inputs)}
    names[output] = "output"
    for n in nodes:
        for o in n.output:
            names.setdefault(o, f"v{len(names)}")
    for i, n in enumerate(nodes):
        n.name = f"n{i}"
        n.input[:] = [names.get(x, x) for x in n.input]
        n.output[:] = [names[o] for o in n.output]
    return nodes
