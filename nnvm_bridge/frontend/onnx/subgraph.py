"""Converting an ONNX subgraph (If's branches, Loop's, Scan's and SequenceMap's body) in a child context.

A subgraph is converted in a :class:`BodyContext`, a child of the enclosing context: a name from the
outer scope reads as its constant where it is one (so it folds inside the body), otherwise it is
*captured*: the body gets a formal input for it and the node gets the outer value as an explicit input
(a sequence's tensors one by one). Constants the body makes become parameters of the model, passed in the
same way. An ``inline`` body (a folded If's taken branch, an unrolled iteration) converts into the enclosing
graph itself.
"""
from __future__ import annotations

from collections import ChainMap

from ...errors import InvalidModelError
from ...ir.graph import Entry
from .context import ImportContext, OnnxNode
from .sequence_values import is_structured, map_tensors
from .tensors import tensor_to_array


class _ScopeValues(dict):
    """A body's ONNX names: its own, then the enclosing scopes' (an outer tensor is captured on first use)."""

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx

    def __contains__(self, name):
        return dict.__contains__(self, name) or name in self.ctx.parent.vals

    def __missing__(self, name):
        value = self.ctx.parent.vals[name]  # KeyError: no scope has it
        if isinstance(value, Entry):
            value = self.ctx.capture(name, value)
        elif is_structured(value):  # a sequence's tensors are captured one by one
            value = map_tensors(value, lambda e: self.ctx.capture(name, e) if isinstance(e, Entry) else e)
        self[name] = value
        return value


class BodyContext(ImportContext):
    """The import context of a subgraph (``inline``: the taken branch of a folded If, which converts into the
    enclosing graph itself, so outer values are used as they are; ``own_constants``: an inline context that
    still folds its own constants, as each unrolled pass of a body reuses the body's ONNX names)."""

    def __init__(self, parent: ImportContext, inline: bool = False, own_constants: bool = False):
        super().__init__(parent.opset, file=parent.file)
        self.parent, self.inline = parent, inline
        self.info, self.params, self._names, self._alive = parent.info, parent.params, parent._names, parent._alive
        self.convert_node = parent.convert_node
        self.declared = parent.declared
        self.initializer_names = set(parent.initializer_names)
        self.shape_values = ChainMap({}, parent.shape_values)
        self.partial_shape_values = ChainMap({}, parent.partial_shape_values)
        if inline and not own_constants:
            self._const_entries = parent._const_entries
        self.vals = _ScopeValues(self)
        self.captures = {}  # (id(outer node), index) -> (formal Entry, outer Entry)

    def capture(self, name, outer: Entry):
        info = self.info[(id(outer.node), outer.index)]
        if info[2] is not None:
            return info[2]  # a constant folds inside the body
        if self.inline:
            return outer
        key = (id(outer.node), outer.index)
        if key not in self.captures:
            self.captures[key] = (self.variable(self.unique(name), info[0], info[1]), outer)
        return self.captures[key][0]

    def formal(self, name, shape, dtype) -> Entry:
        """A declared input of the body, bound to the ONNX name ``name``."""
        e = self.variable(self.unique(name), shape, dtype)
        self.vals[name] = e
        return e

    def finish(self, output_names):
        """(output entries, [(formal, outer entry)] for every capture and every parameter the body uses)."""
        self.node = None
        outs = [self._materialize(self.entry(name)) for name in output_names]
        extra = list(self.captures.values())
        seen = {id(f.node) for f, _ in extra}
        for e in _variables(outs):
            if id(e.node) not in seen and e.node.name in self.params:
                seen.add(id(e.node))
                extra.append((e, self.parent.param_entry(e.node.name, e)))
        return outs, extra


def _variables(outs):
    from ...ir.graph import topo_order

    return [Entry(n, 0) for n in topo_order(outs) if n.is_variable]


def convert_graph(ctx: BodyContext, graph) -> list:
    """Convert the nodes of the ONNX GraphProto ``graph`` in ``ctx`` (its inputs already bound)."""
    for t in graph.initializer:
        ctx.vals[t.name] = tensor_to_array(t, None, ctx.file)
        ctx.reserve(t.name)
        ctx.initializer_names.add(t.name)
    nodes = [OnnxNode(p, i) for i, p in enumerate(graph.node)]
    ctx.consumers = {x for n in nodes for x in n.inputs if x} | {o.name for o in graph.output}
    produced = set()
    pending = list(nodes)
    while pending:  # ONNX lists nodes in order; tolerate files that do not
        ready = [n for n in pending if all(not x or x in produced or x not in _outputs(pending) for x in n.inputs)]
        if not ready:
            raise InvalidModelError("subgraph contains a cycle", node=pending[0].name, op=pending[0].op_type,
                                    file=ctx.file)
        for n in ready:
            ctx.convert_node(ctx, n)
            produced.update(o for o in n.outputs if o)
        pending = [n for n in pending if n not in ready]
    return [o.name for o in graph.output]


def _outputs(nodes):
    return {o for n in nodes for o in n.outputs if o}
