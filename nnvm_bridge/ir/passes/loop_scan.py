"""A loop's carried value that only grows by concatenation onto an empty start, as a scan output.

PyTorch's scripted ``res = torch.zeros(0, h, w); for ...: res = torch.cat((res, y))`` (torchvision pastes its
masks so) carries a value whose length changes every iteration. The same values come out of the loop as the
scan elements ``y`` stacked on a new axis 0, then that axis merged into the next one: emitters whose loops keep
their carried shapes (MXNet's ``_foreach``) run it that way. Only a loop that runs its whole trip count is
rewritten (scan outputs need one), and only where the carried value is empty on entry and the body reads it
nowhere but as the first operand of that axis-0 concatenation.
"""
from __future__ import annotations

from ..control import body_inputs, loop_layout, make_body
from ..graph import Entry, Graph, Node
from ..names import unique_name
from .infer import infer_shape
from .rewrite import rewrite


def carried_concat_as_scan(graph: Graph, params=None) -> Graph:
    loops = [n for n in graph.op_nodes() if n.op == "loop"]
    if not loops:
        return graph
    try:
        g = infer_shape(graph, params=params)
    except Exception:  # noqa: BLE001 - without shapes nothing is known to be empty; emitters report the rest
        return graph
    names = {n.name for n in graph.nodes}

    def visit(node, inputs, rw):
        if node.op != "loop":
            return None
        growing = [k for k in _growing(node) if (g.shape_of(node.inputs[2 + k]) or (None,))[0] == 0]
        return _as_scans(node, inputs, growing, names) if growing else None
    return rewrite(graph, visit)


def _growing(node):
    """The carried positions k whose body output is ``concatenate(formal_k, ..., axis=0)`` and whose formal
    nothing else in the body reads."""
    from ...ops import node_attrs

    attrs = node_attrs(node)
    if attrs.trip_count is None:
        return []
    n_carried, _, _ = loop_layout(node, attrs)
    body = node.subgraphs[0]
    formals = body_inputs(body)
    uses = {}
    for n in body.nodes:
        for e in n.inputs:
            uses[id(e.node)] = uses.get(id(e.node), 0) + 1
    for e in body.outputs:
        uses[id(e.node)] = uses.get(id(e.node), 0) + 1
    out = []
    for k in range(n_carried):
        cat = body.outputs[1 + k].node
        if cat.op != "concatenate" or int(node_attrs(cat).axis) != 0 or len(cat.inputs) < 2:
            continue
        first = cat.inputs[0].node
        if first.is_variable and first.name == formals[2 + k] and uses.get(id(first)) == 1 and \
                uses.get(id(cat)) == 1:
            out.append(k)
    return out


def _as_scans(node, inputs, growing, names):
    from ...ops import node_attrs

    attrs = node_attrs(node)
    n_carried, _, n_scan = loop_layout(node, attrs)
    body = node.subgraphs[0]
    formal_nodes = {n.name: n for n in body.nodes if n.is_variable}
    formals = body_inputs(body)
    drop = {2 + k for k in growing}
    elements = []
    for k in growing:
        cat = body.outputs[1 + k].node
        rest = cat.inputs[1:]
        elements.append(rest[0] if len(rest) == 1 else
                        Entry(Node("concatenate", unique_name(f"{cat.name}_element", names), rest, {"axis": "0"}), 0))
    kept = [k for k in range(n_carried) if k not in growing]
    outputs = [body.outputs[0]] + [body.outputs[1 + k] for k in kept] + \
        list(body.outputs[1 + n_carried:]) + elements
    new_body = make_body(outputs, [formal_nodes[f] for i, f in enumerate(formals) if i not in drop])
    new_attrs = dict(node.attrs, num_carried=str(len(kept)), num_scan=str(n_scan + len(growing)))
    loop = Node("loop", node.name, [x for i, x in enumerate(inputs) if i not in drop], new_attrs,
                subgraphs=[new_body])
    results = [None] * (n_carried + n_scan)
    for j, k in enumerate(kept):
        results[k] = Entry(loop, j)
    for s in range(n_scan):
        results[n_carried + s] = Entry(loop, len(kept) + s)
    for j, k in enumerate(growing):  # (trips, m, ...) -> (trips * m, ...): the concatenation of the elements
        stacked = Entry(loop, len(kept) + n_scan + j)
        results[k] = Entry(Node("reshape", unique_name(f"{node.name}_out{k}", names), [stacked],
                                {"shape": "(-3, -2)"}), 0)
    return results
