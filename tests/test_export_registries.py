"""The two emitter tables (ONNX export, MXNet export): literal op names and the plug-in hooks."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from frontend_ext.mxnet.to_mxnet import MXNET_EXPORT, register_mxnet_emitter, to_mxnet
from frontend_ext.onnx.exporter import ONNX_EXPORT
from onnx_export_helpers import single_op

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _literals(folder):
    text = ""
    for f in sorted(os.listdir(folder)):
        if f.endswith(".py"):
            with open(os.path.join(folder, f), encoding="utf-8") as fh:
                text += fh.read()
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', text))


@pytest.mark.parametrize("table, folder", [(ONNX_EXPORT, "frontend_ext/onnx/handlers"),
                                           (MXNET_EXPORT, "frontend_ext/mxnet/handlers")])
def test_every_op_name_is_written_literally(table, folder):
    # so that grep '"conv2d"' finds every handler of conv2d (other tests register "_test_only_*" ops)
    names = {name for name in table.supported() if not name.startswith("_test_only")}
    assert names - _literals(os.path.join(ROOT, folder)) == set()


def test_register_mxnet_emitter_rejects_duplicates_unless_override():
    builtin = MXNET_EXPORT.get("relu").fn

    def relu_as_sigmoid(ctx, node, attrs, inputs):
        return [ctx.add("sigmoid", node.name, inputs)]

    with pytest.raises(ValueError, match="relu"):
        register_mxnet_emitter("relu", relu_as_sigmoid)
    g, p, _ = single_op("relu", {}, {"x": np.zeros((2, 3), np.float32)})
    try:
        register_mxnet_emitter("relu", relu_as_sigmoid, override=True)
        ops = [n["op"] for n in json.loads(to_mxnet(g, p)[0])["nodes"]]
        assert ops == ["null", "sigmoid"]
    finally:
        register_mxnet_emitter("relu", builtin, override=True)
    assert [n["op"] for n in json.loads(to_mxnet(g, p)[0])["nodes"]] == ["null", "Activation"]
