"""Tiny torch modules exported here with one input ``x`` and checked on both engines: the pattern of the tests that
reproduce what a real model of the sweep (tools/real_model_sweep.py) exposed."""
from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close


def export_one_input(module, example, path, dynamic):
    """``module`` written by the legacy exporter to ``path`` with the ``dynamic`` axes of its input ``x``."""
    import torch

    torch.onnx.export(module.eval(), example, str(path), input_names=["x"], dynamic_axes={"x": dynamic},
                      dynamo=False)
    return str(path)


def match_on_both_engines(path, sizes):
    """compile_model(path) and import_to_gluon(path), without shape=, against onnxruntime at each of ``sizes``."""
    mx = pytest.importorskip("mxnet")
    pytest.importorskip("tvm")
    ort = pytest.importorskip("onnxruntime")
    import nnvm_bridge as nb

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cm, block = nb.compile_model(path), nb.import_to_gluon(path)
    for k, shape in enumerate(sizes):
        x = np.random.RandomState(k).randn(*shape).astype(np.float32)
        ref = sess.run(None, {"x": x})[0]
        assert_close(cm.run({"x": x})[0], ref)
        assert_close(block(mx.nd.array(x)).asnumpy(), ref)
