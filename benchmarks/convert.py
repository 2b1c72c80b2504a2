"""Conversion benchmark: MXNet -> ONNX export time and peak RSS, nnvm_bridge vs mx.onnx.export_model.

    python benchmarks/convert.py [--models resnet50_v1,vgg16,densenet121] [--repeat 3] [--mx-repeat 1]
                                 [--update-readme README.md]

Models are Gluon model-zoo networks with random weights, saved with ``net.export``.  Every
conversion runs in a fresh subprocess (benchmarks/_convert_one.py) so its peak RSS is its own.
MXNet's exporter only works with onnx < 1.16 and protobuf < 4, so it runs in a separate venv,
bench_out/mx2onnx-venv (mxnet==1.9.1, numpy<1.24, onnx==1.14.1, protobuf<4), created on first use.
Both ONNX files are then run with onnxruntime on the same input and compared.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "bench_out")
MX_VENV = os.path.join(OUT, "mx2onnx-venv")
MX_REQS = ["mxnet==1.9.1", "numpy<1.24", "onnx==1.14.1", "protobuf<4", "psutil"]
SHAPE = (1, 3, 224, 224)
README_START, README_END = "<!-- bench:convert:start -->", "<!-- bench:convert:end -->"


def ensure_mx_venv() -> str:
    py = os.path.join(MX_VENV, "bin", "python")
    if os.path.exists(py):
        return py
    print(f"creating {MX_VENV} ({' '.join(MX_REQS)}) for MXNet's own exporter ...", file=sys.stderr)
    base = os.path.join(sys.base_prefix, "bin", "python3")
    subprocess.run([base, "-m", "venv", MX_VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", *MX_REQS], check=True)
    return py


def export_gluon(name: str) -> str:
    """Save a random-weight model-zoo network with net.export; returns the prefix."""
    folder = os.path.join(OUT, "models")
    prefix = os.path.join(folder, name)
    if os.path.exists(prefix + "-symbol.json") and os.path.exists(prefix + "-0000.params"):
        return prefix
    import mxnet as mx

    os.makedirs(folder, exist_ok=True)
    mx.random.seed(0)
    net = mx.gluon.model_zoo.vision.get_model(name, pretrained=False)
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net.hybridize()
    net(mx.nd.zeros(SHAPE))
    net.export(prefix, epoch=0)
    return prefix


def convert_once(python: str, which: str, prefix: str, out: str) -> dict:
    cmd = [python, os.path.join(HERE, "_convert_one.py"), which, prefix, out, ",".join(map(str, SHAPE))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{which} failed on {prefix}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(python, which, prefix, out, repeat) -> dict:
    runs = [convert_once(python, which, prefix, out) for _ in range(repeat)]
    return {"seconds": min(r["seconds"] for r in runs), "seconds_median": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "extra_rss_mb": max(r["peak_rss_mb"] - r["rss_before_mb"] for r in runs),
            "onnx_mb": runs[-1]["onnx_mb"], "runs": len(runs)}


def max_difference(path_a: str, path_b: str) -> float:
    """Largest |a - b| relative to max(1, max|b|) between two ONNX files on one random input."""
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # MXNet's file lists every initializer as an input: one warning each
    outs = []
    for path in (path_a, path_b):
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        outs.append(sess.run(None, {"data": x})[0])
    return float(np.max(np.abs(outs[0] - outs[1])) / max(1.0, float(np.max(np.abs(outs[1])))))


def table(rows) -> str:
    head = ("| model | params (MiB) | nnvm_bridge (s) | MXNet (s) | time ratio | nnvm_bridge peak RSS (MiB) "
            "| MXNet peak RSS (MiB) | RSS ratio | max rel. diff (ORT) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        ours, mx = r["nnvm_bridge"], r["mxnet"]
        lines.append(f"| {r['model']} | {r['params_mb']:.0f} | {ours['seconds']:.2f} | {mx['seconds']:.2f} "
                     f"| {ours['seconds'] / mx['seconds']:.3f}x | {ours['peak_rss_mb']:.0f} | {mx['peak_rss_mb']:.0f} "
                     f"| {ours['peak_rss_mb'] / mx['peak_rss_mb']:.2f}x | {r['max_rel_diff']:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50_v1,vgg16,densenet121")
    ap.add_argument("--repeat", type=int, default=3, help="fresh-process runs of nnvm_bridge per model (best kept)")
    ap.add_argument("--mx-repeat", type=int, default=1, help="runs of MXNet's exporter per model (it is slow)")
    ap.add_argument("--update-readme", metavar="README.md", help="write the table between the bench markers")
    args = ap.parse_args(argv)

    print("MXNet's exporter runs in a separate venv: bench_out/mx2onnx-venv (mxnet==1.9.1, numpy<1.24, "
          "onnx==1.14.1, protobuf<4), because mx.onnx.export_model fails with onnx>=1.16.", file=sys.stderr)
    mx_python = ensure_mx_venv()
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        prefix = export_gluon(name)
        params_mb = os.path.getsize(prefix + "-0000.params") / 2**20
        ours_out = os.path.join(OUT, f"{name}.nnvm_bridge.onnx")
        mx_out = os.path.join(OUT, f"{name}.mxnet.onnx")
        print(f"{name}: nnvm_bridge x{args.repeat} ...", file=sys.stderr, flush=True)
        ours = measure(sys.executable, "nnvm_bridge", prefix, ours_out, args.repeat)
        print(f"{name}: mx.onnx.export_model x{args.mx_repeat} ...", file=sys.stderr, flush=True)
        mx = measure(mx_python, "mxnet", prefix, mx_out, args.mx_repeat)
        rows.append({"model": name, "params_mb": params_mb, "nnvm_bridge": ours, "mxnet": mx,
                     "max_rel_diff": max_difference(ours_out, mx_out)})
        print(f"  nnvm_bridge {ours['seconds']:.2f} s, {ours['peak_rss_mb']:.0f} MiB; "
              f"MXNet {mx['seconds']:.2f} s, {mx['peak_rss_mb']:.0f} MiB", file=sys.stderr, flush=True)

    text = table(rows)
    note = (f"\nMeasured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores (shared), "
            f"Python {platform.python_version()}; batch-1 224x224 input; time = best of {args.repeat} "
            f"(nnvm_bridge) / {args.mx_repeat} (MXNet) fresh processes, imports excluded; peak RSS = the conversion "
            "process's VmHWM (imports included). MXNet 1.9.1's exporter ran with onnx 1.14.1 / protobuf 3 in "
            "bench_out/mx2onnx-venv. Command: `make bench`.")
    print(text + "\n" + note)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "convert.json"), "w") as f:
        json.dump(rows, f, indent=2)
    if args.update_readme:
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from gen_support_matrix import write_between_markers  # the README marker writer

        write_between_markers(args.update_readme, text + "\n" + note + "\n", README_START, README_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
