"""MXNet export of the control flow that ``ir/passes/control_flow.py`` could not lower.

``if`` -> MXNet's ``_cond``, which carries its condition, then and else graphs as subgraphs of the node (the
form ``mx.sym.contrib.cond`` serialises); each subgraph's inputs are positions in the node's inputs
(``*_input_locs``).  MXNet runs only the taken branch, and the branches may give different shapes: Gluon
(``import_to_gluon``) then learns the output shape at run time.  ``loop`` has no form here yet: the lowering's
error (a loop it cannot unroll) stands.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import unsupported_feature
from nnvm_bridge.ir import dtypes as _dt

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


class _Inputs:
    """The node's input list, shared by its subgraphs: one position per distinct outer value."""

    def __init__(self, ctx, node, values):
        self.ctx, self.node, self.values = ctx, node, values
        self.entries, self.where = [], {}

    def locs(self, formals):
        """Positions of a subgraph's inputs: formal k is ``values[k]``; an array becomes a new parameter."""
        out = []
        for f in formals:
            key = ("formal", f) if isinstance(f, int) else ("const", id(f))
            if key not in self.where:
                entry = self.values[f] if isinstance(f, int) else self.ctx.const(f"{self.node.name}_const", f)
                self.where[key] = len(self.entries)
                self.entries.append(entry)
            out.append(self.where[key])
        return out


def _condition_graph(dtype):
    """The condition subgraph: its one input as float32 (the dtype _cond gives a condition)."""
    hint = {"__dtype__": str(_dt.to_mxnet(mx_dtype(dtype)))}
    return {"nodes": [{"op": "null", "name": "cond", "inputs": [], "attrs": hint},
                      {"op": "Cast", "name": "cond_float", "attrs": {"dtype": "float32"}, "inputs": [[0, 0, 0]]}],
            "arg_nodes": [0], "heads": [[1, 0, 0]]}


@MXNET_EXPORT.register("if")
def _if(ctx, node, attrs, inputs):
    shapes = [ctx.shape(e) for e in node.inputs[1:]]
    dtypes = [ctx.dtype(e) for e in node.inputs[1:]]
    ins = _Inputs(ctx, node, list(inputs))  # formal 0 is the condition, formal k + 1 the branches' formal k
    cond_locs = ins.locs([0])
    branches, locs = [], []
    empties = {k: np.asarray(ctx.params[e.node.name]) for k, e in enumerate(node.inputs[1:])
               if e.node.is_variable and e.node.name in ctx.params and np.asarray(ctx.params[e.node.name]).size == 0}
    for body in node.subgraphs:
        graph, formals = ctx.emit_subgraph(body, shapes, dtypes, empties=empties, seed_dtype=ctx.dtype(node.inputs[0]))
        branches.append(graph)
        locs.append(ins.locs([0 if f is None else f + 1 if isinstance(f, int) else f for f in formals]))
    out = ctx.add("_cond", node.name, ins.entries,
                  {"num_args": len(ins.entries) + 3, "num_outputs": attrs.num_outputs, "cond_input_locs": cond_locs,
                   "then_input_locs": locs[0], "else_input_locs": locs[1]})
    ctx.nodes[out[0]]["subgraphs"] = [_condition_graph(ctx.dtype(node.inputs[0]))] + branches
    return [(out[0], k) for k in range(attrs.num_outputs)]


@MXNET_EXPORT.register("loop")
def _loop(ctx, node, attrs, inputs):
    raise unsupported_feature(node.op, node.name, "a loop that cannot be unrolled (a trip count or condition known "
                              "only at run time, or over 256 iterations): MXNet's _while_loop needs a fixed bound "
                              "and pads its outputs; give shape={input: dims} where the count follows from a "
                              "shape, or compile with TVM (compile_model)", direction="MXNet")
