"""Demo: a Gluon model-zoo network (random weights) -> ONNX, checked with onnxruntime against MXNet.

    python tools/demo.py [--model resnet18_v1] [--out bench_out/demo]

Prints the conversion time, both runtimes' latencies and the largest output difference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18_v1", help="mxnet.gluon.model_zoo.vision model name")
    ap.add_argument("--out", default=os.path.join("bench_out", "demo"), help="folder for the ONNX file")
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args(argv)

    import mxnet as mx
    import onnxruntime as ort

    import nnvm_bridge as nb

    os.makedirs(args.out, exist_ok=True)
    shape = (args.batch, 3, 224, 224)
    mx.random.seed(0)
    net = mx.gluon.model_zoo.vision.get_model(args.model, pretrained=False)
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net.hybridize()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    net(mx.nd.array(x))  # first call builds the cached graph

    t0 = time.perf_counter()
    runs = 10
    for _ in range(runs):
        ref = net(mx.nd.array(x)).asnumpy()
    t_mx = (time.perf_counter() - t0) / runs

    path = os.path.join(args.out, f"{args.model}.onnx")
    t0 = time.perf_counter()
    nb.export_model(net, None, [shape], np.float32, onnx_file_path=path)
    t_conv = time.perf_counter() - t0

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    sess.run(None, feed)
    t0 = time.perf_counter()
    for _ in range(runs):
        got = sess.run(None, feed)[0]
    t_ort = (time.perf_counter() - t0) / runs

    err = float(np.max(np.abs(got - ref)))
    peak = float(np.max(np.abs(ref)))
    scale = max(1.0, peak)
    ok = err <= 1e-4 * scale
    print(f"model          {args.model} (random weights), input {shape}")
    print(f"export         {t_conv * 1e3:8.1f} ms  -> {path} ({os.path.getsize(path) / 2**20:.1f} MiB)")
    print(f"MXNet          {t_mx * 1e3:8.2f} ms / batch")
    print(f"onnxruntime    {t_ort * 1e3:8.2f} ms / batch")
    print(f"max |ort - mx| {err:.3e} (max |mx| {peak:.3g}; tolerance 1e-4 * max(1, max |mx|)) "
          f"-> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
