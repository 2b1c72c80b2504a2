"""The NNVM graph IR: nodes, entries and graphs.

A :class:`Node` is an operator application or a variable (``op == "null"``: graph inputs and
parameters alike).  An :class:`Entry` is one output of one node.  A :class:`Graph` is a set of
output entries; its node list is the NNVM topological (DFS post-order) order, from which
``arg_nodes``, ``node_row_ptr`` and entry ids follow exactly as in NNVM's ``IndexedGraph``.

Graphs are treated as values: passes build new graphs rather than mutating shared ones.
Per-entry graph attributes (``shape``, ``dtype``) are stored in ``Graph.attrs`` as lists indexed
by entry id, as NNVM does.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from ..errors import InvalidModelError


class Entry(NamedTuple):
    """Output ``index`` of ``node`` (``version`` is kept for NNVM JSON compatibility)."""

    node: "Node"
    index: int = 0
    version: int = 0

    def __repr__(self):
        return f"Entry({self.node.name!r}[{self.index}])"


class Node:
    __slots__ = ("op", "name", "inputs", "attrs", "control_deps", "subgraphs")

    def __init__(self, op: str, name: str, inputs: Iterable[Entry] = (), attrs=None,
                 control_deps=(), subgraphs=()):
        self.op = op
        self.name = name
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.control_deps = list(control_deps)
        self.subgraphs = list(subgraphs)

    @property
    def is_variable(self) -> bool:
        return self.op == "null"

    def __getitem__(self, index: int) -> Entry:
        return Entry(self, index)

    def __repr__(self):
        return f"Node({self.op}, {self.name!r})"


def variable(name: str, attrs=None) -> Node:
    return Node("null", name, (), attrs)


def topo_order(heads: Iterable[Entry], extra_nodes: Iterable[Node] = ()) -> list:
    """DFS post-order over inputs and control deps (iterative: deep graphs must not recurse).

    Raises InvalidModelError on a cycle.
    """
    order, state = [], {}
    roots = [e.node for e in heads] + list(extra_nodes)
    for root in roots:
        if state.get(id(root)) == 2:
            continue
        stack = [(root, 0)]
        state[id(root)] = 1
        while stack:
            node, i = stack.pop()
            preds = [e.node for e in node.inputs] + list(node.control_deps)
            if i < len(preds):
                stack.append((node, i + 1))
                nxt = preds[i]
                st = state.get(id(nxt))
                if st == 1:
                    raise InvalidModelError("graph contains a cycle", node=nxt.name, op=nxt.op)
                if st is None:
                    state[id(nxt)] = 1
                    stack.append((nxt, 0))
            else:
                state[id(node)] = 2
                order.append(node)
    return order


class Graph:
    """An NNVM graph: output entries plus graph attributes."""

    def __init__(self, outputs: Iterable[Entry], attrs=None, nodes: Iterable[Node] | None = None):
        self.outputs = list(outputs)
        if not self.outputs:
            raise InvalidModelError("graph has no outputs")
        self.attrs = dict(attrs or {})
        # ``nodes`` lets a loader keep the file's own order (and unused variables);
        # otherwise DFS order from the outputs.
        self.nodes = list(nodes) if nodes is not None else topo_order(self.outputs)
        self._index = {id(n): i for i, n in enumerate(self.nodes)}
        self._row_ptr = None

    # ---- indexing (NNVM IndexedGraph) -------------------------------------------------
    def node_id(self, node: Node) -> int:
        try:
            return self._index[id(node)]
        except KeyError:
            raise InvalidModelError("node is not part of this graph", node=node.name, op=node.op) from None

    @property
    def heads(self):
        return self.outputs

    @property
    def arg_nodes(self) -> list:
        return [i for i, n in enumerate(self.nodes) if n.is_variable]

    @property
    def node_row_ptr(self) -> list:
        if self._row_ptr is None:
            from ..ops import num_outputs

            ptr = [0]
            for n in self.nodes:
                ptr.append(ptr[-1] + (1 if n.is_variable else num_outputs(n)))
            self._row_ptr = ptr
        return self._row_ptr

    def entry_id(self, entry: Entry) -> int:
        return self.node_row_ptr[self.node_id(entry.node)] + entry.index

    @property
    def num_entries(self) -> int:
        return self.node_row_ptr[-1]

    # ---- convenience ---------------------------------------------------------------------
    @property
    def variables(self) -> list:
        return [n for n in self.nodes if n.is_variable]

    def input_names(self, params=None) -> list:
        """Variables that are not parameters: the model's data inputs, in graph order."""
        params = params or {}
        return [n.name for n in self.variables if n.name not in params]

    def op_nodes(self) -> list:
        return [n for n in self.nodes if not n.is_variable]

    def shape_of(self, entry: Entry):
        shapes = self.attrs.get("shape")
        if shapes is None:
            return None
        return shapes[self.entry_id(entry)]

    def dtype_of(self, entry: Entry):
        dtypes = self.attrs.get("dtype")
        if dtypes is None:
            return None
        return dtypes[self.entry_id(entry)]

    def output_names(self) -> list:
        """Unique, stable names for the graph outputs (node name, then name_output<k>)."""
        from ..ops import num_visible_outputs

        names, seen = [], set()
        for e in self.outputs:
            n = e.node
            multi = (not n.is_variable) and num_visible_outputs(n) > 1
            base = n.name if (e.index == 0 and not multi) else f"{n.name}_output{e.index}"
            if e.index == 0 and multi:
                base = f"{n.name}_output0"
            name, k = base, 1
            while name in seen:
                name, k = f"{base}_{k}", k + 1
            seen.add(name)
            names.append(name)
        return names

    def op_counts(self) -> dict:
        counts = {}
        for n in self.op_nodes():
            counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items()))

    def __repr__(self):
        return f"Graph({len(self.nodes)} nodes, {len(self.outputs)} outputs)"

    def copy_with(self, outputs=None, attrs=None) -> "Graph":
        return Graph(self.outputs if outputs is None else outputs, self.attrs if attrs is None else attrs)
