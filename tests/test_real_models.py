"""Real-model files that the sweep (tools/real_model_sweep.py, docs/real_models.md) found passing stay passing:
small random-weight transformers and torch models, exported by PyTorch's legacy exporter with dynamic
batch/sequence axes, through compile_model(path) and import_to_gluon(path) WITHOUT shape=, at two input sizes,
against onnxruntime (1e-4 x max(1, max|ref|) per output).  The builders and the check are the sweep's own."""
from __future__ import annotations

import os
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import real_model_sweep as sweep  # noqa: E402

# transformers BERT (mask and token types) and GPT-2 with past keys/values (batch, new and past lengths
# dynamic), a torchvision CNN (dynamic batch) and a torch.nn LSTM (dynamic batch and sequence)
TRANSFORMERS = ("bert", "gpt2_past")
TORCHVISION = ("tv_mobilenet_v3_small",)
TORCH_ONLY = ("lstm",)


def _needs(name):
    sweep.torchvision_without_cxx_ops()  # before anything imports torchvision (transformers does)
    if name in TRANSFORMERS:
        pytest.importorskip("transformers")
    if name in TORCHVISION:
        pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("real_models"))
    done = {}

    def get(name):
        _needs(name)
        if name not in done:
            errors = sweep.export_model(name, cache, exporters=("legacy",))
            assert not errors, errors
            done[name] = sweep._file(cache, name, "legacy")
        return done[name]

    return get


# the Relax rnn emitter unrolls over the sequence, so a symbolic sequence compiles only with shape= (a
# CompileError that says so; the sweep's table records it)
CASES = [(name, engine) for name in TRANSFORMERS + TORCHVISION for engine in ("tvm", "mxnet")] + [
    (name, "mxnet") for name in TORCH_ONLY]


@pytest.mark.slow
@pytest.mark.parametrize("name,engine", CASES)
def test_real_model_matches_onnxruntime_at_two_sizes(exported, name, engine):
    if engine == "mxnet":
        pytest.importorskip("mxnet")
    else:
        pytest.importorskip("tvm")
    path = exported(name)
    result = sweep.check_file(path, engine)
    assert result["result"] == "ok", result["reason"]
    assert result["max_rel_err"] <= sweep.TOL
