"""GPU correctness and latency of nnvm_bridge's TVM CUDA path (run by tools/gpu_check.sh).

For each model: PyTorch model (benchmarks/tvm_models.py, random weights) -> ONNX -> nnvm_bridge
from_onnx -> compile_model(target="cuda") -> run on the GPU. Compared with PyTorch eager fp32 on
the same GPU (reference outputs) and onnxruntime (CUDA EP when present, else CPU EP). Latency is
the median of timed runs after warm-up, batch 1, synchronised. Also loads a CUDA library compiled on
the CPU-only machine, when one was carried (build/gpu/cuda_smoke.so), to check compile-here/run-there.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def median_ms(fn, warmup=10, repeat=50, sync=None):
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def check_model(name, tmp, repeat):
    import torch

    import tvm_models
    from nnvm_bridge import compile_model

    row = {"model": name}
    path = tvm_models.export_onnx(name, os.path.join(tmp, f"{name}.onnx"))
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)

    model = tvm_models.torch_model(name).cuda()
    xt = torch.from_numpy(x).cuda()
    with torch.no_grad():
        ref = model(xt).float().cpu().numpy()
        row["torch_eager_ms"] = median_ms(lambda: model(xt), repeat=repeat, sync=torch.cuda.synchronize)
    scale = max(1.0, float(np.abs(ref).max()))

    t0 = time.perf_counter()
    cm = compile_model(path, target="cuda")
    row["tvm_compile_s"] = round(time.perf_counter() - t0, 2)
    out = cm.run({"data": x})[0]
    row["tvm_rel_err_vs_torch"] = float(np.abs(out - ref).max() / scale)
    row["tvm_ms"] = cm.benchmark({"data": x}, number=20, repeat=max(3, repeat // 10)) * 1e3
    row["tvm_run_wall_ms"] = median_ms(lambda: cm.run({"data": x}), repeat=repeat)  # includes host<->device copies

    try:  # variant: conv/dense chains offloaded to cuDNN/cuBLAS through PyTorch (packed functions)
        t0 = time.perf_counter()
        cm2 = compile_model(path, target="cuda", offload=True)
        row["tvm_offload_compile_s"] = round(time.perf_counter() - t0, 2)
        out2 = cm2.run({"data": x})[0]
        row["tvm_offload_rel_err_vs_torch"] = float(np.abs(out2 - ref).max() / scale)
        row["tvm_offload_ms"] = cm2.benchmark({"data": x}, number=20, repeat=max(3, repeat // 10)) * 1e3
    except Exception as exc:
        row["tvm_offload_error"] = f"{type(exc).__name__}: {exc}"[:400]

    try:
        import onnxruntime as ort

        provs = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        sess = ort.InferenceSession(path, providers=provs)
        row["ort_provider"] = sess.get_providers()[0]
        o = sess.run(None, {"data": x})[0]
        row["ort_rel_err_vs_torch"] = float(np.abs(o - ref).max() / scale)
        row["ort_ms"] = median_ms(lambda: sess.run(None, {"data": x}), repeat=repeat)
    except Exception as exc:  # onnxruntime is only a comparison point here
        row["ort_error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["tvm_over_torch"] = round(row["tvm_ms"] / row["torch_eager_ms"], 3)
    if "tvm_offload_ms" in row:
        row["tvm_offload_over_torch"] = round(row["tvm_offload_ms"] / row["torch_eager_ms"], 3)
    return row


def check_carried_library():
    lib = os.path.join(ROOT, "build", "gpu", "cuda_smoke.so")
    if not os.path.exists(lib):
        return {"carried_library": "none"}
    from nnvm_bridge import load_compiled

    ref_path = os.path.join(ROOT, "build", "gpu", "cuda_smoke_io.npz")
    try:
        cm = load_compiled(lib)
        io = np.load(ref_path)
        out = cm.run({cm.input_names[0]: io["x"]})[0]
        return {"carried_library": "ok", "carried_rel_err": float(np.abs(out - io["y"]).max() /
                                                                   max(1.0, float(np.abs(io["y"]).max())))}
    except Exception as exc:
        return {"carried_library": f"{type(exc).__name__}: {str(exc)[:300]}"}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "mobilenetv2"])
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--out", default="gpu_check.json")
    args = p.parse_args(argv)
    report = {"env": {}}
    try:
        import torch
        import tvm

        report["env"] = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "tvm": tvm.__version__,
                         "numpy": np.__version__}
    except Exception as exc:
        report["env"]["error"] = repr(exc)
    print(json.dumps(report["env"]), flush=True)
    report["carried"] = check_carried_library()
    print(json.dumps(report["carried"]), flush=True)
    report["models"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            try:
                row = check_model(name, tmp, args.repeat)
            except Exception as exc:
                row = {"model": name, "error": f"{type(exc).__name__}: {exc}"[:800],
                       "trace": traceback.format_exc()[-1500:]}
            print(json.dumps(row), flush=True)
            report["models"].append(row)
            with open(args.out, "w") as f:
                json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
