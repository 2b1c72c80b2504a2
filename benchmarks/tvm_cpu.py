"""CPU latency: nnvm_bridge.compile_model (TVM) against onnxruntime on the same ONNX file, one process.

    python benchmarks/tvm_cpu.py [--models resnet18 mobilenetv2] [--variants default pure] [--repeat 30]

Variants: ``default`` (compile_model(..., "llvm"): conv/dense offloaded to PyTorch kernels, the rest
TVM), ``pure`` (cpu_offload=False: TVM code only, unscheduled), ``tuned:DIR`` (re-apply a MetaSchedule
database from DIR). Latencies are medians of interleaved runs (ORT and TVM alternate, so load from
other processes hits both alike). Prints one JSON line per model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def onnx_file(name, cache_dir):
    import tvm_models

    path = os.path.join(cache_dir, f"{name}.onnx")
    if not os.path.exists(path):
        tvm_models.export_onnx(name, path)
    return path


def interleaved(fns, repeat):
    for f in fns.values():
        f()
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def run(models, variants, repeat, cache_dir, threads):
    import onnxruntime as ort

    from frontend_ext.tvm.compile import compile_model

    results = []
    for name in models:
        path = onnx_file(name, cache_dir)
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        ref = sess.run(None, {in_name: x})[0]
        fns = {"onnxruntime": lambda: sess.run(None, {in_name: x})}
        row = {"model": name, "threads": threads}
        for v in variants:
            kw = {}
            if v == "pure":
                kw["cpu_offload"] = False
            elif v.startswith("tuned:"):
                kw["tuning"] = {"trials": 0, "database": v.split(":", 1)[1]}
            t0 = time.perf_counter()
            cm = compile_model(path, target="llvm", **kw)
            row[f"{v}_compile_s"] = round(time.perf_counter() - t0, 2)
            out = cm.run({in_name: x})[0]
            row[f"{v}_rel_err"] = float(np.abs(out - ref).max() / max(1.0, float(np.abs(ref).max())))
            fns[v] = (lambda c: (lambda: c.run({in_name: x})))(cm)
        ms = interleaved(fns, repeat)
        for k, t in ms.items():
            row[f"{k}_ms"] = round(t, 3)
            if k != "onnxruntime":
                row[f"{k}_ratio"] = round(t / ms["onnxruntime"], 3)
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenetv2"])
    p.add_argument("--variants", nargs="+", default=["default"])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache-dir", default=os.path.join(HERE, "..", "build", "bench_models"))
    p.add_argument("--out", help="also append the rows (JSON lines) to this file")
    args = p.parse_args(argv)
    from frontend_ext.tvm.compat import num_cores

    rows = run(args.models, args.variants, args.repeat, args.cache_dir, args.threads or num_cores())
    if args.out:
        import platform

        with open(args.out, "a") as f:
            for row in rows:
                row = dict(row, date=time.strftime("%Y-%m-%d %H:%M"), cpu=platform.processor() or platform.machine(),
                           loadavg=round(os.getloadavg()[0], 2))
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
