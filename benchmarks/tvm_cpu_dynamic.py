"""Models with symbolic input dims (ONNX dim_params): one pure-TVM CPU library per model, run at several
sizes, against onnxruntime on the same ONNX file.

    python benchmarks/tvm_cpu_dynamic.py [--models bert_dyn resnet18_dyn] [--rounds 2] [--repeat 20]
                                         [--threads N] [--label TEXT] [--out FILE]

As in ``tvm_cpu_native.py``: each engine runs in its own fresh process (``--worker``), engines alternate
over rounds; a tvm process compiles the model ONCE (from_onnx -> to_relax -> cpu_pipeline ->
tvm.compile, the path of ``compile_model(path)`` for llvm) and times it at every size; a row per size
gives the median over rounds of each engine's median, the ratio, the max relative error against
onnxruntime, the compile time, the PrimFuncs the fixed schedules covered by rule, and the load
average before and after (the machine may be shared: read the ratio with the load). Models:
bert_dyn (a 4-layer BERT-style encoder, hidden 256, input [batch, sequence, 256]; sizes batch x
sequence 1x32 and 1x128) and resnet18_dyn (ResNet-18 with a symbolic batch; batch 1 and 4).
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
sys.path.insert(0, HERE)

import tvm_cpu_native as native  # noqa: E402

MODELS = {  # name -> (sizes, input shape of a size)
    "bert_dyn": (["1x32", "1x128"], lambda s: [int(v) for v in s.split("x")] + [256]),
    "resnet18_dyn": (["1", "4"], lambda s: [int(s), 3, 224, 224]),
}


def onnx_file(name, cache_dir):
    path = os.path.join(cache_dir, f"{name}.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    if name == "bert_dyn":
        return native.bert_onnx(path, layers=4, dynamic=True)
    if name == "resnet18_dyn":
        import onnx

        model = onnx.load(native.onnx_file("resnet18", cache_dir))
        for vi in list(model.graph.input[:1]) + list(model.graph.output):
            dim = vi.type.tensor_type.shape.dim[0]
            dim.ClearField("dim_value")
            dim.dim_param = "batch"
        del model.graph.value_info[:]
        onnx.save(model, path)
        return path
    raise SystemExit(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def _feeds(path, shape):
    import onnx

    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    name = next(vi.name for vi in m.graph.input if vi.name not in inits)
    return {name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}


# ---- worker: one engine in a fresh process, every size ------------------------------------------------
def _worker(engine, path, shapes, repeat, save_dir, threads):
    info = {"engine": engine, "sizes": []}
    if engine == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

        def runner(feeds):
            return lambda: sess.run(None, feeds)[0]
    else:
        sys.path.insert(0, ROOT)
        os.environ.setdefault("TVM_NUM_THREADS", str(threads))
        os.environ["NNVM_BRIDGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="nnvm_bench_picks_")  # a cold compile
        import tvm
        from tvm import relax

        from frontend_ext.tvm import compat
        from frontend_ext.tvm.cpu import cpu_pipeline
        from frontend_ext.tvm.to_relax import to_relax
        from nnvm_bridge.frontend import from_onnx

        graph, params = from_onnx(path)
        mod, meta = to_relax(graph, params)
        tgt = compat.make_target("llvm")
        report = {}
        tc = time.perf_counter()
        mod = cpu_pipeline(mod, tgt, report=report)
        ex = tvm.compile(mod, target=tgt)
        info["compile_s"] = round(time.perf_counter() - tc, 2)
        info["pick_s"] = report.get("pick_s")
        info["scheduled"] = {"primfuncs": report.get("primfuncs"), **report.get("rules", {})}
        vm = relax.VirtualMachine(ex, tvm.cpu())
        names = [n for n, _, _ in meta["inputs"]]

        def runner(feeds):
            args = [tvm.runtime.tensor(feeds[n], tvm.cpu()) for n in names]

            def fn():
                out = vm["main"](*args)
                return (out if hasattr(out, "numpy") else out[0]).numpy()

            return fn
    for i, shape in enumerate(shapes):
        fn = runner(_feeds(path, shape))
        out = fn()
        if save_dir:
            np.save(os.path.join(save_dir, f"{engine}_{i}.npy"), out)
        for _ in range(2):
            fn()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        info["sizes"].append({"median_ms": float(np.median(times)) * 1e3, "min_ms": float(np.min(times)) * 1e3})
    print(json.dumps(info), flush=True)


# ---- parent ---------------------------------------------------------------------------------------------
def _spawn(engine, path, shapes, repeat, save_dir, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--onnx", path, "--repeat", str(repeat),
           "--threads", str(threads), "--shapes", json.dumps(shapes)] + (["--save", save_dir] if save_dir else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{engine} worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def bench_model(name, rounds, repeat, threads, cache_dir):
    path = onnx_file(name, cache_dir)
    sizes, shape_of = MODELS[name]
    shapes = [shape_of(s) for s in sizes]
    load_before = [round(v, 2) for v in os.getloadavg()]
    res = {"onnxruntime": [], "tvm": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for e in res:
                res[e].append(_spawn(e, path, shapes, repeat, tmp if r == 0 else None, threads))
        outs = {(e, i): np.load(os.path.join(tmp, f"{e}_{i}.npy")) for e in res for i in range(len(shapes))}
    load_after = [round(v, 2) for v in os.getloadavg()]
    rows = []
    for i, size in enumerate(sizes):
        row = {"model": name, "size": size, "shape": shapes[i], "threads": threads, "rounds": rounds,
               "repeat": repeat, "loadavg_before": load_before, "loadavg_after": load_after}
        for e, rs in res.items():
            row[f"{e}_ms"] = round(float(np.median([x["sizes"][i]["median_ms"] for x in rs])), 3)
            row[f"{e}_min_ms"] = round(float(np.min([x["sizes"][i]["min_ms"] for x in rs])), 3)
        row["ratio"] = round(row["tvm_ms"] / row["onnxruntime_ms"], 3)
        row["ratio_min"] = round(row["tvm_min_ms"] / row["onnxruntime_min_ms"], 3)
        ref = outs[("onnxruntime", i)].astype(np.float64)
        row["rel_err"] = float(np.abs(outs[("tvm", i)] - ref).max() / max(1.0, float(np.abs(ref).max())))
        for k in ("compile_s", "pick_s", "scheduled"):
            row[k] = res["tvm"][0].get(k)
        rows.append(row)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="threads for both engines (default: cores)")
    p.add_argument("--cache-dir", default=os.path.join(ROOT, "build", "bench_models"))
    p.add_argument("--label", help="a note stored in each row (e.g. the code measured)")
    p.add_argument("--out", help="also append the rows (JSON lines) to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--shapes", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    threads = a.threads or max(1, len(os.sched_getaffinity(0)))
    if a.worker:
        return _worker(a.worker, a.onnx, json.loads(a.shapes), a.repeat, a.save, threads)
    for name in a.models:
        for row in bench_model(name, a.rounds, a.repeat, threads, a.cache_dir):
            row.update(date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cores=len(os.sched_getaffinity(0)))
            if a.label:
                row["label"] = a.label
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
