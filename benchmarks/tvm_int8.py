"""Quantized models on CPU: TVM's float path vs its integer path (``int8=True``) vs onnxruntime's int8 kernels.

    python benchmarks/tvm_int8.py [--models resnet18_qdq bert_dynamic] [--rounds 3] [--repeat 20] [--out FILE]

Models, made here with onnxruntime's own quantizer from seeded random-weight models:
``resnet18_qdq`` (benchmarks/tvm_models.py's ResNet-18, ``quant_pre_process`` + ``quantize_static``, QDQ,
per-channel int8 weights, uint8 activations, random calibration data, input 1x3x224x224) and
``bert_dynamic`` (a 4-layer BERT encoder in plain torch, hidden 256, sequence 128, ``quantize_dynamic`` with int8 weights).

Engines: onnxruntime, ``tvm_float`` (``compile_model(path, int8=False)``), ``tvm_int8`` (``int8=True``: conv2d
and matmul both integer). Every measurement runs in a fresh process, one at a time, engines alternating per round; a TVM engine
compiles once (first round) and later rounds load the exported library. Each row has the median ms per
engine, the error of each TVM output against onnxruntime's relative to max(1, max|ref|), whether the
top-1 agrees, and the load average before and after (the machine may be shared).
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
ENGINES = ("onnxruntime", "tvm_float", "tvm_int8")
BERT = dict(hidden=256, layers=4, heads=4, seq=128, vocab=1000)


# ---- models (built in a child process: torch never loads next to an engine) --------------------------
class _Reader:
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def build_resnet18_qdq(path):
    sys.path.insert(0, HERE)
    import tvm_models
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp, pre = path + ".float.onnx", path + ".pre.onnx"
    tvm_models.export_onnx("resnet18", fp)
    quant_pre_process(fp, pre)
    rng = np.random.default_rng(1)
    calib = [{"data": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(4)]
    quantize_static(pre, path, _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def _bert_encoder():
    """BERT's encoder in plain torch (transformers' import pulls a broken torchvision here): embeddings +
    LayerNorm, then post-norm layers of self-attention (q/k/v/o Linear) and a GELU feed-forward."""
    import torch
    from torch import nn

    h, heads, seq = BERT["hidden"], BERT["heads"], BERT["seq"]

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
            self.ff = nn.Sequential(nn.Linear(h, 4 * h), nn.GELU(), nn.Linear(4 * h, h))

        def forward(self, x):
            b = x.shape[0]

            def split(t):
                return t.reshape(b, seq, heads, h // heads).transpose(1, 2)

            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            att = torch.softmax(q @ k.transpose(-1, -2) / (h // heads) ** 0.5, -1)
            x = self.ln1(x + self.o((att @ v).transpose(1, 2).reshape(b, seq, h)))
            return self.ln2(x + self.ff(x))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(BERT["vocab"], h), nn.Embedding(seq, h)
            self.ln = nn.LayerNorm(h)
            self.layers = nn.Sequential(*[Layer() for _ in range(BERT["layers"])])

        def forward(self, ids):
            x = self.ln(self.tok(ids) + self.pos(torch.arange(seq)))
            return self.layers(x)

    torch.manual_seed(0)
    return Encoder().eval()


def build_bert_dynamic(path):
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp = path + ".float.onnx"
    torch.onnx.export(_bert_encoder(), (torch.zeros(1, BERT["seq"], dtype=torch.long),), fp,
                      input_names=["input_ids"], output_names=["hidden"], opset_version=14, dynamo=False)
    quantize_dynamic(fp, path, weight_type=QuantType.QInt8)


MODELS = {"resnet18_qdq": build_resnet18_qdq, "bert_dynamic": build_bert_dynamic}


def model_input(name):
    rng = np.random.default_rng(0)
    if name == "bert_dynamic":
        return {"input_ids": rng.integers(0, BERT["vocab"], (1, BERT["seq"])).astype(np.int64)}
    return {"data": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}


# ---- worker: one engine in a fresh process ----------------------------------------------------------
def _worker(engine, model, path, lib, repeat, save, threads):
    feed = model_input(model)
    info = {"engine": engine}
    if engine == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

        def fn():
            return sess.run(None, feed)[0]
    else:
        sys.path.insert(0, ROOT)
        import nnvm_bridge as nb

        if os.path.exists(lib):
            cm = nb.load_compiled(lib)
        else:
            cm = nb.compile_model(path, int8=engine == "tvm_int8")
            info["compile_s"] = round(cm.compile_seconds, 2)
            cm.export_library(lib)

        def fn():
            return cm.run(feed)[0]
    if save:
        np.save(save, fn())
    sys.path.insert(0, ROOT)
    from frontend_ext.tvm.bench_worker import time_runs

    times = time_runs(fn, repeat)
    info["median_ms"] = float(np.median(times)) * 1e3
    print(json.dumps(info), flush=True)


# ---- parent -----------------------------------------------------------------------------------------
def _spawn(args):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {args[:2]} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def bench(model, rounds, repeat, cache_dir, threads):
    path = os.path.join(cache_dir, f"{model}.onnx")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--build", model, "--onnx", path], check=True)
    row = {"model": model, "threads": threads, "rounds": rounds, "repeat": repeat,
           "loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    ms = {e: [] for e in ENGINES}
    outs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for e in ENGINES:
                save = os.path.join(tmp, f"{e}.npy") if r == 0 else ""
                res = _spawn(["--worker", e, "--model", model, "--onnx", path, "--lib", os.path.join(tmp, f"{e}.so"),
                              "--repeat", str(repeat), "--threads", str(threads), "--save", save])
                ms[e].append(res["median_ms"])
                if "compile_s" in res:
                    row[f"{e}_compile_s"] = res["compile_s"]
                if save:
                    outs[e] = np.load(save)
    row["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    ref = outs["onnxruntime"].astype(np.float64)
    for e in ENGINES:
        row[f"{e}_ms"] = round(float(np.median(ms[e])), 3)
        row[f"{e}_rounds_ms"] = [round(t, 2) for t in ms[e]]
        if e != "onnxruntime":
            row[f"{e}_rel_err"] = float(np.abs(outs[e] - ref).max() / max(1.0, float(np.abs(ref).max())))
            row[f"{e}_top1_same"] = bool((outs[e].argmax(-1) == ref.argmax(-1)).all())
    row["int8_speedup_vs_float"] = round(row["tvm_float_ms"] / row["tvm_int8_ms"], 3)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache-dir", default=os.path.join(ROOT, "build", "bench_models"))
    p.add_argument("--out")
    for hidden in ("--worker", "--model", "--onnx", "--lib", "--save", "--build"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    if args.build:
        return MODELS[args.build](args.onnx) and 0
    if args.worker:
        return _worker(args.worker, args.model, args.onnx, args.lib, args.repeat, args.save, threads)
    for model in args.models:
        row = bench(model, args.rounds, args.repeat, args.cache_dir, threads)
        row["date"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
