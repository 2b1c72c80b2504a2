"""``nnvm-bridge bench``: every engine timed in its own fresh process, outputs compared, clear failures.

Real executors only: the bench's workers run TVM, onnxruntime and MXNet in child processes, and these
tests recompute the references here (onnxruntime / MXNet on the inputs the bench saved). Engines are made
to crash or to be missing by putting a stand-in ``onnxruntime`` module first on the workers' PYTHONPATH.
"""
import json
import os

import numpy as np
import pytest

from nnvm_bridge.cli import main as cli_main
from nnvm_bridge.errors import BridgeError
from tolerance import assert_close

pytest.importorskip("tvm")
bench_mod = pytest.importorskip("nnvm_bridge.bench")
onnx = pytest.importorskip("onnx")

FAST = dict(repeat=2, warmup=1, quiet=True)


def _npz(path):
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


@pytest.fixture(scope="module")
def two_output_onnx(tmp_path_factory):
    """x -> Conv -> Relu (output 1) -> GlobalAveragePool -> Flatten -> Gemm (output 2), random weights."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    fc = numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["feat"]),
             helper.make_node("GlobalAveragePool", ["feat"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["logits"])]
    graph = helper.make_graph(nodes, "two_out", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 4, 8, 8]),
                               helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5])], [w, b, fc])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path_factory.mktemp("bench_onnx") / "two_out.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def onnx_run(two_output_onnx, tmp_path_factory):
    """One bench of the ONNX model: 2 rounds, inputs and outputs kept."""
    pytest.importorskip("onnxruntime")
    save = tmp_path_factory.mktemp("bench_save")
    res = bench_mod.bench(two_output_onnx, rounds=2, save_dir=save, **FAST)
    return res, save


def test_each_engine_and_round_runs_in_its_own_fresh_process(onnx_run):
    res, _ = onnx_run
    pids = res["onnxruntime_pids"] + res["tvm_pids"]
    assert len(res["onnxruntime_pids"]) == len(res["tvm_pids"]) == 2
    assert os.getpid() not in pids
    assert len(set(pids)) == 4  # a fresh process per engine and round, none shared
    for engine in ("onnxruntime", "tvm"):
        rounds = res[f"{engine}_rounds_ms"]
        assert len(rounds) == 2 and all(t > 0 for t in rounds)
        assert res[f"{engine}_ms"] == pytest.approx(float(np.median(rounds)), abs=2e-3)
    assert res["tvm_over_onnxruntime"] == pytest.approx(res["tvm_ms"] / res["onnxruntime_ms"], rel=0.01)
    assert res["rounds"] == 2 and res["repeat"] == 2 and res["threads"] >= 1
    assert res["loadavg_before"] is not None and res["loadavg_after"] is not None
    assert "skipped" not in res


def test_outputs_agree_with_onnxruntime_on_the_saved_inputs(onnx_run, two_output_onnx):
    import onnxruntime as ort

    res, save = onnx_run
    (x,) = _npz(save / "inputs.npz")
    assert x.shape == (1, 3, 8, 8) and x.dtype == np.float32
    sess = ort.InferenceSession(str(two_output_onnx), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})
    tvm_out = _npz(save / "tvm_outputs.npz")
    assert len(tvm_out) == len(ref) == 2  # every output is compared, not only the first
    for ours, expected in zip(tvm_out, ref):
        assert_close(ours, expected, tol=1e-4)
    for theirs, expected in zip(_npz(save / "onnxruntime_outputs.npz"), ref):
        assert_close(theirs, expected, tol=1e-6)
    assert 0 <= res["tvm_vs_onnxruntime_err"] <= 1e-4


@pytest.fixture(scope="module")
def mx_model(tmp_path_factory):
    """A small conv net saved as prefix-symbol.json + prefix-0000.params."""
    mx = pytest.importorskip("mxnet")
    folder = tmp_path_factory.mktemp("bench_mx")
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), name="conv0")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    sym = mx.sym.FullyConnected(mx.sym.Flatten(x), num_hidden=6, name="fc0")
    arg_shapes, _, aux_shapes = sym.infer_shape(data=(1, 3, 6, 6))
    rng = np.random.default_rng(2)
    args = {n: mx.nd.array(rng.standard_normal(s).astype(np.float32) * 0.5)
            for n, s in zip(sym.list_arguments(), arg_shapes) if n != "data"}
    aux = {n: mx.nd.array(rng.random(s).astype(np.float32) + 0.5)
           for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    prefix = str(folder / "net")
    sym.save(prefix + "-symbol.json")
    mx.nd.save(prefix + "-0000.params", {**{f"arg:{k}": v for k, v in args.items()},
                                         **{f"aux:{k}": v for k, v in aux.items()}})
    return {"sym": sym, "args": args, "aux": aux, "json": prefix + "-symbol.json"}


def test_mxnet_source_gets_an_mxnet_row(mx_model, tmp_path):
    mx = pytest.importorskip("mxnet")
    res = bench_mod.bench(mx_model["json"], shape={"data": (1, 3, 6, 6)}, rounds=1, save_dir=tmp_path, **FAST)
    assert res["mxnet_ms"] > 0 and res["tvm_ms"] > 0
    assert len(res["mxnet_pids"]) == 1 and res["mxnet_pids"][0] != os.getpid()
    assert res["tvm_vs_mxnet_err"] <= 1e-4
    # MXNet's own executor, here, on the inputs the workers read
    (x,) = _npz(tmp_path / "inputs.npz")
    exe = mx_model["sym"].bind(mx.cpu(), {"data": mx.nd.array(x), **mx_model["args"]}, aux_states=mx_model["aux"],
                               grad_req="null")
    ref = exe.forward(is_train=False)[0].asnumpy()
    assert_close(_npz(tmp_path / "mxnet_outputs.npz")[0], ref, tol=1e-5)
    assert_close(_npz(tmp_path / "tvm_outputs.npz")[0], ref, tol=1e-4)
    if "onnxruntime" not in res.get("skipped", {}):  # the ONNX that to_onnx wrote, run by onnxruntime
        assert_close(_npz(tmp_path / "onnxruntime_outputs.npz")[0], ref, tol=1e-4)


def _fake_onnxruntime(folder, body):
    folder.mkdir(exist_ok=True)
    (folder / "onnxruntime.py").write_text(body)
    return str(folder)


def test_worker_crash_is_a_bridge_error_naming_the_engine(two_output_onnx, tmp_path, monkeypatch):
    body = ("import os, signal, sys\nsys.stderr.write('fake onnxruntime: about to die\\n')\nsys.stderr.flush()\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    monkeypatch.setenv("PYTHONPATH", _fake_onnxruntime(tmp_path / "fake", body))
    with pytest.raises(BridgeError) as exc:
        bench_mod.bench(two_output_onnx, rounds=1, **FAST)
    msg = str(exc.value)
    assert "onnxruntime worker" in msg and "SIGKILL" in msg
    assert "fake onnxruntime: about to die" in msg  # the worker's last stderr lines


def test_offload_choice_reaches_the_compiled_library(two_output_onnx, capsys):
    """`bench --offload off` (like `compile --offload off`) times a pure-TVM build, as the default does;
    `--offload on` runs the conv/dense chains in PyTorch."""
    pytest.importorskip("torch")
    rc = cli_main(["-q", "bench", str(two_output_onnx), "--repeat", "2", "--rounds", "1", "--offload", "off", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    res = json.loads(out.strip().splitlines()[-1])
    assert res["offload"] == [] and res["tvm_vs_onnxruntime_err"] <= 1e-4
    assert bench_mod.bench(two_output_onnx, rounds=1, **FAST)["offload"] == []
    assert bench_mod.bench(two_output_onnx, rounds=1, offload=True, **FAST)["offload"] == ["torch"]


def test_worker_traceback_is_one_cli_error_line(two_output_onnx, tmp_path, monkeypatch, capsys):
    body = "raise RuntimeError('fake onnxruntime is broken')\n"
    monkeypatch.setenv("PYTHONPATH", _fake_onnxruntime(tmp_path / "fake", body))
    rc = cli_main(["-q", "bench", str(two_output_onnx), "--repeat", "2", "--rounds", "1"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1, err  # -q: no progress lines, only the error
    assert lines[0].startswith("nnvm-bridge: error: bench: the onnxruntime worker (round 1) failed (exit status 1)")
    assert "RuntimeError: fake onnxruntime is broken" in lines[0]


def test_missing_engine_is_skipped_not_a_crash(two_output_onnx, tmp_path, monkeypatch, capsys):
    body = "raise ImportError('no onnxruntime in this test')\n"
    monkeypatch.setenv("PYTHONPATH", _fake_onnxruntime(tmp_path / "fake", body))
    rc = cli_main(["bench", str(two_output_onnx), "--repeat", "2", "--rounds", "2", "--warmup", "1", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert "no onnxruntime in this test" in res["skipped"]["onnxruntime"]
    assert "onnxruntime_ms" not in res and "tvm_vs_onnxruntime_err" not in res
    assert len(res["tvm_rounds_ms"]) == 2 and res["tvm_ms"] > 0
    # progress on stderr: one line per round and engine; a skipped engine is tried once
    assert sum("onnxruntime" in ln and "skipped" in ln for ln in err.splitlines()) == 1
    assert sum(ln.startswith(f"bench: round {r}/2 tvm") for ln in err.splitlines() for r in (1, 2)) == 2


@pytest.mark.parametrize("kwargs, word", [({"rounds": 0}, "rounds"), ({"repeat": 0}, "repeat"),
                                          ({"warmup": -1}, "warmup"), ({"threads": 0}, "threads")])
def test_bad_counts_are_rejected_before_compiling(two_output_onnx, kwargs, word):
    with pytest.raises(BridgeError, match=word):
        bench_mod.bench(two_output_onnx, **kwargs)


def test_bench_takes_the_model_arguments_of_compile(monkeypatch, capsys):
    """`bench` is an ordinary subcommand: positional shapes, --input-type and one --offload, as for `compile`."""
    seen = {}
    monkeypatch.setattr(bench_mod, "bench", lambda src, **kw: seen.update(kw, src=src) or {"tvm_ms": 1.0})
    rc = cli_main(["-q", "bench", "m.onnx", "--input-shape", "1,3,8,8", "--input-type", "float16", "--offload", "off",
                   "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out) == {"tvm_ms": 1.0}
    assert seen["src"] == "m.onnx" and seen["shape"] == [(1, 3, 8, 8)] and seen["dtype"] == "float16"
    assert seen["offload"] is False and seen["quiet"] is True
    with pytest.raises(SystemExit) as exc:  # --offload off is the one spelling
        cli_main(["bench", "m.onnx", "--no-offload"])
    assert exc.value.code == 2


def test_several_models_give_one_table_and_one_plot(two_output_onnx, tmp_path, capsys):
    """`bench a.onnx b.onnx missing.onnx --table --plot`: every model timed in turn, a failure reported in its
    row (exit status 1) without stopping the others, the table's figures those of the JSON results."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("matplotlib")
    from onnx import TensorProto, helper

    second = tmp_path / "relu.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(second))
    table, plot = tmp_path / "bench.md", tmp_path / "bench.png"
    rc = cli_main(["-q", "bench", str(two_output_onnx), str(second), str(tmp_path / "missing.onnx"),
                   "--repeat", "2", "--rounds", "1", "--warmup", "1", "--table", str(table), "--plot", str(plot),
                   "--json"])
    results = json.loads(capsys.readouterr().out)
    assert rc == 1 and [r["model"] for r in results] == ["two_out.onnx", "relu.onnx", "missing.onnx"]
    assert "error" in results[2] and "missing.onnx" in results[2]["error"]
    text = table.read_text().splitlines()
    assert text[0].startswith("| model | onnxruntime ms | nnvm_bridge (TVM) ms | TVM / onnxruntime")
    for row, res in zip(text[2:4], results[:2]):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == res["model"] and float(cells[3]) == pytest.approx(res["tvm_over_onnxruntime"], abs=0.01)
        assert res["tvm_vs_onnxruntime_err"] <= 1e-4 and int(cells[7]) == res["threads"]
    assert text[4].startswith("| missing.onnx | failed:")
    assert "cores" in text[-1] and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_params_take_one_model(capsys):
    rc = cli_main(["-q", "bench", "a-symbol.json", "b-symbol.json", "--params", "a.params"])
    assert rc == 2 and "--params and --save-dir take one model" in capsys.readouterr().err
