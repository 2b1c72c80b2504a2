"""CPU offload of the heavy ops (convolution, dense) to PyTorch's oneDNN/BLAS kernels.

TVM 0.27's untuned CPU code is 12-60x slower than onnxruntime and its wheel ships no cblas/DNNL
backend, so by default the Relax module calls these packed functions (``relax.call_dps_packed``)
for conv2d/dense, with BN folded into the weights and the bias, residual add and ReLU/clip fused in
the same call. Everything else stays TVM-generated code. The functions are registered by name in
the running process (``register()``); a library exported with offload therefore needs torch
where it is loaded -- ``compile_model(..., cpu_offload=False)`` builds a pure-TVM library instead.

Attributes travel as one ShapeExpr of ints: see ``conv_attrs`` / ``_parse``.
"""
from __future__ import annotations

CONV = "nnvm_bridge.offload.conv2d"
DENSE = "nnvm_bridge.offload.dense"
FUNCS = (CONV, DENSE)

ACT_NONE, ACT_RELU, ACT_CLIP = 0, 1, 2
_registered = False


def _import_torch():
    """Import torch; first make its OpenMP threads sleep rather than spin between calls.

    Spinning workers (libgomp's default) starve TVM, onnxruntime and every other process on a
    shared machine: on 2 busy cores MobileNetV2 went from 77 ms to 2.7 s. libgomp reads the policy
    once, when torch loads, so this only works if torch was not imported before.
    """
    import os
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    return torch


def available() -> bool:
    try:
        _import_torch()
    except ImportError:
        return False
    return True


def conv_attrs(strides, pads, dilation, groups, has_bias, has_residual, act, clip_range=(0.0, 0.0)):
    """Integers: strides(2) pads(2) dilation(2) groups bias residual act clip_lo*1e6 clip_hi*1e6, then the
    layout flags in_cl res_cl out_cl (set later by fusion.plan_offload).

    Layout flags: a tensor passed only between offloaded calls is kept channels-last (NHWC bytes
    under an NCHW type: TVM never reads it), because PyTorch's CPU convolutions are 1.3-1.6x
    faster channels-last; the weight constant is then stored OHWI.
    """
    lo, hi = (int(round(v * 1e6)) for v in clip_range)
    return [*strides, *pads, *dilation, groups, int(has_bias), int(has_residual), act, lo, hi, 0, 0, 0]


def dense_attrs(has_bias, act, clip_range=(0.0, 0.0)):
    lo, hi = (int(round(v * 1e6)) for v in clip_range)
    return [int(has_bias), 0, act, lo, hi]


def _epilogue(torch, y, residual, act, lo, hi):
    if residual is not None:
        y.add_(residual)
    if act == ACT_RELU:
        y.relu_()
    elif act == ACT_CLIP:
        y.clamp_(lo / 1e6, hi / 1e6)
    return y


def register(num_threads=None):
    """Register the offload packed functions in this process (idempotent).

    PyTorch gets ``num_threads``, else $NNVM_BRIDGE_OFFLOAD_THREADS, else 1 intra-op thread: on the
    shared 2-core machine 1 thread was as fast as 2 for ResNet-18 and faster for MobileNetV2
    (every small op's barrier waits for a descheduled worker); set more on a dedicated machine.
    """
    global _registered
    if _registered:
        return
    torch = _import_torch()
    import tvm_ffi

    import os

    num_threads = num_threads or os.environ.get("NNVM_BRIDGE_OFFLOAD_THREADS") or 1
    torch.set_num_threads(max(1, int(num_threads)))
    F = torch.nn.functional
    dl = torch.from_dlpack

    def cl_view(t):  # NHWC bytes under an NCHW shape -> a channels-last NCHW tensor (no copy)
        n, c, h, w = t.shape
        return t.view(n, h, w, c).permute(0, 3, 1, 2)

    def conv2d(*args):
        out = args[-1]
        a = [int(v) for v in args[-2]]
        strides, pads, dil, groups, has_bias, has_res, act, lo, hi = a[0:2], a[2:4], a[4:6], a[6], a[7], a[8], \
            a[9], a[10], a[11]
        in_cl, res_cl, out_cl = a[12], a[13], a[14]
        x, w = dl(args[0]), dl(args[1])
        if in_cl:
            x, w = cl_view(x), w.permute(0, 3, 1, 2)  # weight stored OHWI
        k = 2
        b = None
        if has_bias:
            b, k = dl(args[k]), k + 1
        res = None
        if has_res:
            res = dl(args[k])
            res = cl_view(res) if res_cl else res
        o = dl(out)
        with torch.no_grad():
            y = F.conv2d(x, w, b, strides, pads, dil, groups)
            y = _epilogue(torch, y, res, act, lo, hi)
            (cl_view(o) if out_cl else o).copy_(y)

    def dense(*args):
        out = args[-1]
        a = [int(v) for v in args[-2]]
        x, w = dl(args[0]), dl(args[1])
        b = dl(args[2]) if a[0] else None
        with torch.no_grad():
            y = F.linear(x, w, b)
            dl(out).copy_(_epilogue(torch, y, None, a[2], a[3], a[4]))

    tvm_ffi.register_global_func(CONV, conv2d, override=True)
    tvm_ffi.register_global_func(DENSE, dense, override=True)
    _registered = True
