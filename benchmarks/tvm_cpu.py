"""CPU latency: nnvm_bridge.compile_model (TVM) against onnxruntime on the same ONNX file.

    python benchmarks/tvm_cpu.py [--models resnet18 mobilenetv2] [--variants default pure]
                                 [--rounds 5] [--repeat 30] [--out FILE] [--env NAME=VALUE ...]

Fairness: every measurement runs in its own fresh Python process, one at a time, never two
engines together (their thread pools would fight for the cores: with spinning OpenMP workers one
engine slowed the other down 3x in a shared process). Rounds alternate the engines
(onnxruntime, ours, onnxruntime, ours, ...) so slow drifts in machine load hit both alike; each
process warms up, times ``--repeat`` runs and reports their median, and the result is the median
over rounds. Both engines get the same ONNX file and the same seeded input. onnxruntime runs its
default session options with intra_op_num_threads = the number of cores; nnvm_bridge runs with its
own defaults (``compile_model(path, "llvm")``), unless ``--env`` sets variables for our processes only.

Variants: ``default`` (conv/dense offloaded to PyTorch kernels, the rest TVM), ``pure``
(offload=False: TVM code only, unscheduled -- slow, use a small --repeat), ``tuned:DIR``
(re-apply a MetaSchedule database from DIR); ``VARIANT@NAME=VALUE,...`` runs a variant with extra
environment variables (e.g. ``default@NNVM_BRIDGE_OFFLOAD_THREADS=1``). Prints one JSON line per
model, with the load average before and after; ``--out`` appends the lines to a file.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INPUT_SHAPE = (1, 3, 224, 224)


# ---- worker side: one engine, one model, in a fresh process ------------------------------------------
def _input():
    return np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(np.float32)


def _worker(engine, path, repeat, save, threads):
    x = _input()
    info = {"engine": engine}
    t0 = time.perf_counter()
    if engine == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()  # defaults otherwise (thread spinning, all graph optimisations)
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}

        def fn():
            return sess.run(None, feed)[0]
    else:
        sys.path.insert(0, ROOT)
        from nnvm_bridge import compile_model

        kw = {}
        if engine == "pure":
            kw["offload"] = False
        elif engine.startswith("tuned:"):
            kw["tuning"] = {"trials": 0, "database": engine.split(":", 1)[1]}
        cm = compile_model(path, target="llvm", **kw)
        feed = {cm.input_names[0]: x}

        def fn():
            return cm.run(feed)[0]
    info["setup_s"] = round(time.perf_counter() - t0, 3)  # imports + session / compile
    if engine != "onnxruntime":
        info["compile_s"] = round(cm.compile_seconds, 3)
    if save:
        np.save(save, fn())
    sys.path.insert(0, ROOT)
    from frontend_ext.tvm.bench_worker import time_runs  # numpy-only module: no TVM in the ORT worker

    times = time_runs(fn, repeat)
    info["median_ms"] = float(np.median(times)) * 1e3
    info["min_ms"] = float(np.min(times)) * 1e3
    print(json.dumps(info), flush=True)


# ---- parent side: rounds of fresh processes ----------------------------------------------------------
def num_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def onnx_file(name, cache_dir):
    path = os.path.join(cache_dir, f"{name}.onnx")
    if not os.path.exists(path):  # export in a child so that torch never loads in this process
        code = (f"import sys; sys.path.insert(0, {HERE!r}); import tvm_models; "
                f"tvm_models.export_onnx({name!r}, {path!r})")
        subprocess.run([sys.executable, "-c", code], check=True)
    return path


def _spawn(engine, path, repeat, save, threads, env):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--onnx", path, "--repeat", str(repeat),
           "--threads", str(threads)]
    if save:
        cmd += ["--save", save]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{engine} worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def _rel_err(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(1.0, float(np.abs(b).max())))


def bench_model(name, variants, rounds, repeat, cache_dir, threads, ours_env):
    path = onnx_file(name, cache_dir)
    base_env = dict(os.environ)
    env_of = {"onnxruntime": base_env}
    for v in variants:  # "default@NAME=VALUE,NAME=VALUE": the variant with extra environment variables
        extra = _env_arg(v.split("@", 1)[1].split(",")) if "@" in v else {}
        env_of[v] = dict(base_env, **ours_env, **extra)
    engines = ["onnxruntime", *variants]
    row = {"model": name, "threads": threads, "rounds": rounds, "repeat": repeat,
           "loadavg_before": round(os.getloadavg()[0], 2)}
    if ours_env:
        row["env"] = ours_env
    per_round = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for r in range(rounds):
            for e in engines:
                save = os.path.join(tmp, f"{len(outputs)}.npy") if r == 0 else None
                res = _spawn(e.split("@", 1)[0], path, repeat, save, threads, env_of[e])
                per_round[e].append(res["median_ms"])
                if save:
                    outputs[e] = np.load(save)
                    row[f"{e}_setup_s"] = res["setup_s"]
                    if "compile_s" in res:
                        row[f"{e}_compile_s"] = res["compile_s"]
    row["loadavg_after"] = round(os.getloadavg()[0], 2)
    ort_ms = float(np.median(per_round["onnxruntime"]))
    for e in engines:
        ms = float(np.median(per_round[e]))
        row[f"{e}_ms"] = round(ms, 3)
        row[f"{e}_rounds_ms"] = [round(t, 2) for t in per_round[e]]
        if e != "onnxruntime":
            row[f"{e}_ratio"] = round(ms / ort_ms, 3)
            row[f"{e}_rel_err"] = _rel_err(outputs[e], outputs["onnxruntime"])
    return row


def _env_arg(items):
    env = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--env wants NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        env[k] = v
    return env


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenetv2"])
    p.add_argument("--variants", nargs="+", default=["default"])
    p.add_argument("--rounds", type=int, default=5, help="fresh processes per engine, alternating")
    p.add_argument("--repeat", type=int, default=30, help="timed runs per process (after 3 warm-up runs)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: cores)")
    p.add_argument("--env", action="append", help="NAME=VALUE for the nnvm_bridge processes only (experiments)")
    p.add_argument("--cache-dir", default=os.path.join(ROOT, "build", "bench_models"))
    p.add_argument("--out", help="also append the rows (JSON lines) to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or num_cores()
    if args.worker:
        return _worker(args.worker, args.onnx, args.repeat, args.save, threads)
    for name in args.models:
        row = bench_model(name, args.variants, args.rounds, args.repeat, args.cache_dir, threads,
                          _env_arg(args.env))
        row.update(date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cpu=cpu_name(), cores=num_cores())
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
