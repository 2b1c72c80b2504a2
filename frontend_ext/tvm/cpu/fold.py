"""Constant folding with numpy for the ops that inference graphs fold most (BN arithmetic, weight
transposes, the layout transforms ConvertLayout puts on biases).

TVM's FoldConstant builds and runs a PrimFunc per folded call (~0.1 s of LLVM each: 8-10 s on
ResNet-18); numpy does the same in microseconds. Calls it does not know are left to FoldConstant.
"""
from __future__ import annotations

import numpy as np


def _np_unary(fn):
    return lambda call, xs: fn(xs[0])


def _layout_transform(call, xs):
    import tvm

    a = call.attrs
    if getattr(a, "pad_value", None) is not None or any(
            len(getattr(a, k, None) or []) for k in ("axis_separators", "input_axis_separators")):
        return None
    out = a.index_map.map_tensor(tvm.runtime.tensor(np.ascontiguousarray(xs[0])))
    return out.numpy()


def _shape_of(call):
    return [int(d) for d in call.ty.shape]


def _axes(v):
    return None if v is None else [int(x) for x in v]


_OPS = {
    "relax.add": lambda c, x: np.add(x[0], x[1]),
    "relax.subtract": lambda c, x: np.subtract(x[0], x[1]),
    "relax.multiply": lambda c, x: np.multiply(x[0], x[1]),
    "relax.divide": lambda c, x: np.divide(x[0], x[1]),
    "relax.maximum": lambda c, x: np.maximum(x[0], x[1]),
    "relax.minimum": lambda c, x: np.minimum(x[0], x[1]),
    "relax.power": lambda c, x: np.power(x[0], x[1]),
    "relax.sqrt": _np_unary(np.sqrt),
    "relax.rsqrt": _np_unary(lambda v: 1 / np.sqrt(v)),
    "relax.negative": _np_unary(np.negative),
    "relax.exp": _np_unary(np.exp),
    "relax.reshape": lambda c, x: x[0].reshape(_shape_of(c)),
    "relax.expand_dims": lambda c, x: x[0].reshape(_shape_of(c)),
    "relax.squeeze": lambda c, x: x[0].reshape(_shape_of(c)),
    "relax.broadcast_to": lambda c, x: np.broadcast_to(x[0], _shape_of(c)).copy(),
    "relax.permute_dims": lambda c, x: np.transpose(x[0], _axes(c.attrs.axes)),
    "relax.layout_transform": _layout_transform,
}


def const_value(expr):
    """The numpy value of a Relax constant, or None (``.value`` in TVM 0.27, ``.data`` before)."""
    for attr in ("value", "data"):
        v = getattr(expr, attr, None)
        if hasattr(v, "numpy"):
            return v.numpy()
    return None


def fold_constants_numpy(mod, max_bytes=1 << 30):
    """A Relax pass-like function: every call above with all-constant arguments becomes a constant."""
    import tvm
    from tvm import relax

    const_cls = getattr(relax, "Constant", None) or tvm.ir.expr.Constant  # (tvm.ir.expr from 0.27)

    @relax.expr_functor.mutator
    class _Fold(relax.PyExprMutator):
        def visit_call_(self, call):
            call = self.visit_expr_post_order(call)
            name = getattr(call.op, "name", None)
            fn = _OPS.get(name)
            if fn is None or not call.args:
                return call
            vals = []
            for a in call.args:
                a = self.lookup_binding(a) if isinstance(a, relax.Var) and self.lookup_binding(a) is not None else a
                if not isinstance(a, const_cls):
                    if name in ("relax.reshape",) and len(vals) == 1:  # the shape argument
                        continue
                    return call
                vals.append(const_value(a))
            try:
                ty = call.ty
                dtype = str(ty.dtype)
                out = fn(call, vals)
                if out is None:
                    return call
                out = np.asarray(out).astype(dtype, copy=False)
                if list(out.shape) != _shape_of(call) or out.nbytes > max_bytes:
                    return call
            except Exception:  # symbolic shapes, unknown attrs: leave it to FoldConstant
                return call
            return relax.const(np.ascontiguousarray(out).reshape(out.shape), dtype)  # (ascontiguousarray makes 0-d 1-d)

    @relax.transform.function_pass(opt_level=0, name="FoldConstantsNumpy")
    class _Pass:
        def transform_function(self, func, mod, ctx):
            return _Fold(mod).visit_expr(func)

    return _Pass()(mod)
