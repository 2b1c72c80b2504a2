"""MetaSchedule tuning for the CPU build: tune once into a database directory, re-apply later.

``tuning = {"trials": N, "database": DIR}`` (``work_dir`` is accepted for ``database``):
N > 0 runs MetaSchedule for about N trials in total, split over the model's tasks, writing
records to DIR (progress is printed by MetaSchedule's task scheduler); N == 0 only re-applies
the records already in DIR. Either way a record replaces the fixed schedule of its kernel only where it
was timed faster on this machine (``cpu/tuned.py``), so tuning can only improve the build. Recipe from
DESIGN.md ("TVM 0.27 notes"); pitfalls: apache-tvm-ffi 0.1.15.post2 crashes on the first database write
(pin 0.1.14.post1), MetaSchedule needs xgboost/scipy/psutil/cloudpickle, the 30 s default build timeout is
too short on 2 cores, the default builder's intrinsic import times every build out (``build_candidate``), and
TuneContext's import of every target family's intrinsics takes minutes (``compat.register_tensor_intrinsics``).
"""
from __future__ import annotations

import math
import os
import time

from nnvm_bridge.errors import BridgeError, CompileError, MissingDependencyError

from . import compat


def parse_tuning(tuning) -> tuple:
    if not isinstance(tuning, dict):
        raise BridgeError("tuning must be a dict such as {'trials': 64, 'database': 'tune_db/'}")
    unknown = set(tuning) - {"trials", "database", "work_dir", "max_trials_per_task", "timeout_s"}
    if unknown:
        raise BridgeError(f"unknown tuning options {sorted(unknown)}; use trials, database")
    db = tuning.get("database") or tuning.get("work_dir")
    if not db:
        raise BridgeError("tuning needs 'database': the directory where tuning records are kept")
    try:
        trials = int(tuning.get("trials", 0))
    except (TypeError, ValueError):
        raise BridgeError(f"tuning 'trials' must be an integer, got {tuning.get('trials')!r}") from None
    if trials < 0:
        raise BridgeError("tuning 'trials' must be >= 0")
    return trials, os.fspath(db), tuning


def _check_deps():
    for mod in ("xgboost", "scipy", "psutil", "cloudpickle"):
        try:
            __import__(mod)
        except ImportError:
            raise MissingDependencyError(f"MetaSchedule tuning needs the '{mod}' package (pip install {mod})") \
                from None


def _prepare(mod, target, int8):
    """The module as tuned and as built: the steps of ``cpu.prepare`` (NCHWc layouts, blocked conv2d, fused),
    so that the records match the PrimFuncs that ``compile._cpu_pipeline`` builds."""
    from .cpu import prepare

    return prepare(mod, target, int8=int8)


def build_candidate(mod, target, _params):
    """MetaSchedule's default build without its ``import tvm.s_tir.tensor_intrin``: that import registers every
    target's tensor intrinsics and takes minutes on 2 cores, and the builder pays it in each fresh worker process
    (a new pool per batch), so every build timed out. A schedule that tensorized carries its intrinsic's code."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    return tvm_build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def tune_or_load(mod, target, tuning, int8=False):
    """Run tuning if asked and return the ``JSONDatabase`` to apply."""
    trials, work_dir, opts = parse_tuning(tuning)
    ms = compat.meta_schedule()

    has_records = os.path.exists(os.path.join(work_dir, "database_tuning_record.json"))
    if trials == 0:
        if not has_records:
            raise CompileError(f"no tuning records in {work_dir!r}; run with trials > 0 first", file=work_dir)
        return ms.database.JSONDatabase(work_dir=work_dir, allow_missing=False)
    _check_deps()
    os.makedirs(work_dir, exist_ok=True)
    prepared = _prepare(mod, target, int8)
    compat.register_tensor_intrinsics(target)
    tasks = ms.relax_integration.extract_tasks(prepared, target)
    per_task = int(opts.get("max_trials_per_task") or max(1, math.ceil(trials / max(1, len(tasks)))))
    print(f"[nnvm_bridge] MetaSchedule: {len(tasks)} tasks, {trials} trials in total "
          f"({per_task} per task), records in {work_dir}", flush=True)
    t0 = time.perf_counter()
    try:
        db = ms.relax_integration.tune_relax(
            mod=prepared, params={}, target=target, work_dir=work_dir, max_trials_global=trials,
            max_trials_per_task=per_task, num_trials_per_iter=min(64, max(4, per_task)),
            builder=ms.builder.LocalBuilder(timeout_sec=int(opts.get("timeout_s", 300)), f_build=build_candidate),
            # evolutionary search samples a 2048-schedule population first: only worth it for real budgets
            strategy="evolutionary" if trials >= 64 else "replay-trace")
    except Exception as exc:
        raise CompileError(f"MetaSchedule tuning failed: {type(exc).__name__}: {exc}", file=work_dir) from exc
    print(f"[nnvm_bridge] tuning took {time.perf_counter() - t0:.1f} s", flush=True)
    return db
