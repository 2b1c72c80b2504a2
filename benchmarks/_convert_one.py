"""One MXNet -> ONNX conversion, timed, in this (fresh) process; prints one JSON line.

    python _convert_one.py {nnvm_bridge|mxnet} PREFIX OUT.onnx 1,3,224,224

Run by benchmarks/convert.py, once per measurement, so that peak RSS belongs to one conversion.
The 'mxnet' mode runs under the separate mx2onnx venv (onnx 1.14, protobuf < 4).
"""
import json
import os
import resource
import sys
import time


def _rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb():
    """This process's RSS high-water mark (VmHWM).

    Not getrusage's ru_maxrss: Linux carries that over from the parent across fork + exec, so a
    big benchmark driver would inflate every child's number.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort


def main():
    which, prefix, out, shape_text = sys.argv[1:5]
    shape = tuple(int(d) for d in shape_text.split(","))
    sym, params = f"{prefix}-symbol.json", f"{prefix}-0000.params"
    import numpy as np

    t_import = time.perf_counter()
    if which == "nnvm_bridge":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import onnx  # noqa: F401  (imports are not part of the conversion time)

        from nnvm_bridge import export_model

        def convert():
            export_model(sym, params, [shape], np.float32, onnx_file_path=out)
    elif which == "mxnet":
        import mxnet as mx
        import onnx  # noqa: F401

        def convert():
            mx.onnx.export_model(sym, params, [shape], np.float32, onnx_file_path=out)
    else:
        raise SystemExit(f"unknown converter {which!r}")
    t_import = time.perf_counter() - t_import
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    convert()
    seconds = time.perf_counter() - t0
    peak_mb = _peak_rss_mb()
    print(json.dumps({"converter": which, "seconds": seconds, "import_seconds": t_import,
                      "rss_before_mb": rss_before, "peak_rss_mb": peak_mb,
                      "onnx_mb": os.path.getsize(out) / 2**20}))


if __name__ == "__main__":
    main()
