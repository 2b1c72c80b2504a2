"""The nnvm-bridge command line: convert both ways, inspect, compile/run, errors, help.

Numbers are checked with real executors: MXNet computes the reference, onnxruntime runs the
exported ONNX file, MXNet runs the re-imported symbol, TVM runs the compiled library.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnvm_bridge import model_files
from nnvm_bridge.cli import main
from tolerance import assert_close as close  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (2, 3, 8, 8)


@pytest.fixture(scope="module")
def mx_model(tmp_path_factory):
    """A small conv net saved as prefix-symbol.json + prefix-0007.params, with MXNet's own output."""
    mx = pytest.importorskip("mxnet")
    folder = tmp_path_factory.mktemp("mxmodel")
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name="conv0")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    x = mx.sym.FullyConnected(mx.sym.Flatten(x), num_hidden=10, name="fc0")
    sym = mx.sym.softmax(x, name="prob")
    arg_shapes, _, aux_shapes = sym.infer_shape(data=SHAPE)
    rng = np.random.default_rng(0)
    args = {n: rng.standard_normal(s).astype(np.float32) * 0.5
            for n, s in zip(sym.list_arguments(), arg_shapes) if n != "data"}
    aux = {n: (rng.random(s).astype(np.float32) + 0.5) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    prefix = str(folder / "tiny")
    sym.save(prefix + "-symbol.json")
    saved = {f"arg:{k}": mx.nd.array(v) for k, v in args.items()}
    saved.update({f"aux:{k}": mx.nd.array(v) for k, v in aux.items()})
    mx.nd.save(prefix + "-0007.params", saved)
    x_in = rng.standard_normal(SHAPE).astype(np.float32)
    exe = sym.bind(mx.cpu(), {"data": mx.nd.array(x_in), **{k: mx.nd.array(v) for k, v in args.items()}},
                   aux_states={k: mx.nd.array(v) for k, v in aux.items()}, grad_req="null")
    ref = exe.forward(is_train=False)[0].asnumpy()
    np.save(folder / "x.npy", x_in)
    return {"prefix": prefix, "json": prefix + "-symbol.json", "params": prefix + "-0007.params", "x": x_in,
            "ref": ref, "folder": folder, "n_params": len(args) + len(aux),
            "param_bytes": sum(v.nbytes for v in args.values()) + sum(v.nbytes for v in aux.values())}


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def ort_run(path, x):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def onnx_file(mx_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["-q", "convert", mx_model["json"], "-o", str(out), "--input-shape", "data:2,3,8,8"]) == 0
    return out


# ---- naming rules --------------------------------------------------------------------------------------------
def test_params_file_found_beside_symbol(tmp_path):
    for name in ("m-symbol.json", "m-0001.params", "m-0012.params", "m-0003.params", "mm-0099.params"):
        (tmp_path / name).write_bytes(b"")
    assert model_files.find_mxnet_params(tmp_path / "m-symbol.json") == str(tmp_path / "m-0012.params")
    (tmp_path / "n.json").write_bytes(b"")
    assert model_files.find_mxnet_params(tmp_path / "n.json") is None
    (tmp_path / "n.params").write_bytes(b"")
    assert model_files.find_mxnet_params(tmp_path / "n.json") == str(tmp_path / "n.params")
    assert model_files.mxnet_output_paths("out/model") == ("out/model-symbol.json", "out/model-0000.params")
    assert model_files.mxnet_output_paths("out/model-symbol.json")[1] == "out/model-0000.params"


# ---- convert ---------------------------------------------------------------------------------------------------
def test_convert_mxnet_to_onnx_matches_mxnet(mx_model, onnx_file):
    close(ort_run(onnx_file, mx_model["x"]), mx_model["ref"])


def test_convert_options_opset_and_dynamic_batch(mx_model, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "dyn.onnx"
    rc, _, err = run_cli(capsys, "convert", mx_model["json"], "-o", out, "--input-shape", "1,3,8,8",
                         "--opset", "13", "--dynamic-batch", "--params", mx_model["params"])
    assert rc == 0, err
    assert "wrote" in err and "opset 13" in err  # progress on stderr
    model = onnx.load(str(out))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    close(ort_run(out, mx_model["x"]), mx_model["ref"])  # batch 2 runs on a file exported for batch 1


def test_convert_onnx_to_mxnet_runs_in_mxnet(mx_model, onnx_file, tmp_path, capsys):
    mx = pytest.importorskip("mxnet")
    pytest.importorskip("frontend_ext.mxnet.to_mxnet")
    rc, _, err = run_cli(capsys, "convert", onnx_file, "-o", tmp_path / "back")
    assert rc == 0, err
    sym = mx.sym.load(str(tmp_path / "back-symbol.json"))
    saved = mx.nd.load(str(tmp_path / "back-0000.params"))
    args = {k[4:]: v for k, v in saved.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in saved.items() if k.startswith("aux:")}
    data_name = [n for n in sym.list_arguments() if n not in args][0]
    args[data_name] = mx.nd.array(mx_model["x"])
    exe = sym.bind(mx.cpu(), args, aux_states=aux, grad_req="null")
    close(exe.forward(is_train=False)[0].asnumpy(), mx_model["ref"])


def test_python_dash_m_converts(mx_model, tmp_path):
    out = tmp_path / "m.onnx"
    proc = subprocess.run([sys.executable, "-m", "nnvm_bridge", "convert", mx_model["json"], "-o", str(out),
                           "--input-shape", "data:2,3,8,8"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    close(ort_run(out, mx_model["x"]), mx_model["ref"])


# ---- inspect ---------------------------------------------------------------------------------------------------
def test_inspect_json_report(mx_model, capsys):
    rc, out, err = run_cli(capsys, "inspect", mx_model["json"], "--input-shape", "data:2,3,8,8", "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["format"] == "mxnet" and info["params_file"] == mx_model["params"]
    assert info["inputs"] == [{"name": "data", "shape": [2, 3, 8, 8], "dtype": "float32"}]
    assert len(info["outputs"]) == 1 and info["outputs"][0]["shape"] == [2, 10]
    assert info["num_params"] == mx_model["n_params"]
    assert info["param_bytes"] == mx_model["param_bytes"]
    assert info["op_counts"].get("conv2d") == 1 and info["op_counts"].get("dense") == 1
    assert sum(info["op_counts"].values()) == info["num_ops"]
    assert info["unsupported_for_onnx_export"] == {}


def test_inspect_text_onnx(onnx_file, capsys):
    rc, out, err = run_cli(capsys, "inspect", onnx_file)
    assert rc == 0, err
    assert "inputs:" in out and "(2, 3, 8, 8) float32" in out
    assert "outputs:" in out and "(2, 10) float32" in out
    assert "conv2d" in out and "parameters:" in out


# ---- compile / run (TVM) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["onnx", "mxnet"])
def test_compile_and_run_with_tvm(source, mx_model, onnx_file, tmp_path, capsys):
    pytest.importorskip("tvm")
    pytest.importorskip("frontend_ext.tvm.compile")
    lib = tmp_path / "tiny.so"
    src = [onnx_file] if source == "onnx" else [mx_model["json"], "--input-shape", "2,3,8,8"]
    rc, _, err = run_cli(capsys, "compile", *src, "--target", "llvm", "-o", lib)
    assert rc == 0, err
    assert "see docs/deploy.md" in err  # where to go next: deploying with TVM alone
    rc, out, err = run_cli(capsys, "run", lib, "--input", f"data={mx_model['folder'] / 'x.npy'}",
                           "-o", tmp_path / "y.npy")
    assert rc == 0, err
    assert "output 0: shape (2, 10) float32" in out
    close(np.load(tmp_path / "y.npy"), mx_model["ref"])


def test_compile_offload_choice_is_reported_and_recorded(onnx_file, tmp_path, capsys):
    """--offload on: conv/dense chains run in PyTorch, said on stderr and recorded in the meta file;
    default (auto) and --offload off: a pure-TVM library, nothing said, the meta file lists no offload."""
    import json

    pytest.importorskip("tvm")
    pytest.importorskip("torch")
    for choice, expect in (("on", ["torch"]), ("auto", []), ("off", [])):
        lib = tmp_path / f"tiny_{choice}.so"
        rc, _, err = run_cli(capsys, "compile", onnx_file, "-o", lib, "--offload", choice)
        assert rc == 0, err
        assert ("run in PyTorch" in err) == bool(expect), err
        assert json.loads((tmp_path / f"tiny_{choice}.so.meta.json").read_text())["offload"] == expect


def test_bench_times_tvm_against_onnxruntime(onnx_file, capsys):
    pytest.importorskip("tvm")
    rc, out, err = run_cli(capsys, "bench", onnx_file, "--repeat", "2", "--json")
    assert rc == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["tvm_ms"] > 0 and res["onnxruntime_ms"] > 0
    assert res["tvm_vs_onnxruntime_err"] <= 1e-4


# ---- errors: one line, exit 2 ----------------------------------------------------------------------------------
def _one_error_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("nnvm-bridge: error: ")
    return lines[0]


def test_missing_file(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "-q", "convert", tmp_path / "nope.onnx")
    assert rc == 2
    assert "nope.onnx" in _one_error_line(err)


def test_unknown_extension(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "-q", "inspect", tmp_path / "model.pb")
    assert rc == 2 and "model.pb" in _one_error_line(err)


def test_corrupt_onnx(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage\xff\xff\xff not a protobuf")
    rc, _, err = run_cli(capsys, "-q", "inspect", bad)
    assert rc == 2 and "bad.onnx" in _one_error_line(err)


def test_corrupt_symbol_json(tmp_path, capsys):
    bad = tmp_path / "bad-symbol.json"
    bad.write_text('{"nodes": [ {"op": "null", ')
    from nnvm_bridge.ir.params import save_params

    save_params(str(tmp_path / "bad-0000.params"), {})
    rc, _, err = run_cli(capsys, "-q", "convert", bad, "-o", tmp_path / "bad.onnx")
    assert rc == 2 and "bad-symbol.json" in _one_error_line(err)


def test_missing_params_file(tmp_path, capsys, mx_model):
    lonely = tmp_path / "lonely-symbol.json"
    lonely.write_text(open(mx_model["json"]).read())
    rc, _, err = run_cli(capsys, "-q", "convert", lonely)
    assert rc == 2 and "--params" in _one_error_line(err)


def test_unknown_op_names_node_and_op(tmp_path, capsys):
    sym = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                     {"op": "NoSuchOperator", "name": "weird_node", "inputs": [[0, 0, 0]]}],
           "arg_nodes": [0], "node_row_ptr": [0, 1, 2], "heads": [[1, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}}
    path = tmp_path / "odd-symbol.json"
    path.write_text(json.dumps(sym))
    from nnvm_bridge.ir.params import save_params

    save_params(str(tmp_path / "odd-0000.params"), {})
    rc, _, err = run_cli(capsys, "-q", "convert", path, "--input-shape", "data:1,2")
    line = _one_error_line(err)
    assert rc == 2 and "NoSuchOperator" in line and "weird_node" in line


def test_input_shape_for_unknown_input(mx_model, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "-q", "convert", mx_model["json"], "-o", tmp_path / "x.onnx",
                         "--input-shape", "image:1,3,8,8")
    assert rc == 2 and "image" in _one_error_line(err)


def test_run_missing_npy(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "-q", "run", tmp_path / "model.so", "--input", f"data={tmp_path / 'x.npy'}")
    assert rc == 2 and "x.npy" in _one_error_line(err)


def test_verbose_adds_traceback(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "--verbose", "-q", "convert", tmp_path / "nope.onnx")
    assert rc == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("nnvm-bridge: error: ")


@pytest.mark.parametrize("argv", [["convert"], ["convert", "m.onnx", "--input-shape", "data:1,a"],
                                  ["run", "m.so", "--input", "no_equals_sign"], ["frobnicate"],
                                  ["inspect", "m.onnx", "--no-such-option"],
                                  ["compile", "m.onnx", "-o", "m.so", "--target", "vulkan"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_process_exit_status_is_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nnvm_bridge", "inspect", str(tmp_path / "none.onnx")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("nnvm-bridge: error: ")
    assert "Traceback" not in proc.stderr


# ---- help / version --------------------------------------------------------------------------------------------
def test_help_lists_commands_and_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("convert", "inspect", "compile", "run", "bench", "examples:", "--input-shape"):
        assert word in out, word


@pytest.mark.parametrize("command", ["convert", "inspect", "compile", "run", "bench"])
def test_subcommand_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"nnvm-bridge {command}" in out
    assert "--repeat" in out if command == "bench" else "example" in out


def test_version(capsys):
    import nnvm_bridge

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"nnvm-bridge {nnvm_bridge.__version__}"


def test_describe_lists_ops_the_onnx_exporter_lacks():
    pytest.importorskip("frontend_ext.onnx.exporter")
    from nnvm_bridge.cli import describe
    from nnvm_bridge.ir import Graph, Node, variable

    data = variable("data", {"__shape__": "(1, 3, 4, 4)"})
    relu = Node("relu", "act", [data[0]])
    anchors = Node("multibox_prior", "anchors", [relu[0]])
    info = describe(Graph([relu[0], anchors[0]]), {})
    assert info["unsupported_for_onnx_export"] == {"multibox_prior": ["anchors"]}
    assert info["op_counts"] == {"multibox_prior": 1, "relu": 1}
    assert info["inputs"] == [{"name": "data", "shape": [1, 3, 4, 4], "dtype": "float32"}]
