"""Offload of the heavy ops (convolution, dense) to PyTorch's kernels: oneDNN on CPU, cuDNN/cuBLAS on CUDA.

TVM 0.27's untuned CPU code is 12-60x slower than onnxruntime and its wheel ships no cblas/DNNL
backend, so by default the Relax module hands each *segment* (connected conv/dense chains, see
fusion.py) to one packed function, ``nnvm_bridge.offload.segment``, called through
``relax.call_dps_packed``. Everything else stays TVM-generated code. The function is registered by
name in the running process (``register()``); a library exported with offload therefore needs torch
where it is loaded -- ``compile_model(..., offload=False)`` builds a pure-TVM library instead.

Call: ``segment(*inputs, *constants, program, *outputs)``. ``program`` is one ShapeExpr of
non-negative ints (``encode_program``): a header, the slots of the outputs, then one fixed-size record
per step. Slots number the segment's inputs first, then each step's result. The constants are each
step's weight, then its bias when it has one, in step order.
"""
from __future__ import annotations

import numpy as np

SEGMENT = "nnvm_bridge.offload.segment"
FUNCS = (SEGMENT,)

ACT_NONE, ACT_RELU, ACT_CLIP = 0, 1, 2
KIND_CONV, KIND_DENSE, KIND_CONCAT = 0, 1, 2
_STEP = 14  # ints per conv/dense step record, see encode_program
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


def _f32_bits(v):  # float32 bit pattern as a non-negative int: exact, and inf survives
    return int(np.array(v, dtype=np.float32).view(np.uint32))


def _bits_f32(i):
    return float(np.array(i, dtype=np.uint32).view(np.float32))


def encode_program(n_inputs, steps, out_slots):
    """``steps``: dicts with kind, data, res (slot or None), bias (bool), act, clip (lo, hi) and, for
    convs, strides/pads/dilation (pairs) and groups; a concat step has kind and ``inputs`` (slots) only.
    Returns the list of ints for the ShapeExpr: conv/dense records are _STEP ints, a concat record is
    its kind, its input count and the input slots."""
    ints = [n_inputs, len(steps), len(out_slots), *out_slots]
    for s in steps:
        if s["kind"] == KIND_CONCAT:
            ints += [KIND_CONCAT, len(s["inputs"]), *s["inputs"]]
            continue
        st, pd, dl = (s.get(k, (1, 1)) if k != "pads" else s.get(k, (0, 0)) for k in ("strides", "pads", "dilation"))
        lo, hi = s.get("clip", (0.0, 0.0))
        ints += [s["kind"], s["data"], 0 if s.get("res") is None else s["res"] + 1, int(bool(s["bias"])),
                 *st, *pd, *dl, s.get("groups", 1), s["act"], _f32_bits(lo), _f32_bits(hi)]
    return ints


def decode_program(ints):
    a = [int(v) for v in ints]
    n_in, n_steps, n_out = a[:3]
    out_slots = a[3:3 + n_out]
    steps, k = [], 3 + n_out
    for _ in range(n_steps):
        if a[k] == KIND_CONCAT:
            n = a[k + 1]
            steps.append(dict(kind=KIND_CONCAT, inputs=a[k + 2:k + 2 + n], bias=False))
            k += 2 + n
            continue
        r = a[k:k + _STEP]
        k += _STEP
        steps.append(dict(kind=r[0], data=r[1], res=r[2] - 1 if r[2] else None, bias=bool(r[3]),
                          strides=r[4:6], pads=r[6:8], dilation=r[8:10], groups=r[10], act=r[11],
                          clip=(_bits_f32(r[12]), _bits_f32(r[13]))))
    return n_in, steps, out_slots


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
    """Built segments, keyed by the address of the segment's first weight constant.

    A built segment holds parsed steps and weights prepacked in oneDNN's blocked layout (PyTorch's
    eager conv2d reorders the plain weight on every call; onnxruntime does it once). Each entry also
    holds a view of that TVM constant, so its memory cannot be freed and the address reused while the
    entry exists; the oldest entries go once ``limit`` bytes are held (a model then rebuilds). The
    limit bounds what models freed in a long-lived process leave pinned; it must exceed one live model's
    segments together, or they evict each other on every run (VGG16: ~590 MB).
    """

    def __init__(self, limit=2 << 30):
        from collections import OrderedDict

        self.limit, self.held, self.entries = limit, 0, OrderedDict()

    def get(self, key):
        hit = self.entries.get(key)
        return None if hit is None else hit[0]

    def put(self, key, site, pinned, nbytes=None):
        old = self.entries.pop(key, None)
        if old is not None:
            self.held -= old[2]
        size = 2 * pinned.numel() * pinned.element_size() if nbytes is None else int(nbytes)
        self.entries[key] = (site, pinned, size)
        self.held += size
        while self.held > self.limit and len(self.entries) > 1:
            self.held -= self.entries.popitem(last=False)[1][2]
        return site


class _Kernels:
    """The PyTorch calls a step can make; ``fused`` says whether oneDNN's fused conv ops exist here."""

    def __init__(self, torch):
        self.torch = torch
        self.F = torch.nn.functional
        self.cl = torch.channels_last
        mk = getattr(torch.ops, "mkldnn", None)
        self.mk = mk
        self.fused = bool(torch.backends.mkldnn.is_available() and hasattr(mk, "_convolution_pointwise")
                          and hasattr(mk, "_convolution_pointwise_") and hasattr(mk, "_reorder_convolution_weight"))


def _activate(y, act, lo, hi):
    if act == ACT_RELU:
        y.relu_()
    elif act == ACT_CLIP:
        y.clamp_(lo, hi)
    return y


class _Step:
    """One conv/dense chain. ``__call__(values)`` returns its result; the first call on CPU prepacks the
    weight for oneDNN's fused op (bias, residual add and ReLU/clip inside the kernel) when it applies."""

    def __init__(self, k, spec, weight, bias, in_place):
        self.k, self.s, self.w, self.b = k, spec, weight, bias
        self.in_place = in_place  # the residual is a value of this segment that nobody reads later
        self.lo, self.hi = spec.get("clip", (0.0, 0.0))
        self.run = self._first

    def __call__(self, v):
        return self.run(v)

    def _first(self, v):
        s, k = self.s, self.k
        if s["kind"] == KIND_CONCAT:
            self.run = self._concat
            return self.run(v)
        x = v[s["data"]]
        if s["kind"] == KIND_DENSE:
            self.run = self._dense
        elif not k.fused or x.device.type != "cpu" or (s["res"] is not None and s["act"] == ACT_CLIP):
            self.w = self.w.contiguous(memory_format=k.cl)  # oneDNN fuses only none/relu after an in-place add
            self.run = self._plain_conv
        else:
            try:
                xs = list(x.shape)
                packed = k.mk._reorder_convolution_weight(self.w.contiguous(memory_format=k.cl), list(s["pads"]),
                                                          list(s["strides"]), list(s["dilation"]), s["groups"], xs)
            except RuntimeError:
                self.run = self._plain_conv
            else:
                self.conv = (packed, self.b, list(s["pads"]), list(s["strides"]), list(s["dilation"]), s["groups"])
                unary = {ACT_NONE: "none", ACT_RELU: "relu", ACT_CLIP: "hardtanh"}[s["act"]]
                scalars = [self.lo, self.hi] if s["act"] == ACT_CLIP else []
                if s["res"] is None:
                    self.post = (unary, scalars, None)
                    self.run = self._fused
                else:
                    self.post = ("add", None, None if s["act"] == ACT_NONE else unary, scalars, None)
                    self.run = self._fused_res
        try:
            return self.run(v)
        except RuntimeError:  # a case this torch's oneDNN ops reject: the plain path from now on
            if self.run in (self._dense, self._plain_conv):
                raise
            self.run = self._plain_conv
            return self.run(v)

    def _fused(self, v):
        x = v[self.s["data"]].contiguous(memory_format=self.k.cl)
        return self.k.mk._convolution_pointwise(x, *self.conv, *self.post)

    def _fused_res(self, v):
        s, cl = self.s, self.k.cl
        x = v[s["data"]].contiguous(memory_format=cl)
        r = v[s["res"]]
        out = r if self.in_place and r.is_contiguous(memory_format=cl) else r.clone(memory_format=cl)
        self.k.mk._convolution_pointwise_(out, x, *self.conv, *self.post)  # out = act(conv(x) + out)
        return out

    def _plain_conv(self, v):
        s, k = self.s, self.k
        x = v[s["data"]].contiguous(memory_format=k.cl)
        y = k.F.conv2d(x, self.w, self.b, s["strides"], s["pads"], s["dilation"], s["groups"])
        if s["res"] is not None:
            y.add_(v[s["res"]])
        return _activate(y, s["act"], self.lo, self.hi)

    def _concat(self, v):  # channels-last inputs give a channels-last result
        return self.k.torch.cat([v[slot] for slot in self.s["inputs"]], dim=1)

    def _dense(self, v):
        return _activate(self.k.F.linear(v[self.s["data"]], self.w, self.b), self.s["act"], self.lo, self.hi)


def _build(k, program, consts):
    """The steps of one segment call site, with its weights as torch views of the TVM constants, and
    for each step the slots nobody reads after it (freed at once: holding every intermediate until
    the end made MobileNetV2's convs ~40% slower, from cold caches and fresh pages)."""
    n_in, specs, out_slots = decode_program(program)
    last_read = {}
    for i, s in enumerate(specs):
        for slot in _reads(s):
            last_read[slot] = i
    steps = []
    for i, (s, w, b) in enumerate(_with_constants(specs, consts)):
        done = [slot for slot, last in last_read.items() if last == i and slot >= n_in and slot not in out_slots]
        res = s.get("res")
        in_place = res is not None and res >= n_in and res not in out_slots and last_read[res] == i and res != s["data"]
        steps.append((_Step(k, s, w, b, in_place), done))
    return steps, out_slots


def _reads(spec):
    """The value slots a step reads."""
    if spec["kind"] == KIND_CONCAT:
        return list(spec["inputs"])
    return [slot for slot in (spec["data"], spec["res"]) if slot is not None]


def _with_constants(specs, consts):
    """(spec, weight, bias) per step: the constants come in step order, a weight then a bias when the step
    has one; concats have none (weight and bias None)."""
    c = 0
    for s in specs:
        if s["kind"] == KIND_CONCAT:
            yield s, None, None
            continue
        yield s, consts[c], consts[c + 1] if s["bias"] else None
        c += 1 + s["bias"]


def _held_bytes(program, consts):
    """What a built segment keeps alive: its constants, plus a packed copy of each conv weight."""
    _, specs, _ = decode_program(program)
    total = 0
    for s, w, b in _with_constants(specs, consts):
        if w is not None:
            total += w.numel() * w.element_size() * (2 if s["kind"] == KIND_CONV else 1)
        if b is not None:
            total += b.numel() * b.element_size()
    return total


def register(num_threads=None):
    """Register the packed function ``SEGMENT`` in this process (idempotent); PyTorch gets ``num_threads``,
    else ``default_threads()``."""
    global _registered
    if _registered:
        return
    torch = _import_torch()
    import tvm_ffi

    torch.set_num_threads(max(1, int(num_threads or default_threads())))
    dl = torch.from_dlpack
    k = _Kernels(torch)
    sites = _SiteCache()

    def segment(*args):
        p = next(i for i, a in enumerate(args) if isinstance(a, tvm_ffi.Shape))  # the program
        n_in = int(args[p][0])
        # The first weight's address names the call site: each chain gets its own Relax constant, and
        # the cache holds that constant, so the address cannot be reused while the entry lives. The
        # program is compared too (a tuple compare, ~10 us), in case a constant is ever shared.
        key = args[n_in].data_ptr()
        site = sites.get(key)
        if site is None or site[0] != args[p]:
            consts = [dl(a) for a in args[n_in:p]]
            site = sites.put(key, (tuple(args[p]), *_build(k, args[p], consts)), consts[0],
                             nbytes=_held_bytes(args[p], consts))
        _, steps, out_slots = site
        values = [dl(a) for a in args[:n_in]]
        with torch.no_grad():
            for step, done in steps:
                values.append(step(values))
                for slot in done:
                    values[slot] = None
            for slot, out in zip(out_slots, args[p + 1:]):
                dl(out).copy_(values[slot])

    tvm_ffi.register_global_func(SEGMENT, segment, override=True)
    _registered = True

