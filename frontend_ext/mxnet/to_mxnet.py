"""to_mxnet: (NNVM Graph, params) -> (MXNet 1.9.1 symbol JSON, arg_params, aux_params).

Pure Python and numpy: MXNet is not needed.  Each IR op maps to one or a few MXNet ops (the
handlers in ``handlers/``, registered in ``registry.MXNET_EXPORT``); auxiliary states are the
variables an op mutates (the op table's ``mutate_inputs``, e.g. batch_norm's moving mean and
variance).  MXNet's legacy executor has no bool tensors, so bool becomes uint8 (0/1).
"""
from __future__ import annotations

import json

import numpy as np

from nnvm_bridge.errors import InvalidModelError, OpTally, ParamsError, ShapeError, UnsupportedOperatorError
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.graph import Graph
from nnvm_bridge.ir.passes import (carried_concat_as_scan, has_control_flow, infer_shape, infer_type,
                                   lower_control_flow, unify_broadcast_dims)
from nnvm_bridge.ir.symbolic import SymbolicDimError, format_shape_hint, is_static, parse_shape_hint
from nnvm_bridge.ops import get_op, node_attrs

from .context import MXNetEmitter, dfs_inputs, mx_dtype, param_hints
from .handlers import (control, datadep, detection, dynamic, elementwise, nms, nn, quantize, rnn, roi,  # noqa: F401
                       sampling, scatter, tensor)  # (they register the handlers)
from .handlers import runtime_resize  # noqa: F401,I001
from .registry import MXNET_EXPORT

MXNET_EXPORT.mark_loaded()

_MX_VERSION = 10901


def register_mxnet_emitter(op: str, fn, *, override: bool = False) -> None:
    """Plug-in hook: ``fn(ctx, node, attrs, inputs) -> [MXNet entries]`` writes IR op ``op``
    (ctx: the MXNetEmitter, inputs: the MXNet entries of the node's inputs).  Replacing a
    built-in emitter needs ``override=True``."""
    MXNET_EXPORT.add(op, fn, override=override)


def _handler(node):
    return MXNET_EXPORT.get(node.op) or MXNET_EXPORT.get(get_op(node.op, node.name).name)


def _variable_hints(g, node, params):
    if node.name in params:
        # shape hints let MXNet bind params that only broadcast ops consume
        return param_hints(params[node.name])
    hints = {k: v for k, v in node.attrs.items() if k in ("__shape__", "__dtype__")}
    if "__shape__" in hints:
        shape = parse_shape_hint(hints["__shape__"], node.name)
        if not is_static(shape):  # MXNet writes 0 for a dim it learns at bind time
            hints["__shape__"] = format_shape_hint(shape, mxnet=True)
    dt = g.dtype_of(node[0])
    if dt is not None:
        hints["__dtype__"] = str(_dt.to_mxnet(mx_dtype(dt)))
    return hints or None


def _check_supported(graph):
    missing = OpTally()
    for node in graph.op_nodes():
        if _handler(node) is None:
            missing.add(node.op, node.name)
    missing.raise_if_any(direction="MXNet")


def _check_dtypes(g):
    """MXNet has no float8 arrays, and no exact way to stand in for them that would still give the user float8
    values: one error naming every node that makes or takes one."""
    dtypes = g.attrs.get("dtype") or []
    missing = OpTally()
    for nid, node in enumerate(g.nodes):
        made = dtypes[g.node_row_ptr[nid]:g.node_row_ptr[nid + 1]]
        for dt in sorted({d for d in made if d is not None and _dt.is_float8(d)}):
            missing.add("input" if node.is_variable else node.op, node.name, f"{dt}: MXNet has no float8 arrays")
    missing.raise_if_any(direction="MXNet")


def _emit_nodes(ctx, g, params, mapping, aux_names):
    """Write the nodes of the inferred graph ``g`` into ``ctx``; ``mapping``: (id(node), output) -> entry."""
    ctx.emit_subgraph = lambda *a, **k: _emit_subgraph(ctx, *a, **k)
    for node in g.nodes:
        if node.is_variable:
            if (id(node), 0) not in mapping:  # (a subgraph's empty formals are made already)
                mapping[(id(node), 0)] = ctx.var(node.name, _variable_hints(g, node, params))
            ctx.note_dims(g.shape_of(node[0]), mapping[(id(node), 0)])
            continue
        for i in get_op(node.op, node.name).mutate_inputs:
            if i < len(node.inputs) and node.inputs[i].node.is_variable:
                aux_names.add(node.inputs[i].node.name)
        inputs = [mapping[(id(e.node), e.index)] for e in node.inputs]
        try:
            outs = _handler(node)(ctx, node, node_attrs(node), inputs)
        except SymbolicDimError as exc:
            raise ShapeError(f"MXNet cannot express this node at an unknown size ({exc.bare_message.split(';')[0]}); "
                             "give the symbolic input dims values with shape={input: dims}", node=node.name,
                             op=node.op) from None
        for k, o in enumerate(outs):
            if o is not None:
                mapping[(id(node), k)] = o
                ctx.note_dims(g.shape_of(node[k]), o)


_SEED = "__seed__"


def _emit_subgraph(ctx, body, shapes, dtypes, bind=None, seed_dtype=None, outputs=None, seed_out=None,
                   consts=None):
    """A control node's ``body`` as an MXNet subgraph: ``(graph JSON dict, formal of each graph input)``, the
    inputs in the order MXNet binds them (its indexed graph's: depth first from the heads; a formal no output
    uses is no input).  A formal is an index into ``body``'s formals, an array (a constant the handlers made,
    which the caller passes in as a parameter of its own), or None: the *seed*, an input of ``seed_dtype``
    from which ``bind[k](sub, seed)`` makes formal k inside the subgraph.  ``outputs``: which body outputs
    the subgraph gives, in order (default all); ``seed_out``: a position among them where the seed itself is
    one more output (so that it is an input even where the body does not use it).  ``consts``: {formal index:
    array} for formals bound to constants, which the body's handlers may read as they read parameters (an
    attribute such as box_nms's threshold); they stay inputs of the subgraph."""
    from nnvm_bridge.ir.control import body_inputs

    names = body_inputs(body)
    g = infer_shape(body, shape={n: s for n, s in zip(names, shapes) if s is not None})
    g = infer_type(g, dtype=dict(zip(names, dtypes)))
    _check_supported(g)
    sub = MXNetEmitter(g, {names[k]: v for k, v in (consts or {}).items()})
    mapping = {}
    seed = None
    if bind:
        seed = sub.var(_SEED, {"__dtype__": str(_dt.to_mxnet(mx_dtype(seed_dtype)))})
        for n in g.variables:
            if names.index(n.name) in bind:
                mapping[(id(n), 0)] = bind[names.index(n.name)](sub, seed)
    _emit_nodes(sub, g, {}, mapping, set())
    heads = [mapping[(id(e.node), e.index)] for e in (g.outputs if outputs is None else
                                                      [g.outputs[k] for k in outputs])]
    if seed_out is not None:
        heads.insert(seed_out, seed)
    for k, entry in enumerate(heads):
        if sub.nodes[entry[0]]["op"] == "null":  # a subgraph input given back as it is: MXNet needs an op there
            heads[k] = sub.add("_copy", f"{sub.nodes[entry[0]]['name']}_copy", [entry])
    heads = [[nid, index, 0] for nid, index in heads]
    order = dfs_inputs(sub.nodes, heads)
    formal_of = {i: names.index(nd["name"]) for i, nd in enumerate(sub.nodes)
                 if nd["op"] == "null" and nd["name"] in names}
    formals = [formal_of[i] if i in formal_of else None if sub.nodes[i]["name"] == _SEED else
               np.asarray(sub.param_overrides[sub.nodes[i]["name"]]) for i in order]
    return {"nodes": sub.nodes, "arg_nodes": order, "heads": heads}, formals


def to_mxnet(graph, params):
    """(Graph, params) -> (symbol JSON text, arg_params, aux_params), numpy arrays, no MXNet needed."""
    if not isinstance(graph, Graph):
        raise InvalidModelError(f"to_mxnet expects an nnvm_bridge Graph, got {type(graph).__name__}")
    if params is not None and not isinstance(params, dict):
        raise ParamsError(f"params must be a dict name -> array, got {type(params).__name__}")
    params = dict(params or {})
    if has_control_flow(graph):  # if as a select and loops unrolled (ir/passes/control_flow.py); what cannot
        # be lowered becomes MXNet's own control flow (handlers/control.py)
        graph, params = lower_control_flow(graph, params, direction="MXNet", keep=True)
        graph = carried_concat_as_scan(graph, params)  # _foreach keeps its states' shapes
    _check_supported(graph)
    graph, shape = unify_broadcast_dims(graph, params=params)  # a mask of length T against scores over S: T := S
    g = infer_shape(graph, shape=shape, params=params)
    g = infer_type(g, params=params)
    _check_dtypes(g)
    ctx = MXNetEmitter(g, params)
    mapping = {}
    aux_names = set()
    _emit_nodes(ctx, g, params, mapping, aux_names)
    heads = []
    for e in g.outputs:
        key = (id(e.node), e.index)
        if key not in mapping:
            raise UnsupportedOperatorError({f"{e.node.op} output {e.index}": [e.node.name]}, direction="MXNet")
        heads.append([mapping[key][0], mapping[key][1], 0])
    doc = {"nodes": ctx.nodes,
           "arg_nodes": [i for i, nd in enumerate(ctx.nodes) if nd["op"] == "null"],
           "heads": heads,
           "attrs": {"mxnet_version": ["int", _MX_VERSION]}}
    used = {nd["name"] for nd in ctx.nodes if nd["op"] == "null"}
    all_params = {k: v for k, v in params.items() if k in used}
    all_params.update(ctx.param_overrides)
    arg_params, aux_params = {}, {}
    for k, v in all_params.items():
        v = np.asarray(v)
        if v.dtype == np.bool_:
            v = v.astype(np.uint8)
        (aux_params if k in aux_names else arg_params)[k] = v
    return json.dumps(doc, indent=2), arg_params, aux_params


__all__ = ["to_mxnet", "register_mxnet_emitter"]
