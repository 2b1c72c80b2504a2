"""The context every Relax emitter receives (its ``ctx``)."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import CompileError
from nnvm_bridge.ir.symbolic import Dim

from .. import compat
from .symbols import SymbolTable


class Ctx:
    """What an emitter may use: the block builder, and the inferred facts about the current node (``node``
    is the same node the emitter receives; ``fail`` names it). Shapes hold ints and symbolic Dims: turn
    them into Relax shapes with ``shape``/``prim``."""

    def __init__(self, bb, graph, params, bind_params, symbols=None):
        self.bb = bb
        self.graph = graph
        self.params = params
        self.bind_params = bind_params
        self.symbols = symbols or SymbolTable()
        self.node = None
        self.in_shapes = []
        self.in_dtypes = []
        self.out_shapes = []
        self.out_dtypes = []
        self.const_inputs = []  # numpy value of each input when it is a bound parameter, else None
        # emit_body(body, formal values, IR shapes, IR dtypes, symbols=None) -> output values: emits a control
        # node's subgraph into the current block (set by to_relax)
        self.emit_body = None

    def emit(self, expr):
        return self.bb.emit(expr)

    def const(self, value, dtype=None):
        rx = compat.relax()
        arr = np.asarray(value, dtype=dtype or self.out_dtypes[0])
        return rx.const(arr, str(arr.dtype))

    def scalar(self, value, dtype):
        """A scalar constant in ``dtype`` (integers are rounded the way numpy casts them)."""
        rx = compat.relax()
        return rx.const(np.asarray(value).astype(dtype), dtype)

    def shape(self, shape):
        """A shape for Relax ops (ints, and tir expressions of the symbols)."""
        return self.symbols.shape(shape)

    def prim(self, d):
        return self.symbols.prim(d)

    def dim_tensor(self, d, dtype):
        """A 0-d tensor holding the dim ``d`` (a constant when it is an int)."""
        if not isinstance(d, Dim):
            return self.scalar(d, dtype)
        op = relax_op()
        t = self.emit(op.shape_to_tensor(compat.relax().ShapeExpr([self.prim(d)])))
        return self.emit(op.astype(op.reshape(t, []), dtype))

    def bind_run_time_dims(self, shape_tensor, dims):
        """Bind the symbols of ``dims`` that nothing bound yet (the importer's new symbols for lengths that a
        shape tensor computes at run time) from the int64 ``shape_tensor`` holding those dims."""
        if dims is None:
            return
        axes = [a for a, d in enumerate(dims) if isinstance(d, Dim) and any(n not in self.symbols.vars
                                                                             for n in d.symbols())]
        if not axes:
            return
        op = relax_op()
        if len(axes) < len(dims):  # only those dims: the others may differ from the tensor (a broadcast 1)
            shape_tensor = op.take(shape_tensor, self.const(np.asarray(axes, dtype=np.int64), "int64"), axis=0)
        # the packed call that DecomposeOpsForInference makes of tensor_to_shape, written here: through that pass
        # the match_cast below would bind these symbols to fresh ones of its own, which later passes mix up
        rx = compat.relax()
        shape = self.emit(op.call_pure_packed("vm.builtin.tensor_to_shape", self.emit(shape_tensor),
                                              ty_args=rx.ShapeType(ndim=len(axes))))
        self.bb.match_cast(shape, compat.shape_type(self.shape([dims[a] for a in axes])))

    def broadcast_operands(self, inputs, shapes=None):
        """The inputs of a broadcasting op (IR ``shapes``, default the node's) made safe for TVM 0.27.

        A symbol meeting a fixed size > 1 is cast to that size by a ``match_cast`` (checked when it runs:
        LegalizeOps cannot lower the broadcast otherwise). Two different symbolic dims on one axis (the IR's
        ``max(S, T)``, either may be 1; ``min(S, c)`` against ``S``) are taken as equal (``as_shape``): TVM
        cannot compile a length that is one of two run-time values.
        """
        shapes = shapes or self.in_shapes[:len(inputs)]
        out_shape = self.out_shapes[0]
        ndim = len(out_shape)
        out = []
        for x, s, dtype in zip(inputs, shapes, self.in_dtypes):
            outs = out_shape[ndim - len(s):]
            same = [w if isinstance(d, Dim) and isinstance(w, Dim) else d for d, w in zip(s, outs)]
            x = self.as_shape(x, s, same)
            want = [w if isinstance(d, Dim) and not isinstance(w, Dim) else d for d, w in zip(same, outs)]
            if want != same:
                x = self.bb.match_cast(x, compat.tensor_type(self.shape(want), dtype))
            out.append(x)
        return out

    def as_shape(self, x, have, want):
        """``x`` (IR shape ``have``) reshaped to ``want``, whose dims the model implies equal to ``have``'s
        where they differ (a broadcast, a concat's other axes): ``assume_equal`` records that for run time.
        A reshape, not a ``match_cast``: CanonicalizeBindings drops a ``match_cast`` between two symbolic
        shapes (and TVM 0.27's passes recurse without end on one of ``min(S, c)`` to ``S``)."""
        pairs = [(d, w) for d, w in zip(have, want) if d != w]
        if not pairs:
            return x
        self.assume_equal(pairs)
        return self.emit(relax_op().reshape(x, self.shape(want)))

    def assume_equal(self, pairs):
        """Take each ``(a, b)`` of dims as equal in the compiled code: ``CompiledModel.run`` checks them on the
        input sizes before it runs (neither TVM's reshape nor its kernels check a length; a wrong one reads
        past a buffer). Only dims of the input symbols can be checked there: others fail here."""
        for a, b in pairs:
            names = {n for d in (a, b) if isinstance(d, Dim) for n in d.symbols()}
            if names - self.symbols.inputs:
                self.fail(f"the dims {a} and {b} must be equal here, and they depend on the run-time value(s) "
                          f"{', '.join(sorted(names - self.symbols.inputs))}, which cannot be checked before it "
                          "runs; pass shape={input: dims}")
        for a, b in pairs:
            self.symbols.take_equal(a, b)

    def fail(self, message):
        raise CompileError(message, node=self.node.name, op=self.node.op)

    def need_static(self, what, *dims):
        """CompileError unless every one of ``dims`` is an int: Relax cannot take a symbolic ``what`` here."""
        names = sorted({n for d in dims if isinstance(d, Dim) for n in d.symbols()})
        if names:
            self.fail(f"{what} depends on the symbolic dim(s) {', '.join(names)}, which this op cannot take in "
                      f"Relax; pass shape={{input: dims}} to fix them")


def relax_op():
    """``tvm.relax.op``, imported when an emitter first runs (TVM stays optional)."""
    return compat.relax().op
