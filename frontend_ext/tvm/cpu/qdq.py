"""The QDQ rewrite: ``conv2d / matmul(dequantize(x_q), W)`` -> uint8 x int8 -> int32 kernels (``int8.py``).

Quantized models reach Relax as dequantize -> float op -> quantize (``relax_emitters/quantize.py``), their
constant weights already folded to float (``W = w_q * w_scale``). This pass finds the float conv2d /
matmul calls whose data is a dequantized int8/uint8 tensor (``(astype(x_q) - zp) * scale``, per-tensor
zero point and scale, constant or computed at run time as in a dynamic quantization) and whose weight is
a constant that is exactly int8 times a per-tensor or per-output-channel scale (found and checked in
``integer_weights``), and computes them in integers. The rest of the chain (bias, the output
``quantize_linear``) stays float, fused by ``FuseOps`` into the integer kernel's epilogue: int32 result
times the float scales, plus bias, divided by the output scale, rounded half to even, plus the zero point,
saturated -- onnxruntime's QLinearConv / QLinearMatMul up to the float rounding of the scale products.
Everything else, and any call that does not fit (groups, layouts, symbolic shapes), keeps the float path.
"""
from __future__ import annotations

import numpy as np

from . import int8
from .fold import const_value

_MATCH_TOL = 2.0 ** -20  # |q * s - W| allowed, relative to the largest weight (float32 rounding)
_SAMPLE = 64  # values tried first for each candidate scale, before the whole channel


def integer_weights(w, axis):
    """``(w_q int8, scale float32 per channel along axis)`` with ``w_q * scale == w`` up to float32
    rounding, or None when ``w`` is not such a product (a float model's weights). One scale for the whole
    tensor is tried first, then one per channel; a scale is ``max|w| / m`` for the largest quantized
    magnitude m (127 for onnxruntime's symmetric int8, any of 1..128 is tried)."""
    w = np.asarray(w)
    if w.dtype != np.float32 or w.size == 0:
        return None
    moved = np.moveaxis(w, axis, 0)
    flat = moved.reshape(moved.shape[0], -1).astype(np.float64)
    whole = _common_scale(flat.reshape(-1))
    if whole is not None:
        scales = np.full(flat.shape[0], whole)
    else:
        scales = np.empty(flat.shape[0])
        for c, row in enumerate(flat):
            sc = _common_scale(row)
            if sc is None:
                return None
            scales[c] = sc
    q = np.round(flat / scales[:, None]).astype(np.int8)
    return np.ascontiguousarray(np.moveaxis(q.reshape(moved.shape), 0, axis)), scales.astype(np.float32)


def _common_scale(v):
    """The s with every value of ``v`` an integer in [-128, 127] times s (up to rounding), or None."""
    amax = float(np.abs(v).max())
    if amax == 0:
        return 1.0
    tol = _MATCH_TOL * amax
    sample = v[:: max(1, v.size // _SAMPLE)]
    for m in range(128, 0, -1):
        s = amax / m
        for part in (sample, v):
            q = np.round(part / s)
            if q.min() < -128 or q.max() > 127 or np.abs(q * s - part).max() > tol:
                break
        else:
            return s
    return None


def _static_shape(expr):
    try:
        return [int(d) for d in expr.ty.shape]
    except (TypeError, ValueError, AttributeError):
        return None


def _is_scalar(expr, dtype="float32"):
    return _static_shape(expr) == [] and str(expr.ty.dtype) == dtype


KINDS = ("conv2d", "matmul")


def rewrite_qdq(mod, kinds=KINDS):
    """Rewrite every fitting call of ``kinds`` ("conv2d", "matmul") in ``mod``'s Relax functions; returns
    ``(mod, count)``."""
    import tvm
    from tvm import relax

    const_cls = getattr(relax, "Constant", None) or tvm.ir.expr.Constant  # (tvm.ir.expr from 0.27)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    count = [0]

    @relax.expr_functor.mutator
    class _Rewrite(relax.PyExprMutator):
        def _bound(self, e):
            if isinstance(e, relax.Var):
                b = self.lookup_binding(e)
                if b is not None:
                    return b
            return e

        def _op_name(self, e):
            e = self._bound(e)
            return getattr(e.op, "name", None) if isinstance(e, relax.Call) else None

        def _dequantized(self, data):
            """(x_q, zero point, scale) when ``data`` is ``(astype(x_q) - zp) * scale``, else None."""
            e, scale, zp = self._bound(data), relax.const(one), relax.const(zero)
            if self._op_name(e) == "relax.multiply":
                a, b = e.args
                if _is_scalar(b):
                    e, scale = self._bound(a), b
                elif _is_scalar(a):
                    e, scale = self._bound(b), a
                else:
                    return None
            if self._op_name(e) == "relax.subtract" and _is_scalar(e.args[1]):
                zp, e = e.args[1], self._bound(e.args[0])
                if not self._integral_zero_point(zp):
                    return None
            if self._op_name(e) != "relax.astype" or str(e.ty.dtype) != "float32":
                return None
            xq = e.args[0]
            if str(xq.ty.dtype) not in ("int8", "uint8"):
                return None
            return xq, zp, scale

        def _integral_zero_point(self, zp):
            c = self._bound(zp)
            if isinstance(c, const_cls):
                v = float(const_value(c))
                return v == round(v) and -128 <= v <= 255
            return self._op_name(c) == "relax.astype" and str(c.args[0].ty.dtype) in ("int8", "uint8")

        def _weight(self, w):
            c = self._bound(w)
            return const_value(c) if isinstance(c, const_cls) and str(c.ty.dtype) == "float32" else None

        def visit_call_(self, call):
            call = self.visit_expr_post_order(call)
            name = getattr(call.op, "name", None)
            try:
                if name == "relax.nn.conv2d" and "conv2d" in kinds:
                    out = self._conv(call)
                elif name == "relax.matmul" and "matmul" in kinds:
                    out = self._matmul(call)
                else:
                    out = None
            except (TypeError, ValueError, AttributeError):  # symbolic or unknown shapes: keep the float op
                out = None
            if out is None:
                return call
            count[0] += 1
            return out

        def _conv(self, call):
            a = call.attrs
            if (str(a.data_layout), str(a.kernel_layout), str(a.out_layout) or "NCHW") != ("NCHW", "OIHW", "NCHW"):
                return None
            if int(a.groups) != 1 or str(a.out_dtype) not in ("", "void", "None", "float32"):
                return None
            dq, w = self._dequantized(call.args[0]), self._weight(call.args[1])
            dshape = _static_shape(call.args[0])
            if dq is None or w is None or dshape is None or w.ndim != 4:
                return None
            found = integer_weights(w, 0)
            if found is None:
                return None
            wq, ws = found
            xq, zp, scale = dq
            N, C, H, W = dshape
            K, _, R, S = wq.shape
            spec = dict(N=N, C=C, H=H, W=W, K=K, R=R, S=S, strides=[int(v) for v in a.strides],
                        dilation=[int(v) for v in a.dilation], padding=[int(v) for v in a.padding],
                        x_dtype=str(xq.ty.dtype))
            return self.builder_.call_te(int8.conv_compute(spec), xq, zp, scale,
                                         relax.const(int8.pack_conv_weight(wq)), *_sums_and_scales(wq, ws, 0),
                                         primfunc_name_hint="qconv2d")

        def _matmul(self, call):
            if str(call.attrs.out_dtype) not in ("", "void", "None", "float32"):
                return None
            dq, w = self._dequantized(call.args[0]), self._weight(call.args[1])
            dshape = _static_shape(call.args[0])
            if dq is None or w is None or dshape is None or w.ndim != 2 or len(dshape) < 2:
                return None
            found = integer_weights(w, 1)
            if found is None:
                return None
            wq, ws = found
            xq, zp, scale = dq
            K, Nn = wq.shape
            M = int(np.prod(dshape[:-1]))
            x2 = xq if len(dshape) == 2 else self.builder_.emit(relax.op.reshape(xq, (M, K)))
            y = self.builder_.call_te(int8.matmul_compute(dict(M=M, K=K, N=Nn, x_dtype=str(xq.ty.dtype))), x2, zp,
                                      scale, relax.const(int8.pack_matmul_weight(wq)), *_sums_and_scales(wq, ws, 1),
                                      primfunc_name_hint="qmatmul")
            if len(dshape) == 2:
                return y
            return relax.op.reshape(self.builder_.emit(y), tuple(dshape[:-1]) + (Nn,))

    rewriter = _Rewrite(mod)
    for gv, func in mod.functions.items():
        if isinstance(func, relax.Function):
            new = rewriter.visit_expr(func)
            rewriter.builder_.update_func(gv, relax.analysis.remove_all_unused(new))
    return rewriter.builder_.get(), count[0]


def _sums_and_scales(wq, ws, axis):
    """Per output channel: the int32 sum of the weights (for the zero-point correction) and the scale."""
    from tvm import relax

    other = tuple(i for i in range(wq.ndim) if i != axis)
    sums = wq.astype(np.int32).sum(axis=other).astype(np.int32)
    return relax.const(sums), relax.const(ws.astype(np.float32))
