"""MXNet export of the control flow that ``ir/passes/control_flow.py`` could not lower.

``if`` -> MXNet's ``_cond``, which carries its condition, then and else graphs as subgraphs of the node (the
form ``mx.sym.contrib.cond`` serialises); each subgraph's inputs are positions in the node's inputs
(``*_input_locs``).  MXNet runs only the taken branch, and the branches may give different shapes: Gluon
(``import_to_gluon``) then learns the output shape at run time.  ``loop`` -> ``_foreach`` where it runs its
whole trip count, ``_while_loop`` where the data stop it (see ``_loop``).
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import BridgeError, unsupported_feature
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.control import body_inputs, loop_layout
from nnvm_bridge.ir.passes import infer_shape
from nnvm_bridge.ir.symbolic import is_symbolic, parse_dim

from ..context import dfs_inputs, mx_dtype
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
    # formals bound to empty constants are made in the branch, from the condition (see MXNetEmitter.empty)
    empties = {k: (lambda sub, seed, v=np.asarray(ctx.params[e.node.name]), name=e.node.name: sub.empty(name, v, seed))
               for k, e in enumerate(node.inputs[1:])
               if e.node.is_variable and e.node.name in ctx.params and np.asarray(ctx.params[e.node.name]).size == 0}
    consts = {k: ctx.params[e.node.name] for k, e in enumerate(node.inputs[1:])
              if e.node.is_variable and e.node.name in ctx.params}
    for body in node.subgraphs:
        graph, formals = ctx.emit_subgraph(body, shapes, dtypes, bind=empties, seed_dtype=ctx.dtype(node.inputs[0]),
                                           consts=consts)
        branches.append(graph)
        locs.append(ins.locs([0 if f is None else f + 1 if isinstance(f, int) else f for f in formals]))
    out = ctx.add("_cond", node.name, ins.entries,
                  {"num_args": len(ins.entries) + 3, "num_outputs": attrs.num_outputs, "cond_input_locs": cond_locs,
                   "then_input_locs": locs[0], "else_input_locs": locs[1]})
    ctx.nodes[out[0]]["subgraphs"] = [_condition_graph(ctx.dtype(node.inputs[0]))] + branches
    return [(out[0], k) for k in range(attrs.num_outputs)]


@MXNET_EXPORT.register("loop")
def _loop(ctx, node, attrs, inputs):
    """A loop that runs its whole trip count (the importer's ``trip_count``: a Scan, a Loop whose condition
    stays true) of a symbolic length or over the unrolling limit -> ``_foreach`` over the iteration numbers
    (0..T-1 as a (T, 1) float column: foreach walks axis 0 of its data).  A loop that the data stop is a
    ``_while_loop`` where it has no scan outputs (``_while_loop`` pads those to a fixed bound)."""
    n_carried, _, n_scan = loop_layout(node, attrs)
    _require_fixed_lengths(node, [ctx.shape(e) for e in node.inputs])
    if attrs.trip_count is None and n_scan:
        raise unsupported_feature(node.op, node.name, "scan outputs of a loop whose trip count or condition only "
                                  "the run time knows: MXNet's _while_loop pads them to a fixed bound; compile "
                                  "with TVM (compile_model) instead", direction="MXNet")
    if attrs.trip_count is None:
        return _while_loop(ctx, node, inputs, n_carried)
    seq = ctx.add("Reshape", f"{node.name}_iterations", [_iterations(ctx, node, inputs, parse_dim(attrs.trip_count))],
                  {"shape": (-1, 1)})
    shapes = [(), ctx.shape(node.inputs[1])] + [ctx.shape(node[k]) for k in range(n_carried)] + \
        [ctx.shape(e) for e in node.inputs[2 + n_carried:]]
    dtypes = ["int64", ctx.dtype(node.inputs[1])] + [ctx.dtype(node[k]) for k in range(n_carried)] + \
        [ctx.dtype(e) for e in node.inputs[2 + n_carried:]]
    iteration = {0: lambda sub, seed: sub.add("Cast", "iteration", [seed], {"dtype": "int64"})}
    # foreach's subgraph gives (*scan elements, the iteration, *carried): the body's (cond, *carried, *scans)
    order = list(range(1 + n_carried, 1 + n_carried + n_scan)) + list(range(1, 1 + n_carried))
    consts = {k: ctx.params[e.node.name] for k, e in enumerate(node.inputs)
              if k >= 2 + n_carried and e.node.is_variable and e.node.name in ctx.params}
    graph, formals = ctx.emit_subgraph(node.subgraphs[0], shapes, dtypes, bind=iteration, seed_dtype="float32",
                                       outputs=order, seed_out=n_scan, consts=consts)
    # the node takes (data, *states, *the rest); the *_locs say where each sits among the subgraph's inputs
    states = [formals.index(2 + k) if 2 + k in formals else -1 for k in range(n_carried)]
    if -1 in states:
        raise unsupported_feature(node.op, node.name, "a carried value that the body does not read",
                                  direction="MXNet")
    data = [formals.index(None)]
    remain = [i for i in range(len(formals)) if i not in states and i not in data]
    entries = [seq] + [inputs[2 + k] for k in range(n_carried)] + \
        [inputs[formals[i]] if isinstance(formals[i], int) else ctx.const(f"{node.name}_const", formals[i])
         for i in remain]
    n_out_data = n_scan + 1
    out = ctx.add("_foreach", node.name, entries,
                  {"num_args": len(entries) + 1, "num_outputs": n_out_data + n_carried, "num_out_data": n_out_data,
                   "in_data_locs": data, "in_state_locs": states, "remain_locs": remain})
    ctx.nodes[out[0]]["subgraphs"] = [graph]
    return [(out[0], n_out_data + k) for k in range(n_carried)] + [(out[0], k) for k in range(n_scan)]


_INT32_MAX = 2**31 - 1  # _while_loop's max_iterations is an int


def _require_fixed_lengths(node, shapes):
    """An error naming the first body node whose output length only the data decide (a symbol that no input
    of the loop has: a slice to a box's corners). MXNet's _foreach and _while_loop infer their body's shapes
    before it runs, and no length past such a node (boolean_mask in MXNet) is known then."""
    body = node.subgraphs[0]
    known = {s for shape in shapes if shape for d in shape if is_symbolic(d) for s in d.symbols()}
    try:
        g = infer_shape(body, shape={n: s for n, s in zip(body_inputs(body)[1:], shapes[1:]) if s is not None})
    except BridgeError:
        return
    for n in g.op_nodes():
        shape = g.shape_of(n[0])
        if any(s not in known for d in shape or () if is_symbolic(d) for s in d.symbols()):
            dims = ", ".join(map(str, shape))
            raise unsupported_feature(node.op, node.name, f"a body whose lengths the data decide ({n.op} {n.name!r} "
                                      f"gives ({dims})): MXNet's _foreach and _while_loop infer their body's shapes "
                                      "before it runs; compile with TVM (compile_model) instead", direction="MXNet")


def _while_loop(ctx, node, inputs, n_carried):
    """A loop the data stop, without scan outputs -> ``_while_loop`` over (iteration, condition, *carried):
    its condition graph is ``iteration < trip count and condition``, its body the loop body with the
    iteration counted up; max_iterations is the trip count where it is a constant, else int32's largest."""
    for k in range(n_carried):
        if ctx.shape(node.inputs[2 + k]) != ctx.shape(node[k]):
            raise unsupported_feature(node.op, node.name, f"a carried value whose shape changes from "
                                      f"{ctx.shape(node.inputs[2 + k])} to {ctx.shape(node[k])}: MXNet's "
                                      "_while_loop keeps its loop variables' shapes; compile with TVM "
                                      "(compile_model) instead", direction="MXNet")
    shapes = [(), ctx.shape(node.inputs[1])] + [ctx.shape(e) for e in node.inputs[2:]]
    dtypes = ["int64"] + [ctx.dtype(e) for e in node.inputs[1:]]
    graph, formals = ctx.emit_subgraph(node.subgraphs[0], shapes, dtypes, bind={0: lambda sub, seed: seed},
                                       seed_dtype="int64", seed_out=0)
    nodes = graph["nodes"]

    def place(formal):  # the position of a formal among the body's inputs (arrays among them: no list.index)
        return next((i for i, f in enumerate(formals) if (f is None if formal is None else f is not None and
                                                          not isinstance(f, np.ndarray) and f == formal)), None)

    seed = graph["arg_nodes"][place(None)]
    nodes.append({"op": "_plus_scalar", "name": "next_iteration", "attrs": {"scalar": "1"},
                  "inputs": [[seed, 0, 0]]})
    graph["heads"][0] = [len(nodes) - 1, 0, 0]
    for k in range(1 + n_carried):  # every loop variable must be a body input: add 0 to those the body ignores
        if place(1 + k) is None:
            if k:
                raise unsupported_feature(node.op, node.name, "a carried value that the body does not read",
                                          direction="MXNet")
            nodes.append({"op": "null", "name": "condition_in", "inputs": []})
            nodes.append({"op": "zeros_like", "name": "condition_in_zero", "inputs": [[len(nodes) - 1, 0, 0]]})
            head = graph["heads"][1]
            nodes.append({"op": "broadcast_add", "name": "condition_out", "inputs": [head, [len(nodes) - 1, 0, 0]]})
            graph["heads"][1] = [len(nodes) - 1, 0, 0]
            formal_of = {**dict(zip(graph["arg_nodes"], formals)), len(nodes) - 3: 1}
            graph["arg_nodes"] = dfs_inputs(nodes, graph["heads"])  # the order MXNet binds them in
            formals = [formal_of[i] for i in graph["arg_nodes"]]
    trips = ctx.params.get(node.inputs[0].node.name) if node.inputs[0].node.is_variable else None
    bound = _INT32_MAX if trips is None else int(min(max(int(np.asarray(trips).reshape(-1)[0]), 0), _INT32_MAX))
    values = [ctx.const(f"{node.name}_iteration0", np.zeros(1, np.int64))] + list(inputs[1:]) + [inputs[0]]
    ins = _Inputs(ctx, node, values)
    func_locs = ins.locs([0 if f is None else f for f in formals])
    cond_locs = ins.locs([0, len(values) - 1, 1])  # the condition graph's inputs: iteration, trip count, condition
    var_locs = [place(None)] + [place(1 + k) for k in range(1 + n_carried)]
    out = ctx.add("_while_loop", node.name, ins.entries,
                  {"num_args": len(ins.entries) + 2, "num_outputs": 2 + n_carried, "num_out_data": 0,
                   "max_iterations": bound, "cond_input_locs": cond_locs, "func_input_locs": func_locs,
                   "func_var_locs": var_locs})
    ctx.nodes[out[0]]["subgraphs"] = [_while_condition_graph(), graph]
    return [(out[0], 2 + k) for k in range(n_carried)]


def _while_condition_graph():
    """iteration < trip count and condition, as float32 (both int64 (1,) and the condition uint8)."""
    def node(op, name, inputs, attrs=None):
        return {"op": op, "name": name, "inputs": [[i, 0, 0] for i in inputs], **({"attrs": attrs} if attrs else {})}
    nodes = [node("null", "iteration", []), node("null", "trips", []), node("broadcast_lesser", "within", [0, 1]),
             node("Cast", "within_f", [2], {"dtype": "float32"}), node("null", "condition", []),
             node("Cast", "condition_f", [4], {"dtype": "float32"}), node("broadcast_mul", "go_on", [3, 5])]
    return {"nodes": nodes, "arg_nodes": [0, 1, 4], "heads": [[6, 0, 0]]}


def _iterations(ctx, node, inputs, trips):
    """0..trips-1 (float32): an arange, or, for a symbolic count, an arange_like over an input of that length."""
    if isinstance(trips, int):
        return ctx.add("_arange", f"{node.name}_range", [], {"start": 0, "stop": trips, "dtype": "float32"})
    for e, entry in zip(node.inputs, inputs):
        shape = ctx.shape(e) or ()
        if trips in shape:
            return ctx.add("_contrib_arange_like", f"{node.name}_range", [entry], {"axis": list(shape).index(trips)})
    raise unsupported_feature(node.op, node.name, f"a trip count {trips} that no input has as a dim",
                              direction="MXNet")
