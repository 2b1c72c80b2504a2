"""``nnvm-bridge bench SRC``: latency of the TVM build against onnxruntime (and MXNet for MXNet models).

    bench(src, params=None, shape=None, dtype=None, target="llvm", repeat=30, tuning=None, offload="auto",
          plot=None, threads=None, mxnet=True, rounds=3, warmup=3, quiet=False, save_dir=None) -> dict

``src`` is an ONNX file or an MXNet symbol JSON, read with ``model_files.load_model`` like every CLI
command (``params`` = its .params, found beside the symbol file when omitted; ``shape`` = {name: dims}
or a list in input order; ``dtype`` one dtype or {name: dtype}). ``tuning`` and ``offload`` are
``compile_model``'s.

Fairness (the rules of ``benchmarks/tvm_cpu.py``): the model is compiled once, here, and exported as a
library; then every engine is timed in its own fresh Python process
(``frontend_ext/tvm/bench_worker.py``), one process at a time, never two engines together -- PyTorch's
OpenMP workers behind the offloaded convs and onnxruntime's pool both spin after each call, and sharing
one process slowed them 3x. Rounds alternate the engines (onnxruntime, tvm, mxnet, onnxruntime, tvm, ...)
so that drifts in machine load hit all alike; each process warms up, times ``repeat`` runs and reports
their median, and an engine's figure is the median of its per-round medians. Every process reads the
same seeded inputs (.npz).
onnxruntime runs the ONNX file itself, or for an MXNet model the ONNX that ``to_onnx`` writes from
the same graph; MXNet runs the symbol and params. The first round's outputs are compared with TVM's
(max error relative to the output scale). An engine whose package is missing is reported in
``skipped``. ``plot`` writes a bar chart PNG (needs matplotlib).

    bench_many(srcs, plot=None, table=None, **bench_kwargs) -> list of dicts

times several models one after another (the same rules for each); a model that fails is reported with its
error and the others go on. ``format_table`` turns the results into a Markdown table (latencies, the
TVM/onnxruntime ratio, compile time, the output error, threads and load average) and ``plot`` draws TVM's
latency beside onnxruntime's (and MXNet's) for every model.
"""
from __future__ import annotations

import contextlib
import json
import numbers
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from frontend_ext.tvm import bench_worker, compat

from . import model_files
from .api import compile_model
from .errors import BridgeError, MissingDependencyError


def _import_root(module):
    """The folder that ``module``'s top package is imported from."""
    path = os.path.abspath(module.__file__)
    for _ in module.__name__.split("."):
        path = os.path.dirname(path)
    return path


WORKER_MODULE = bench_worker.__name__
WORKER_ROOT = _import_root(bench_worker)  # first on the workers' PYTHONPATH
ENGINE_ORDER = ("onnxruntime", "tvm", "mxnet")  # onnxruntime first in every round, as in benchmarks/tvm_cpu.py
STDERR_LINES = 12  # how much of a failed worker's stderr goes into the error


def _random_inputs(cm, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shape, dtype in cm.info["inputs"]:
        if np.dtype(dtype).kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max()))) if b.size else 0.0


def _outputs_err(ours, ref):
    """Largest scale-relative error over the outputs both engines return (inf if the counts differ)."""
    if len(ours) != len(ref):
        return float("inf")
    return max((_rel_err(a, b) for a, b in zip(ours, ref)), default=0.0)


def _load_npz(path):
    with np.load(path, allow_pickle=False) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not available on this OS
        return None


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def _native_stderr_muted():
    """TVM 0.27's export_library logs "Warning: Scope Saving:" lines from C++ straight to fd 2; they
    say nothing to a bench user (failures still raise CompileError with their message)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ---- one worker process ------------------------------------------------------------------------------
def _worker_env(engine, threads, forced):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (WORKER_ROOT, env.get("PYTHONPATH")) if p)
    if forced:  # --threads given: every engine gets that many threads (onnxruntime through its spec)
        if engine == "tvm":
            env["NNVM_BRIDGE_OFFLOAD_THREADS"] = env["TVM_NUM_THREADS"] = str(threads)
        elif engine == "mxnet":
            env["OMP_NUM_THREADS"] = str(threads)
    return env


def _describe_exit(code):
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _stderr_tail(text):
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return "\n".join(lines[-STDERR_LINES:]) or "(nothing on stderr)"


def run_worker(engine, spec, workdir, env, timeout=None, label=""):
    """Run one engine in a fresh process; returns its result dict (see bench_worker.py)."""
    tag = f"{engine} worker{label}"
    spec_path = os.path.join(workdir, f"spec_{engine}.json")
    result_path = os.path.join(workdir, f"result_{engine}.json")
    if os.path.exists(result_path):
        os.remove(result_path)
    with open(spec_path, "w") as f:
        json.dump(dict(spec, engine=engine, result=result_path), f)
    cmd = [sys.executable, "-m", WORKER_MODULE, spec_path]
    try:  # cwd = workdir: nothing in the user's current folder can shadow a module of the worker
        proc = subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        raise BridgeError(f"bench: the {tag} did not finish within {timeout} s; its last stderr "
                          f"lines:\n{_stderr_tail(err)}") from None
    if proc.returncode != 0:
        raise BridgeError(f"bench: the {tag} failed ({_describe_exit(proc.returncode)}); its last "
                          f"stderr lines:\n{_stderr_tail(proc.stderr)}")
    try:
        with open(result_path) as f:
            return json.load(f)
    except (OSError, ValueError):
        raise BridgeError(f"bench: the {tag} exited without a result; its last stderr lines:\n"
                          f"{_stderr_tail(proc.stderr)}") from None


# ---- the benchmark --------------------------------------------------------------------------------------
def _check_counts(repeat, rounds, warmup, threads):
    for name, value, low in (("repeat", repeat, 1), ("rounds", rounds, 1), ("warmup", warmup, 0),
                             ("threads", 1 if threads is None else threads, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise BridgeError(f"bench: {name} must be an integer >= {low}, got {value!r}")


def bench(src, params=None, shape=None, dtype=None, target="llvm", repeat=30, tuning=None, offload="auto",
          plot=None, threads=None, mxnet=True, rounds=3, warmup=3, quiet=False, save_dir=None, worker_timeout=None):
    """Time ``src`` with TVM, onnxruntime (and MXNet), each in fresh processes; returns a JSON-able dict.

    ``save_dir`` keeps the seeded inputs (inputs.npz, arrays in input order) and each engine's first-round
    outputs (<engine>_outputs.npz) there; ``worker_timeout`` bounds each worker process (seconds).
    """
    _check_counts(repeat, rounds, warmup, threads)
    repeat, rounds, warmup = int(repeat), int(rounds), int(warmup)
    threads = None if threads is None else int(threads)
    say = (lambda msg: None) if quiet else (lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    src = os.fspath(src)
    forced_threads = threads is not None
    threads = threads or compat.num_cores()
    result = {"model": os.path.basename(src), "target": str(target), "threads": threads,
              "cores": compat.num_cores(), "cpu": _cpu_name(), "rounds": rounds, "repeat": repeat, "warmup": warmup}
    t0 = time.perf_counter()
    graph, gparams, fmt, params_path = model_files.load_model(src, params, shape, dtype)
    result["import_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    cm = compile_model(graph, target=target, params=gparams, tuning=tuning, offload=offload)
    result["compile_s"] = round(time.perf_counter() - t0, 3)
    result["offload"] = list(cm.info["offload"])  # ["torch"] when conv/dense chains run in PyTorch
    feeds = _random_inputs(cm)

    with tempfile.TemporaryDirectory(prefix="nnvm_bench_") as tmp:
        out_dir = os.path.abspath(save_dir) if save_dir else tmp
        os.makedirs(out_dir, exist_ok=True)
        t0 = time.perf_counter()
        with _native_stderr_muted():
            lib = cm.export_library(os.path.join(tmp, "model.so"))
        result["export_s"] = round(time.perf_counter() - t0, 3)
        inputs_path = os.path.join(out_dir, "inputs.npz")
        np.savez(inputs_path, *feeds.values())  # positional: input names never clash with savez's own
        models = {"tvm": {"model": lib}}
        skipped = {}
        if fmt == model_files.MXNET:
            try:
                onnx_path = os.path.join(tmp, "model.onnx")
                model_files.write_onnx(graph, gparams, onnx_path)
                models["onnxruntime"] = {"model": onnx_path}
            except BridgeError as exc:
                skipped["onnxruntime"] = f"to_onnx cannot export this model: {exc}"
            if mxnet:
                models["mxnet"] = {"model": os.path.abspath(src), "params": os.path.abspath(params_path)}
        else:
            models["onnxruntime"] = {"model": os.path.abspath(src)}
        engines = [e for e in ENGINE_ORDER if e in models]
        common = {"inputs": inputs_path, "input_names": list(feeds), "repeat": repeat, "warmup": warmup,
                  "threads": threads}
        result["loadavg_before"] = _loadavg()
        say(f"compiled in {result['compile_s']} s; timing {', '.join(engines)} in fresh processes, one at a "
            f"time: {rounds} round(s) x {repeat} runs (+{warmup} warm-up), {threads} threads, load average "
            f"{result['loadavg_before']}")
        per_round = {e: [] for e in engines}
        pids = {e: [] for e in engines}
        outputs = {}
        for r in range(rounds):
            for engine in list(engines):
                save = os.path.join(out_dir, f"{engine}_outputs.npz") if r == 0 else None
                spec = dict(common, **models[engine], save=save)
                res = run_worker(engine, spec, tmp, _worker_env(engine, threads, forced_threads),
                                 timeout=worker_timeout, label=f" (round {r + 1})")
                if "skipped" in res:
                    skipped[engine] = res["skipped"]
                    engines.remove(engine)
                    say(f"round {r + 1}/{rounds} {engine:<11} skipped: {res['skipped']}")
                    continue
                per_round[engine].append(res["median_ms"])
                pids[engine].append(res["pid"])
                if save:
                    outputs[engine] = _load_npz(save)
                    result[f"{engine}_setup_s"] = res["setup_s"]
                say(f"round {r + 1}/{rounds} {engine:<11} {res['median_ms']:9.3f} ms (median of {res['runs']}, "
                    f"pid {res['pid']})")
        result["loadavg_after"] = _loadavg()
    say(f"load average {result['loadavg_before']} before, {result['loadavg_after']} after")

    ms = {e: float(np.median(per_round[e])) for e in engines}
    for e in engines:
        result[f"{e}_ms"] = round(ms[e], 5)  # 10 ns: tiny models run in ~0.01 ms
        result[f"{e}_rounds_ms"] = [round(t, 5) for t in per_round[e]]
        result[f"{e}_pids"] = pids[e]
    for e in engines:
        if e != "tvm":
            result[f"tvm_vs_{e}_err"] = _outputs_err(outputs["tvm"], outputs[e])
    for e in engines:
        if e != "tvm":
            result[f"tvm_over_{e}"] = round(ms["tvm"] / ms[e], 3)
    if skipped:
        result["skipped"] = skipped
    if save_dir:
        result["save_dir"] = out_dir
    if plot:
        _plot(ms, result["model"], plot)
        result["plot"] = plot
    return result


def bench_many(srcs, plot=None, table=None, quiet=False, **kwargs):
    """``bench`` each model of ``srcs`` in turn; a failure is kept as {"model", "error"} and the rest go on.

    ``table`` writes ``format_table``'s Markdown there, ``plot`` a PNG of every model's latencies."""
    say = (lambda msg: None) if quiet else (lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    results = []
    for i, src in enumerate(srcs):
        say(f"model {i + 1}/{len(srcs)}: {src}")
        try:
            results.append(bench(src, quiet=quiet, **kwargs))
        except BridgeError as exc:
            say(f"{src}: {exc}")
            results.append({"model": os.path.basename(os.fspath(src)), "error": str(exc)})
    if table:
        with open(table, "w") as f:
            f.write(format_table(results))
    if plot:
        _plot_many(results, plot)
    return results


def _cell(value, fmt):
    return "" if value is None else format(value, fmt)


def format_table(results):
    """A Markdown table of ``bench`` results, one row per model, and the machine underneath."""
    rows = ["| model | onnxruntime ms | nnvm_bridge (TVM) ms | TVM / onnxruntime | MXNet ms | compile s "
            "| max error vs onnxruntime | threads | load avg |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['model']} | failed: {r['error'].splitlines()[0]} |" + " |" * 7)
            continue
        load = f"{r.get('loadavg_before')} / {r.get('loadavg_after')}"
        rows.append(f"| {r['model']} | {_cell(r.get('onnxruntime_ms'), '.2f')} | {_cell(r.get('tvm_ms'), '.2f')} "
                    f"| {_cell(r.get('tvm_over_onnxruntime'), '.2f')} | {_cell(r.get('mxnet_ms'), '.2f')} "
                    f"| {_cell(r.get('compile_s'), '.1f')} | {_cell(r.get('tvm_vs_onnxruntime_err'), '.1e')} "
                    f"| {r['threads']} | {load} |")
    done = [r for r in results if "error" not in r]
    if done:
        r = done[0]
        rows.append("")
        rows.append(f"Machine: {r['cpu']}, {r['cores']} cores; target {r['target']}; median of {r['rounds']} "
                    f"round(s) x {r['repeat']} runs, each engine in its own process.")
    return "\n".join(rows) + "\n"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib (pip install matplotlib)") from None
    return plt


ENGINE_COLORS = {"onnxruntime": "#4c72b0", "tvm": "#dd8452", "mxnet": "#55a868"}


def _plot(ms, title, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(ms), list(ms.values()), color=[ENGINE_COLORS[e] for e in ms])
    ax.set_ylabel("median latency (ms)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_many(results, path):
    """Grouped bars: per model, each engine's latency relative to onnxruntime (1.0 = as fast)."""
    plt = _pyplot()
    done = [r for r in results if "error" not in r and r.get("onnxruntime_ms")]
    engines = [e for e in ENGINE_ORDER if any(f"{e}_ms" in r for r in done)]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(done) + 2), 3.5))
    width = 0.8 / max(1, len(engines))
    for k, e in enumerate(engines):
        xs = [i + (k - (len(engines) - 1) / 2) * width for i, r in enumerate(done) if f"{e}_ms" in r]
        ys = [r[f"{e}_ms"] / r["onnxruntime_ms"] for r in done if f"{e}_ms" in r]
        ax.bar(xs, ys, width, label=e, color=ENGINE_COLORS[e])
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(done)))
    ax.set_xticklabels([r["model"] for r in done], rotation=30, ha="right")
    ax.set_ylabel("latency / onnxruntime's")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
