"""Pure-TVM CPU code without search: channel-blocked layouts, conv2d legalization, fixed TIR schedules.

``cpu_pipeline(mod, target)`` turns a Relax module into one ``tvm.compile`` builds into fast llvm code
(see ``pipeline.py`` for the steps). Modules: ``target`` (vector width, registers), ``layout``
(ConvertLayout choices, clip rewrite), ``conv2d`` (the blocked computes), ``schedules`` (the rules),
``pick`` (the bounded timed pick).
"""
from .pipeline import apply_schedules, cpu_pipeline, prepare
from .target import CpuFacts, cpu_facts

__all__ = ["cpu_pipeline", "prepare", "apply_schedules", "cpu_facts", "CpuFacts"]
