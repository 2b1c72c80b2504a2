"""Relax emitters for the control flow that ``ir/passes/control_flow.py`` could not lower.

The lowering (a select, an unrolled loop) runs first because it compiles to faster code; what reaches these
emitters is an ``if`` whose condition is known only at run time and whose branches give different shapes,
or a ``loop`` whose trip count or condition the data decide (or that is too long to unroll):

- ``if`` -> a Relax ``If`` on a 0-d bool whose branches call one private function each (the branch's body).
  A value whose shape differs between the branches leaves the If with its rank only, and to_relax's
  ``match_cast`` binds the IR's fresh symbol to the length computed at run time.
- ``loop`` -> a private recursive function ``loop(symbols, i, max_trips, cond, *carried, *captured, *scans)``:
  when ``i < max_trips and cond`` it calls the step function (the body, each scan output grown by its
  element, ``i + 1``) and then itself, otherwise it returns the carried values and scan outputs.

Every body is a function of its own, so its ops sit at the top level of a function, where FuseOps works
(it fails on dataflow blocks nested in an If).  A function sees no symbol of its caller: the outer symbols
its parameter shapes use come in as its first parameter, one ``R.Shape``; a formal bound to a constant
stays that constant inside (NMS limits, TopK's k: values emitters need).  to_relax emits functions with
control flow without dataflow blocks and converts the pure stretches back afterwards.
"""
from __future__ import annotations

import re

from nnvm_bridge.ir.control import loop_layout
from nnvm_bridge.ir.passes import has_control_flow
from nnvm_bridge.ir.symbolic import Dim, sym

from .. import compat
from ..registry import RELAX_EXPORT
from .context import relax_op
from .symbols import SymbolTable


def _symbols(shapes) -> list:
    return sorted({name for s in shapes if s is not None for d in s if isinstance(d, Dim) for name in d.symbols()})


class _Function:
    """A private Relax function over formals of the IR ``shapes`` and ``dtypes``; ``values`` are what the
    caller binds them to (constants among them are not parameters).  ``outer``: the symbols the caller
    supplies (default all); the others must be whole dims of some parameter, which defines them."""

    def __init__(self, ctx, name, values, shapes, dtypes, outer=None):
        rx = compat.relax()
        self.ctx, self.name = ctx, name
        self.outer = _symbols(shapes) if outer is None else outer
        self.table = SymbolTable()
        self.symbols = rx.Var("symbols", compat.shape_type([self.table.var(s) for s in self.outer]))
        self.formals = [v if compat.is_constant(v) else
                        rx.Var(f"arg{k}", compat.tensor_type(self.table.shape(s), d))
                        for k, (v, s, d) in enumerate(zip(values, shapes, dtypes))]
        self.params = [self.symbols] + [f for f in self.formals if not compat.is_constant(f)]
        self.gv = None

    def declare(self, ret):
        """Add a placeholder of this signature, so that the body can call the function itself."""
        rx = compat.relax()
        copies = [rx.Var(f"p{k}", p.ty) for k, p in enumerate(self.params)]
        stub = rx.SeqExpr([], relax_op().call_pure_packed("nnvm_bridge.unreachable", ty_args=ret))
        self.gv = self.ctx.bb.add_func(rx.Function(copies, stub, ret_ty=ret, is_pure=True), self.name)

    def define(self, emit, ret=None, dataflow=False):
        """The body: ``emit()`` emits bindings and returns the list of values the function gives; ``dataflow``
        where it emits no control flow (FuseOps needs dataflow blocks made as such)."""
        rx = compat.relax()
        bb = self.ctx.bb
        bb.begin_scope(self.params)
        (bb._begin_dataflow_block if dataflow else bb._begin_binding_block)()
        outs = emit()
        result = outs[0] if len(outs) == 1 else bb.emit(rx.Tuple(outs))
        if dataflow:
            result = bb.emit_output(result)
        body = bb.normalize(rx.SeqExpr([bb._end_block()], result))
        bb.end_scope()
        func = rx.Function(self.params, body, ret_ty=ret, is_pure=True)
        if self.gv is None:
            self.gv = bb.add_func(func, self.name)
        else:
            bb.update_func(self.gv, func)
        return self.gv

    def call(self, values, table):
        """The call of the function on ``values``, from a function whose symbols are ``table``."""
        rx = compat.relax()
        args = [rx.ShapeExpr([table.var(s) for s in self.outer])]
        args += [v for v, f in zip(values, self.formals) if not compat.is_constant(f)]
        return rx.Call(self.gv, args)


def _name(node, what) -> str:
    return f"{what}_" + re.sub(r"\W", "_", node.name)


def _bool_scalar(ctx, x, dtype):
    op = relax_op()
    x = ctx.emit(op.reshape(x, []))
    return x if dtype == "bool" else ctx.emit(op.astype(x, "bool"))


def _branch(ctx, make_call):
    """A SeqExpr whose one binding is the call ``make_call()``."""
    rx = compat.relax()
    ctx.bb._begin_binding_block()
    value = ctx.emit(make_call())
    return rx.SeqExpr([ctx.bb._end_block()], value)


def _unpack(ctx, value, n):
    rx = compat.relax()
    return [value] if n == 1 else [ctx.emit(rx.TupleGetItem(value, k)) for k in range(n)]


@RELAX_EXPORT.register("if")
def _if(ctx, node, attrs, inputs):
    rx = compat.relax()
    cond = _bool_scalar(ctx, inputs[0], ctx.in_dtypes[0])
    args, shapes, dtypes = inputs[1:], ctx.in_shapes[1:], ctx.in_dtypes[1:]
    branches = []
    for body, what in zip(node.subgraphs, ("then", "else")):
        fn = _Function(ctx, _name(node, what), args, shapes, dtypes)
        fn.define(lambda fn=fn, body=body: ctx.emit_body(body, fn.formals, shapes, dtypes, symbols=fn.table),
                  dataflow=not has_control_flow(body))
        branches.append(_branch(ctx, lambda fn=fn: fn.call(args, ctx.symbols)))
    return _unpack(ctx, ctx.emit(rx.If(cond, *branches)), attrs.num_outputs)


# ---- loop -----------------------------------------------------------------------------------------
@RELAX_EXPORT.register("loop")
def _loop(ctx, node, attrs, inputs):
    rx = compat.relax()
    op = relax_op()
    tt = compat.tensor_type
    n_carried, _, n_scan = loop_layout(node, attrs)
    cond_shape, cond_dtype = ctx.in_shapes[1], ctx.in_dtypes[1]
    # every iteration's carried values have the shapes the IR gives the loop's results (joined over iterations)
    carried_shapes, carried_dtypes = list(ctx.out_shapes[:n_carried]), list(ctx.out_dtypes[:n_carried])
    captured = list(inputs[2 + n_carried:])
    captured_shapes, captured_dtypes = list(ctx.in_shapes[2 + n_carried:]), list(ctx.in_dtypes[2 + n_carried:])
    elem_shapes, elem_dtypes = [s[1:] for s in ctx.out_shapes[n_carried:]], list(ctx.out_dtypes[n_carried:])
    inner = sorted(set(_symbols(elem_shapes)) - set(_symbols(ctx.in_shapes)))
    if inner:
        ctx.fail(f"a scan output whose element shape uses {', '.join(inner)} (a length the loop itself decides) "
                 "cannot be stacked in Relax")

    # loop(symbols, i, max_trips, cond, *carried, *captured, *scans); a scan's length is a symbol of its own
    shapes = [(), (), cond_shape] + carried_shapes + captured_shapes + \
        [(_count(node, k),) + tuple(s) for k, s in enumerate(elem_shapes)]
    dtypes = ["int64", "int64", cond_dtype] + carried_dtypes + captured_dtypes + elem_dtypes
    placeholders = [None] * (3 + n_carried) + captured + [None] * n_scan
    known = set(_symbols(ctx.in_shapes))  # the rest (joined carried dims, scan lengths) vary per iteration
    loop = _Function(ctx, _name(node, "loop"), [_var() if v is None else v for v in placeholders], shapes,
                     dtypes, outer=[s for s in _symbols(shapes) if s in known])
    ret = rx.TupleType([tt(None, d) for d in carried_dtypes + elem_dtypes])
    loop.declare(ret)
    it, limit, cond = loop.formals[:3]
    state = loop.formals[3:3 + n_carried]
    inside = loop.formals[3 + n_carried:len(loop.formals) - n_scan]
    scans = loop.formals[len(loop.formals) - n_scan:]

    # step(symbols, i, cond, *carried, *captured, *scans) -> (i + 1, cond, *carried, *scans): one iteration
    step_values = [it, cond] + state + inside + scans
    step = _Function(ctx, _name(node, "step"), step_values, [()] + shapes[2:], ["int64"] + dtypes[2:])

    def one_iteration():
        outs = ctx.emit_body(node.subgraphs[0], step.formals[:2 + n_carried + len(captured)],
                             [(), cond_shape] + carried_shapes + captured_shapes,
                             ["int64", cond_dtype] + carried_dtypes + captured_dtypes, symbols=step.table)
        next_cond = ctx.emit(op.reshape(outs[0], step.table.shape(cond_shape)))
        if compat.shape_dtype_of(next_cond)[1] != cond_dtype:
            next_cond = ctx.emit(op.astype(next_cond, cond_dtype))
        grown = [ctx.emit(op.concat([acc, ctx.emit(op.expand_dims(x, 0))], axis=0))
                 for acc, x in zip(step.formals[len(step.formals) - n_scan:], outs[1 + n_carried:])]
        following = ctx.emit(op.add(step.formals[0], rx.const(1, "int64")))
        return [following, next_cond] + outs[1:1 + n_carried] + grown
    step.define(one_iteration, dataflow=not has_control_flow(node.subgraphs[0]))

    def iterate():
        res = ctx.emit(step.call(step_values, loop.table))
        got = [ctx.emit(rx.TupleGetItem(res, k)) for k in range(2 + n_carried + n_scan)]
        again = [got[0], limit, got[1]] + got[2:2 + n_carried] + inside + got[2 + n_carried:]
        return loop.call(again, loop.table)

    def loop_body():
        go = ctx.emit(op.logical_and(op.less(it, limit), _bool_scalar(ctx, cond, cond_dtype)))
        done = _branch(ctx, lambda: rx.Tuple(state + scans))
        return [ctx.emit(rx.If(go, _branch(ctx, iterate), done))]
    loop.define(loop_body, ret)

    empty = [ctx.emit(op.zeros(rx.ShapeExpr([0] + ctx.shape(s)), d)) for s, d in zip(elem_shapes, elem_dtypes)]
    first = [rx.const(0, "int64"), ctx.emit(op.reshape(op.astype(inputs[0], "int64"), [])), inputs[1]]
    res = ctx.emit(loop.call(first + list(inputs[2:2 + n_carried]) + captured + empty, ctx.symbols))
    return [ctx.emit(rx.TupleGetItem(res, k)) for k in range(n_carried + n_scan)]


def _count(node, k):
    return sym(f"{node.name}_scan{k}_count")


def _var():
    return compat.relax().Var("unbound", compat.tensor_type(None, ""))
