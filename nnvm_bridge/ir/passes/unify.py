"""Two different symbolic dims broadcast against each other, or a symbol where an op needs a fixed size: take them as
one length where the model implies it.

ONNX broadcasting lets ``S`` meet ``T`` on one axis (either may be 1), and shape inference then gives
``max(S, T)``. Exporters write such pairs where the model means one length: GPT-2's attention mask of length
``total`` added to scores over ``past + sequence`` (torch.export names the mask's length on its own). No
emitter can compile a length that is one of two run-time values, so ``unify_broadcast_dims`` rewrites the
input shapes to make both one expression (``total`` becomes ``past + sequence``); a compiled model then
checks that equality on its inputs when it runs (``match_dims``), so a mask of length 1 is refused, never
misread. In the same way an input's ``num_channels`` (optimum declares the image channels dynamic) becomes the
3 that the first convolution's weight needs (``symbolic.fits`` records such pairs).
"""
from __future__ import annotations

from ..control import body_inputs
from ..symbolic import Dim, bind_shape, format_shape_hint, parse_shape, plain_symbol, recording_required_dims
from .infer import infer_shape
from .rewrite import copy_node, rewrite


def unify_broadcast_dims(graph, shape=None, params=None, *, rounds: int = 8):
    """``(graph, shape)`` with the symbols rewritten so that no ``max(a, b)`` of two symbolic dims is left where
    one side is a plain input symbol: in ``shape`` (name -> dims, for ``infer_shape``), in the inputs'
    ``__shape__`` hints and in the ``out_shape`` the importer wrote on run-time-shaped ops. Pairs it cannot
    solve (``2*S`` against ``T + 1``) stay for the emitters (TVM takes them as equal and checks that when it
    runs). ``graph`` itself is not changed."""
    shape = dict(shape or {})
    params = params or {}
    for _ in range(rounds):
        with recording_required_dims() as required:  # a symbol meeting a fixed size: channels, features
            g = infer_shape(graph, shape=shape, params=params)
            shapes = _with_bodies(g, g.attrs["shape"])
        ptr = g.node_row_ptr
        inputs = {n.name: g.attrs["shape"][ptr[g.node_id(n)]] for n in g.variables
                  if n.name not in params and g.attrs["shape"][ptr[g.node_id(n)]] is not None}
        first = _first_conflict(shapes)
        solved = next(filter(None, (_solve(p, inputs) for p in ([first] if first else []) + required)), None)
        if solved is None:
            break
        values = dict([solved])
        shape = {n: bind_shape(s, values) for n, s in shape.items()}
        graph = rewrite(graph, lambda node, ins, rw: _substituted(node, ins, values))
    return graph, shape


def _substituted(node, inputs, values):
    """A copy of ``node`` whose shape attributes, also those inside its bodies, have ``values`` substituted
    (None: nothing to change)."""
    key = "__shape__" if node.is_variable else "out_shape"
    text = node.attrs.get(key)
    attrs = None
    if isinstance(text, str) and any(name in text for name in values):
        try:
            attrs = dict(node.attrs, **{key: format_shape_hint(bind_shape(parse_shape(text), values))})
        except (ValueError, TypeError):
            pass
    if not node.subgraphs:
        return None if attrs is None else copy_node(node, inputs, attrs)
    new = copy_node(node, inputs, attrs)
    new.subgraphs = [rewrite(b, lambda n, ins, rw: _substituted(n, ins, values)) for b in node.subgraphs]
    return new


def _with_bodies(g, shapes):
    """``shapes`` and the entry shapes inside every control-flow body, inferred from the node's inputs (a merged
    decoder's cache branch adds the mask of length ``T`` to scores over the cached keys' ``S``)."""
    found = list(shapes)
    for node in g.op_nodes():
        if not node.subgraphs:
            continue
        ins = [g.shape_of(e) for e in node.inputs]
        bound = ins[1:] if node.op == "if" else [(), ins[1]] + ins[2:]  # a loop body starts with (iteration, cond)
        for body in node.subgraphs:
            b = infer_shape(body, shape={k: v for k, v in zip(body_inputs(body), bound) if v is not None})
            found += _with_bodies(b, b.attrs["shape"])
    return found


def _first_conflict(shapes):
    """The arguments of the first ``max(a, b)`` atom with two symbolic arguments in any entry's shape."""
    for s in shapes:
        for d in s or ():
            found = _max_of_symbols(d)
            if found:
                return found
    return None


def _max_of_symbols(d):
    if not isinstance(d, Dim):
        return None
    for monomial, _ in d.terms:
        for atom in monomial:
            if atom.op == "max" and all(isinstance(a, Dim) for a in atom.args):
                return atom.args
            for a in atom.args if atom.op != "sym" else ():
                found = _max_of_symbols(a)
                if found:
                    return found
    return None


def _solve(pair, inputs):
    """``(symbol, value)`` making both dims of ``pair`` equal: a plain symbol that some input has as a whole dim
    takes the other side's value. Between two plain symbols the one fewer input dims use gives way, then the
    one the inputs name later (a mask's ``T`` gives way to the ids' ``S``)."""
    if pair is None:
        return None
    uses, first = {}, {}
    for s in inputs.values():
        for d in s:
            name = plain_symbol(d)
            if name:
                uses[name] = uses.get(name, 0) + 1
                first.setdefault(name, len(first))
    options = []
    for this, other in (pair, pair[::-1]):
        name = plain_symbol(this)
        if name in uses and not (isinstance(other, Dim) and name in other.symbols()):
            options.append((uses[name], -first[name], name, other))
    if not options:
        return None
    *_, name, value = min(options, key=lambda o: o[:2])
    return name, value
