"""Export a model beyond protobuf's 2 GB limit, and measure time and peak memory.

    .venv/bin/python benchmarks/huge_model.py                       # 24576x24576 FC: 2.42 GB of weights
    .venv/bin/python benchmarks/huge_model.py --hidden 8704 --import # ~300 MB, and time from_onnx too

1. Writes a synthetic MXNet model to --dir (default /tmp): one FullyConnected layer, as
   ``huge-symbol.json`` + ``huge-0000.params`` (this project's save_params, which streams each
   array's own buffer to the file: the weights are held once, never copied).
2. Exports it to ONNX in a fresh process, the way a user would: ``nnvm-bridge convert`` (default) or
   ``export_model`` (--via api).  Above ~2 GB the exporter streams tensors to ``huge.onnx.data``.
   That process's peak RSS (VmHWM: what it ever held resident, mapped file pages included)
   is reported against the weights' bytes; the goal is <= 1.6.
3. Checks in another fresh process that onnxruntime loads the result and matches numpy (float64
   reference, computed from the .params file) on a random input.
4. With --import: times ``frontend.from_onnx`` on the exported file and reports its peak RSS.
Files are deleted afterwards unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

GOAL_RATIO = 1.6


def build_model(folder: str, hidden: int, seed: int = 0):
    """Write the symbol JSON and .params; returns (json path, params path, weight bytes)."""
    from nnvm_bridge.ir.params import save_params

    sym = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                     {"op": "null", "name": "fc_weight", "inputs": []},
                     {"op": "null", "name": "fc_bias", "inputs": []},
                     {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": str(hidden)},
                      "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}],
           "arg_nodes": [0, 1, 2], "heads": [[3, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}}
    json_path = os.path.join(folder, "huge-symbol.json")
    params_path = os.path.join(folder, "huge-0000.params")
    with open(json_path, "w") as f:
        json.dump(sym, f)
    rng = np.random.default_rng(seed)
    weight = np.empty((hidden, hidden), np.float32)
    scale = np.float32(2.0 / np.sqrt(hidden))
    for start in range(0, hidden, 1024):  # in row blocks: no float64 temporary of the whole matrix
        block = weight[start:start + 1024]
        rng.random(out=block, dtype=np.float32)
        block -= np.float32(0.5)
        block *= scale
    bias = rng.standard_normal(hidden).astype(np.float32)
    save_params(params_path, {"arg:fc_weight": weight, "arg:fc_bias": bias})
    nbytes = weight.nbytes + bias.nbytes
    del weight
    return json_path, params_path, nbytes


# Peak RSS is VmHWM from /proc/self/status: the high-water mark of this process's own memory map.
# (getrusage's ru_maxrss is not used: Linux carries it over from the parent across fork/exec, so a
# child started by a process holding the weights would inherit that figure.)
_PEAK = r"""
def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
"""

# The export runs in a fresh interpreter and reports its own peak RSS (bytes) and time.
_API_SCRIPT = _PEAK + r"""
import json, sys, time
import numpy as np
import nnvm_bridge as nb
json_path, params_path, out, hidden, force_external = sys.argv[1:6]
base = peak_rss()
t0 = time.perf_counter()
if force_external == "1":
    # export_model's own steps, with external data forced on (for models under the 2 GB switch)
    from nnvm_bridge.model_files import mxnet_to_graph
    from frontend_ext.onnx.exporter import to_onnx
    graph, params = mxnet_to_graph(json_path, params_path, [(1, int(hidden))], np.float32)
    to_onnx(graph, params, path=out, external_data=True)
else:
    nb.export_model(json_path, params_path, [(1, int(hidden))], np.float32, out)
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "peak_rss": peak_rss(), "base_rss": base}))
"""

# `nnvm-bridge convert` (cli.main, what the console script runs) in a fresh interpreter.
_CLI_SCRIPT = _PEAK + r"""
import json, sys, time
base = peak_rss()
t0 = time.perf_counter()
from nnvm_bridge.cli import main
code = main(["convert", "-q"] + sys.argv[1:])
secs = time.perf_counter() - t0
if code:
    sys.exit(code)
print(json.dumps({"seconds": secs, "peak_rss": peak_rss(), "base_rss": base}))
"""

_CHECK_SCRIPT = r"""
import json, sys
import numpy as np
from nnvm_bridge.ir.params import load_params
onnx_path, params_path, hidden = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.random.default_rng(1).uniform(-1, 1, (1, hidden)).astype(np.float32)
p = load_params(params_path)  # views into a mapped file
w, b = p["arg:fc_weight"], p["arg:fc_bias"]
ref = np.empty(hidden)
for s in range(0, hidden, 2048):
    ref[s:s + 2048] = w[s:s + 2048].astype(np.float64) @ x[0].astype(np.float64) + b[s:s + 2048]
del p, w, b
import onnxruntime as ort
sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
got = sess.run(None, {name: x})[0].reshape(-1).astype(np.float64)
err = float(np.max(np.abs(got - ref)))
print(json.dumps({"max_abs_err": err, "ref_scale": float(np.max(np.abs(ref))), "input": name}))
"""

_IMPORT_SCRIPT = _PEAK + r"""
import json, sys, time
import nnvm_bridge as nb
base = peak_rss()
t0 = time.perf_counter()
graph, params = nb.frontend.from_onnx(sys.argv[1])
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "peak_rss": peak_rss(), "base_rss": base, "params": sorted(params)}))
"""


def _run(script, *args, timeout=1800) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export(json_path, params_path, out, hidden, via="cli", force_external=False) -> dict:
    if via == "cli":
        if force_external:
            raise ValueError("the CLI decides external data by itself; use via='api' to force it")
        return _run(_CLI_SCRIPT, json_path, "--params", params_path, "-o", out, "--input-shape", f"data:1,{hidden}")
    return _run(_API_SCRIPT, json_path, params_path, out, hidden, "1" if force_external else "0")


def check_with_onnxruntime(onnx_path, params_path, hidden) -> dict:
    res = _run(_CHECK_SCRIPT, onnx_path, params_path, hidden)
    res["ok"] = res["max_abs_err"] <= 1e-4 * max(1.0, res["ref_scale"])
    return res


def measure_import(onnx_path) -> dict:
    return _run(_IMPORT_SCRIPT, onnx_path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=24576, help="FullyConnected size (24576: 2.42 GB)")
    ap.add_argument("--dir", default=None, help="work folder (default: a new folder under /tmp)")
    ap.add_argument("--via", choices=("cli", "api"), default="cli", help="nnvm-bridge convert or export_model")
    ap.add_argument("--force-external", action="store_true", help="external data even below 2 GB (--via api)")
    ap.add_argument("--import", dest="do_import", action="store_true", help="also measure from_onnx")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    args = ap.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="huge_model_", dir=args.dir or "/tmp")
    try:
        t0 = time.perf_counter()
        json_path, params_path, nbytes = build_model(folder, args.hidden)
        print(f"model: FullyConnected {args.hidden}x{args.hidden}, weights {nbytes / 1e9:.2f} GB "
              f"(written in {time.perf_counter() - t0:.1f} s)", flush=True)
        out = os.path.join(folder, "huge.onnx")
        res = export(json_path, params_path, out, args.hidden, args.via, args.force_external)
        data = out + ".data"
        ratio = res["peak_rss"] / nbytes
        print(f"export ({'nnvm-bridge convert' if args.via == 'cli' else 'export_model'}): {res['seconds']:.1f} s, "
              f"peak RSS {res['peak_rss'] / 1e9:.2f} GB = {ratio:.2f}x weights (goal <= {GOAL_RATIO})"
              + f"; RSS after imports {res['base_rss'] / 1e6:.0f} MB", flush=True)
        print(f"files: {os.path.getsize(out) / 1e3:.1f} kB model"
              + (f" + {os.path.getsize(data) / 1e9:.2f} GB external data" if os.path.exists(data) else
                 " (no external data)"), flush=True)
        chk = check_with_onnxruntime(out, params_path, args.hidden)
        print(f"onnxruntime vs numpy (float64): max |diff| {chk['max_abs_err']:.2e} (scale {chk['ref_scale']:.2f}) "
              f"-> {'OK' if chk['ok'] else 'MISMATCH'}", flush=True)
        if args.do_import:
            imp = measure_import(out)
            print(f"from_onnx: {imp['seconds']:.1f} s, peak RSS {imp['peak_rss'] / 1e9:.2f} GB = "
                  f"{imp['peak_rss'] / nbytes:.2f}x weights", flush=True)
        return 0 if chk["ok"] and ratio <= GOAL_RATIO else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
