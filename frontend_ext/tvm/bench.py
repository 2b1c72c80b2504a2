"""``nnvm-bridge bench SRC``: latency of the TVM build against onnxruntime (and MXNet for MXNet models).

    bench(src, params=None, shape=None, target="llvm", repeat=30, number=1, tuning=None,
          cpu_offload="auto", plot=None, threads=None) -> dict

``src`` is an ONNX file or an MXNet symbol JSON (``params`` = its .params, ``shape`` = {name: dims}).
All runners get the same random inputs; their outputs are compared (max error relative to the output
scale) and their latencies measured interleaved (median ms). onnxruntime runs the ONNX file itself, or
for an MXNet model the ONNX that ``to_onnx`` writes from the same graph. ``plot`` writes a bar chart
PNG (needs matplotlib). ``main(argv)`` is the CLI entry: argv = [SRC, options...].
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from nnvm_bridge.errors import BridgeError, MissingDependencyError


def _random_inputs(cm, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shape, dtype in cm.info["inputs"]:
        if np.dtype(dtype).kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def _timed(fns, repeat):
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max()))) if b.size else 0.0


def bench(src, params=None, shape=None, target="llvm", repeat=30, tuning=None, cpu_offload="auto", plot=None,
          threads=None, mxnet=True):
    from nnvm_bridge.frontend import to_onnx

    from . import compat
    from .compile import compile_model, load_graph

    src = os.fspath(src)
    is_mxnet = src.lower().endswith(".json")
    threads = threads or compat.num_cores()
    result = {"model": os.path.basename(src), "target": str(target), "threads": threads}
    t0 = time.perf_counter()
    graph, gparams = load_graph(src, shape=shape, params=params)
    result["import_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    cm = compile_model((graph, gparams), target=target, shape=shape, tuning=tuning, cpu_offload=cpu_offload)
    result["compile_s"] = round(time.perf_counter() - t0, 3)
    feeds = _random_inputs(cm)
    tvm_out = cm.run(feeds)
    fns = {"tvm": lambda: cm.run(feeds)}

    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    with tempfile.TemporaryDirectory() as tmp:
        if ort is not None:
            onnx_path = src
            if is_mxnet:
                onnx_path = os.path.join(tmp, "model.onnx")
                import onnx

                onnx.save(to_onnx(graph, gparams), onnx_path)
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
            names = [i.name for i in sess.get_inputs()]
            ort_feeds = {n: feeds[n] for n in names if n in feeds}
            ort_out = sess.run(None, ort_feeds)
            result["tvm_vs_onnxruntime_err"] = _rel_err(tvm_out[0], ort_out[0])
            fns["onnxruntime"] = lambda: sess.run(None, ort_feeds)
        if is_mxnet and mxnet:
            run_mx = _mxnet_runner(src, params, feeds)
            if run_mx is not None:
                result["tvm_vs_mxnet_err"] = _rel_err(tvm_out[0], run_mx())
                fns["mxnet"] = run_mx
        ms = _timed(fns, repeat)
    for k, v in ms.items():
        result[f"{k}_ms"] = round(v, 3)
    if "onnxruntime" in ms:
        result["tvm_over_onnxruntime"] = round(ms["tvm"] / ms["onnxruntime"], 3)
    if "mxnet" in ms:
        result["tvm_over_mxnet"] = round(ms["tvm"] / ms["mxnet"], 3)
    if plot:
        _plot(ms, result["model"], plot)
        result["plot"] = plot
    return result


def _mxnet_runner(src, params, feeds):
    try:
        import mxnet as mx
    except ImportError:
        return None
    if params is None:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = mx.gluon.SymbolBlock.imports(src, list(feeds), os.fspath(params))
    block.hybridize(static_alloc=True, static_shape=True)
    args = [mx.nd.array(feeds[n], dtype=feeds[n].dtype) for n in feeds]

    def run():
        out = block(*args)
        out = out[0] if isinstance(out, (list, tuple)) else out
        return out.asnumpy()
    return run


def _plot(ms, title, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib (pip install matplotlib)") from None
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(ms), list(ms.values()), color=["#4c72b0", "#dd8452", "#55a868"][:len(ms)])
    ax.set_ylabel("median latency (ms)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _shape_arg(items):
    shapes = {}
    for item in items or []:
        if ":" not in item:
            raise BridgeError(f"--input-shape wants NAME:d0,d1,..., got {item!r}")
        name, dims = item.split(":", 1)
        try:
            shapes[name] = tuple(int(d) for d in dims.replace("x", ",").split(",") if d)
        except ValueError:
            raise BridgeError(f"--input-shape {item!r}: dims must be integers") from None
    return shapes or None


def main(argv=None):
    p = argparse.ArgumentParser(prog="nnvm-bridge bench", description="TVM vs onnxruntime (and MXNet) latency")
    p.add_argument("src", help="ONNX file or MXNet symbol JSON")
    p.add_argument("--params", help="MXNet .params file")
    p.add_argument("--input-shape", action="append", help="NAME:d0,d1,... (repeatable)")
    p.add_argument("--target", default="llvm")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--threads", type=int)
    p.add_argument("--no-offload", action="store_true", help="pure TVM code (no PyTorch kernels for conv/dense)")
    p.add_argument("--tuning-db", help="re-apply (or with --tune-trials, create) a MetaSchedule database")
    p.add_argument("--tune-trials", type=int, default=0)
    p.add_argument("--plot", help="write a PNG bar chart here")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args(argv)
    tuning = {"trials": args.tune_trials, "database": args.tuning_db} if args.tuning_db else None
    res = bench(args.src, params=args.params, shape=_shape_arg(args.input_shape), target=args.target,
                repeat=args.repeat, tuning=tuning, cpu_offload=False if args.no_offload else "auto",
                plot=args.plot, threads=args.threads)
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>24}: {v}")
    return 0
