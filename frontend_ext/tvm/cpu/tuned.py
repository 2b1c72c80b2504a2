"""Tuning can only improve on the fixed schedules: each kernel that a MetaSchedule record schedules is timed
on this machine against its fixed schedule (``schedules.py``), and the faster one is built.

The verdicts are kept next to the records (``VERDICTS`` in the database directory), keyed by the target, the
kernel's structure and the record's, so a later build from the same database does not time again.
"""
from __future__ import annotations

import json
import os

from .. import compat
from . import pick as _pick
from . import schedules

VERDICTS = "nnvm_bridge_fixed_or_tuned.json"


def _seconds(func, target):
    try:
        return _pick.time_primfunc(func, target)
    except Exception as exc:  # a kernel that does not build or run alone: never chosen
        schedules._debug("time", exc)
        return float("inf")


def _load(path):
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def keep_faster(untouched, fixed, tuned, target, database, structural_hash, report=None):
    """``untouched``: the prepared module; ``fixed``: it with the fixed schedules everywhere; ``tuned``: it after
    ``MetaScheduleApplyDatabase`` (kernels with a record scheduled, the rest not). Returns ``fixed`` with the
    tuned kernels that were faster. ``report`` gets ``tuned_kept`` and ``fixed_kept`` counts."""
    import tvm

    path = os.path.join(os.path.dirname(os.fspath(database.path_tuning_record)), VERDICTS)
    verdicts = _load(path)
    counts = {"tuned_kept": 0, "fixed_kept": 0}
    changed = False
    names = {gv.name_hint for gv in untouched.functions}
    for gv, func in tuned.functions.items():
        name = gv.name_hint
        before = untouched[name] if name in names else None
        if not isinstance(func, tvm.tirx.PrimFunc) or before is None or compat.is_scheduled(before) \
                or not compat.is_scheduled(func):
            continue  # not a kernel a record scheduled
        # the record's own hash too: a better record from a longer tuning run is timed again
        key = f"{target}|{structural_hash(before.with_attr('global_symbol', 'main'))}|{structural_hash(func)}"
        if key not in verdicts:
            tuned_s, fixed_s = _seconds(func, target), _seconds(fixed[name], target)
            verdicts[key] = "tuned" if tuned_s < fixed_s else "fixed"
            changed = True
        if verdicts[key] == "tuned":
            fixed[name] = func
        counts[f"{verdicts[key]}_kept"] += 1
    if changed:
        try:
            with open(path, "w") as f:
                json.dump(verdicts, f, indent=1, sort_keys=True)
        except OSError:  # a read-only database: the verdicts are timed again next time
            pass
    print(f"[nnvm_bridge] tuning records: {counts['tuned_kept']} tuned kernels kept, "
          f"{counts['fixed_kept']} fixed schedules were faster", flush=True)
    if report is not None:
        report.update(counts)
    return fixed
