"""Binding order after FuseOps: each binding after the ``match_cast`` that binds the shape symbols it uses.

FuseOps orders a dataflow block by the tensors each binding reads and does not see a use of a shape symbol
(``arange(0, n)``, ``full((n, w))``, ``shape_to_tensor(n)``) as a use of the ``match_cast`` that binds ``n``
from a tensor computed at run time (a slice whose bounds are data). Such a binding may then come first, and
the VM build fails ("has not been computed"). ``order_after_symbol_bindings`` moves it back, keeping the
order FuseOps chose for everything else.
"""
from __future__ import annotations

import heapq


def order_after_symbol_bindings(mod):
    from tvm import relax

    for gv, func in list(mod.functions.items()):
        if isinstance(func, relax.Function) and not (func.attrs and "Primitive" in func.attrs):
            ordered = _ordered_function(relax, func)
            if ordered is not None:
                mod[gv] = ordered
    return mod


def _ordered_function(relax, func):
    body = func.body
    if not isinstance(body, relax.SeqExpr):
        return None
    known = set()
    for p in func.params:
        known.update(relax.analysis.tir_vars_in_type(_ty(p)))
    blocks, changed = [], False
    for block in body.blocks:
        bindings = _ordered_bindings(relax, block.bindings, known)
        if bindings is None:
            bindings = list(block.bindings)
        else:
            changed = True
        for b in bindings:
            if isinstance(b, relax.MatchCast):
                known.update(relax.analysis.tir_vars_in_type(_ty(b)))
        blocks.append(relax.DataflowBlock(bindings) if isinstance(block, relax.DataflowBlock)
                      else relax.BindingBlock(bindings))
    if not changed:
        return None
    return relax.Function(func.params, relax.SeqExpr(blocks, body.body), func.ret_ty, func.is_pure,
                          func.attrs, func.span)


def _ordered_bindings(relax, bindings, known):
    """The bindings in a stable topological order of their variable and symbol uses, or None when no symbol is
    bound in the block or the order already holds."""
    bindings = list(bindings)
    binder = {}  # shape symbol -> index of the match_cast that binds it first
    for i, b in enumerate(bindings):
        if isinstance(b, relax.MatchCast):
            for v in relax.analysis.tir_vars_in_type(_ty(b)):
                if v not in known and v not in binder:
                    binder[v] = i
    if not binder:
        return None
    index = {b.var: i for i, b in enumerate(bindings)}
    deps = []
    for i, b in enumerate(bindings):
        uses = {index[v] for v in relax.analysis.free_vars(b.value) if v in index}
        symbols = list(relax.analysis.free_symbolic_vars(b.value)) + list(relax.analysis.tir_vars_in_type(
            _ty(b.var)))
        uses.update(binder[v] for v in symbols if v in binder)
        uses.discard(i)
        deps.append(uses)
    if all(j < i for i, uses in enumerate(deps) for j in uses):
        return None
    users = [[] for _ in bindings]
    for i, uses in enumerate(deps):
        for j in uses:
            users[j].append(i)
    waiting = [len(uses) for uses in deps]
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(bindings[i])
        for k in users[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, k)
    return order if len(order) == len(bindings) else None  # a cycle: leave the block as it is


def _ty(x):
    return x.ty if hasattr(x, "ty") else x.struct_info  # pragma: no cover - TVM < 0.26 says struct_info
