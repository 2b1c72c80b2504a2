"""ONNX control flow: If, Loop and Scan -> the IR's ``if`` and ``loop`` (ir/control.py).

Subgraphs are converted in a :class:`BodyContext` (subgraph.py).  An If whose condition
is known at import is inlined: the taken branch's nodes join the enclosing graph and no ``if`` is left.
Scan is lowered to ``loop``: iteration ``i`` takes slice ``i`` (or ``T-1-i``) of each scan input, and the
stacked scan outputs are flipped and transposed as the directions and axes ask.  A Loop that carries a
sequence or an optional is unrolled at import (convert_sequence.py).
"""
from __future__ import annotations

import re

import numpy as np

from ...errors import InvalidModelError
from ...ir import control
from ...ir.graph import Entry
from ...ir.interpreter import run_graph
from ...ir.symbolic import count_dim, format_dim
from .convert_sequence import needs_unrolling, unroll_loop
from .registry import ONNX_IMPORT
from .sequence_values import refill, same_layout, tensors
from .subgraph import BodyContext, convert_graph

INT64_MAX = np.iinfo(np.int64).max
MAX_IMPORT_TRIPS = 1 << 16  # a loop with constant inputs runs at import up to this many iterations


# ---- If --------------------------------------------------------------------------------------
@ONNX_IMPORT.register("If", since=(1, 11, 13, 16, 19, 21, 23, 24, 25))
def _if(ctx, node, attrs, inputs):
    cond = ctx.const(inputs[0])
    if cond is not None:
        if np.asarray(cond).size != 1:
            raise ctx.error(InvalidModelError, f"the condition must hold one value, got shape {cond.shape}")
        return _inline(ctx, node, attrs["then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"])
    branches, layouts = [], []
    for key in ("then_branch", "else_branch"):
        body = BodyContext(ctx)
        values = [body.value(name) for name in convert_graph(body, attrs[key])]
        outs, extra = body.finish([t for v in values for t in tensors(v)])  # a sequence's tensors, one by one
        branches.append((body, outs, extra))
        layouts.append(values)
    ctx.node = node
    if len(layouts[0]) != len(layouts[1]):
        raise ctx.error(InvalidModelError, "the branches give different numbers of outputs")
    if not all(same_layout(a, b) for a, b in zip(*layouts)):
        raise ctx.unsupported("branches that give sequences of different lengths or optionals of different "
                              "presence: the outputs' layout would depend on data; the condition must be a "
                              "constant")
    outer = _union(extra for _, _, extra in branches)
    bodies = []
    for body, outs, extra in branches:
        mine = {_key(o): f for f, o in extra}
        formals = [mine[_key(o)] if _key(o) in mine else body.variable(body.unique("unused"), None, None)
                   for o in outer]
        bodies.append(control.make_body(outs, [f.node for f in formals]))
    if not branches[0][1]:  # only empty sequences and optionals: nothing to choose at run time
        return layouts[0]
    results = iter(ctx.emit("if", [inputs[0]] + outer, {"num_outputs": len(branches[0][1])}, subgraphs=bodies))
    return [refill(v, results) for v in layouts[0]]


def _inline(ctx, node, graph):
    """The outputs of ``graph`` converted into the enclosing graph (a folded If's taken branch)."""
    body = BodyContext(ctx, inline=True)
    names = convert_graph(body, graph)
    ctx.node = node
    for out, name in zip(node.outputs, names):
        if out and name in body.shape_values.maps[0]:  # a symbolic shape value stays known past the If
            ctx.shape_values[out] = body.shape_values[name]
    return [body.vals[name] for name in names]


def _key(e: Entry):
    return (id(e.node), e.index)


def _union(extras) -> list:
    out, seen = [], set()
    for extra in extras:
        for _, o in extra:
            if _key(o) not in seen:
                seen.add(_key(o))
                out.append(o)
    return out


# ---- Loop ------------------------------------------------------------------------------------
@ONNX_IMPORT.register("Loop", since=(1, 11, 13, 16, 19, 21, 23, 24, 25))
def _loop(ctx, node, attrs, inputs):
    graph = attrs["body"]
    if needs_unrolling(ctx, node, outer_names(node.proto)):
        return unroll_loop(ctx, node, graph)
    carried = list(node.inputs[2:])
    if any(x is None for x in carried):
        raise ctx.error(InvalidModelError, "a loop-carried input is empty")
    trips = inputs[0] if inputs[0] is not None else np.array(INT64_MAX, dtype=np.int64)
    cond = inputs[1] if inputs[1] is not None else np.array(True)
    names = [vi.name for vi in graph.input]
    if len(names) != 2 + len(carried):
        raise ctx.error(InvalidModelError, f"the body takes {len(names)} inputs; a Loop with {len(carried)} "
                                           f"carried values needs {2 + len(carried)}")

    # the iteration as a symbolic value, so that x[i:i + 1] has length 1 rather than a length of its own; only
    # where it cancels like that: a shape that keeps it would take a different value in every iteration
    iteration = f"{_symbol_base(node.name)}_iteration"
    symbolic = [True]

    def bind(body):
        it = body.formal(names[0], (), "int64")
        if symbolic[0]:
            body.shape_values[names[0]] = np.array(count_dim(iteration), dtype=object)
        c = body.formal(names[1], ctx.shape(cond), "bool")
        return [it, c] + [body.formal(n, s, ctx.dtype(x)) for n, s, x in zip(names[2:], shapes, carried)]
    shapes = [ctx.shape(x) for x in carried]
    formals, outs, extra = _converged_body(ctx, node, graph, bind, shapes, len(carried), offset=1)
    if _shapes_use(ctx, outs, iteration):
        symbolic[0], shapes = False, [ctx.shape(x) for x in carried]
        formals, outs, extra = _converged_body(ctx, node, graph, bind, shapes, len(carried), offset=1)
    if len(outs) < 1 + len(carried):
        raise ctx.error(InvalidModelError, f"the body gives {len(outs)} outputs; it must give the condition and "
                                           f"{len(carried)} carried values")
    trip_count = None
    if inputs[0] is not None and _stays_true(ctx, cond, outs[0], formals[1]):
        known = ctx.shape_value(inputs[0])
        if known is not None and known.size == 1:
            trip_count = format_dim(known.reshape(-1)[0])
    return _emit_loop(ctx, [trips, cond] + carried, formals, outs, extra, len(carried), trip_count)


def _symbol_base(name):
    name = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return name if name[:1].isalpha() or name[:1] == "_" else f"n{name}"


def _converged_body(ctx, node, graph, bind, shapes, n_carried, offset):
    """Convert a loop body with the carried shapes ``shapes`` (changed in place); where a carried value
    comes back with other dims, convert again with those dims as new symbols (a value that grows per
    iteration).  The carried values are the body outputs from ``offset`` on."""
    for _ in range(3):
        body = BodyContext(ctx)
        formals = bind(body)
        outs, extra = body.finish(convert_graph(body, graph))
        got = [body.shape(e) for e in outs[offset:offset + n_carried]]
        joined = [control.join_shapes(a, b, lambda axis, k=k: count_dim(f"{node.name}_carried{k}_dim{axis}"))
                  for k, (a, b) in enumerate(zip(shapes, got))]
        ctx.node = node
        if joined == shapes:
            break
        shapes[:] = joined
    return formals, outs, extra


def _shapes_use(ctx, outs, symbol) -> bool:
    """Whether a shape in the subgraph computing ``outs`` has the symbol ``symbol``."""
    from ...ir.graph import topo_order
    from ...ir.symbolic import Dim

    ids = {id(n) for n in topo_order(outs)}
    return any(key[0] in ids and info[0] is not None and
               any(isinstance(d, Dim) and symbol in d.symbols() for d in info[0])
               for key, info in ctx.info.items())


def _stays_true(ctx, cond, cond_out, cond_formal) -> bool:
    """The loop runs its full trip count: the condition starts true and the body passes it on (or makes it
    true)."""
    start = ctx.const(cond)
    if start is None or not bool(np.asarray(start).all()):
        return False
    if cond_out.node is cond_formal.node:
        return True
    value = ctx.const(cond_out)
    return value is not None and bool(np.asarray(value).all())


def _emit_loop(ctx, node_inputs, formals, outs, extra, n_carried, trip_count):
    body = control.make_body(outs, [f.node for f in formals] + [f.node for f, _ in extra])
    n_scan = len(outs) - 1 - n_carried
    results = ctx.emit("loop", node_inputs + [o for _, o in extra],
                       {"num_carried": n_carried, "num_scan": n_scan, "trip_count": trip_count}, subgraphs=[body])
    loop = results[0].node if results else None
    values = [ctx.const(e) for e in (loop.inputs if loop is not None else ())]
    if values and all(v is not None for v in values) and int(np.asarray(values[0]).reshape(-1)[0]) <= MAX_IMPORT_TRIPS:
        from ...ops import node_attrs

        return control.run(loop, node_attrs(loop), values, lambda g, vs: run_graph(g, inputs=vs))
    return results


# ---- Scan (lowered to loop) --------------------------------------------------------------------
@ONNX_IMPORT.register("Scan", since=(9, 11, 16, 19, 21, 23, 24, 25))
def _scan(ctx, node, attrs, inputs):
    graph = attrs["body"]
    n_in = int(attrs["num_scan_inputs"])
    n_state = len(node.inputs) - n_in
    states, scanned = list(node.inputs[:n_state]), list(node.inputs[n_state:])
    if n_in < 1 or any(x is None for x in node.inputs):
        raise ctx.error(InvalidModelError, "Scan needs at least one scan input and no empty input")
    in_axes = [_axis(a, ctx.require_rank(x, "a scan input"))
               for a, x in zip(attrs.get("scan_input_axes", [0] * n_in), scanned)]
    in_dirs = list(attrs.get("scan_input_directions", [0] * n_in))
    n_scan_out = len(graph.output) - n_state
    out_axes = list(attrs.get("scan_output_axes", [0] * max(n_scan_out, 0)))
    out_dirs = list(attrs.get("scan_output_directions", [0] * max(n_scan_out, 0)))
    return _scan_loop(ctx, node, graph, states, scanned, in_axes, in_dirs, out_axes, out_dirs)


@ONNX_IMPORT.register("Scan", since=8)
def _scan8(ctx, node, attrs, inputs):
    """Scan-8: axis 0 is a batch, each batch row is scanned on its own (the body sees no batch axis); the batch
    is unrolled, so it must be a known size, and sequence_lens (optional) must keep every row whole."""
    graph = attrs["body"]
    n_in = int(attrs["num_scan_inputs"])
    n_state = len(node.inputs) - 1 - n_in
    states, scanned = list(node.inputs[1:1 + n_state]), list(node.inputs[1 + n_state:])
    if n_in < 1 or n_state < 0 or any(x is None for x in node.inputs[1:]):
        raise ctx.error(InvalidModelError, "Scan needs at least one scan input and no empty input")
    for x in scanned:
        ctx.require_rank(x, "a scan input")
    batch, length = ctx.shape(scanned[0])[:2]
    if not isinstance(batch, int):
        raise ctx.unsupported("Scan-8 over a batch of symbolic size (the batch is unrolled); pass shape=")
    if inputs[0] is not None:
        lens = ctx.const(inputs[0])
        if lens is None or not isinstance(length, int) or not np.all(np.asarray(lens) == length):
            raise ctx.unsupported("Scan-8 sequence_lens shorter than the sequence")
    dirs = list(attrs.get("directions", [0] * n_in))
    n_out = len(graph.output) - n_state

    def row(x, b):
        taken = ctx.emit1("take", [x, np.array([b], dtype=np.int64)], {"axis": 0})
        return ctx.emit1("squeeze", [taken], {"axis": (0,)})
    rows = [_scan_loop(ctx, node, graph, [row(x, b) for x in states], [row(x, b) for x in scanned], [0] * n_in,
                       dirs, [0] * n_out, [0] * n_out) for b in range(batch)]
    return [ctx.emit1("concatenate", [ctx.emit1("expand_dims", [r[k]], {"axis": 0}) for r in rows], {"axis": 0})
            for k in range(n_state + n_out)]


def _scan_loop(ctx, node, graph, states, scanned, in_axes, in_dirs, out_axes, out_dirs):
    """Scan (opset 9 on) as a ``loop``: states, scan inputs (ONNX names or entries), their axes and directions."""
    n_in, n_state = len(scanned), len(states)
    names = [vi.name for vi in graph.input]
    n_scan_out = len(graph.output) - n_state
    if len(names) != n_state + n_in or n_scan_out < 0:
        raise ctx.error(InvalidModelError, "the body's inputs and outputs do not match the states and scan inputs")
    length = ctx.shape(scanned[0])[in_axes[0]]
    trips = np.array(length, dtype=np.int64) if isinstance(length, int) else \
        ctx.emit1("take", [ctx.shape_tensor(scanned[0]), np.array(in_axes[0], dtype=np.int64)], {"axis": 0})

    # a reversed scan input is flipped once outside the loop, so iteration i always takes slice i
    scanned = [ctx.emit1("flip", [x], {"axis": axis}) if reverse else x
               for x, axis, reverse in zip(scanned, in_axes, in_dirs)]

    def bind(body):
        it = body.formal(body.unique("iteration"), (), "int64")
        c = body.formal(body.unique("cond"), (), "bool")
        carried = [body.formal(n, s, ctx.dtype(x)) for n, s, x in zip(names, shapes, states)]
        for name, x, axis in zip(names[n_state:], scanned, in_axes):
            x = body.entry(body.capture(name, x) if isinstance(x, Entry) else x)  # a flipped input is outer too
            # a one-element index and a squeeze, as Gather does: the axis goes whether it is 0-d or (1,)
            taken = body.emit1("take", [x, body.emit1("reshape", [it], {"shape": (1,)})], {"axis": axis})
            body.vals[name] = body.emit1("squeeze", [taken], {"axis": (axis,)})
        return [it, c] + carried
    shapes = [ctx.shape(x) for x in states]
    formals, outs, extra = _converged_body(ctx, node, graph, bind, shapes, n_state, offset=0)
    results = _emit_loop(ctx, [trips, np.array(True)] + states, formals, [formals[1]] + outs, extra, n_state,
                         format_dim(length))
    final = list(results[:n_state])
    for k, y in enumerate(results[n_state:]):
        rank = len(ctx.shape(y))
        if out_dirs[k]:
            y = ctx.emit1("flip", [y], {"axis": 0})
        axis = _axis(out_axes[k], rank)
        if axis:
            perm = list(range(1, axis + 1)) + [0] + list(range(axis + 1, rank))
            y = ctx.emit1("transpose", [y], {"axes": tuple(perm)})
        final.append(y)
    return final


def _axis(axis, rank):
    return int(axis) + rank if int(axis) < 0 else int(axis)


def subgraphs_of(proto) -> list:
    """The GraphProtos held by a NodeProto's attributes (If's branches, Loop's and Scan's body)."""
    from onnx import AttributeProto

    out = []
    for a in proto.attribute:
        if a.type == AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def nested_nodes(proto) -> list:
    """Every NodeProto inside ``proto``'s subgraphs, at any depth."""
    out, stack = [], subgraphs_of(proto)
    while stack:
        g = stack.pop()
        for p in g.node:
            out.append(p)
            stack.extend(subgraphs_of(p))
    return out


def outer_names(proto) -> set:
    """The outer-scope tensor names ``proto``'s subgraphs read (what the node implicitly depends on)."""
    used = set()
    for g in subgraphs_of(proto):
        defined = {vi.name for vi in g.input} | {t.name for t in g.initializer} | {o for p in g.node for o in p.output}
        for p in g.node:
            used.update(x for x in p.input if x and x not in defined)
            used.update(x for x in outer_names(p) if x not in defined)
        used.update(o.name for o in g.output if o.name not in defined)
    return used
