"""``cpu_pipeline(mod, target) -> mod``: the pure-TVM llvm recipe, ready for ``tvm.compile``.

1. ``DecomposeOpsForInference``, ``CanonicalizeBindings``, constants folded with numpy (``fold.py``);
   with ``int8``, the conv2d / matmul of dequantized int8 data as integer kernels (``qdq.py``, ``int8.py``);
2. float clips as max/min (``layout.clip_to_min_max``), conv2d and its neighbours to ``NCHW{b}c``
   (``layout.convert_layout``);
3. ``LegalizeOps`` with the channel-blocked conv2d computes of ``conv2d.py``, float32 erf/exp/tanh in
   TOPI's vectorizable polynomial forms, and reshapes between equal symbolic axes as direct index maps
   (``layout.legalize_reshape``);
4. the steps of ``relax.get_pipeline("zero")``: fuse bias, activations and residual adds into the kernels
   (each binding kept after the ``match_cast`` that binds its shape symbols: ``order.py``);
5. the fixed schedules of ``schedules.py`` on every PrimFunc, with a bounded timed pick among a
   few candidates per unique conv / matmul workload (``pick.py``), remembered across compiles
   (``pick_cache.py``);
6. when a MetaSchedule database is given, a kernel's tuned record replaces its fixed schedule where it
   was timed faster (``tuned.py``): tuning can only improve on step 5.

Symbolic dims (a dynamic batch or sequence) go the same way: one library for every size.
``report["rules"]`` counts the PrimFuncs each schedule rule took.
"""
from __future__ import annotations

import time

from .. import compat
from . import int8 as _int8
from . import pick as _pick
from . import schedules
from .conv2d import fast_math_legalizations, legalize_conv2d
from .fold import fold_constants_numpy
from .layout import clip_to_min_max, convert_layout, legalize_layout_transform, legalize_reshape
from .order import order_after_symbol_bindings
from .pick_cache import PickCache
from .qdq import KINDS, rewrite_qdq
from .target import cpu_facts
from .tuned import keep_faster


def prepare(mod, target, int8=False):
    """Steps 1-4: the fused Relax module, PrimFuncs not yet scheduled. ``int8``: rewrite the quantized
    conv2d / matmul to integer kernels: True (both), False, "auto" (``int8_kinds``), or a tuple of kinds."""
    import tvm
    from tvm import relax

    facts = cpu_facts(target)
    with target:
        mod = tvm.ir.transform.Sequential([relax.transform.DecomposeOpsForInference(),
                                           relax.transform.CanonicalizeBindings()])(mod)
        mod = fold_constants_numpy(mod)
        kinds = int8_kinds(target, int8)
        if kinds:
            mod, _ = rewrite_qdq(mod, kinds)
        mod = clip_to_min_max(mod)
        mod = convert_layout(mod, facts)
        mod = fold_constants_numpy(mod)
        legalize = {"relax.nn.conv2d": legalize_conv2d(facts), "relax.layout_transform": legalize_layout_transform,
                    "relax.reshape": legalize_reshape, **fast_math_legalizations()}
        mod = relax.transform.LegalizeOps(customize_legalize_map=legalize)(mod)
        # relax.get_pipeline("zero") without its FoldConstant, which costs seconds on a large model even
        # when nothing is left to fold (numpy folded the usual cases above)
        mod = tvm.ir.transform.Sequential([relax.transform.LegalizeOps(),
                                           relax.transform.AnnotateTIROpPattern()])(mod)
        mod = keep_scalar_arg_kernels_unfused(mod)
        seq = [relax.transform.FoldConstant()] if _has_constant_calls(mod) else []
        mod = order_after_symbol_bindings(tvm.ir.transform.Sequential(seq + [relax.transform.FuseOps()])(mod))
        mod = relax.transform.FuseTIR()(mod)
    return mod


def keep_scalar_arg_kernels_unfused(mod):
    """Mark opaque (never fused) the PrimFuncs that a ``call_tir`` gives scalar arguments: the shape tensors of
    symbolic shapes (``shape_to_tensor(batch, past)``). TVM 0.27's FuseTIR fails on a group that mixes such
    scalar parameters with symbolic ``tir_vars`` (RenewDefs: "VarRemapGet(source) == nullptr", GPT-2 with
    past key/values); the kernels are a few elements long, so fusing them gains nothing."""
    import tvm
    from tvm import relax

    callees = set()

    def visit(e):
        if isinstance(e, relax.Call) and getattr(e.op, "name", "") == "relax.call_tir":
            args = e.args[1]
            fields = list(args.fields) if isinstance(args, relax.Tuple) else [args]
            if any(tvm.ir.is_prim_expr(a) for a in fields):
                callees.add(e.args[0])

    for _, func in mod.functions.items():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    for gv in callees:
        mod[gv] = mod[gv].with_attr("op_pattern", _OPAQUE)
    return mod


_OPAQUE = 8  # relay/relax OpPatternKind kOpaque


def _has_constant_calls(mod):
    """Whether some call in a Relax function takes only constants (what FoldConstant would fold)."""
    import tvm
    from tvm import relax

    const_cls = getattr(relax, "Constant", None) or tvm.ir.expr.Constant
    found = []

    def visit(e):
        if isinstance(e, relax.Call) and e.args:
            args = list(e.args)
            if len(args) >= 2 and isinstance(args[1], relax.Tuple) and getattr(e.op, "name", "") == "relax.call_tir":
                args = list(args[1].fields)
            if args and all(isinstance(a, const_cls) for a in args):
                found.append(e)

    for _, func in mod.functions.items():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return bool(found)


def apply_schedules(mod, target, pick_seconds=None, report=None):
    """Step 6 on every PrimFunc that is not scheduled yet. ``report`` (a dict) gets counts and pick times."""
    import tvm

    facts = cpu_facts(target)
    budget = _pick.budget_seconds(pick_seconds)
    t0 = time.perf_counter()
    deadline = t0 + budget
    chosen = {}  # structural hash -> choice
    cache = PickCache.open() if budget > 0 else None
    stats = {"primfuncs": 0, "scheduled": 0, "picked": 0, "cached": 0, "pick_s": 0.0,
             "rules": {}}  # rule name -> PrimFuncs it scheduled
    updates = {}
    with target:
        for gv, func in mod.functions.items():
            if not isinstance(func, tvm.tirx.PrimFunc):
                continue
            stats["primfuncs"] += 1
            if compat.is_scheduled(func):
                continue
            base = func.with_attr("global_symbol", "main")
            out = _int8_scheduled(base, facts, target)
            if out is not None:
                stats["scheduled"] += 1
                updates[gv] = compat.mark_scheduled(out.with_attr("global_symbol", gv.name_hint))
                continue
            choice = None
            if budget > 0 and schedules.kernel_kind(base, facts):
                key = _structural_hash(base)
                if key not in chosen:
                    chosen[key] = _cached_or_picked(base, facts, target, deadline, key, cache, stats)
                choice = chosen[key]
            rule, out = schedules.apply_rules(base, facts, target, choice)
            if out is None:
                continue
            stats["scheduled"] += 1
            stats["rules"][rule] = stats["rules"].get(rule, 0) + 1
            updates[gv] = compat.mark_scheduled(out.with_attr("global_symbol", gv.name_hint))
    for gv, f in updates.items():
        mod[gv] = f
    if cache is not None:
        cache.save()
    stats["pick_s"] = round(time.perf_counter() - t0, 2)
    if report is not None:
        report.update(stats)
    return mod


def _int8_scheduled(func, facts, target):
    """The integer kernels' own schedule, or None (not one; or it failed: the generic rules take it)."""
    if not _int8.is_int8_kernel(func):
        return None
    try:
        return _int8.schedule_int8(func, facts, _int8.has_vnni(target))
    except Exception as exc:  # pragma: no cover - an epilogue the schedule does not know
        schedules._debug("int8", exc)
        return None


def _cached_or_picked(func, facts, target, deadline, workload, cache, stats):
    """An earlier compile's pick for this workload on this target, else a timed pick (then remembered)."""
    key = cache and PickCache.key(str(target), facts.cores, workload)
    if cache is not None:
        hit = cache.get(key, schedules.candidates(func, facts))
        if hit is not None:
            stats["cached"] += 1
            return hit
    choice, times = _pick.pick(func, facts, target, deadline)
    stats["picked"] += bool(times)
    if cache is not None and times:
        cache.put(key, choice)
    return choice


def _structural_hash(obj):
    try:
        from tvm_ffi import structural_hash
    except ImportError:  # pragma: no cover - TVM < 0.22
        from tvm.ir import structural_hash
    return structural_hash(obj)


def int8_kinds(target, int8):
    """The kinds of call (``qdq.KINDS``) that take the integer path. "auto": only where it was measured
    faster than the float path (``benchmarks/tvm_int8.py``): conv2d on x86 with AVX-512 VNNI (ResNet-18
    QDQ 1.9x); matmul stays float (a dynamically quantized BERT encoder was not faster)."""
    if int8 == "auto":
        return ("conv2d",) if _int8.has_vnni(target) else ()
    if isinstance(int8, (tuple, list)):
        return tuple(int8)
    return KINDS if int8 else ()


def cpu_pipeline(mod, target, database=None, pick_seconds=None, report=None, int8=False):
    """The whole recipe (steps 1-6); ``database``: a MetaSchedule database, whose record for a kernel is
    built where it is faster than the fixed schedule (``tuned.py``); ``int8``: True, False or "auto"
    (``int8_kinds``)."""
    from tvm import relax

    mod = prepare(mod, target, int8=int8)
    if database is None:
        return apply_schedules(mod, target, pick_seconds=pick_seconds, report=report)
    fixed = apply_schedules(mod.clone(), target, pick_seconds=pick_seconds, report=report)
    with target, database:
        tuned = relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(mod)
    return keep_faster(mod, fixed, tuned, target, database, _structural_hash, report=report)
