"""Relax emitters for the control flow that ``ir/passes/control_flow.py`` could not lower.

The lowering (a select, an unrolled loop) runs first because it compiles to faster code; what reaches these
emitters is an ``if`` whose condition is known only at run time and whose branches give different shapes,
or a ``loop`` whose trip count or condition the data decide (or that is too long to unroll):

- ``if`` -> a Relax ``If`` on a 0-d bool; each branch is a SeqExpr of its body.  A value whose shape differs
  between the branches leaves the If with its rank only, and to_relax's ``match_cast`` binds the IR's fresh
  symbol to the length computed at run time.
- ``loop`` -> a private recursive Relax function ``f(symbols, i, max_trips, cond, *carried, *captured,
  *scans)`` that returns its arguments when ``i < max_trips and cond`` fails and otherwise runs the body once
  and calls itself; scan outputs grow by one concatenated element per iteration.  The outer symbols its
  shapes use come in as the one ``R.Shape`` parameter ``symbols`` (a function sees no symbol of its caller).

Both need a function without dataflow blocks; to_relax emits one and converts pure stretches back to
dataflow blocks afterwards.  Bodies are emitted by ``ctx.emit_body`` (to_relax's node loop).
"""
from __future__ import annotations

import re

from nnvm_bridge.ir.control import loop_layout
from nnvm_bridge.ir.symbolic import Dim

from .. import compat
from ..registry import RELAX_EXPORT
from .context import _op
from .symbols import SymbolTable


def _bool_scalar(ctx, x, dtype):
    op = _op()
    x = ctx.emit(op.reshape(x, []))
    return x if dtype == "bool" else ctx.emit(op.astype(x, "bool"))


def _branch(ctx, emit):
    """A SeqExpr of what ``emit()`` emits, whose value is the list ``emit()`` returns (a tuple if several)."""
    rx = compat.relax()
    ctx.bb._begin_binding_block()
    outs = emit()
    result = outs[0] if len(outs) == 1 else ctx.emit(rx.Tuple(outs))
    return rx.SeqExpr([ctx.bb._end_block()], result)


def _unpack(ctx, value, n):
    rx = compat.relax()
    return [value] if n == 1 else [ctx.emit(rx.TupleGetItem(value, k)) for k in range(n)]


@RELAX_EXPORT.register("if")
def _if(ctx, node, attrs, inputs):
    rx = compat.relax()
    cond = _bool_scalar(ctx, inputs[0], ctx.in_dtypes[0])
    args, shapes, dtypes = inputs[1:], ctx.in_shapes[1:], ctx.in_dtypes[1:]
    then, other = (_branch(ctx, lambda body=body: ctx.emit_body(body, args, shapes, dtypes))
                   for body in node.subgraphs)
    return _unpack(ctx, ctx.emit(rx.If(cond, then, other)), attrs.num_outputs)


# ---- loop -----------------------------------------------------------------------------------------
def _symbols(shapes) -> list:
    return sorted({name for s in shapes for d in s if isinstance(d, Dim) for name in d.symbols()})


@RELAX_EXPORT.register("loop")
def _loop(ctx, node, attrs, inputs):
    rx = compat.relax()
    op = _op()
    n_carried, _, n_scan = loop_layout(node, attrs)
    cond_shape, cond_dtype = ctx.in_shapes[1], ctx.in_dtypes[1]
    # every iteration's carried values have the shapes the IR gives the loop's results (joined over iterations)
    carried_shapes, carried_dtypes = list(ctx.out_shapes[:n_carried]), list(ctx.out_dtypes[:n_carried])
    captured_shapes, captured_dtypes = ctx.in_shapes[2 + n_carried:], ctx.in_dtypes[2 + n_carried:]
    elem_shapes, elem_dtypes = [s[1:] for s in ctx.out_shapes[n_carried:]], ctx.out_dtypes[n_carried:]
    outer = _symbols(ctx.in_shapes)
    inner = sorted(set(_symbols(elem_shapes)) - set(outer))
    if inner:
        ctx.fail(f"a scan output whose element shape uses {', '.join(inner)} (a length the loop itself decides) "
                 "cannot be stacked in Relax")

    table = SymbolTable()  # the function's own tir.Vars (its parameters define them)
    tt = compat.tensor_type
    symbols = rx.Var("symbols", compat.shape_type([table.var(s) for s in outer]))
    it = rx.Var("iteration", tt([], "int64"))
    limit = rx.Var("max_trips", tt([], "int64"))
    cond = rx.Var("cond", tt(table.shape(cond_shape), cond_dtype))
    carried = [rx.Var(f"carried{k}", tt(table.shape(s), d)) for k, (s, d) in enumerate(zip(carried_shapes,
                                                                                           carried_dtypes))]
    captured = [rx.Var(f"captured{k}", tt(table.shape(s), d)) for k, (s, d) in enumerate(zip(captured_shapes,
                                                                                             captured_dtypes))]
    scans = [rx.Var(f"scan{k}", tt([table.var(f"{node.name}_scan{k}_count")] + table.shape(s), d))
             for k, (s, d) in enumerate(zip(elem_shapes, elem_dtypes))]
    params = [symbols, it, limit, cond] + carried + captured + scans
    ret = rx.TupleType([tt(None, d) for d in carried_dtypes + list(elem_dtypes)])
    gv = ctx.bb.add_func(_stub(params, ret), _function_name(node))

    def step():  # one iteration, then the recursive call
        outs = ctx.emit_body(node.subgraphs[0], [it, cond] + carried + captured,
                             [(), cond_shape] + carried_shapes + list(captured_shapes),
                             ["int64", cond_dtype] + carried_dtypes + list(captured_dtypes), symbols=table)
        next_cond = ctx.emit(op.reshape(outs[0], table.shape(cond_shape)))
        if compat.shape_dtype_of(next_cond)[1] != cond_dtype:
            next_cond = ctx.emit(op.astype(next_cond, cond_dtype))
        grown = [ctx.emit(op.concat([acc, ctx.emit(op.expand_dims(x, 0))], axis=0))
                 for acc, x in zip(scans, outs[1 + n_carried:])]
        following = ctx.emit(op.add(it, rx.const(1, "int64")))
        return [ctx.emit(rx.Call(gv, [symbols, following, limit, next_cond] + outs[1:1 + n_carried] + captured
                                 + grown))]

    ctx.bb.begin_scope(params)
    ctx.bb._begin_binding_block()
    go = ctx.emit(op.logical_and(op.less(it, limit), _bool_scalar(ctx, cond, cond_dtype)))
    result = ctx.emit(rx.If(go, _branch(ctx, step), _branch(ctx, lambda: [ctx.emit(rx.Tuple(carried + scans))])))
    body = ctx.bb.normalize(rx.SeqExpr([ctx.bb._end_block()], result))
    ctx.bb.end_scope()
    ctx.bb.update_func(gv, rx.Function(params, body, ret_ty=ret, is_pure=True))

    first = [rx.ShapeExpr([ctx.symbols.var(s) for s in outer]), rx.const(0, "int64"),
             ctx.emit(op.reshape(op.astype(inputs[0], "int64"), [])), inputs[1]]
    empty = [ctx.emit(op.zeros(rx.ShapeExpr([0] + ctx.shape(s)), d)) for s, d in zip(elem_shapes, elem_dtypes)]
    res = ctx.emit(rx.Call(gv, first + list(inputs[2:]) + empty))
    return [ctx.emit(rx.TupleGetItem(res, k)) for k in range(n_carried + n_scan)]


def _stub(params, ret):
    """A placeholder with the loop function's signature, so that the function can call itself while it is built."""
    rx = compat.relax()
    copies = [rx.Var(f"p{k}", p.ty) for k, p in enumerate(params)]
    return rx.Function(copies, rx.SeqExpr([], _op().call_pure_packed("nnvm_bridge.unreachable", ty_args=ret)),
                       ret_ty=ret, is_pure=True)


def _function_name(node) -> str:
    return "loop_" + re.sub(r"\W", "_", node.name)
