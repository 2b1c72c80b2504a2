"""Relax-level steps before legalization: ReLU6-style clips as max/min, and channel-blocked layouts.

``ConvertLayout`` moves every float32 conv2d (and what follows it: relu, add, pools, means, concats) to
``NCHW{b}c``, ``b`` = one vector of floats where the channel count allows it (16 with AVX-512, else 8), so
the conv kernels read and write whole vectors. The kernel stays ``OIHW`` here: ``conv2d.py`` packs the
(constant) weights itself, with numpy, into whatever blocking its compute wants.
"""
from __future__ import annotations

from .target import CpuFacts


def channel_block(channels, facts: CpuFacts):
    """The NCHW{b}c block for a tensor of ``channels`` channels, or None (stays NCHW)."""
    lanes = facts.block(32)
    for b in (lanes, lanes // 2):
        if b >= 4 and channels % b == 0:
            return b
    return None


def _static(shape):
    try:
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        return None


def conv_layouts(call, facts: CpuFacts):
    """(data_layout, kernel_layout, out_layout) for one relax.nn.conv2d call."""
    keep = ["NCHW", "OIHW"]
    a = call.attrs
    if str(a.data_layout) != "NCHW" or str(a.kernel_layout) != "OIHW" or str(a.out_layout) not in ("NCHW", ""):
        return None
    dshape = _static(call.args[0].ty.shape)
    wshape = _static(call.args[1].ty.shape)
    if dshape is None or wshape is None or str(call.args[0].ty.dtype) != "float32" or str(
            call.args[1].ty.dtype) != "float32":
        return keep
    C, K, groups = dshape[1], wshape[0], int(a.groups)
    cb, kb = channel_block(C, facts), channel_block(K, facts)
    if groups == 1:
        data = cb
    elif groups == C == K:  # depthwise: data and output share the block
        return [f"NCHW{cb}c", "OIHW", f"NCHW{cb}c"] if cb else keep
    else:  # grouped: blocked only when blocks do not straddle groups
        cg, kg = C // groups, K // groups
        data = cb if (cb and kb and cg % cb == 0 and kg % kb == 0) else None
    return [f"NCHW{data}c" if data else "NCHW", "OIHW", f"NCHW{kb}c" if kb else "NCHW"]


def convert_layout(mod, facts: CpuFacts):
    from tvm import relax

    def cb(call):
        if getattr(call.op, "name", "") != "relax.nn.conv2d":
            return {}
        lay = conv_layouts(call, facts)
        return {"relax.nn.conv2d": lay if lay else ["NCHW", "OIHW"]}

    return relax.transform.ConvertLayout({}, layout_cb=cb)(mod)


def clip_to_min_max(mod):
    """``R.clip(x, lo, hi)`` on floats -> ``minimum(maximum(x, lo), hi)``: clip has no layout inference, so
    a ReLU6 would force NCHW round trips around every MobileNet conv."""
    from tvm import relax, tirx

    clip = tvm_op("relax.clip")

    @relax.expr_functor.mutator
    class _Rewrite(relax.PyExprMutator):
        def visit_call_(self, call):
            call = self.visit_expr_post_order(call)
            if not call.op.same_as(clip) or len(call.args) != 3:
                return call
            ty = call.args[0].ty
            dtype = str(getattr(ty, "dtype", ""))
            if not dtype.startswith("float"):
                return call
            bounds = []
            for v in call.args[1:]:
                val = getattr(v, "value", None)
                if not isinstance(val, (tirx.FloatImm, tirx.IntImm)):
                    return call
                bounds.append(float(val.value))
            op = relax.op
            y = op.maximum(call.args[0], relax.const(bounds[0], dtype))
            return op.minimum(y, relax.const(bounds[1], dtype))

    @relax.transform.function_pass(opt_level=0, name="ClipToMinMax")
    class _Pass:
        def transform_function(self, func, mod, ctx):
            return _Rewrite(mod).visit_expr(func)

    return _Pass()(mod)


def tvm_op(name):
    import tvm

    return tvm.ir.Op.get(name)
