"""``cpu_pipeline(mod, target) -> mod``: the pure-TVM llvm recipe, ready for ``tvm.compile``.

1. ``DecomposeOpsForInference``, ``CanonicalizeBindings``, ``FoldConstant``;
2. float clips as max/min (``layout.clip_to_min_max``), conv2d and its neighbours to ``NCHW{b}c``
   (``layout.convert_layout``);
3. ``LegalizeOps`` with the channel-blocked conv2d computes of ``conv2d.py``;
4. ``relax.get_pipeline("zero")``: fuse bias, activations and residual adds into the kernels;
5. MetaSchedule records when a database is given (tuned PrimFuncs are left as tuned);
6. the fixed schedules of ``schedules.py`` on every other PrimFunc, with a bounded timed pick among a
   few candidates per unique conv / matmul workload (``pick.py``).
"""
from __future__ import annotations

import time

from . import pick as _pick
from . import schedules
from .conv2d import legalize_conv2d
from .layout import clip_to_min_max, convert_layout
from .target import cpu_facts


def prepare(mod, target):
    """Steps 1-4: the fused Relax module, PrimFuncs not yet scheduled."""
    import tvm
    from tvm import relax

    facts = cpu_facts(target)
    with target:
        mod = tvm.ir.transform.Sequential([relax.transform.DecomposeOpsForInference(),
                                           relax.transform.CanonicalizeBindings(),
                                           relax.transform.FoldConstant()])(mod)
        mod = clip_to_min_max(mod)
        mod = convert_layout(mod, facts)
        mod = relax.transform.LegalizeOps(customize_legalize_map={"relax.nn.conv2d": legalize_conv2d(facts)})(mod)
        mod = relax.get_pipeline("zero")(mod)
    return mod


def apply_schedules(mod, target, pick_seconds=None, report=None):
    """Step 6 on every PrimFunc that is not scheduled yet. ``report`` (a dict) gets counts and pick times."""
    import tvm

    facts = cpu_facts(target)
    budget = _pick.budget_seconds(pick_seconds)
    t0 = time.perf_counter()
    deadline = t0 + budget
    chosen = {}  # structural hash -> choice
    stats = {"primfuncs": 0, "scheduled": 0, "picked": 0, "pick_s": 0.0, "rules": {}}
    updates = {}
    with target:
        for gv, func in mod.functions.items():
            if not isinstance(func, tvm.tirx.PrimFunc):
                continue
            stats["primfuncs"] += 1
            if func.attrs is not None and "tir.is_scheduled" in func.attrs and bool(func.attrs["tir.is_scheduled"]):
                continue
            base = func.with_attr("global_symbol", "main")
            choice = None
            if budget > 0 and schedules.kernel_kind(base, facts):
                key = tvm.ir.structural_hash(base)
                if key not in chosen:
                    choice, times = _pick.pick(base, facts, target, deadline)
                    chosen[key] = choice
                    stats["picked"] += bool(times)
                choice = chosen[key]
            out = schedules.schedule_primfunc(base, facts, target, choice)
            if out is None:
                continue
            stats["scheduled"] += 1
            updates[gv] = out.with_attr("global_symbol", gv.name_hint).with_attr("tir.is_scheduled", True)
    for gv, f in updates.items():
        mod[gv] = f
    stats["pick_s"] = round(time.perf_counter() - t0, 2)
    if report is not None:
        report.update(stats)
    return mod


def cpu_pipeline(mod, target, database=None, pick_seconds=None, report=None):
    """The whole recipe (steps 1-6); ``database``: a MetaSchedule database whose records win."""
    from tvm import relax

    mod = prepare(mod, target)
    if database is not None:
        with target, database:
            mod = relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(mod)
    return apply_schedules(mod, target, pick_seconds=pick_seconds, report=report)
