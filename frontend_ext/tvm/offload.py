"""CPU offload of the heavy ops (convolution, dense) to PyTorch's oneDNN/BLAS kernels.

TVM 0.27's untuned CPU code is 12-60x slower than onnxruntime and its wheel ships no cblas/DNNL
backend, so by default the Relax module calls these packed functions (``relax.call_dps_packed``)
for conv2d/dense, with BN folded into the weights and the bias, residual add and ReLU/clip fused in
the same call. Everything else stays TVM-generated code. The functions are registered by name in
the running process (``register()``); a library exported with offload therefore needs torch
where it is loaded -- ``compile_model(..., cpu_offload=False)`` builds a pure-TVM library instead.

Attributes travel as one ShapeExpr of ints: see ``conv_attrs`` / ``_parse_conv``.
"""
from __future__ import annotations

CONV = "nnvm_bridge.offload.conv2d"
DENSE = "nnvm_bridge.offload.dense"
FUNCS = (CONV, DENSE)

ACT_NONE, ACT_RELU, ACT_CLIP = 0, 1, 2
_registered = False


def _import_torch():
    """Import torch after setting the OpenMP defaults it reads once, at load (see compat.openmp_defaults)."""
    from . import compat

    compat.openmp_defaults()
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


def _epilogue(y, residual, act, lo, hi):
    if residual is not None:
        y.add_(residual)
    if act == ACT_RELU:
        y.relu_()
    elif act == ACT_CLIP:
        y.clamp_(lo, hi)
    return y


def default_threads() -> int:
    """PyTorch intra-op threads for the offloaded calls: $NNVM_BRIDGE_OFFLOAD_THREADS, else $OMP_NUM_THREADS
    (the user's choice), else every core. Alone on 2 cores, 2 threads (with the bounded spin of
    compat.openmp_defaults) ran ResNet-18 in 21 ms instead of 38 ms and MobileNetV2 in 10 instead of 14."""
    import os

    from . import compat

    for name in ("NNVM_BRIDGE_OFFLOAD_THREADS", "OMP_NUM_THREADS"):
        try:
            return max(1, int(os.environ[name]))
        except (KeyError, ValueError):
            continue
    return compat.num_cores()


class _SiteCache:
    """Per call site state of the offloaded convs, keyed by the address of the site's weight constant.

    A site holds the parsed attributes, the bias view and the weight prepacked in oneDNN's blocked
    layout: PyTorch's eager conv2d reorders the plain weight on every call (onnxruntime does it
    once), and rebuilding views and attributes on every call cost about 20 us per conv. Each entry
    also holds the DLPack view of the TVM constant, so that memory cannot be freed and its address
    reused while the entry exists; the oldest entries go once ``limit`` bytes are held (a model
    then just rebuilds its sites).
    """

    def __init__(self, limit=512 << 20):
        from collections import OrderedDict

        self.limit, self.held, self.entries = limit, 0, OrderedDict()

    def get(self, key):
        hit = self.entries.get(key)
        return None if hit is None else hit[0]

    def put(self, key, site, weight):
        old = self.entries.pop(key, None)
        if old is not None:
            self.held -= old[2]
        size = 2 * weight.numel() * weight.element_size()  # the constant and its packed copy
        self.entries[key] = (site, weight, size)
        self.held += size
        while self.held > self.limit and len(self.entries) > 1:
            self.held -= self.entries.popitem(last=False)[1][2]
        return site


def _parse_conv(shape_expr):
    a = [int(v) for v in shape_expr]
    return dict(strides=a[0:2], pads=a[2:4], dil=a[4:6], groups=a[6], has_bias=a[7], has_res=a[8], act=a[9],
                lo=a[10] / 1e6, hi=a[11] / 1e6, in_cl=a[12], res_cl=a[13], out_cl=a[14])


def register(num_threads=None):
    """Register the offload packed functions in this process (idempotent).

    PyTorch gets ``num_threads``, else ``default_threads()``. On CPU, convolutions go through
    oneDNN's fused ops (``torch.ops.mkldnn._convolution_pointwise``: bias, residual add and
    ReLU/clip applied inside the kernel) with prepacked weights; where those ops are missing or
    refuse a case (a residual followed by clip), plain ``F.conv2d`` plus the epilogue is used.
    """
    global _registered
    if _registered:
        return
    torch = _import_torch()
    import tvm_ffi

    torch.set_num_threads(max(1, int(num_threads or default_threads())))
    F = torch.nn.functional
    dl = torch.from_dlpack
    mkldnn = getattr(torch.ops, "mkldnn", None)
    fused_ok = bool(torch.backends.mkldnn.is_available() and hasattr(mkldnn, "_convolution_pointwise")
                    and hasattr(mkldnn, "_convolution_pointwise_") and hasattr(mkldnn, "_reorder_convolution_weight"))
    sites = _SiteCache()
    plain_sites = set()  # weight addresses whose fused call failed once (stale entries only cost speed)
    unary = {ACT_NONE: "none", ACT_RELU: "relu", ACT_CLIP: "hardtanh"}

    def cl_view(t):  # NHWC bytes under an NCHW shape -> a channels-last NCHW tensor (no copy)
        n, c, h, w = t.shape
        return t.as_strided((n, c, h, w), (h * w * c, 1, w * c, c))

    def plain_conv(args, p):
        x, w = dl(args[0]), dl(args[1])
        if p["in_cl"]:
            x, w = cl_view(x), w.permute(0, 3, 1, 2)  # weight stored OHWI
        k = 2
        b = None
        if p["has_bias"]:
            b, k = dl(args[k]), k + 1
        res = None
        if p["has_res"]:
            res = dl(args[k])
            res = cl_view(res) if p["res_cl"] else res
        o = dl(args[-1])
        with torch.no_grad():
            y = F.conv2d(x, w, b, p["strides"], p["pads"], p["dil"], p["groups"])
            (cl_view(o) if p["out_cl"] else o).copy_(_epilogue(y, res, p["act"], p["lo"], p["hi"]))

    def new_site(args, x):
        """The fused oneDNN call for this site, or None where only the plain path applies."""
        if not fused_ok or x.device.type != "cpu":
            return None
        p = _parse_conv(args[-2])
        if p["has_res"] and p["act"] == ACT_CLIP:  # oneDNN fuses only none/relu after an in-place add
            plain_sites.add(args[1].data_ptr())
            return None
        w = dl(args[1])
        w = w.permute(0, 3, 1, 2) if p["in_cl"] else w
        xv = cl_view(x) if p["in_cl"] else x
        try:
            with torch.no_grad():
                packed = mkldnn._reorder_convolution_weight(w, p["pads"], p["strides"], p["dil"], p["groups"],
                                                            list(xv.shape))
        except RuntimeError:
            plain_sites.add(args[1].data_ptr())
            return None
        bias = dl(args[2]) if p["has_bias"] else None
        scalars = [p["lo"], p["hi"]] if p["act"] == ACT_CLIP else []
        conv = (packed, bias, p["pads"], p["strides"], p["dil"], p["groups"])
        if p["has_res"]:
            post = ("add", None, None if p["act"] == ACT_NONE else unary[p["act"]], scalars, None)
        else:
            post = (unary[p["act"]], scalars, None)
        return sites.put(args[1].data_ptr(), (x.shape, p["in_cl"], p["has_res"], 2 + p["has_bias"],
                                              p["res_cl"], p["out_cl"], conv, post), w)

    def conv2d(*args):
        x = dl(args[0])
        key = args[1].data_ptr()
        site = sites.get(key)
        if site is None or site[0] != x.shape:
            site = None if key in plain_sites else new_site(args, x)
            if site is None:
                return plain_conv(args, _parse_conv(args[-2]))
        _, in_cl, has_res, k, res_cl, out_cl, conv, post = site
        xv = cl_view(x) if in_cl else x
        o = dl(args[-1])
        o = cl_view(o) if out_cl else o
        try:
            with torch.no_grad():
                if not has_res:
                    o.copy_(mkldnn._convolution_pointwise(xv, *conv, *post))
                    return
                res = dl(args[k])
                o.copy_(cl_view(res) if res_cl else res)  # o = act(conv(x) + res), accumulated in place
                mkldnn._convolution_pointwise_(o, xv, *conv, *post)
        except RuntimeError:  # a case this torch's oneDNN ops reject: the plain path from now on
            plain_sites.add(key)
            plain_conv(args, _parse_conv(args[-2]))

    def dense(*args):
        out = args[-1]
        a = [int(v) for v in args[-2]]
        x, w = dl(args[0]), dl(args[1])
        b = dl(args[2]) if a[0] else None
        with torch.no_grad():
            y = F.linear(x, w, b)
            dl(out).copy_(_epilogue(y, None, a[2], a[3] / 1e6, a[4] / 1e6))

    tvm_ffi.register_global_func(CONV, conv2d, override=True)
    tvm_ffi.register_global_func(DENSE, dense, override=True)
    _registered = True
