"""One place for TVM API churn (0.26/0.27: Relax only, TensorType, tvm.runtime.tensor, dict targets).

Everything else in frontend_ext.tvm calls these helpers instead of touching moving TVM names.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import CompileError, require


GOMP_SPIN = "10000"  # libgomp spins about 100 per microsecond: ~0.1 ms, then its workers sleep


def openmp_defaults():
    """Bound how long PyTorch's OpenMP workers spin after each offloaded call, unless the user set
    OMP_WAIT_POLICY or GOMP_SPINCOUNT. libgomp reads this once, when torch loads (``import tvm`` loads
    torch too when it is installed), so nothing changes if torch is already loaded.

    Why ~0.1 ms: the offloaded convs run back to back, separated by some 20 us of TVM and Python,
    so workers that sleep at once (PASSIVE) must be woken for every conv -- MobileNetV2 took 17.5 ms
    instead of 10 ms on 2 threads. Unbounded spinning (ACTIVE, or libgomp's ~3 ms default) is no
    faster alone and starves every other process on busy cores (MobileNetV2: 2.7 s instead of
    77 ms on the shared machine). TVM's own thread pool is left alone: with offload the TVM code
    left (pooling, reshape, mean) has no parallel loops, so that pool never starts.
    """
    import os
    import sys

    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["GOMP_SPINCOUNT"] = GOMP_SPIN


def tvm():
    openmp_defaults()
    return require("tvm", "tvm")


def relax():
    tvm()
    from tvm import relax as _relax

    return _relax


def tir():
    """TIR expressions (``tvm.tirx`` in 0.27, ``tvm.tir`` before)."""
    t = tvm()
    return t.tirx if hasattr(t, "tirx") else t.tir


def scheduled_attr():
    """The PrimFunc attribute that tells TVM's passes a kernel is scheduled (``tirx.is_scheduled`` in 0.27,
    ``tir.is_scheduled`` before): MetaSchedule's task extraction and dlight skip such kernels."""
    return "tirx.is_scheduled" if hasattr(tvm(), "tirx") else "tir.is_scheduled"


def is_scheduled(func):
    attrs = func.attrs
    return attrs is not None and any(k in attrs and bool(attrs[k]) for k in ("tirx.is_scheduled", "tir.is_scheduled"))


def mark_scheduled(func):
    return func.with_attr(scheduled_attr(), True)


def analyzer():
    """An arithmetic analyzer (``tvm.sym.Analyzer`` in 0.27, ``tvm.arith.Analyzer`` before)."""
    t = tvm()
    return (t.sym if hasattr(getattr(t, "sym", None), "Analyzer") else t.arith).Analyzer()


def tensor_type(shape, dtype):
    """A Relax tensor type (``relax.TensorType`` from 0.26; ``TensorStructInfo`` before). ``shape``: ints and
    tir PrimExprs (symbolic dims), or None for a tensor of any shape; ``dtype`` "" for any dtype."""
    rx = relax()
    dims = None if shape is None else tuple(int(d) if isinstance(d, (int, np.integer)) else d for d in shape)
    cls = rx.TensorType if hasattr(rx, "TensorType") else rx.TensorStructInfo  # TVM < 0.26: StructInfo
    return cls(dims, dtype) if dims is not None else cls(None, dtype, ndim=-1)


def shape_type(dims):
    """A Relax shape type with these dims (``relax.ShapeType`` from 0.26; ``ShapeStructInfo`` before)."""
    rx = relax()
    return (rx.ShapeType if hasattr(rx, "ShapeType") else rx.ShapeStructInfo)(list(dims))


def shape_dtype_of(expr):
    """(tuple of PrimExprs or None, dtype str or None) of an emitted Relax expression."""
    info = getattr(expr, "ty", None)
    if info is None:
        info = getattr(expr, "struct_info", None)  # pragma: no cover - TVM < 0.26
    shape = getattr(info, "shape", None)
    dtype = str(getattr(info, "dtype", "")) or None
    values = getattr(shape, "values", None)
    return (None if values is None else tuple(values)), dtype


def to_device_tensor(array, dev):
    t = tvm()
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        array = array.copy(order="C")
    if hasattr(t.runtime, "tensor"):
        return t.runtime.tensor(array, dev)
    return t.nd.array(array, dev)  # pragma: no cover - TVM < 0.22


def to_numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def host_cpu() -> str:
    return str(tvm().target.codegen.llvm_get_system_cpu())


def num_cores() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def make_target(target="llvm", *, mcpu=None, cuda_arch=None):
    """``"llvm"``, ``"cuda"``, a dict or a ``tvm.target.Target`` -> ``tvm.target.Target``.

    TVM 0.27 rejects the old ``"llvm -mcpu=..."`` strings, so strings are turned into dicts here.
    ``llvm`` gets the host triple, CPU and core count; ``cuda`` gets the arch of the local GPU, or
    sm_90 (H100) when there is none (code can still be generated with nvcc).
    """
    t = tvm()
    if isinstance(target, t.target.Target):
        return target
    if isinstance(target, dict):
        return t.target.Target(dict(target))
    if not isinstance(target, str):
        raise CompileError(f"target must be 'llvm', 'cuda', a dict or a tvm.target.Target, not {type(target)}")
    kind = target.strip().split()[0] if target.strip() else ""
    if kind in ("llvm", "cpu"):
        spec = {"kind": "llvm", "mtriple": "x86_64-linux-gnu", "num-cores": num_cores()}
        import platform

        if platform.machine() not in ("x86_64", "AMD64"):
            spec.pop("mtriple")
        spec["mcpu"] = mcpu or host_cpu()
        return t.target.Target(spec)
    if kind in ("cuda", "gpu"):
        return t.target.Target({"kind": "cuda", "arch": cuda_arch or local_cuda_arch() or "sm_90"})
    try:
        return t.target.Target(target)
    except Exception as exc:
        raise CompileError(f"unknown target {target!r}: use 'llvm', 'cuda' or a tvm.target.Target ({exc})") from None


def local_cuda_arch():
    t = tvm()
    try:
        dev = t.cuda(0)
        if dev.exist:
            return "sm_" + str(dev.compute_version).replace(".", "")
    except Exception:
        return None
    return None


def device_for(kind: str):
    t = tvm()
    if kind == "cuda":
        dev = t.cuda(0)
        if not dev.exist:
            raise CompileError("this model was compiled for CUDA but no CUDA GPU is visible here")
        return dev
    return t.cpu(0)


def dlight():
    """The dlight schedule rules (``tvm.dlight`` until 0.23, ``tvm.s_tir.dlight`` from 0.24)."""
    try:
        from tvm.s_tir import dlight as dl
    except ImportError:  # pragma: no cover - TVM < 0.24
        from tvm import dlight as dl
    return dl


def is_leaf(expr) -> bool:
    """True for variables and constants (nothing to emit); the Constant class moved to tvm.ir in 0.27."""
    rx = relax()
    const_cls = getattr(rx, "Constant", None) or getattr(tvm().ir.expr, "Constant")
    return isinstance(expr, (rx.Var, const_cls))


def is_constant(expr) -> bool:
    const_cls = getattr(relax(), "Constant", None) or getattr(tvm().ir.expr, "Constant")
    return isinstance(expr, const_cls)


def constant_value(expr) -> np.ndarray:
    """The numpy value of a Relax constant (``.value`` in 0.27, ``.data`` before)."""
    return (expr.value if hasattr(expr, "value") else expr.data).numpy()


def meta_schedule():
    """MetaSchedule (``tvm.meta_schedule`` until 0.23, ``tvm.s_tir.meta_schedule`` from 0.24)."""
    try:
        from tvm.s_tir import meta_schedule as ms
    except ImportError:  # pragma: no cover - TVM < 0.24
        from tvm import meta_schedule as ms
    return ms


_INTRINSICS = "tvm.s_tir.tensor_intrin"


def register_tensor_intrinsics(target) -> None:
    """Register the tensorization intrinsics of ``target``'s family only. MetaSchedule's TuneContext imports the
    whole intrinsic package, which parses every family's TVMScript (CUDA's alone takes minutes on 2 cores) even to
    tune a CPU: entering the package without its ``__init__`` first makes that import a no-op, and each family
    asked for is imported on demand (a later CUDA tuning in the same process imports ``cuda`` then)."""
    import importlib
    import importlib.util
    import platform
    import sys
    import types

    if target.kind.name == "llvm":
        arch = str(target.attrs.get("mtriple", "") or platform.machine()).lower()
        families = ["arm_cpu"] if arch.startswith(("aarch64", "arm")) else (
            ["riscv_cpu"] if arch.startswith("riscv") else ["x86"])
    else:
        families = {"cuda": ["cuda"], "rocm": ["rocm"], "metal": ["metal"], "hexagon": ["hexagon"]}.get(
            target.kind.name, [])
    try:
        if _INTRINSICS not in sys.modules:
            spec = importlib.util.find_spec(_INTRINSICS)
            if spec is None or not spec.submodule_search_locations:
                return  # an older layout: TuneContext's own import registers everything
            package = types.ModuleType(_INTRINSICS)
            package.__path__ = list(spec.submodule_search_locations)
            package.__package__ = _INTRINSICS
            sys.modules[_INTRINSICS] = package
        for family in families:
            importlib.import_module(f"{_INTRINSICS}.{family}")
    except ImportError:  # pragma: no cover - a TVM build without that family
        pass
