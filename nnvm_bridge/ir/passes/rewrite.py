"""A small graph-rewriting driver shared by the passes.

Passes never mutate their input: :func:`rewrite` visits the nodes in graph order and builds a
fresh copy in which each node may be kept (with remapped inputs), replaced by a new node, or
replaced by existing entries (one per output).  The node order of the input graph is kept, so
graph inputs keep their order.
"""
from __future__ import annotations

from typing import Callable

from ..graph import Entry, Graph, Node, topo_order

# Graph attributes indexed by entry id; they are stale once the structure changes.
PER_ENTRY_ATTRS = ("shape", "dtype", "dltype", "storage_id", "device_index", "layout")


class Rewriter:
    """Maps entries of the old graph to entries of the new one while a pass runs."""

    def __init__(self):
        self._map = {}  # (id(old node), index) -> new Entry

    def entry(self, old: Entry) -> Entry:
        return self._map[(id(old.node), old.index)]

    def inputs(self, node: Node) -> list:
        return [self.entry(e) for e in node.inputs]

    def bind(self, old: Node, new_entries: list):
        for k, e in enumerate(new_entries):
            self._map[(id(old), k)] = e

    def has(self, old: Entry) -> bool:
        return (id(old.node), old.index) in self._map


def copy_node(node: Node, inputs, attrs=None) -> Node:
    return Node(node.op, node.name, inputs, dict(node.attrs if attrs is None else attrs), [], node.subgraphs)


def rewrite(graph: Graph, visit: Callable | None = None, *, outputs: Callable | None = None,
            keep_unused_variables: bool = True, keep_attrs: bool = False) -> Graph:
    """Build a rewritten copy of ``graph``.

    ``visit(node, new_inputs, rw)`` returns ``None`` (copy the node with ``new_inputs``), a
    :class:`Node` (its outputs replace the old node's), or a list of entries (one per output of
    the old node; ``None`` for an output that must no longer be used).
    ``outputs(new_outputs)`` may filter or reorder the new graph's outputs.
    ``keep_unused_variables`` (a bool, or a predicate on the new variable node) says which
    variables no output depends on stay in the graph.
    """
    from ...ops import num_outputs

    rw = Rewriter()
    created = []  # new nodes in the old graph's order
    copies = []  # (old, new) pairs of plainly copied nodes, for control deps
    for node in graph.nodes:
        new_inputs = rw.inputs(node)
        result = None if visit is None else visit(node, new_inputs, rw)
        if result is None:
            result = copy_node(node, new_inputs)
            copies.append((node, result))
        if isinstance(result, Node):
            n_out = 1 if result.is_variable else num_outputs(result)
            created.append(result)
            rw.bind(node, [Entry(result, k) for k in range(n_out)])
        else:
            rw.bind(node, list(result))
    # Control deps refer to nodes: keep those whose target is still a node of its own.
    for old, new in copies:
        for c in old.control_deps:
            e = rw.entry(Entry(c, 0)) if rw.has(Entry(c, 0)) else None
            if e is not None and e.node not in new.control_deps:
                new.control_deps.append(e.node)
    new_outputs = [rw.entry(e) for e in graph.outputs]
    if outputs is not None:
        new_outputs = outputs(new_outputs)
    # Per-entry attrs stay valid only if the entry numbering is unchanged.
    keep_attrs = keep_attrs and len(created) == len(graph.nodes) and len(new_outputs) == len(graph.outputs)
    g = assemble(new_outputs, created, graph.attrs, keep_unused_variables=keep_unused_variables,
                 keep_attrs=keep_attrs)
    if keep_attrs and len(g.nodes) != len(graph.nodes):
        for key in PER_ENTRY_ATTRS:
            g.attrs.pop(key, None)
    return g


def assemble(outputs, candidates, attrs, *, keep_unused_variables=True, keep_attrs=False) -> Graph:
    """A Graph over the nodes reachable from ``outputs``, in ``candidates`` order."""
    order = topo_order(outputs)
    reachable = {id(n) for n in order}
    keep_var = keep_unused_variables if callable(keep_unused_variables) else (lambda n: keep_unused_variables)
    wanted = [n for n in candidates if id(n) in reachable or (n.is_variable and keep_var(n))]
    # Place nodes in ``candidates`` order, pulling in inputs first (nodes a visitor created
    # outside ``candidates`` are found this way).
    nodes = _place_in_order(wanted + order)
    new_attrs = dict(attrs) if keep_attrs else {k: v for k, v in attrs.items() if k not in PER_ENTRY_ATTRS}
    return Graph(outputs, new_attrs, nodes=nodes)


def _place_in_order(nodes):
    """Keep ``nodes``' order as far as possible while listing every node after its inputs."""
    out, placed = [], set()
    for n in nodes:
        stack = [n]
        while stack:
            cur = stack[-1]
            if id(cur) in placed:
                stack.pop()
                continue
            pending = [e.node for e in cur.inputs if id(e.node) not in placed] + \
                [c for c in cur.control_deps if id(c) not in placed]
            if pending:
                stack.append(pending[0])
                continue
            stack.pop()
            placed.add(id(cur))
            out.append(cur)
    return out
