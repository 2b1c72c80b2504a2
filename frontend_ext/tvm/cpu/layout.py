"""Relax-level steps before legalization: ReLU6-style clips as max/min, and channel-blocked layouts.

``ConvertLayout`` moves every float32 conv2d (and what follows it: relu, add, pools, means, concats) to
``NCHW{b}c``, ``b`` = one vector of floats where the channel count allows it (16 with AVX-512, else 8), so
the conv kernels read and write whole vectors. The kernel stays ``OIHW`` here: ``conv2d.py`` packs the
(constant) weights itself, with numpy, into whatever blocking its compute wants.
"""
from __future__ import annotations

import math

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


def static_but_batch(shape):
    """The shape with ints after its first dim, which may stay symbolic (a dynamic batch), or None."""
    dims = list(shape)
    rest = _static(dims[1:])
    if rest is None or not dims:
        return None
    first = _static(dims[:1])
    return (first[0] if first else dims[0],) + rest


def conv_layouts(call, facts: CpuFacts, forced=None):
    """(data_layout, kernel_layout, out_layout) for one relax.nn.conv2d call."""
    keep = ["NCHW", "OIHW"]
    a = call.attrs
    if str(a.data_layout) != "NCHW" or str(a.kernel_layout) != "OIHW" or str(a.out_layout) not in ("NCHW", ""):
        return None
    dshape = static_but_batch(call.args[0].ty.shape)
    wshape = _static(call.args[1].ty.shape)
    if dshape is None or wshape is None or str(call.args[0].ty.dtype) != "float32" or str(
            call.args[1].ty.dtype) != "float32":
        return keep
    C, K, groups = dshape[1], wshape[0], int(a.groups)
    cb, kb = channel_block(C, facts), channel_block(K, facts)
    if forced is not None:
        kb = _forced_block(forced, call.args[1], kb)
    if groups == 1:
        data = cb
    elif groups == C == K:  # depthwise: data and output share the block
        return [f"NCHW{cb}c", "OIHW", f"NCHW{cb}c"] if cb else keep
    else:  # grouped: blocked only when blocks do not straddle groups
        cg, kg = C // groups, K // groups
        data = cb if (cb and kb and cg % cb == 0 and kg % kb == 0) else None
    return [f"NCHW{data}c" if data else "NCHW", "OIHW", f"NCHW{kb}c" if kb else "NCHW"]


def _forced_block(forced, weight, kb):
    """The output block of a conv that feeds concats: the smallest any of them allows (None: NCHW)."""
    for w, b in forced:
        if w.same_as(weight):
            if b is None or kb is None:
                return None
            kb = min(kb, b)
    return kb


def _concat_blocks(mod, facts):
    """[(conv weight, block)]: the output block of every conv that feeds a concat (through pools,
    activations, adds, other concats), so that all inputs of a concat share one block (ConvertLayout
    fails on a concat of NCHW8c and NCHW16c inputs). The block is the largest that divides every
    input's channel count, or None (NCHW) when there is none."""
    from tvm import relax

    forced = []
    for _, func in mod.functions.items():
        if not isinstance(func, relax.Function):
            continue
        bindings = {}
        for block in getattr(func.body, "blocks", []):
            for b in block.bindings:
                bindings[b.var] = b.value

        def producers(expr, seen):
            """conv weights reached backwards from expr."""
            out = []
            stack = [expr]
            while stack:
                e = stack.pop()
                if isinstance(e, relax.Var) and e in bindings and e not in seen:
                    seen.add(e)
                    stack.append(bindings[e])
                elif isinstance(e, relax.Call):
                    if getattr(e.op, "name", "") == "relax.nn.conv2d":
                        out.append(e.args[1])
                        continue
                    for a in e.args:
                        if isinstance(a, relax.Tuple):
                            stack.extend(a.fields)
                        else:
                            stack.append(a)
                elif isinstance(e, relax.Tuple):
                    stack.extend(e.fields)
            return out

        for value in bindings.values():
            if not (isinstance(value, relax.Call) and getattr(value.op, "name", "") == "relax.concat"):
                continue
            if int(value.attrs.axis) not in (1, -3) or not isinstance(value.args[0], relax.Tuple):
                continue
            chans = []
            for f in value.args[0].fields:
                shp = static_but_batch(f.ty.shape) if getattr(f.ty, "shape", None) is not None else None
                if shp is None or len(shp) != 4:
                    chans = None
                    break
                chans.append(shp[1])
            if not chans:
                continue
            block = None
            for cand in (facts.block(32), facts.block(32) // 2):
                if cand >= 4 and all(c % cand == 0 for c in chans):
                    block = cand
                    break
            for w in producers(value, set()):
                forced.append((w, block))
    return forced


def convert_layout(mod, facts: CpuFacts):
    from tvm import relax

    if not _has_conv2d(mod):
        return mod
    forced = _concat_blocks(mod, facts)

    def cb(call):
        if getattr(call.op, "name", "") != "relax.nn.conv2d":
            return {}
        lay = conv_layouts(call, facts, forced)
        return {"relax.nn.conv2d": lay if lay else ["NCHW", "OIHW"]}

    try:
        return relax.transform.ConvertLayout({}, layout_cb=cb)(mod)
    except Exception:  # layout inference of some op failed: keep NCHW (conv2d.py still blocks inside the kernel)
        return mod


def _has_conv2d(mod):
    from tvm import relax

    found = []

    def visit(e):
        if isinstance(e, relax.Call) and getattr(e.op, "name", "") == "relax.nn.conv2d":
            found.append(e)

    for _, func in mod.functions.items():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return bool(found)


def clip_to_min_max(mod):
    """``R.clip(x, lo, hi)`` on floats -> ``minimum(maximum(x, lo), hi)``: clip has no layout inference, so
    a ReLU6 would force NCHW round trips around every MobileNet conv."""
    from tvm import relax

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
                while not isinstance(v, (int, float)) and hasattr(v, "value"):  # PrimValue -> FloatImm -> float
                    v = v.value
                if not isinstance(v, (int, float)):
                    return call
                bounds.append(float(v))
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


def legalize_layout_transform(bb, call):
    """TVM's ``layout_transform`` lowering pads with a float 0.0 unless the dtype is an integer, which its
    schedule refuses for a bool tensor (a comparison that follows a blocked conv): move bools as uint8."""
    import tvm
    from tvm import relax, topi

    default = tvm.ir.Op.get("relax.layout_transform").get_attr("FLegalize")
    if _one_channel_unblocked(call.args[0].ty.shape, call.ty.shape):
        # a channel sum kept as (N, 1, H, W, 1) in NCHW16c, back to NCHW: TVM's lowering cannot invert the
        # map i1 * 16 + i4 over extents of 1 (IterMap "Could not normalize iterators"); it is a reshape
        return relax.op.reshape(call.args[0], call.ty.shape)
    if str(call.args[0].ty.dtype) != "bool":
        return default(bb, call)
    as_bytes = bb.emit(bb.call_te(topi.cast, call.args[0], "uint8", primfunc_name_hint="bool_to_uint8"))
    moved = bb.emit(default(bb, relax.op.layout_transform(as_bytes, call.attrs.index_map)))
    return bb.call_te(topi.cast, moved, "bool", primfunc_name_hint="uint8_to_bool")


def legalize_reshape(bb, call):
    """A reshape that splits or merges only fixed-size axes between equal symbolic ones ((N, 48, H, W) ->
    (N, 2, 24, H, W): a channel shuffle at a dynamic image size) as a direct index map. TVM's lowering goes
    through the flat index, divided back by the symbolic H and W, which no simplifier undoes (nothing says
    H > 0): divisions per element at run time, and minutes in LLVM codegen once the loops are fused."""
    import tvm
    from tvm import te

    default = tvm.ir.Op.get("relax.reshape").get_attr("FLegalize")
    src = getattr(getattr(call.args[0].ty, "shape", None), "values", None)
    dst = getattr(getattr(call.ty, "shape", None), "values", None)
    if src is None or dst is None or _static(src) is not None:
        return default(bb, call)
    src, dst = list(src), list(dst)
    analyzer = tvm.sym.Analyzer()
    lead = 0
    while lead < min(len(src), len(dst)) and analyzer.can_prove_equal(src[lead], dst[lead]):
        lead += 1
    tail = 0
    while (tail < min(len(src), len(dst)) - lead
           and analyzer.can_prove_equal(src[len(src) - 1 - tail], dst[len(dst) - 1 - tail])):
        tail += 1
    mid_src, mid_dst = _static(src[lead:len(src) - tail]), _static(dst[lead:len(dst) - tail])
    if mid_src is None or mid_dst is None or math.prod(mid_src) != math.prod(mid_dst):
        return default(bb, call)

    def source_index(out):
        flat = 0
        for i, n in zip(out[lead:len(out) - tail], mid_dst):
            flat = flat * n + i
        mid = []
        for n in reversed(mid_src):
            mid.insert(0, flat % n)
            flat = flat // n
        return [*out[:lead], *mid, *out[len(out) - tail:]]

    def compute(data):
        return te.compute(dst, lambda *out: data(*source_index(out)), name="T_reshape")

    return bb.call_te(compute, call.args[0], primfunc_name_hint="reshape")


def _one_channel_unblocked(src, dst):
    """Whether a layout change takes (N, 1, ..., 1) in NC..c to (N, 1, ...) in NC..: one channel, a reshape."""
    from tvm_ffi import structural_equal

    def one(d):
        return getattr(d, "value", None) == 1  # an IntImm 1

    if src is None or dst is None or len(src) != len(dst) + 1 or len(dst) < 2:
        return False
    src, dst = list(src), list(dst)
    return one(src[1]) and one(src[-1]) and one(dst[1]) and all(
        structural_equal(x, y) for x, y in zip([src[0], *src[2:-1]], [dst[0], *dst[2:]]))
