"""A bounded compile-time pick among a few schedule candidates per unique conv / matmul workload.

Each candidate of ``schedules.candidates`` is built alone (0.1-0.5 s) and timed on random inputs; the
fastest wins. Workloads are keyed by the PrimFunc's structure, so ResNet-50's 53 convs cost about 20
picks (2-3 candidates each). A time budget (20 s) bounds the whole pick; what it does not reach keeps
the first (rule-of-thumb) candidate. ``NNVM_BRIDGE_CPU_PICK_SECONDS`` overrides the budget (0 turns the pick off).
Kernels with symbolic shapes (a dynamic batch or sequence) are timed at one representative size each
(``representative_sizes``).
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import schedules

DEFAULT_BUDGET_S = 20.0


def budget_seconds(value=None):
    if value is not None:
        return float(value)
    env = os.environ.get("NNVM_BRIDGE_CPU_PICK_SECONDS")
    return float(env) if env not in (None, "") else DEFAULT_BUDGET_S


def _args_for(func, dev):
    import tvm

    rng = np.random.default_rng(0)
    out = []
    sizes = representative_sizes(func)
    for p in func.params:
        buf = param_buffer(func, p)
        shape = [sizes(d) for d in buf.shape]
        dtype = str(buf.dtype)
        if dtype.startswith("float"):
            arr = rng.standard_normal(shape).astype(dtype)
        else:
            arr = np.zeros(shape, dtype)
        out.append(tvm.runtime.tensor(arr, dev))
    return out


BATCH_SIZE = 1  # a symbolic dim that is only ever a buffer's first axis (a batch) is timed at this size
SEQUENCE_SIZE = 64  # any other symbolic dim (a sequence, batch x sequence) at this one


def representative_sizes(func):
    """dim expression -> int, to time a PrimFunc with symbolic shapes: each variable at the size above
    that its uses suggest."""
    from .. import compat

    tir = compat.tir()
    every, not_batch = set(), set()
    for p in func.params:
        for axis, d in enumerate(param_buffer(func, p).shape):
            used = tir.analysis.undefined_vars(d)
            every.update(used)
            if not (axis == 0 and isinstance(d, tir.Var)):
                not_batch.update(used)
    an = compat.analyzer()
    for v in every:
        dtype = str(v.ty) if hasattr(v, "ty") else v.dtype  # (a tir.Var's type is .ty in TVM 0.27)
        an.bind(v, tir.const(SEQUENCE_SIZE if v in not_batch else BATCH_SIZE, dtype))
    return lambda d: int(an.simplify(d))


def param_buffer(func, param):
    """A PrimFunc parameter's buffer type (shape, dtype): ``param.ty`` in TVM 0.27, ``buffer_map`` before."""
    bm = getattr(func, "buffer_map", None)
    if bm is not None and param in bm:
        return bm[param]
    return param.ty


def time_primfunc(func, target, number=None, repeat=3):
    """Seconds per call of a scheduled PrimFunc (min over repeats)."""
    import tvm

    lib = tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}), target=target)
    dev = tvm.cpu()
    args = _args_for(func, dev)
    f = lib["main"]
    f(*args)  # warm-up
    if number is None:
        t0 = time.perf_counter()
        f(*args)
        one = max(time.perf_counter() - t0, 1e-6)
        number = int(min(50, max(1, 2e-3 / one)))
    rt = lib if hasattr(lib, "time_evaluator") else lib.mod
    res = rt.time_evaluator("main", dev, number=number, repeat=repeat)(*args).results
    return min(res)


def pick(func, facts, target, deadline):
    """(best choice or None, {choice: seconds}) for one PrimFunc; stops at ``deadline`` (perf_counter)."""
    cands = schedules.candidates(func, facts)
    if len(cands) < 2:
        return (cands[0] if cands else None), {}
    times = {}
    for c in cands:
        if time.perf_counter() > deadline:
            break
        try:
            sched = schedules.schedule_primfunc(func, facts, target, c)
            if sched is None:
                continue
            times[c] = time_primfunc(sched, target)
        except Exception as exc:
            schedules._debug(f"pick {c}", exc)
    if not times:
        return cands[0], {}
    return min(times, key=times.get), times
