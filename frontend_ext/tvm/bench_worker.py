"""One timing process of ``nnvm-bridge bench``: one engine, one model, then exit.

    python -m frontend_ext.tvm.bench_worker SPEC.json

The parent (``nnvm_bridge/bench.py``) starts a fresh process per engine and round so that no two
engines share a process or run at the same time: PyTorch's OpenMP workers (behind the TVM offload) and
onnxruntime's pool both spin after each call and slowed each other 3x when they shared one. It runs
files only (no model import), so it sits with the TVM emitter whose libraries it loads. SPEC holds

    engine       "tvm" (a library from CompiledModel.export_library), "onnxruntime" (an ONNX file)
                 or "mxnet" (symbol JSON + .params)
    model        that file; params: the MXNet .params file
    inputs       .npz written by the parent, arrays arr_0, arr_1, ... in the order of input_names
    repeat, warmup, threads
    save         where to write the outputs (.npz, arr_0, ...), or null
    result       where to write this process's result (JSON)

The result holds the pid, setup seconds (imports + load), and the median/min of ``repeat`` timed runs
after ``warmup`` untimed ones. An engine whose package is not installed writes {"skipped": reason}
and exits 0; anything else that goes wrong exits non-zero with a traceback on stderr, which the
parent turns into a BridgeError naming the engine. Only this engine's package is imported here.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


class EngineMissing(Exception):
    """The engine's package cannot be imported: the parent reports the engine as skipped."""


def _import(name):
    try:
        return __import__(name)
    except ImportError as exc:
        raise EngineMissing(f"{name} is not installed ({exc})") from None


def _onnxruntime_runner(spec, feeds):
    ort = _import("onnxruntime")
    so = ort.SessionOptions()  # its defaults otherwise (spinning pool, all graph optimisations)
    if spec.get("threads"):
        so.intra_op_num_threads = int(spec["threads"])
    sess = ort.InferenceSession(spec["model"], so, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in sess.get_inputs()]
    feed = {n: feeds[n] for n in wanted if n in feeds}

    def run():
        return sess.run(None, feed)
    return run


def _tvm_runner(spec, feeds):
    # TVM is there: the parent compiled with it. load_compiled sets the OpenMP defaults before torch loads.
    from frontend_ext.tvm.compile import load_compiled

    cm = load_compiled(spec["model"])

    def run():
        return cm.run(feeds)
    return run


def _mxnet_runner(spec, feeds):
    import warnings

    mx = _import("mxnet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = mx.gluon.SymbolBlock.imports(spec["model"], list(feeds), spec["params"])
    block.hybridize(static_alloc=True, static_shape=True)
    args = [mx.nd.array(a, dtype=a.dtype) for a in feeds.values()]

    def run():  # asnumpy() waits for MXNet's asynchronous engine, so the time is the whole run
        out = block(*args)
        return [o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])]
    return run


RUNNERS = {"onnxruntime": _onnxruntime_runner, "tvm": _tvm_runner, "mxnet": _mxnet_runner}


def _read_inputs(spec):
    with np.load(spec["inputs"], allow_pickle=False) as npz:
        return {name: npz[f"arr_{i}"] for i, name in enumerate(spec["input_names"])}


def time_runs(run, repeat, warmup=3):
    """Seconds of each of ``repeat`` calls of ``run`` after ``warmup`` untimed ones (also used by
    benchmarks/tvm_cpu.py)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return times


def work(spec):
    result = {"engine": spec["engine"], "pid": os.getpid()}
    t0 = time.perf_counter()
    feeds = _read_inputs(spec)
    try:
        run = RUNNERS[spec["engine"]](spec, feeds)
    except EngineMissing as exc:
        result["skipped"] = str(exc)
        return result
    outputs = run()  # the first call also finishes lazy setup (TVM's VM, onnxruntime's arena)
    result["setup_s"] = round(time.perf_counter() - t0, 3)
    if spec.get("save"):
        np.savez(spec["save"], *[np.asarray(o) for o in outputs])
    times = time_runs(run, int(spec["repeat"]), int(spec["warmup"]))
    result["median_ms"] = float(np.median(times)) * 1e3
    result["min_ms"] = float(np.min(times)) * 1e3
    result["runs"] = len(times)
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m frontend_ext.tvm.bench_worker SPEC.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        spec = json.load(f)
    result = work(spec)
    with open(spec["result"], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
