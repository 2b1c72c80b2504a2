"""Import time: nnvm_bridge (from_onnx -> to_mxnet -> MXNet objects) vs MXNet's own
``mx.contrib.onnx.import_model``, on ONNX's 9 light CNNs (random weights) and the PyTorch fixtures.

MXNet's importer cannot read files whose initializers are not graph inputs, nor ConstantOfShape, so
it is timed on a copy that lists every initializer as a graph input (ONNX IR 3 style); nnvm_bridge
imports the unmodified file.  Each side's outputs are also checked against onnxruntime
(max|a-b| <= 1e-4 * max(1, max|ref|)), because "imports" is not "correct".

Usage: .venv/bin/python benchmarks/import_onnx.py [--repeat 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def _models():
    import onnx

    from onnx_mx_helpers import light_model_dir, randomize_light_model

    out = []
    for path in sorted(glob.glob(os.path.join(light_model_dir(), "light_*.onnx"))):
        name = os.path.basename(path)[6:-5]
        out.append((name, randomize_light_model(onnx.load(path)), None))
    fx = os.path.join(ROOT, "tests", "fixtures", "pytorch")
    for path in sorted(glob.glob(os.path.join(fx, "*.onnx"))):
        data = np.load(path[:-5] + ".npz")
        feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
        out.append((os.path.basename(path)[:-5], onnx.load(path), feeds))
    return out


def _with_initializers_as_inputs(model):
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    names = {i.name for i in m.graph.input}
    for t in m.graph.initializer:
        if t.name not in names:
            m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return m


def _feeds(model, feeds):
    if feeds is not None:
        return feeds
    from onnx_mx_helpers import data_inputs

    inp = data_inputs(model)[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    return {inp.name: np.random.default_rng(1).standard_normal(shape).astype(np.float32)}


def _median_time(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _ok(outs, ref):
    try:
        for got, want in zip(outs, ref):
            got, want = np.asarray(got), np.asarray(want)
            if got.shape != want.shape:
                return False
            if np.max(np.abs(got.astype(np.float64) - want)) > 1e-4 * max(1.0, float(np.max(np.abs(want)))):
                return False
        return True
    except Exception:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description="ONNX import time: nnvm_bridge vs mx.contrib.onnx")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import mxnet as mx
    import onnx

    from nnvm_bridge import import_model
    from onnx_mx_helpers import module_run, ort_run

    rows = []
    tmp = tempfile.mkdtemp()
    for name, model, feeds in _models():
        feeds = _feeds(model, feeds)
        ref = ort_run(model, feeds)
        path = os.path.join(tmp, name + ".onnx")
        onnx.save(model, path)
        shapes = {k: v.shape for k, v in feeds.items()}  # binds the "_dynamic" fixtures' symbolic dims
        ours_t, (sym, params) = _median_time(lambda: import_model(path, shape=shapes), args.repeat)
        ours_ok = _ok(module_run(sym, params, feeds), ref)
        legacy = _with_initializers_as_inputs(model)
        lpath = os.path.join(tmp, name + "_ir3.onnx")
        onnx.save(legacy, lpath)
        row = {"model": name, "nnvm_bridge_s": ours_t, "nnvm_bridge_correct": ours_ok}
        try:
            mx_t, (msym, arg, aux) = _median_time(lambda: mx.contrib.onnx.import_model(lpath), args.repeat)
            merged = dict(arg)
            merged.update(aux)
            try:
                mx_ok = _ok(module_run(msym, merged, feeds), ref)
            except Exception:
                mx_ok = False
            row.update(mxnet_s=mx_t, mxnet_correct=mx_ok, ratio=mx_t / ours_t)
        except Exception as exc:
            row.update(mxnet_s=None, mxnet_correct=None, ratio=None,
                       mxnet_error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
        try:  # the unmodified file, as a user would hand it over
            mx.contrib.onnx.import_model(path)
            row["mxnet_reads_original"] = True
        except Exception:
            row["mxnet_reads_original"] = False
        rows.append(row)
    print("| model | nnvm_bridge import (ms) | correct | mx.contrib.onnx (ms) | correct | MXNet time / ours |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mx_ms = "fails: " + r.get("mxnet_error", "") if r["mxnet_s"] is None else f"{r['mxnet_s'] * 1e3:.1f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"| {r['model']} | {r['nnvm_bridge_s'] * 1e3:.1f} | {'yes' if r['nnvm_bridge_correct'] else 'NO'} "
              f"| {mx_ms} | {'-' if r['mxnet_correct'] is None else ('yes' if r['mxnet_correct'] else 'NO')} "
              f"| {ratio} |")
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(f"\ngeometric mean of MXNet time / nnvm_bridge time over {len(ratios)} models where MXNet's "
              f"importer runs: {geo:.2f}")
    print(f"MXNet's importer reads {sum(r['mxnet_reads_original'] for r in rows)} of {len(rows)} unmodified files; "
          f"its numbers are right on {sum(bool(r['mxnet_correct']) for r in rows)}; nnvm_bridge's on "
          f"{sum(r['nnvm_bridge_correct'] for r in rows)} of {len(rows)}.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
