"""What the schedules need to know about an llvm target: vector lanes and register count.

Read from the target's mcpu/mattr through LLVM (``target_has_features``), not from the build machine,
so a library cross-built for AVX2 gets AVX2 blocking on an AVX-512 host.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuFacts:
    vector_bits: int  # widest float vector register: 512 (AVX-512), 256 (AVX2/AVX), 128 (SSE, NEON)
    registers: int  # vector registers the register tiles may use (32 with AVX-512, else 16)
    cores: int  # threads the parallel loops are sized for
    fma: bool

    def lanes(self, dtype_bits: int = 32) -> int:
        return max(1, self.vector_bits // dtype_bits)

    def block(self, dtype_bits: int = 32) -> int:
        """Channel block of the NCHW{c} layouts: one vector of the dtype (16 floats with AVX-512)."""
        return self.lanes(dtype_bits)


def _has(features, target):
    from tvm.target.codegen import target_has_features

    try:
        return bool(target_has_features(features, target))
    except Exception:  # unknown feature name on this LLVM / non-x86 target
        return False


def cpu_facts(target) -> CpuFacts:
    """Vector width and register count of an llvm ``tvm.target.Target``."""
    attrs = target.attrs
    cores = int(attrs.get("num-cores", 0) or 0) or _host_cores()
    triple = str(attrs.get("mtriple", "") or "")
    if triple.startswith(("aarch64", "arm64")):
        return CpuFacts(128, 32, cores, True)
    if _has(["avx512f"], target):
        return CpuFacts(512, 32, cores, True)
    if _has(["avx2"], target) or _has(["avx"], target):
        return CpuFacts(256, 16, cores, _has(["fma"], target))
    return CpuFacts(128, 16, cores, False)


def _host_cores():
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
