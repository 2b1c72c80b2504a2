"""ONNX's 9 light CNNs (random weights) through import_model (mx.mod.Module) and import_to_gluon,
compared with onnxruntime: 18 checks."""
from __future__ import annotations

import os

import numpy as np
import pytest

from onnx_mx_helpers import (assert_close, data_inputs, gluon_run, light_model_dir, module_run, ort_run,
                             randomize_light_model)

pytest.importorskip("mxnet")
pytest.importorskip("onnxruntime")

MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
          "vgg19", "zfnet512"]

_cache = {}


def _case(name):
    if name not in _cache:
        import onnx

        model = randomize_light_model(onnx.load(os.path.join(light_model_dir(), f"light_{name}.onnx")))
        inp = data_inputs(model)[0]
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        feeds = {inp.name: x}
        ref = ort_run(model, feeds)
        _cache[name] = (model, feeds, ref)
    return _cache[name]


def _check_reference_is_informative(ref):
    # the random weights must give a non-degenerate output (not a uniform softmax)
    assert float(np.std(ref)) > 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_light_model_import_model_module(name):
    from nnvm_bridge import import_model

    model, feeds, ref = _case(name)
    _check_reference_is_informative(ref[0])
    sym, params = import_model(model)
    out = module_run(sym, params, feeds)
    assert_close(out[0], ref[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_light_model_import_to_gluon(name):
    from nnvm_bridge import import_to_gluon

    model, feeds, ref = _case(name)
    block = import_to_gluon(model)
    out = gluon_run(block, feeds)
    assert_close(out[0], ref[0])


def test_light_model_original_constants_fold():
    """The unmodified file builds its weights with ConstantOfShape: they fold into parameters."""
    import onnx

    from nnvm_bridge.frontend import from_onnx

    graph, params = from_onnx(os.path.join(light_model_dir(), "light_squeezenet.onnx"))
    assert "full" not in graph.op_counts()
    assert any(np.allclose(v, 0.02) for v in params.values() if v.dtype == np.float32)
