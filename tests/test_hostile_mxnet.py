"""Hostile MXNet inputs (symbol JSON and .params): each must end in the project's own error, quickly,
naming the file, node and op involved.

Each case is a small edit of a model that converts (``hostile_models.mxnet_symbol``/``mxnet_params``)
and runs through every entry point that reads MXNet files: ``frontend.from_mxnet`` (paths, and
JSON text plus a params dict where that applies), ``export_model``, ``compile_model`` and the CLI.
"""
import json

import numpy as np
import pytest

import nnvm_bridge as nb
from nnvm_bridge.cli import main as cli_main
from nnvm_bridge.errors import (AttributeParseError, InvalidModelError, ParamsError, ShapeError,
                                UnsupportedOperatorError)
from nnvm_bridge.ir.params import params_to_bytes

from hostile_models import SHAPE, expect_error, mxnet_params, mxnet_symbol, node_index, write_mxnet

SHAPES = {"data": SHAPE}


class Case:
    """A symbol (dict, or raw text/bytes) and params (dict, or raw bytes) plus what must be raised.

    ``file_kind`` says which file the error must name: "json", "params" or None."""

    def __init__(self, error, names, sym=None, params=None, file_kind=None, shape=None):
        self.error, self.names, self.file_kind = error, list(names), file_kind
        self.sym = mxnet_symbol() if sym is None else sym
        self.params = mxnet_params() if params is None else params
        self.shape = SHAPES if shape is None else shape

    def write(self, folder):
        """-> (json path, params path); raw values are written as given."""
        json_path, params_path = f"{folder}/net-symbol.json", f"{folder}/net-0000.params"
        sym = self.sym if isinstance(self.sym, (str, bytes)) else json.dumps(self.sym)
        with open(json_path, "wb") as f:
            f.write(sym.encode() if isinstance(sym, str) else sym)
        with open(params_path, "wb") as f:
            f.write(self.params if isinstance(self.params, bytes) else params_to_bytes(self.params))
        names = list(self.names)
        if self.file_kind:
            names.append({"json": "net-symbol.json", "params": "net-0000.params"}[self.file_kind])
        return json_path, params_path, names


def _edit(fn):
    sym = mxnet_symbol()
    fn(sym)
    return sym


def _set_attr(node, key, value):
    def edit(sym):
        sym["nodes"][node_index(sym, node)]["attrs"][key] = value
    return _edit(edit)


def _params_without(name):
    p = mxnet_params()
    del p[name]
    return p


def _params_with(name, value):
    p = mxnet_params()
    p[name] = value
    return p


def _rename_ops(sym):
    sym["nodes"][node_index(sym, "relu")]["op"] = "FancyActivation"
    sym["nodes"][node_index(sym, "prob")]["op"] = "_contrib_Mystery"


def _index_out_of_range(sym):
    sym["nodes"][node_index(sym, "fc")]["inputs"][0] = [99, 0, 0]


def _output_out_of_range(sym):
    sym["nodes"][node_index(sym, "relu")]["inputs"][0] = [node_index(sym, "bn"), 7, 0]


def _cycle(sym):
    # conv reads relu's output: a forward reference, which in MXNet's DFS-ordered JSON means a cycle
    sym["nodes"][node_index(sym, "conv")]["inputs"][0] = [node_index(sym, "relu"), 0, 0]


def _no_heads(sym):
    sym["heads"] = []


_VALID_TEXT = json.dumps(mxnet_symbol())
_VALID_PARAMS = params_to_bytes(mxnet_params())

CASES = {
    "json_empty_file": Case(InvalidModelError, [], sym="", file_kind="json"),
    "json_random_bytes": Case(InvalidModelError, [], file_kind="json",
                              sym=np.random.default_rng(2).integers(0, 256, 2048, dtype=np.uint8).tobytes()),
    "json_truncated": Case(InvalidModelError, [], sym=_VALID_TEXT[: len(_VALID_TEXT) // 2], file_kind="json"),
    "json_deeply_nested": Case(InvalidModelError, [], sym='{"nodes": ' + "[" * 200000 + "]" * 200000 + "}",
                               file_kind="json"),
    "json_not_an_object": Case(InvalidModelError, [], sym="[1, 2, 3]", file_kind="json"),
    "json_input_index_out_of_range": Case(InvalidModelError, ["fc", "99"], sym=_edit(_index_out_of_range),
                                          file_kind="json"),
    "json_output_index_out_of_range": Case(InvalidModelError, ["relu"], sym=_edit(_output_out_of_range),
                                           file_kind="json"),
    "json_cycle": Case(InvalidModelError, ["conv"], sym=_edit(_cycle), file_kind="json"),
    "json_two_unknown_ops": Case(UnsupportedOperatorError, ["FancyActivation", "_contrib_Mystery", "relu", "prob"],
                                 sym=_edit(_rename_ops), file_kind="json"),
    "json_no_outputs": Case(InvalidModelError, ["heads"], sym=_edit(_no_heads), file_kind="json"),
    "attr_kernel_not_numbers": Case(AttributeParseError, ["conv", "kernel", "(a, b)"],
                                    sym=_set_attr("conv", "kernel", "(a, b)")),
    "attr_num_filter_negative": Case(AttributeParseError, ["conv", "num_filter"],
                                     sym=_set_attr("conv", "num_filter", "-3")),
    "attr_bool_nonsense": Case(AttributeParseError, ["bn", "fix_gamma"], sym=_set_attr("bn", "fix_gamma", "maybe")),
    "attr_act_type_unknown": Case(AttributeParseError, ["relu", "act_type"],
                                  sym=_set_attr("relu", "act_type", "not_an_activation")),
    "params_empty_file": Case(ParamsError, [], params=b"", file_kind="params"),
    "params_random_bytes": Case(ParamsError, [], file_kind="params",
                                params=np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
    "params_truncated": Case(ParamsError, [], params=_VALID_PARAMS[: len(_VALID_PARAMS) - 100], file_kind="params"),
    "params_huge_count": Case(ParamsError, [], file_kind="params",
                              params=_VALID_PARAMS[:16] + (2 ** 62).to_bytes(8, "little") + _VALID_PARAMS[24:]),
    "params_missing_weight": Case(ParamsError, ["fc_weight"], params=_params_without("arg:fc_weight")),
    "params_missing_aux": Case(ParamsError, ["bn_moving_var"], params=_params_without("aux:bn_moving_var")),
    "params_wrong_shape": Case(ShapeError, ["fc"], params=_params_with("arg:fc_weight", np.ones((10, 7), np.float32))),
    "params_wrong_rank": Case(ShapeError, ["conv"], params=_params_with("arg:conv_weight", np.ones((4, 27), np.float32))),
    "shape_wrong_rank": Case(ShapeError, ["conv"], shape={"data": (1, 3, 8)}),
    "shape_unknown_input": Case(ShapeError, ["nope"], shape={"nope": SHAPE}),
}


def test_valid_model_converts(tmp_path):
    json_path, params_path = write_mxnet(tmp_path)
    graph, params = nb.frontend.from_mxnet(json_path, arg_params=params_path, shape=SHAPES)
    assert len(params) == 8 and graph.op_nodes()
    assert cli_main(["convert", "-q", json_path, "-o", str(tmp_path / "ok.onnx"), "--input-shape",
                     "data:1,3,8,8"]) == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_from_mxnet_paths(case, tmp_path):
    c = CASES[case]
    json_path, params_path, names = c.write(tmp_path)
    expect_error(lambda: nb.frontend.from_mxnet(json_path, arg_params=params_path, shape=c.shape), c.error, *names)


# random bytes and empty files are only ever read as files; .params cases need a file too
IN_MEMORY = sorted(k for k, c in CASES.items() if c.file_kind != "params" and not isinstance(c.sym, bytes)
                   and c.sym != "")


@pytest.mark.parametrize("case", IN_MEMORY)
def test_from_mxnet_in_memory(case):
    """Symbol as JSON text (or dict), params as a dict: the same errors, without file names."""
    c = CASES[case]
    expect_error(lambda: nb.frontend.from_mxnet(c.sym, arg_params=c.params, shape=c.shape), c.error, *c.names)


@pytest.mark.parametrize("case", sorted(CASES))
def test_export_model(case, tmp_path):
    c = CASES[case]
    json_path, params_path, names = c.write(tmp_path)
    out = str(tmp_path / "out.onnx")
    shape = [c.shape["data"]] if "data" in c.shape else c.shape
    expect_error(lambda: nb.export_model(json_path, params_path, shape, np.float32, out), c.error, *names)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_convert(case, tmp_path, capsys):
    c = CASES[case]
    json_path, params_path, names = c.write(tmp_path)
    shape_args = [a for k, v in c.shape.items() for a in ("--input-shape", f"{k}:" + ",".join(map(str, v)))]
    code = cli_main(["convert", "-q", json_path, "--params", params_path, "-o", str(tmp_path / "out.onnx"),
                     *shape_args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("nnvm-bridge: error: "), err
    for n in names:
        assert n in err[0], (n, err[0])


@pytest.mark.parametrize("case", ["json_truncated", "json_cycle", "json_two_unknown_ops", "attr_kernel_not_numbers",
                                  "params_random_bytes", "params_missing_weight", "params_wrong_shape"])
def test_compile_model(case, tmp_path):
    pytest.importorskip("tvm")
    c = CASES[case]
    json_path, params_path, names = c.write(tmp_path)
    expect_error(lambda: nb.compile_model(json_path, shape=c.shape, params=params_path), c.error, *names,
                 seconds=30)


def test_missing_and_directory_inputs(tmp_path):
    json_path, params_path = write_mxnet(tmp_path)
    absent = str(tmp_path / "absent-symbol.json")
    for fn in (lambda: nb.frontend.from_mxnet(absent, arg_params=params_path, shape=SHAPES),
               lambda: nb.export_model(absent, params_path, [SHAPE], np.float32, str(tmp_path / "o.onnx"))):
        expect_error(fn, InvalidModelError, "absent-symbol.json")
    for fn in (lambda: nb.frontend.from_mxnet(str(tmp_path), arg_params=params_path, shape=SHAPES),
               lambda: nb.export_model(str(tmp_path), params_path, [SHAPE], np.float32, str(tmp_path / "o.onnx"))):
        expect_error(fn, InvalidModelError, str(tmp_path))
    absent_params = str(tmp_path / "absent.params")
    for fn in (lambda: nb.frontend.from_mxnet(json_path, arg_params=absent_params, shape=SHAPES),
               lambda: nb.export_model(json_path, absent_params, [SHAPE], np.float32, str(tmp_path / "o.onnx"))):
        expect_error(fn, ParamsError, "absent.params")
    for fn in (lambda: nb.frontend.from_mxnet(json_path, arg_params=str(tmp_path), shape=SHAPES),
               lambda: nb.export_model(json_path, str(tmp_path), [SHAPE], np.float32, str(tmp_path / "o.onnx"))):
        expect_error(fn, ParamsError, str(tmp_path))
