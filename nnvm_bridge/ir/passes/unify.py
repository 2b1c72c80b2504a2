"""Two different symbolic dims broadcast against each other: take them as one length where the model implies it.

ONNX broadcasting lets ``S`` meet ``T`` on one axis (either may be 1), and shape inference then gives
``max(S, T)``. Exporters write such pairs where the model means one length: GPT-2's attention mask of length
``total`` added to scores over ``past + sequence`` (torch.export names the mask's length on its own). No
emitter can compile a length that is one of two run-time values, so ``unify_broadcast_dims`` rewrites the
input shapes to make both one expression (``total`` becomes ``past + sequence``); a compiled model then
checks that equality on its inputs when it runs (``match_dims``), so a mask of length 1 is refused, never
misread.
"""
from __future__ import annotations

from ..symbolic import Dim, bind_shape, format_shape_hint, parse_shape
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
        g = infer_shape(graph, shape=shape, params=params)
        ptr, shapes = g.node_row_ptr, g.attrs["shape"]
        inputs = {n.name: shapes[ptr[g.node_id(n)]] for n in g.variables
                  if n.name not in params and shapes[ptr[g.node_id(n)]] is not None}
        solved = _solve(_first_conflict(shapes), inputs)
        if solved is None:
            break
        values = dict([solved])
        shape = {n: bind_shape(s, values) for n, s in shape.items()}
        graph = rewrite(graph, lambda node, ins, rw: _substituted(node, ins, values))
    return graph, shape


def _substituted(node, inputs, values):
    """A copy of ``node`` whose shape attributes have ``values`` substituted (None: nothing to change)."""
    key = "__shape__" if node.is_variable else "out_shape"
    text = node.attrs.get(key)
    if not isinstance(text, str) or not any(name in text for name in values):
        return None
    try:
        dims = parse_shape(text)
    except (ValueError, TypeError):
        return None
    return copy_node(node, inputs, dict(node.attrs, **{key: format_shape_hint(bind_shape(dims, values))}))


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
            name = _plain_symbol(d)
            if name:
                uses[name] = uses.get(name, 0) + 1
                first.setdefault(name, len(first))
    options = []
    for this, other in (pair, pair[::-1]):
        name = _plain_symbol(this)
        if name in uses and name not in other.symbols():
            options.append((uses[name], -first[name], name, other))
    if not options:
        return None
    *_, name, value = min(options, key=lambda o: o[:2])
    return name, value


def _plain_symbol(d):
    if isinstance(d, Dim) and len(d.terms) == 1:
        (monomial, coeff), = d.terms
        if coeff == 1 and len(monomial) == 1 and monomial[0].op == "sym":
            return monomial[0].key
    return None
