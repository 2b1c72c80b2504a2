"""NNVM graph -> TVM Relax IRModule, one small emitter per NNVM op.

Shapes and dtypes are inferred on the NNVM graph first, so every emitter sees the inferred shapes:
reshape special values, slice bounds and similar are resolved here rather than left to Relax. A
symbolic dim (a dynamic batch or sequence) is a ``tir.Var`` of the function's signature, and every
shape an emitter computes is an expression of those variables (``relax_emitters/symbols.py``), so one
library serves every size. After each node the emitted value is checked against the inferred
shape/dtype and fixed with a reshape or cast where Relax's convention differs from NNVM's (e.g.
reductions to (1,), 0/1 comparisons in the input dtype), or a ``match_cast`` where Relax cannot prove
a symbolic shape equal.
"""
from __future__ import annotations

import contextlib

import numpy as np

from nnvm_bridge.errors import BridgeError, CompileError, OpTally, ShapeError
from nnvm_bridge.ir.control import body_inputs
from nnvm_bridge.ir.dtypes import is_float8
from nnvm_bridge.ir.passes import (expand_proposal, has_control_flow, infer_shape, infer_type, lower_control_flow,
                                   unify_broadcast_dims)
from nnvm_bridge.ir.symbolic import format_dim, is_static, is_symbolic
from nnvm_bridge.ops import canonical_name, node_attrs

from . import compat
from .registry import RELAX_EXPORT
from .relax_emitters import (control, datadep, detection, dynamic, elementwise, nn, quantize, rnn, roi,  # noqa: F401
                             sampling, scatter, transform)  # (they register the emitters)
from .relax_emitters import runtime_resize  # noqa: F401,I001
from .relax_emitters.context import Ctx
from .relax_emitters.narrow_floats import FLOAT8_DATA_OPS, storage_dtype, to_storage
from .relax_emitters.symbols import SymbolTable

RELAX_EXPORT.mark_loaded()


# ---------------------------------------------------------------------------------------------
def supported_ops() -> list:
    return RELAX_EXPORT.supported()


def check_supported(graph, file=None):
    """One UnsupportedOperatorError listing every op of ``graph`` that has no Relax emitter."""
    missing = OpTally()
    for node in graph.op_nodes():
        if canonical_name(node.op) not in RELAX_EXPORT:
            missing.add(node.op, node.name)
    missing.raise_if_any(direction="TVM Relax (to_relax)", file=file)


def to_relax(graph, params=None, shape=None, dtype=None, *, bind_params=True, offload=False, func_name="main"):
    """Build a Relax IRModule whose ``main`` computes ``graph``.

    Data inputs (variables not in ``params``) become function parameters, in the order the source model
    declared them (``graph.attrs["input_order"]``, see ``data_inputs``); a declared input that the graph no
    longer uses is still a parameter (of any shape) and ignored. Symbolic dims become int64 ``tir.Var``s in
    the parameter annotations, so the function takes every size. With ``bind_params`` (the default)
    parameters become constants; otherwise they follow the data inputs as extra function parameters.
    ``offload``: False, True, or "auto" (offload only when every input shape is static).
    Returns ``(mod, info)`` with ``info`` holding the input and output names, shapes (symbolic dims as
    their text, e.g. "N") and dtypes, and the parameter names when they are kept as inputs.
    """
    rx = compat.relax()
    params = {k: np.asarray(v) for k, v in (params or {}).items()}
    if has_control_flow(graph):  # if as a select, loops with a known count unrolled (ir/passes/control_flow.py);
        # what cannot be lowered becomes Relax control flow (relax_emitters/control.py)
        graph, params = lower_control_flow(graph, params, shape=shape, direction="TVM Relax (to_relax)", keep=True)
    dataflow = not has_control_flow(graph)  # a Relax If cannot sit in a dataflow block
    graph, params = expand_proposal(graph, params, shape=shape)  # no Relax kernel: other IR ops (ir/passes)
    check_supported(graph)
    graph, shape = unify_broadcast_dims(graph, shape, params)  # a mask of length T against scores over S: T := S
    g = infer_shape(graph, shape=shape, params=params)
    g = infer_type(g, dtype=dtype, params=params)
    ptr = g.node_row_ptr
    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]
    _check_float8(g)

    inputs = data_inputs(g, params)
    used_inputs = [n for n in inputs if not isinstance(n, str)]
    for n in used_inputs:
        if shapes[ptr[g.node_id(n)]] is None:
            raise ShapeError("input shape is unknown; pass shape={name: dims}", node=n.name)
    kept = [] if bind_params else [n for n in g.variables if n.name in params]
    symbols = SymbolTable()
    _declare_symbols(symbols, [(n.name, shapes[ptr[g.node_id(n)]]) for n in used_inputs])
    fn_vars = {}
    for n in inputs + kept:
        if isinstance(n, str):  # declared by the source model, unused after folding: any tensor, ignored
            fn_vars[n] = rx.Var(n, compat.tensor_type(None, ""))
            continue
        eid = ptr[g.node_id(n)]
        fn_vars[n.name] = rx.Var(n.name, compat.tensor_type(symbols.shape(shapes[eid]), storage_dtype(dtypes[eid])))

    static = all(is_static(shapes[ptr[g.node_id(n)]]) for n in used_inputs)
    if offload is True and not static:
        raise CompileError("offload to PyTorch needs static input shapes; pass shape={name: dims} or offload=False")
    if offload is True and not dataflow:
        raise CompileError("offload to PyTorch cannot be combined with control flow that stays in the model "
                           "(If/Loop on run-time values); pass offload=False or offload='auto'")
    offload = bool(offload) and static and bind_params and dataflow
    order, plans = range(len(g.nodes)), {}
    if offload:  # conv/dense chains run in PyTorch, grouped into segments (fusion.py)
        from .fusion import emission_order, plan_offload

        plans = plan_offload(g, params)
        order = emission_order(g, plans)
    segments = [s for s in order if not isinstance(s, int)]
    bb = rx.BlockBuilder()
    ctx = Ctx(bb, g, params, bind_params, symbols)
    ctx.emit_body = lambda *a, **k: _emit_body(ctx, *a, **k)
    values = {}  # entry id -> relax expr
    with bb.function(func_name, [fn_vars[_name(n)] for n in inputs + kept]):
        with bb.dataflow() if dataflow else contextlib.nullcontext():
            for nid in order:
                if not isinstance(nid, int):  # an offloaded segment
                    _emit_segment(ctx, g, plans, nid, values)
                    continue
                node = g.nodes[nid]
                if node.is_variable:
                    if node.name in fn_vars:
                        values[ptr[nid]] = fn_vars[node.name]
                    else:
                        values[ptr[nid]] = _constant(bb, to_storage(params[node.name]))
                    continue
                _emit_node(ctx, g, nid, node, values)
            outs = []
            for e in g.outputs:
                outs.append(values[ptr[g.node_id(e.node)] + e.index])
            result = outs[0] if len(outs) == 1 else rx.Tuple(outs)
            out_var = bb.emit_output(result) if dataflow else bb.emit(result)
        bb.emit_func_output(out_var)
    mod = bb.get()
    if not dataflow:  # the pure stretches between control flow become dataflow blocks again (so they fuse)
        mod = rx.transform.ConvertToDataflow()(mod)

    def meta(n):
        if isinstance(n, str):
            return (n, None, None)
        eid = ptr[g.node_id(n)]
        return (n.name, signature_shape(shapes[eid]), dtypes[eid])
    info = {
        "inputs": [meta(n) for n in inputs],
        "params": [meta(n) for n in kept],
        "outputs": [(name, signature_shape(shapes[ptr[g.node_id(e.node)] + e.index] or ()),
                     dtypes[ptr[g.node_id(e.node)] + e.index]) for name, e in zip(g.output_names(), g.outputs)],
        "offload": ["torch"] if offload else [],
        # in the order the model reaches them: the first that fails names the first node that cannot run
        "equal_dims": list(dict.fromkeys((format_dim(a), format_dim(b)) for a, b in symbols.equal_dims)),
        # what runs in PyTorch: packed calls, and the conv2d/dense chains and concats inside them
        "offloaded": {"segments": len(segments),
                      **{kind: sum(plans[m].kind == kind for s in segments for m in s.members)
                         for kind in ("conv2d", "dense", "concat")}},
    }
    return mod, info


def _constant(bb, arr):
    """A bound parameter; an empty one is made at run time (TVM cannot load a library holding an empty
    constant: "Invalid DLTensor file format")."""
    rx = compat.relax()
    if arr.size == 0:
        return bb.emit(rx.op.zeros(rx.ShapeExpr(list(arr.shape)), str(arr.dtype)))
    return rx.const(arr, str(arr.dtype))


def data_inputs(g, params):
    """The function's data inputs: the variable nodes not in ``params``, in the order of
    ``g.attrs["input_order"]`` (the names of the source model's data inputs, as it declared them) and then
    in graph order; a declared name the graph no longer holds stays in the list as the bare name."""
    by_name = {n.name: n for n in g.variables if n.name not in params}
    declared = [name for name in g.attrs.get("input_order", ()) if name not in params]
    rest = [n for name, n in by_name.items() if name not in declared]
    return [by_name.get(name, name) for name in declared] + rest


def _name(n):
    return n if isinstance(n, str) else n.name


def signature_shape(shape):
    """A shape as the compiled model reports it: ints, and symbolic dims as their text ("N", "2*S")."""
    return tuple(format_dim(d) if is_symbolic(d) else int(d) for d in shape)


def _declare_symbols(symbols, named_shapes):
    """Make the tir.Var of every symbol that some input has as a whole dim; a symbol that appears only
    inside expressions (an input of length 2*N, no input of length N) cannot be read from the inputs."""
    plain = set()
    for _, shape in named_shapes:
        for d in shape:
            if is_symbolic(d) and len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1 \
                    and d.terms[0][0][0].op == "sym":
                plain.add(d.terms[0][0][0].key)
                symbols.var(d.terms[0][0][0].key)
    symbols.inputs = frozenset(plain)
    for name, shape in named_shapes:
        for d in shape:
            missing = sorted(d.symbols() - plain) if is_symbolic(d) else []
            if missing:
                raise CompileError(f"input dim {format_dim(d)} uses the symbol(s) {', '.join(missing)}, which no "
                                   "input has as a whole dim, so the compiled function could not bind them; pass "
                                   "shape={name: dims}", node=name)


_FLOAT8_REFUSAL = ("TVM only casts, (de)quantizes and moves float8 values (reshape, concat, gather ...); "
                   "cast to float32 before computing on them")


def _computes_on_float8(node, dtypes) -> bool:
    return canonical_name(node.op) not in FLOAT8_DATA_OPS and any(d is not None and is_float8(d) for d in dtypes)


def _check_float8(g):
    """One CompileError naming every node that computes on float8 values."""
    ptr, dtypes = g.node_row_ptr, g.attrs["dtype"]
    bad = []
    for nid, node in enumerate(g.nodes):
        if node.is_variable:
            continue
        ins = [dtypes[ptr[g.node_id(e.node)] + e.index] for e in node.inputs]
        if _computes_on_float8(node, ins + list(dtypes[ptr[nid]:ptr[nid + 1]])):
            bad.append(node)
    if bad:
        listed = ", ".join(f"{n.name!r} ({n.op})" for n in bad[:20])
        listed += f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise CompileError(f"{_FLOAT8_REFUSAL}: {listed}", node=bad[0].name, op=bad[0].op)


def _emit_node(ctx, g, nid, node, values):
    ptr = g.node_row_ptr
    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]
    in_ids = [ptr[g.node_id(e.node)] + e.index for e in node.inputs]
    ctx.node = node
    ctx.in_shapes = [shapes[i] for i in in_ids]
    ctx.in_dtypes = [dtypes[i] for i in in_ids]
    n_out = ptr[nid + 1] - ptr[nid]
    ctx.out_shapes = shapes[ptr[nid]:ptr[nid] + n_out]
    ctx.out_dtypes = dtypes[ptr[nid]:ptr[nid] + n_out]
    ctx.const_inputs = [ctx.params.get(e.node.name) if (e.node.is_variable and ctx.bind_params) else None
                       for e in node.inputs]
    if any(s is None for s in ctx.in_shapes) or any(s is None for s in ctx.out_shapes):
        raise ShapeError("shape could not be inferred; give the model's input shapes", node=node.name, op=node.op)
    if _computes_on_float8(node, ctx.in_dtypes + list(ctx.out_dtypes)):  # in a control-flow body
        raise CompileError(_FLOAT8_REFUSAL, node=node.name, op=node.op)
    attrs = node_attrs(node)
    emitter = RELAX_EXPORT.get(canonical_name(node.op))
    try:
        res = emitter(ctx, node, attrs, [values[i] for i in in_ids])
    except BridgeError as exc:
        if exc.node is None:
            raise CompileError(exc.bare_message, node=node.name, op=node.op) from None
        raise
    except Exception as exc:  # TVM raises its own errors for bad attrs; name the node
        raise CompileError(f"Relax emission failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                           node=node.name, op=node.op) from None
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    for k in range(n_out):
        values[ptr[nid] + k] = _conform(ctx, res[k] if k < len(res) else res[-1], ctx.out_shapes[k],
                                        ctx.out_dtypes[k])


def _emit_body(ctx, body, formal_values, shapes, dtypes, symbols=None):
    """Emit the nodes of a control node's ``body`` into the current block, its formals bound to
    ``formal_values`` (of the IR ``shapes`` and ``dtypes``); returns the Relax values of its outputs.
    ``symbols``: the SymbolTable of the function being emitted, when that is not ``ctx``'s."""
    names = body_inputs(body)
    g = infer_shape(body, shape={n: s for n, s in zip(names, shapes) if s is not None})
    g = infer_type(g, dtype=dict(zip(names, dtypes)))
    check_supported(g)
    # a formal bound to a constant reads as that constant (NMS limits, TopK k: what emitters need fixed)
    consts = {n: compat.constant_value(v) for n, v in zip(names, formal_values) if compat.is_constant(v)}
    sub = Ctx(ctx.bb, g, consts, True, symbols or ctx.symbols)
    sub.emit_body = lambda *a, **k: _emit_body(sub, *a, **k)
    bound = dict(zip(names, formal_values))
    ptr = g.node_row_ptr
    values = {}
    for nid, node in enumerate(g.nodes):
        if node.is_variable:
            values[ptr[nid]] = bound[node.name]
        else:
            _emit_node(sub, g, nid, node, values)
    return [values[ptr[g.node_id(e.node)] + e.index] for e in g.outputs]


def _emit_segment(ctx, g, plans, seg, values):
    """One ``call_dps_packed`` of offload.SEGMENT running every chain of ``seg`` (see fusion.py)."""
    from . import offload as off

    rx = compat.relax()
    ptr = g.node_row_ptr
    slots = {(g.node_id(e.node), e.index): i for i, e in enumerate(seg.inputs)}  # (node id, output) -> slot

    def slot(e):
        return slots[(g.node_id(e.node), e.index)]
    consts, steps = [], []
    for k, fid in enumerate(seg.members):
        p = plans[fid]
        slots[(fid, 0)] = len(seg.inputs) + k
        if p.kind == "concat":
            steps.append(dict(kind=off.KIND_CONCAT, inputs=[slot(e) for e in p.inputs]))
            continue
        step = dict(kind=off.KIND_CONV if p.kind == "conv2d" else off.KIND_DENSE, data=slot(p.data),
                    res=None if p.residual is None else slot(p.residual), bias=p.bias is not None,
                    act=p.act, clip=p.clip)
        if p.kind == "conv2d":
            step.update(zip(("strides", "pads", "dilation", "groups"), p.conv))
        steps.append(step)
        consts += [rx.const(p.weight, "float32")] + ([rx.const(p.bias, "float32")] if p.bias is not None else [])
    program = off.encode_program(len(seg.inputs), steps, [slots[(fid, 0)] for fid in seg.outputs])
    args = [values[ptr[g.node_id(e.node)] + e.index] for e in seg.inputs] + consts + [rx.ShapeExpr(program)]
    out_types = [compat.tensor_type(g.attrs["shape"][ptr[fid]], "float32") for fid in seg.outputs]
    call = ctx.emit(rx.op.call_dps_packed(off.SEGMENT, args, out_types if len(out_types) > 1 else out_types[0]))
    for k, fid in enumerate(seg.outputs):
        values[ptr[fid]] = ctx.emit(rx.TupleGetItem(call, k)) if len(out_types) > 1 else call


def _conform(ctx, expr, shape, dtype):
    """Emit ``expr`` and cast it to the IR-inferred dtype and shape where they differ: a reshape where Relax's
    convention differs (reductions to (1,), ...), a ``match_cast`` where Relax cannot prove a symbolic shape
    (a runtime check, which also binds the symbols of data-dependent shapes)."""
    rx = compat.relax()
    op = rx.op
    if not compat.is_leaf(expr):
        expr = ctx.emit(expr)
    got_shape, got_dtype = compat.shape_dtype_of(expr)
    dtype = storage_dtype(dtype)
    if dtype is not None and got_dtype is not None and got_dtype != dtype:
        expr = ctx.emit(op.astype(expr, dtype))
    if shape is None:
        return expr
    want = ctx.shape(shape)
    symbols = ctx.symbols
    if got_shape is not None and symbols.same_shape(got_shape, want):
        return expr
    if got_shape is not None and symbols.equal(_numel(got_shape), _numel(want)):
        return ctx.emit(op.reshape(expr, want))
    if (got_shape is None or len(got_shape) == len(want)) and not (is_static(shape) and symbols.is_static(got_shape)):
        return ctx.bb.match_cast(expr, compat.tensor_type(want, dtype or got_dtype))
    raise CompileError(f"Relax computed shape {symbols.show(got_shape)}, NNVM inferred {signature_shape(shape)}",
                       node=ctx.node.name, op=ctx.node.op)


def _numel(shape):
    total = 1
    for d in shape:
        total = total * d
    return total
