"""Pure-TVM CPU code (frontend_ext/tvm/cpu: NCHWc layouts, blocked conv2d, fixed schedules, no search, no
torch) against onnxruntime on the same ONNX file.

    python benchmarks/tvm_cpu_native.py [--models resnet18 mobilenetv2 ...] [--rounds 3] [--repeat 20]
                                        [--threads N] [--out FILE]

Each measurement runs in its own fresh process (``--worker``), one at a time, engines alternating
(onnxruntime, tvm, onnxruntime, tvm, ...); each process warms up, times ``--repeat`` runs and reports
the median and minimum; a row gives the median over rounds of each, the ratio, the max relative
error against onnxruntime, the compile time and the load average before and after (the machine may be
shared: read the ratio with the load). The tvm worker goes from_onnx -> to_relax (no offload) ->
cpu_pipeline -> tvm.compile, the path of ``compile_model(path)`` for llvm. Models: resnet18, resnet50,
mobilenetv2 (benchmarks/tvm_models.py, exported with torch in a child process), densenet121 and
squeezenet1.0/1.1 (MXNet Gluon model zoo, random weights, exported by nnvm_bridge), vit (ViT-Tiny/16 in
plain torch) and bert (a 2-layer BERT-style encoder, hidden 256, sequence 128, written with onnx.helper).
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


# ---- models -------------------------------------------------------------------------------------------
def bert_onnx(path, layers=2, hidden=256, heads=4, seq=128, ffn=1024, seed=0, dynamic=False):
    """A BERT-style encoder (post-LN, GELU via Erf) as ONNX opset 13, input ``x`` [1, seq, hidden]
    (``dynamic``: [batch, seq, hidden] with both dims symbolic, reshapes that copy them with 0)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    dh = hidden // heads

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def dense(x, name, k, n):
        w = const(name + "_w", (rng.standard_normal((k, n)) / np.sqrt(k)).astype("float32"))
        b = const(name + "_b", (rng.standard_normal(n) * 0.1).astype("float32"))
        nodes.append(helper.make_node("MatMul", [x, w], [name + "_mm"]))
        nodes.append(helper.make_node("Add", [name + "_mm", b], [name]))
        return name

    def layernorm(x, name):
        g = const(name + "_g", (1 + 0.1 * rng.standard_normal(hidden)).astype("float32"))
        b = const(name + "_b", (0.1 * rng.standard_normal(hidden)).astype("float32"))
        nodes.append(helper.make_node("ReduceMean", [x], [name + "_mu"], axes=[-1]))
        nodes.append(helper.make_node("Sub", [x, name + "_mu"], [name + "_d"]))
        nodes.append(helper.make_node("Mul", [name + "_d", name + "_d"], [name + "_d2"]))
        nodes.append(helper.make_node("ReduceMean", [name + "_d2"], [name + "_var"], axes=[-1]))
        nodes.append(helper.make_node("Add", [name + "_var", const(name + "_eps", np.float32(1e-5))], [name + "_ve"]))
        nodes.append(helper.make_node("Sqrt", [name + "_ve"], [name + "_sd"]))
        nodes.append(helper.make_node("Div", [name + "_d", name + "_sd"], [name + "_n"]))
        nodes.append(helper.make_node("Mul", [name + "_n", g], [name + "_ng"]))
        nodes.append(helper.make_node("Add", [name + "_ng", b], [name]))
        return name

    lead = [0, 0] if dynamic else [1, seq]  # Reshape's 0 copies the input's (symbolic) dim
    shape_heads = const("shape_heads", np.array(lead + [heads, dh], "int64"))
    shape_back = const("shape_back", np.array(lead + [hidden], "int64"))
    scale = const("scale", np.float32(1.0 / np.sqrt(dh)))
    x = "x"
    for i in range(layers):
        p = f"l{i}"
        qkv = []
        for nm in "qkv":
            y = dense(x, f"{p}{nm}", hidden, hidden)
            nodes.append(helper.make_node("Reshape", [y, shape_heads], [y + "_r"]))
            perm = [0, 2, 3, 1] if nm == "k" else [0, 2, 1, 3]
            nodes.append(helper.make_node("Transpose", [y + "_r"], [y + "_t"], perm=perm))
            qkv.append(y + "_t")
        nodes.append(helper.make_node("MatMul", [qkv[0], qkv[1]], [p + "_s"]))
        nodes.append(helper.make_node("Mul", [p + "_s", scale], [p + "_ss"]))
        nodes.append(helper.make_node("Softmax", [p + "_ss"], [p + "_p"], axis=-1))
        nodes.append(helper.make_node("MatMul", [p + "_p", qkv[2]], [p + "_c"]))
        nodes.append(helper.make_node("Transpose", [p + "_c"], [p + "_ct"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [p + "_ct", shape_back], [p + "_cr"]))
        o = dense(p + "_cr", p + "o", hidden, hidden)
        nodes.append(helper.make_node("Add", [o, x], [p + "_res1"]))
        h = layernorm(p + "_res1", p + "ln1")
        f1 = dense(h, p + "f1", hidden, ffn)
        nodes.append(helper.make_node("Div", [f1, const(p + "sq2", np.float32(np.sqrt(2.0)))], [f1 + "_d"]))
        nodes.append(helper.make_node("Erf", [f1 + "_d"], [f1 + "_e"]))
        nodes.append(helper.make_node("Add", [f1 + "_e", const(p + "one", np.float32(1.0))], [f1 + "_e1"]))
        nodes.append(helper.make_node("Mul", [f1, f1 + "_e1"], [f1 + "_m"]))
        nodes.append(helper.make_node("Mul", [f1 + "_m", const(p + "half", np.float32(0.5))], [f1 + "_g"]))
        f2 = dense(f1 + "_g", p + "f2", ffn, hidden)
        nodes.append(helper.make_node("Add", [f2, h], [p + "_res2"]))
        x = layernorm(p + "_res2", p + "ln2")
    dims = ["batch", "sequence", hidden] if dynamic else [1, seq, hidden]
    graph = helper.make_graph(nodes, "bert", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, dims)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def gluon_onnx(name, path, seed=0):
    """A Gluon model-zoo CNN (random weights, BN statistics randomised) exported by nnvm_bridge to ONNX."""
    import mxnet as mx

    sys.path.insert(0, ROOT)
    import nnvm_bridge as nb

    mx.random.seed(seed)
    net = mx.gluon.model_zoo.vision.get_model(name, pretrained=False)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    x = mx.nd.random.normal(shape=(1, 3, 224, 224))
    net(x)
    rng = np.random.default_rng(seed)
    for pname, prm in net.collect_params().items():
        if pname.endswith("running_mean"):
            prm.set_data(mx.nd.array(rng.uniform(-0.1, 0.1, prm.shape)))
        elif pname.endswith("running_var"):
            prm.set_data(mx.nd.array(rng.uniform(0.5, 1.5, prm.shape)))
        elif pname.endswith("gamma"):
            prm.set_data(mx.nd.array(rng.uniform(0.5, 1.5, prm.shape)))
    net(x)
    nb.export_model(net, None, [(1, 3, 224, 224)], onnx_file_path=path)
    return path


def vit_torch_onnx(path, dim=192, depth=12, heads=3, mlp=768, patch=16, size=224, seed=0):
    """ViT-Tiny/16 written in plain torch (no torchvision/timm), exported with the legacy exporter."""
    import torch

    torch.manual_seed(seed)
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.n1(x)).reshape(b, t, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-2, -1) * (dim // heads) ** -0.5, dim=-1)
            x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, dim))
            return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.n2(x))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, patch, patch)
            self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
            self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 1000)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    model = ViT().eval()
    torch.onnx.export(model, (torch.zeros(1, 3, size, size),), path, input_names=["data"], output_names=["output"],
                      opset_version=14, do_constant_folding=True, dynamo=False)
    return path


def onnx_file(name, cache_dir):
    path = os.path.join(cache_dir, f"{name}.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    if name == "bert":
        return bert_onnx(path)
    if name in ("densenet121", "squeezenet1.0", "squeezenet1.1"):
        code = f"import sys; sys.path.insert(0, {HERE!r}); import tvm_cpu_native as t; t.gluon_onnx({name!r}, {path!r})"
    elif name == "vit":
        code = f"import sys; sys.path.insert(0, {HERE!r}); import tvm_cpu_native as t; t.vit_torch_onnx({path!r})"
    else:
        code = (f"import sys; sys.path.insert(0, {HERE!r}); import tvm_models; "
                f"tvm_models.export_onnx({name!r}, {path!r})")
    subprocess.run([sys.executable, "-c", code], check=True)  # torch loads only in that child
    return path


def _input_for(path):
    import onnx

    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    feeds = {}
    rng = np.random.default_rng(0)
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


# ---- worker: one engine in a fresh process -------------------------------------------------------------
def _worker(engine, path, repeat, save, threads):
    feeds = _input_for(path)
    info = {"engine": engine}
    t0 = time.perf_counter()
    if engine == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

        def fn():
            return sess.run(None, feeds)[0]
    else:
        sys.path.insert(0, ROOT)
        os.environ.setdefault("TVM_NUM_THREADS", str(threads))
        # a cold compile every round: no schedule picks remembered from an earlier one
        os.environ["NNVM_BRIDGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="nnvm_bench_picks_")
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
        vm = relax.VirtualMachine(ex, tvm.cpu())
        args = [tvm.runtime.tensor(feeds[n], tvm.cpu()) for n, _, _ in meta["inputs"]]

        def fn():
            out = vm["main"](*args)
            return (out if hasattr(out, "numpy") else out[0]).numpy()
    info["setup_s"] = round(time.perf_counter() - t0, 2)
    out = fn()
    if save:
        np.save(save, out)
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    info["median_ms"] = float(np.median(times)) * 1e3
    info["min_ms"] = float(np.min(times)) * 1e3
    print(json.dumps(info), flush=True)


# ---- parent ---------------------------------------------------------------------------------------------
def _spawn(engine, path, repeat, save, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--onnx", path, "--repeat", str(repeat),
           "--threads", str(threads)] + (["--save", save] if save else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{engine} worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def bench_model(name, rounds, repeat, threads, cache_dir):
    path = onnx_file(name, cache_dir)
    row = {"model": name, "threads": threads, "rounds": rounds, "repeat": repeat,
           "loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    res = {"onnxruntime": [], "tvm": []}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for r in range(rounds):
            for e in res:
                save = os.path.join(tmp, e + ".npy") if r == 0 else None
                got = _spawn(e, path, repeat, save, threads)
                res[e].append(got)
                if save:
                    outs[e] = np.load(save)
    row["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    for e, rs in res.items():
        row[f"{e}_ms"] = round(float(np.median([x["median_ms"] for x in rs])), 3)
        row[f"{e}_min_ms"] = round(float(np.min([x["min_ms"] for x in rs])), 3)
        row[f"{e}_rounds_ms"] = [round(x["median_ms"], 2) for x in rs]
    row["compile_s"] = res["tvm"][0].get("compile_s")
    row["pick_s"] = res["tvm"][0].get("pick_s")
    row["ratio"] = round(row["tvm_ms"] / row["onnxruntime_ms"], 3)
    row["ratio_min"] = round(row["tvm_min_ms"] / row["onnxruntime_min_ms"], 3)
    ref = outs["onnxruntime"].astype(np.float64)
    row["rel_err"] = float(np.abs(outs["tvm"] - ref).max() / max(1.0, float(np.abs(ref).max())))
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenetv2"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="threads for both engines (default: cores)")
    p.add_argument("--cache-dir", default=os.path.join(ROOT, "build", "bench_models"))
    p.add_argument("--out", help="also append the rows (JSON lines) to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    threads = a.threads or max(1, len(os.sched_getaffinity(0)))
    if a.worker:
        return _worker(a.worker, a.onnx, a.repeat, a.save, threads)
    for name in a.models:
        row = bench_model(name, a.rounds, a.repeat, threads, a.cache_dir)
        row.update(date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cores=len(os.sched_getaffinity(0)))
        print(json.dumps(row), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
