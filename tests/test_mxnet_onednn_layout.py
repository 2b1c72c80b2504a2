"""ONNX -> MXNet where a Convolution's output (which MXNet's oneDNN kernels may keep in a blocked memory layout)
meets an op whose oneDNN kernel fails on that layout: slicing channels across a block, and the numpy-extension
reshape that the bridge writes for tensors that may be empty (MobileViT's unfold, EdgeNeXt's channel split).
Symbolic batch, as the exporters write it, compared with onnxruntime at two batch sizes."""
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


def _unfold_to_tokens(rng):
    """Conv -> Reshape -> Transpose -> Reshape -> LayerNormalization -> MatMul, as MobileViT unfolds patches."""
    conv, inits = _conv(rng, 16)
    inits.update(s1=np.array([-1, 2, 2, 2], np.int64), s2=np.array([-1, 16, 4, 4], np.int64),
                 s3=np.array([-1, 4, 16], np.int64), g=np.ones(16, np.float32), b=np.zeros(16, np.float32),
                 m=rng.standard_normal((16, 24)).astype(np.float32))
    nodes = [conv, helper.make_node("Reshape", ["c", "s1"], ["r1"]),
             helper.make_node("Transpose", ["r1"], ["t1"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["t1", "s2"], ["r2"]),
             helper.make_node("Transpose", ["r2"], ["t2"], perm=[0, 3, 2, 1]),
             helper.make_node("Reshape", ["t2", "s3"], ["r3"]),
             helper.make_node("LayerNormalization", ["r3", "g", "b"], ["n"], axis=-1),
             helper.make_node("MatMul", ["n", "m"], ["y"])]
    return _model(nodes, inits, [None, 4, 24])


@pytest.mark.parametrize("build", [_channel_split, _unfold_to_tokens], ids=["channel-split", "unfold-to-tokens"])
def test_convolution_output_in_gluon_matches_onnxruntime(build):
    rng = np.random.default_rng(3)
    model = build(rng)
    block = nb.import_to_gluon(model)
    for batch in (2, 3):
        x = rng.standard_normal((batch, 8, 8, 8)).astype(np.float32)
        assert_close(block(mx.nd.array(x)).asnumpy(), ort_run(model, {"x": x})[0])
