"""The five handler tables and the op table: literal op names, and plug-in hooks that refuse silent overrides."""
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


def _tables():
    from frontend_ext.tvm.to_relax import RELAX_EXPORT
    from nnvm_bridge.frontend.mxnet.importer import MXNET_IMPORT
    from nnvm_bridge.frontend.onnx.importer import ONNX_IMPORT

    return {"MXNet import": (MXNET_IMPORT, "nnvm_bridge/frontend/mxnet"),
            "ONNX import": (ONNX_IMPORT, "nnvm_bridge/frontend/onnx"),
            "ONNX export": (ONNX_EXPORT, "frontend_ext/onnx/handlers"),
            "MXNet export": (MXNET_EXPORT, "frontend_ext/mxnet/handlers"),
            "Relax": (RELAX_EXPORT, "frontend_ext/tvm/relax_emitters")}


@pytest.mark.parametrize("which", ["MXNet import", "ONNX import", "ONNX export", "MXNet export", "Relax"])
def test_every_op_name_is_written_literally(which):
    # so that grep '"conv2d"' finds every handler of conv2d (other tests register "_test_*" ops)
    table, folder = _tables()[which]
    names = {name for name in table.supported() if not name.startswith("_test")}
    assert names - _literals(os.path.join(ROOT, folder)) == set()


def test_every_op_table_name_is_written_literally():
    from nnvm_bridge.ops import ALIASES, OPS

    names = {n for n in set(OPS) | set(ALIASES) if not n.startswith("_test")}
    assert names - _literals(os.path.join(ROOT, "nnvm_bridge/ops")) == set()


def _noop(ctx, node, attrs, inputs):
    return None


def test_every_plugin_hook_refuses_a_silent_override():
    from frontend_ext.onnx import register_onnx_handler
    from frontend_ext.mxnet import register_mxnet_emitter as mxnet_emitter
    from frontend_ext.tvm import register_relax_emitter
    from nnvm_bridge.frontend.mxnet import register_mxnet_op
    from nnvm_bridge.frontend.onnx import register_onnx_op

    for register, name, kw in ((register_mxnet_op, "Convolution", {}), (register_onnx_op, "Conv", {"since": 1}),
                               (register_onnx_handler, "conv2d", {"since": 11}), (mxnet_emitter, "conv2d", {}),
                               (register_relax_emitter, "conv2d", {})):
        with pytest.raises(ValueError, match="already registered"):
            register(name, _noop, **kw)


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
