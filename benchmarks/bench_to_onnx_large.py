"""Peak memory and time of exporting a large model to ONNX with streamed external data.

    python benchmarks/bench_to_onnx_large.py --layers 55 --out /tmp/big.onnx   # ~2.25 GB of weights

Builds a chain of dense layers (3200x3200 float32 = 41 MB each) in the IR, exports it with
to_onnx(path=...) (external data switches on by itself above ~2 GB) and prints the weights' size,
the process' RSS before and its peak during export.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from frontend_ext.onnx.exporter import to_onnx  # noqa: E402
from nnvm_bridge.ir.graph import Graph, Node, variable  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=55)
    ap.add_argument("--width", type=int, default=3200)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threshold", type=int, default=None, help="external-data threshold in bytes")
    args = ap.parse_args()
    d = args.width
    cur = variable("data", {"__shape__": f"(1, {d})"})
    params = {}
    for i in range(args.layers):
        params[f"w{i}"] = np.full((d, d), 1e-4, np.float32)
        cur = Node("dense", f"fc{i}", [cur[0], variable(f"w{i}")[0]], {"units": str(d), "use_bias": "False"})
    graph = Graph([cur[0]])
    weights = sum(p.nbytes for p in params.values())
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    kw = {} if args.threshold is None else {"external_threshold": args.threshold}
    to_onnx(graph, params, path=args.out, **kw)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"weights {weights / 1e6:.0f} MB; RSS before export {base / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB "
          f"({peak / weights:.2f}x weights); export + check_model(path) {secs:.1f} s; "
          f"external data: {os.path.exists(args.out + '.data')}")


if __name__ == "__main__":
    main()
