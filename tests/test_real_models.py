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
from exported_models import export_one_input, match_on_both_engines  # noqa: E402

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


# both engines on every model: GPT-2 with past builds in TVM (shape tensors kept out of fusion), the LSTM runs as
# a TIR loop over its symbolic sequence (frontend_ext/tvm/relax_emitters/rnn_scan.py)
CASES = [(name, engine) for name in TRANSFORMERS + TORCHVISION + TORCH_ONLY for engine in ("tvm", "mxnet")]


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


def test_cast_to_bool_in_mxnet_is_nonzero_not_truncation():
    """GPT-2's mask casts finfo.min to bool: MXNet's Cast to uint8 alone gives 0 (and 0.5 -> 0)."""
    mx = pytest.importorskip("mxnet")
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    import nnvm_bridge as nb

    graph = helper.make_graph([helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BOOL),
                               helper.make_node("Cast", ["b"], ["y"], to=TensorProto.FLOAT)], "cast_bool",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.array([0.5, -3.4e38, 0.0, -0.0, 2.0], dtype=np.float32)
    out = nb.import_to_gluon(model.SerializeToString())(mx.nd.array(x)).asnumpy()
    np.testing.assert_array_equal(out, [1, 1, 0, 0, 1])


def test_runtime_slice_range_and_fill_at_two_sizes(tmp_path):
    """x + pos[:, 3:S+3] + arange(S) + zeros(N, S, 1): Slice, Range (over the length cast to float) and
    ConstantOfShape with run-time bounds, one compiled model / one Gluon block, two sizes."""
    torch = pytest.importorskip("torch")
    mx = pytest.importorskip("mxnet")
    pytest.importorskip("tvm")
    import numpy as np
    import onnxruntime as ort

    import nnvm_bridge as nb
    from tolerance import assert_close

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = torch.nn.Parameter(torch.randn(1, 32, 8))

        def forward(self, x):
            s = x.shape[1]
            return x + self.pos[:, 3:s + 3] * 2 + torch.arange(s, dtype=torch.float32).reshape(1, s, 1) + \
                torch.zeros(x.shape[0], s, 1)

    path = str(tmp_path / "runtime_bounds.onnx")
    torch.onnx.export(Net(), (torch.randn(2, 5, 8),), path, input_names=["x"],
                      dynamic_axes={"x": {0: "N", 1: "S"}}, dynamo=False)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cm, block = nb.compile_model(path), nb.import_to_gluon(path)
    for n, s in ((2, 5), (3, 9)):
        x = np.random.RandomState(s).randn(n, s, 8).astype(np.float32)
        ref = sess.run(None, {"x": x})[0]
        assert_close(cm.run({"x": x})[0], ref)
        assert_close(block(mx.nd.array(x)).asnumpy(), ref)


def _both_engines_match(module, shapes, dynamic, tmp_path):
    """``module`` exported by the legacy exporter with ``dynamic`` axes of its one input, through compile_model
    and import_to_gluon without shape=, against onnxruntime at each of ``shapes``."""
    torch = pytest.importorskip("torch")
    path = export_one_input(module, (torch.randn(*shapes[0]),), tmp_path / "model.onnx", dynamic)
    match_on_both_engines(path, shapes)
    return path


def test_gather_of_a_negative_index_on_a_symbolic_axis(tmp_path):
    """Funnel takes the last of arange(S) and the last token: Gather(-1) on an axis of symbolic length, which
    the import normalised to S - 1 as if S were a number."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x):
            pos = torch.arange(x.shape[1], dtype=torch.float32)
            return x * pos[-1] + x[:, -1].unsqueeze(1) + x[:, -2, :1].unsqueeze(1)

    _both_engines_match(Net(), [(2, 5, 4), (3, 9, 4)], {0: "N", 1: "S"}, tmp_path)


def test_eye_like_of_symbolic_dims(tmp_path):
    """XLNet masks with torch.eye(S): EyeLike of a (S, S) zeros tensor whose dims are symbolic (and here a
    non-square (S, T) one)."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x):
            eye = torch.eye(x.shape[1], x.shape[2])
            return x * eye + torch.eye(x.shape[1]).sum(-1, keepdim=True)

    path = _both_engines_match(Net(), [(2, 5, 7), (3, 6, 4)], {0: "N", 1: "S", 2: "T"}, tmp_path)
    import onnx

    assert "EyeLike" in {n.op_type for n in onnx.load(path).graph.node}


def test_arange_over_the_length_of_a_strided_convolution_output(tmp_path):
    """WavLM's relative positions: arange(T) for T frames of a strided Conv1d, whose length (L - 10) // 5 + 1
    holds a negative constant, so the range's length is max(T, 0): MXNet found no tensor that long."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(1, 4, 10, stride=5)

        def forward(self, x):
            y = self.conv(x.unsqueeze(1))
            t = y.shape[2]
            rel = (torch.arange(t)[None, :] - torch.arange(t)[:, None]).float()
            return y @ rel

    _both_engines_match(Net(), [(2, 60), (3, 83)], {0: "N", 1: "samples"}, tmp_path)


def test_range_bounded_by_elements_of_position_ranges(tmp_path):
    """Funnel's relative positions: arange(max_dist, min_dist - 1, -1) whose bounds are elements of arange(S)
    and of its pooled form cat([-1], pos[1:-1][::2]), both run-time tensors: each element is a dim, so the
    range is S + 4 long (not a length known only at run time, which MXNet could not take from any tensor)."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x):
            pos = torch.arange(x.shape[1], dtype=torch.float32)
            pooled = torch.cat([pos.new_tensor([-1.0]), pos[1:-1][::2]])
            max_dist = pooled[0] - pos[0] + 4
            min_dist = pooled[0] - pos[-1]
            rel = torch.arange(max_dist, min_dist - 1, -1, dtype=torch.long)
            return x.sum(-1, keepdim=True) + rel.float()

    _both_engines_match(Net(), [(2, 5, 4), (3, 9, 4)], {0: "N", 1: "S"}, tmp_path)


def test_arange_of_a_length_no_tensor_has(tmp_path):
    """WavLM under torch.export counts its frames from the input's length (L // 5 - 1) before the convolution
    that has them runs: MXNet has no tensor that long to take the Range's length from, so it takes it from the
    Range's bounds at run time."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x):
            return x.sum(1, keepdim=True) + torch.arange(x.shape[1] // 5 - 1).float()

    _both_engines_match(Net(), [(2, 60), (3, 83)], {0: "N", 1: "samples"}, tmp_path)


def test_arange_of_a_multiple_of_a_tensor_length(tmp_path):
    """XLNet's relative positions arange(S, -S, -1) are 2 * S long (here with 3 more): MXNet takes the length
    from S's positions repeated twice and 3 more."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def forward(self, x):
            s = x.shape[1]
            return x.sum(-1, keepdim=True) + torch.arange(s + 3, -s, -1, dtype=torch.float32)

    _both_engines_match(Net(), [(2, 5, 4), (3, 9, 4)], {0: "N", 1: "S"}, tmp_path)
