"""ONNX -> MXNet where a Convolution's output (which MXNet's oneDNN kernels may keep in a blocked memory layout)
is sliced across a block of channels, which oneDNN's slice fails on (EdgeNeXt's channel split): the bridge
reorders it first. Symbolic batch, as the exporters write it, against onnxruntime at two batch sizes.
(Reshapes of such outputs: tests/test_held_out_vision.py.)"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx_mx_helpers import assert_close, ort_run

mx = pytest.importorskip("mxnet")

import nnvm_bridge as nb  # noqa: E402

F32 = TensorProto.FLOAT


def _model(nodes, inits, out_shape):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F32, ["batch", 8, 8, 8])],
                              [helper.make_tensor_value_info("y", F32, out_shape)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _conv(rng, channels):
    return (helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[2, 2], strides=[2, 2]),
            {"w": rng.standard_normal((channels, 8, 2, 2)).astype(np.float32)})


def _channel_split(rng):
    """Conv -> Add -> Slice of channels 0:30 of 88 (not a whole number of blocks), as EdgeNeXt splits."""
    conv, inits = _conv(rng, 88)
    inits.update(t=rng.standard_normal((88, 1, 1)).astype(np.float32), starts=np.array([0], np.int64),
                 ends=np.array([30], np.int64), axes=np.array([1], np.int64))
    nodes = [conv, helper.make_node("Add", ["c", "t"], ["a"]),
             helper.make_node("Slice", ["a", "starts", "ends", "axes"], ["y"])]
    return _model(nodes, inits, ["batch", 30, 4, 4])


def test_channel_split_of_a_convolution_output_in_gluon_matches_onnxruntime():
    rng = np.random.default_rng(3)
    model = _channel_split(rng)
    block = nb.import_to_gluon(model)
    for batch in (2, 3):
        x = rng.standard_normal((batch, 8, 8, 8)).astype(np.float32)
        assert_close(block(mx.nd.array(x)).asnumpy(), ort_run(model, {"x": x})[0])
