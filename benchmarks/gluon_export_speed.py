"""Export time of GluonCV / GluonNLP models against the time to write their weights' bytes.

    python benchmarks/gluon_export_speed.py [--models fcn_resnet50_voc bert_12_768] [--repeat 3]

Models come from tools/gluon_model_sweep.py's MODELS (random weights, saved with ``net.export``).
``export_model(sym, params, ..., onnx_file_path=...)`` (reading the files, converting, writing and checking the
ONNX file) is timed against writing the same weights' bytes to a file with one ``write`` per array; both best of
``--repeat``. The ratio is what stays comparable across machines: a fast exporter is a small multiple of the
unavoidable cost of writing the bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(name, repeat):
    import mxnet as mx

    import gluon_model_sweep as sweep
    import nnvm_bridge as nb

    with tempfile.TemporaryDirectory(prefix="gluon_export_speed_") as tmp:
        sym_file, params_file, feeds = sweep._build(name, tmp)
        arrays = [v.asnumpy() for v in mx.nd.load(params_file).values()]
        nbytes = sum(a.nbytes for a in arrays)
        shapes = {k: v.shape for k, v in feeds.items()}
        dtypes = {k: str(v.dtype) for k, v in feeds.items()}
        onnx_path, raw_path = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "weights.bin")

        def write_bytes():
            with open(raw_path, "wb") as f:
                for a in arrays:
                    f.write(a.tobytes())

        write_s = _best(write_bytes, repeat)
        export_s = _best(lambda: nb.export_model(sym_file, params_file, shapes, input_type=dtypes,
                                                 onnx_file_path=onnx_path), repeat)
    return {"model": name, "weights_mb": round(nbytes / 2**20, 1), "export_s": round(export_s, 3),
            "write_weights_s": round(write_s, 3), "ratio": round(export_s / write_s, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["fcn_resnet50_voc", "bert_12_768"])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    for name in args.models:
        print(json.dumps(measure(name, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
