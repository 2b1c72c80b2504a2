"""Hostile ONNX inputs: every one must end in the project's own error, quickly, naming what is wrong.

Each case is a small edit of a model that converts (``hostile_models.onnx_model``).  Every case runs
through every entry point that reads ONNX: ``frontend.from_onnx`` (path, bytes and ModelProto where
they apply), ``import_model``, ``import_to_gluon``, ``compile_model`` and the CLI (in-process
``main``; test_hostile_cli.py runs it as a subprocess).
"""
import os

import numpy as np
import pytest

import nnvm_bridge as nb
from nnvm_bridge.cli import main as cli_main
from nnvm_bridge.errors import (AttributeParseError, InvalidModelError, ParamsError, ShapeError,
                                UnsupportedOperatorError, UnsupportedOpsetError)

from hostile_models import SHAPE, clone, expect_error, find_init, find_node, onnx_model, save_onnx

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


# ---- the cases: name -> builder(tmp_path) -> (path, ModelProto or None, error class, names) ----------------
def _file(tmp_path, data: bytes, name="model.onnx"):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def case_missing_file(tmp):
    return str(tmp / "absent.onnx"), None, InvalidModelError, ["absent.onnx"]


def case_directory(tmp):
    d = tmp / "folder.onnx"
    d.mkdir()
    return str(d), None, InvalidModelError, ["folder.onnx"]


def case_empty_file(tmp):
    return _file(tmp, b""), None, InvalidModelError, ["model.onnx"]


def case_random_bytes(tmp):
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return _file(tmp, data), None, InvalidModelError, ["model.onnx"]


def case_truncated(tmp):
    data = onnx_model().SerializeToString()
    return _file(tmp, data[: len(data) * 2 // 3]), None, InvalidModelError, ["model.onnx"]


def case_op_type_not_utf8(tmp):
    """protobuf returns a string field holding invalid UTF-8 as bytes (found by fuzzing: a TypeError escaped)."""
    data = onnx_model().SerializeToString()
    assert data.count(b"\x07Flatten") == 1
    return _file(tmp, data.replace(b"\x07Flatten", b"\x07\xc6latten")), None, InvalidModelError, \
        ["flatten", "op_type", "UTF-8"]


def case_undefined_input(tmp):
    m = clone(onnx_model())
    find_node(m, "relu").input[0] = "nowhere"
    return None, m, InvalidModelError, ["relu", "nowhere"]


def case_cycle(tmp):
    m = clone(onnx_model())
    # relu reads the pool's output, which (through pool) depends on relu itself
    find_node(m, "relu").input[0] = "p"
    find_node(m, "pool").input[0] = "r"
    return None, m, InvalidModelError, ["cycle"]


def case_two_unknown_ops(tmp):
    m = clone(onnx_model())
    find_node(m, "relu").op_type = "FancyRelu"
    find_node(m, "pool").op_type = "MysteryPool"
    return None, m, UnsupportedOperatorError, ["FancyRelu", "MysteryPool", "relu", "pool"]


def case_attr_wrong_type(tmp):
    m = clone(onnx_model())
    conv = find_node(m, "conv")
    del conv.attribute[:]
    conv.attribute.extend([helper.make_attribute("kernel_shape", "3, 3"), helper.make_attribute("pads", [1, 1, 1, 1])])
    return None, m, AttributeParseError, ["conv", "kernel_shape"]


def case_attr_nonsense(tmp):
    m = clone(onnx_model())
    conv = find_node(m, "conv")
    conv.attribute.extend([helper.make_attribute("strides", [0, -2])])
    return None, m, InvalidModelError, ["conv", "strides"]


def case_initializer_bytes_mismatch(tmp):
    m = clone(onnx_model())
    w = find_init(m, "W")
    w.raw_data = w.raw_data[:-12]  # 105 floats for dims (4, 3, 3, 3)
    return None, m, ParamsError, ["W"]


def case_no_default_opset(tmp):
    m = clone(onnx_model())
    del m.opset_import[:]
    m.opset_import.extend([helper.make_opsetid("ai.onnx.ml", 3)])
    return None, m, UnsupportedOpsetError, ["opset"]


def case_opset_too_new(tmp):
    m = clone(onnx_model())
    m.opset_import[0].version = 99
    return None, m, UnsupportedOpsetError, ["99"]


def case_weight_wrong_rank(tmp):
    m = clone(onnx_model())
    w = find_init(m, "W")
    w.CopyFrom(onnx.numpy_helper.from_array(np.ones((4, 27), np.float32), "W"))
    return None, m, ShapeError, ["conv"]


def case_weight_wrong_shape(tmp):
    m = clone(onnx_model())
    w = find_init(m, "W2")
    w.CopyFrom(onnx.numpy_helper.from_array(np.ones((10, 5), np.float32), "W2"))
    return None, m, ShapeError, ["fc"]


def case_no_outputs(tmp):
    m = clone(onnx_model())
    del m.graph.output[:]
    return None, m, InvalidModelError, ["output"]


def _external(tmp, location, make_target=True):
    """W's bytes point at ``location``; a real file with the right bytes sits there (or a FIFO,
    which would block any reader forever, so 'refused without reading' is tested too)."""
    m = clone(onnx_model())
    w = find_init(m, "W")
    arr = onnx.numpy_helper.to_array(w)
    model_dir = tmp / "model"
    model_dir.mkdir()
    target = location if os.path.isabs(location) else str(model_dir / location)
    if make_target:
        os.mkfifo(target)
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(arr.nbytes))):
        e = w.external_data.add()
        e.key, e.value = k, v
    return save_onnx(m, model_dir / "model.onnx"), None, ParamsError, ["W", "outside"]


def case_external_parent_dir(tmp):
    return _external(tmp, "../secret.bin")


def case_external_absolute(tmp):
    return _external(tmp, str(tmp / "abs_secret.bin"))


def case_external_deep_parent(tmp):
    return _external(tmp, "sub/../../../../../../etc/passwd", make_target=False)


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def _materialise(case, tmp_path):
    path, model, err, names = CASES[case](tmp_path)
    if path is None:
        path = save_onnx(model, tmp_path / "edited.onnx")
    return path, model, err, names


# ---- entry points ----------------------------------------------------------------------------------
def test_valid_model_converts(tmp_path):
    """The base model is fine: every hostile case below fails because of its one edit."""
    path = save_onnx(onnx_model(), tmp_path / "ok.onnx")
    graph, params = nb.frontend.from_onnx(path)
    assert {"W", "B", "W2"} <= set(params) and len(graph.op_nodes()) >= 4
    assert cli_main(["convert", "-q", path, "-o", str(tmp_path / "ok_mx")]) == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_from_onnx_path(case, tmp_path):
    path, _, err, names = _materialise(case, tmp_path)
    expect_error(lambda: nb.frontend.from_onnx(path), err, *names)


@pytest.mark.parametrize("case", sorted(set(CASES) - {"missing_file", "directory"}))  # these have no bytes
def test_from_onnx_in_memory(case, tmp_path):
    """The same edits given as a ModelProto and as bytes (file-system cases only as bytes)."""
    path, model, err, names = _materialise(case, tmp_path)
    if case.startswith("external"):
        # no folder to resolve against: refused as well, without reading anything
        err, names = ParamsError, ["W"]
    if model is not None:
        expect_error(lambda: nb.frontend.from_onnx(model), err, *names)
    with open(path, "rb") as f:
        data = f.read()
    names = [n for n in names if not n.endswith(".onnx")]
    expect_error(lambda: nb.frontend.from_onnx(data), err, *names)


def test_input_shape_of_wrong_rank(tmp_path):
    path = save_onnx(onnx_model(), tmp_path / "m.onnx")
    expect_error(lambda: nb.frontend.from_onnx(path, shape={"x": (1, 3, 8)}), ShapeError, "conv")
    expect_error(lambda: nb.frontend.from_onnx(path, shape={"nope": SHAPE}), ShapeError, "nope")


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_convert(case, tmp_path, capsys):
    path, _, _, names = _materialise(case, tmp_path)
    code = cli_main(["convert", "-q", path, "-o", str(tmp_path / "out_mx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("nnvm-bridge: error: "), err
    assert "Traceback" not in err[0]
    for n in names:
        assert n in err[0], (n, err[0])


@pytest.mark.parametrize("case", ["random_bytes", "cycle", "two_unknown_ops", "external_parent_dir",
                                  "initializer_bytes_mismatch", "opset_too_new"])
def test_import_model(case, tmp_path):
    pytest.importorskip("mxnet")
    path, _, err, names = _materialise(case, tmp_path)
    expect_error(lambda: nb.import_model(path), err, *names)
    expect_error(lambda: nb.import_to_gluon(path), err, *names)


@pytest.mark.parametrize("case", ["truncated", "undefined_input", "two_unknown_ops", "external_absolute",
                                  "weight_wrong_shape", "no_outputs"])
def test_compile_model(case, tmp_path):
    pytest.importorskip("tvm")
    path, _, err, names = _materialise(case, tmp_path)
    expect_error(lambda: nb.compile_model(path), err, *names, seconds=30)
