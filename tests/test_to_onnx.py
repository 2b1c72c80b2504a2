"""to_onnx as a whole: opsets, dynamic batch, determinism, naming, errors, external data."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

from frontend_ext.onnx import registry
from frontend_ext.onnx.exporter import save_onnx, to_onnx
from nnvm_bridge.errors import (ParamsError, ShapeError, UnsupportedOperatorError, UnsupportedOpsetError)
from nnvm_bridge.ir.graph import Graph, variable
from onnx_export_helpers import assert_close, data_var, node, run_ort, single_op

HERE = os.path.dirname(os.path.abspath(__file__))


def small_cnn(batch=2, seed=0):
    """conv -> bn -> relu -> pool(ceil) -> reshape(-3 special) -> dense -> softmax, plus a
    second head with resize, repeat, broadcast_to and strided_slice: ops that could bake a batch."""
    rng = np.random.default_rng(seed)
    x = np.zeros((batch, 3, 8, 8), np.float32)
    data = data_var("data", x)
    w, b = variable("conv_w"), variable("conv_b")
    gamma, beta, mean, var = (variable(n) for n in ("bn_g", "bn_b", "bn_m", "bn_v"))
    fw, fb = variable("fc_w"), variable("fc_b")
    conv = node("conv2d", "conv", [data, w, b], channels=4, kernel_size=(3, 3), padding=(1, 1))
    bn = node("batch_norm", "bn", [conv, gamma, beta, mean, var], epsilon=1e-3)
    act = node("relu", "relu", [bn])
    pool = node("max_pool2d", "pool", [act], pool_size=(3, 3), strides=(2, 2), ceil_mode=True)
    flat = node("reshape", "flat", [pool], shape=(0, -3, -2))  # (N, 4*4, 4) via -3/-2
    flat2 = node("reshape", "flat2", [flat], shape=(0, -1))
    fc = node("dense", "fc", [flat2, fw, fb], units=5)
    sm = node("softmax", "prob", [fc])
    up = node("resize", "up", [act], size=(12, 10))
    rep = node("repeat", "rep", [up], repeats=2, axis=1)
    bc = node("broadcast_to", "bc", [node("expand_dims", "ed", [sm], axis=1)], shape=(0, 3, 5))
    sl = node("strided_slice", "sl", [rep], begin=(0, 1), end=(1 << 30, 7))  # whole batch
    g = Graph([sm[0], sl[0], bc[0]])
    params = {
        "conv_w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "conv_b": rng.standard_normal(4).astype(np.float32),
        "bn_g": rng.uniform(0.5, 1.5, 4).astype(np.float32), "bn_b": rng.standard_normal(4).astype(np.float32),
        "bn_m": rng.standard_normal(4).astype(np.float32), "bn_v": rng.uniform(0.5, 1.5, 4).astype(np.float32),
        "fc_w": rng.standard_normal((5, 64)).astype(np.float32), "fc_b": rng.standard_normal(5).astype(np.float32),
    }
    return g, params


def test_opset_import_is_exactly_the_requested_one():
    g, params = small_cnn()
    for opset in (11, 12, 15, 17, 19, 21):
        model = to_onnx(g, params, opset=opset)
        assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    assert [o.version for o in to_onnx(g, params).opset_import] == [17]


@pytest.mark.parametrize("bad", [10, 22, "x"])
def test_opset_out_of_range(bad):
    g, params = small_cnn()
    with pytest.raises(UnsupportedOpsetError):
        to_onnx(g, params, opset=bad)


def test_handler_selection_never_picks_a_newer_version():
    table = registry.ONNX_EXPORT
    fn17 = table.get("layer_norm", 17).fn
    fn16 = table.get("layer_norm", 16).fn
    assert fn17 is not fn16
    assert table.get("layer_norm", 21).fn is fn17
    assert table.get("gelu", 19).fn is table.get("gelu", 11).fn

    @table.register("_test_only_future_op", since=19)
    def _future(ctx, node, attrs, inputs):  # pragma: no cover - never called
        return inputs[0]

    assert table.get("_test_only_future_op", 21).fn is _future
    with pytest.raises(UnsupportedOpsetError, match="_test_only_future_op"):
        table.get("_test_only_future_op", 18, node="n1")


@pytest.mark.parametrize("opset, native", [(11, False), (14, True)])
def test_versioned_handlers_emit_the_opset_spelling(opset, native):
    x = np.linspace(-4, 4, 12, dtype=np.float32).reshape(3, 4)
    g, p, f = single_op("hard_swish", {}, {"x": x})
    model = to_onnx(g, p, opset=opset)
    assert ("HardSwish" in {n.op_type for n in model.graph.node}) == native
    assert_close(run_ort(model, f)[0], x * np.clip(x / 6 + 0.5, 0, 1))


def test_initializers_not_inputs_and_names_kept():
    g, params = small_cnn()
    model = to_onnx(g, params)
    init = {t.name for t in model.graph.initializer}
    assert set(params) <= init
    assert [i.name for i in model.graph.input] == ["data"]
    assert [o.name for o in model.graph.output] == g.output_names()
    names = [n.name for n in model.graph.node]
    assert len(names) == len(set(names)) and all(names)
    # value_info of inputs and outputs carry dtypes and shapes
    inp = model.graph.input[0].type.tensor_type
    assert inp.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in inp.shape.dim] == [2, 3, 8, 8]
    out = model.graph.output[0].type.tensor_type
    assert [d.dim_value for d in out.shape.dim] == [2, 5]
    for t in model.graph.initializer:
        assert t.HasField("raw_data") or t.data_location == onnx.TensorProto.EXTERNAL


def _reference_outputs(params, x, opset=17):
    """Outputs of a static-batch export at x's batch size: the dynamic model must match them."""
    g, _ = small_cnn(batch=x.shape[0])
    return run_ort(to_onnx(g, params, opset=opset), {"data": x})


@pytest.mark.parametrize("opset", [11, 13, 17, 21])
def test_dynamic_batch_runs_at_two_batch_sizes(opset):
    g, params = small_cnn(batch=2)
    model = to_onnx(g, params, opset=opset, dynamic_batch=True)
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "N"
    assert all(o.type.tensor_type.shape.dim[0].dim_param == "N" for o in model.graph.output)
    rng = np.random.default_rng(1)
    for batch in (1, 5):
        x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
        got = run_ort(model, {"data": x})
        want = _reference_outputs(params, x, opset)
        for a, b in zip(got, want):
            assert_close(a, b)


def test_static_cnn_matches_mxnet():
    mx = pytest.importorskip("mxnet")
    nd = mx.nd
    g, params = small_cnn(batch=2)
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    got = run_ort(to_onnx(g, params), {"data": x})[0]
    p = {k: nd.array(v) for k, v in params.items()}
    y = nd.Convolution(nd.array(x), p["conv_w"], p["conv_b"], kernel=(3, 3), pad=(1, 1), num_filter=4)
    y = nd.BatchNorm(y, p["bn_g"], p["bn_b"], p["bn_m"], p["bn_v"], eps=1e-3, fix_gamma=False,
                     use_global_stats=True)
    y = nd.Pooling(nd.relu(y), kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="full")
    y = nd.FullyConnected(y.reshape((0, -1)), p["fc_w"], p["fc_b"], num_hidden=5)
    assert_close(got, nd.softmax(y).asnumpy())


def test_export_is_deterministic():
    g, params = small_cnn()
    a = to_onnx(g, params).SerializeToString(deterministic=True)
    b = to_onnx(g, params).SerializeToString(deterministic=True)
    assert a == b
    # and across processes (no dependence on hash seeds or ids)
    code = ("import sys; sys.path.insert(0, %r); from test_to_onnx import small_cnn; "
            "from frontend_ext.onnx.exporter import to_onnx; g, p = small_cnn(); "
            "sys.stdout.buffer.write(to_onnx(g, p).SerializeToString(deterministic=True))" % HERE)
    env = dict(os.environ, PYTHONHASHSEED="123")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True,
                         cwd=os.path.dirname(HERE)).stdout
    assert out == a


def test_unsupported_ops_reported_at_once():
    x = np.zeros((1, 4, 4, 4), np.float32)
    data = data_var("data", x)
    p1 = node("multibox_prior", "prior1", [data])
    p2 = node("multibox_prior", "prior2", [data])
    r = node("yolo_reorg", "reorg", [data], stride=2)
    c = node("conv2d", "conv_nhwc", [data, variable("w")], channels=2, kernel_size=(1, 1), layout="NHWC",
             kernel_layout="HWIO", use_bias=False)
    g = Graph([p1[0], p2[0], r[0], c[0]])
    with pytest.raises(UnsupportedOperatorError) as info:
        to_onnx(g, {"w": np.zeros((1, 1, 4, 2), np.float32)})
    err = info.value
    assert set(err.ops) == {"multibox_prior", "yolo_reorg", "conv2d (layout NHWC/HWIO)"}
    assert err.ops["multibox_prior"] == ["prior1", "prior2"]
    msg = str(err)
    assert "multibox_prior x2" in msg and "'prior1'" in msg and "'reorg'" in msg and "'conv_nhwc'" in msg


def test_hidden_output_use_is_reported():
    x = np.zeros((1, 2, 3, 3), np.float32)
    data = data_var("data", x)
    vs = [variable(n) for n in ("g", "b", "m", "v")]
    bn = node("batch_norm", "bn", [data] + vs)
    g = Graph([bn[0], bn[1]])
    params = {n: np.ones(2, np.float32) for n in ("g", "b", "m", "v")}
    with pytest.raises(UnsupportedOperatorError, match="'bn'"):
        to_onnx(g, params)


def test_unknown_input_shape_names_the_input():
    g = Graph([node("relu", "r", [variable("data")])[0]])
    with pytest.raises(ShapeError, match="'data'"):
        to_onnx(g, {})
    model = to_onnx(g, {}, shape={"data": (2, 3)})
    assert_close(run_ort(model, {"data": -np.ones((2, 3), np.float32)})[0], np.zeros((2, 3)))


def test_bad_params_raise_params_error():
    g, _ = small_cnn()
    with pytest.raises(ParamsError):
        to_onnx(g, [1, 2, 3])
    with pytest.raises(ParamsError, match="conv_w"):
        to_onnx(g, {"conv_w": np.array([object()])})


def test_output_that_is_an_input_and_repeated_outputs():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = data_var("data", x)
    r = node("relu", "r", [data])
    g = Graph([r[0], r[0], data[0]])
    model = to_onnx(g, {})
    outs = run_ort(model, {"data": x})
    assert [o.name for o in model.graph.output] == g.output_names()
    for o in outs:
        assert_close(o, x)


def test_external_data_path(tmp_path):
    g, params = small_cnn()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = run_ort(to_onnx(g, params), {"data": x})
    path = str(tmp_path / "model.onnx")
    # force the "too big for protobuf" path with a tiny threshold
    model = to_onnx(g, params, path=path, external_threshold=1000)
    assert os.path.exists(path + ".data")
    external = {t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}
    assert external == {"fc_w"}  # the one tensor of >= 1 KiB; tiny ones stay inline
    assert os.path.getsize(path) < 10_000
    onnx.checker.check_model(path, full_check=True)
    got = run_ort(path, {"data": x})
    for a, b in zip(got, want):
        assert_close(a, b)
    loaded = onnx.load(path)
    w = next(t for t in loaded.graph.initializer if t.name == "fc_w")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(w), params["fc_w"])
    # deterministic on disk too
    os.mkdir(tmp_path / "again")
    again = str(tmp_path / "again" / "model.onnx")
    to_onnx(g, params, path=again, external_threshold=1000)
    for suffix in ("", ".data"):
        with open(path + suffix, "rb") as f1, open(again + suffix, "rb") as f2:
            assert f1.read() == f2.read()


def test_failed_external_export_leaves_no_files(tmp_path):
    x = np.zeros((1, 4, 4, 4), np.float32)
    g = Graph([node("yolo_reorg", "reorg", [data_var("data", x)], stride=2)[0]])
    path = str(tmp_path / "m.onnx")
    with pytest.raises(UnsupportedOperatorError):
        to_onnx(g, {}, path=path, external_data=True)
    assert os.listdir(tmp_path) == []


def test_in_memory_export_refuses_models_over_the_threshold():
    g, params = small_cnn()
    with pytest.raises(ParamsError, match="path="):
        to_onnx(g, params, external_threshold=1000)


def test_save_onnx_graph_and_model(tmp_path):
    g, params = small_cnn()
    x = np.ones((2, 3, 8, 8), np.float32)
    p1 = str(tmp_path / "a.onnx")
    save_onnx(g, p1, params=params)
    assert not os.path.exists(p1 + ".data")
    p2 = str(tmp_path / "b.onnx")
    save_onnx(to_onnx(g, params), p2, external_data=True)
    assert os.path.exists(p2 + ".data")
    a, b = run_ort(p1, {"data": x}), run_ort(p2, {"data": x})
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.slow
def test_large_export_streams_with_bounded_memory(tmp_path):
    """~400 MB of weights exported to a file: peak RSS grows by at most 0.6x the weights."""
    code = r'''
import resource, sys, numpy as np
sys.path.insert(0, %(here)r)
from onnx_export_helpers import data_var, node
from nnvm_bridge.ir.graph import Graph, variable
from frontend_ext.onnx.exporter import to_onnx
n = 10
x = data_var("data", np.zeros((1, 3200), np.float32))
cur, params = x, {}
for i in range(n):
    params[f"w{i}"] = np.full((3200, 3200), 1e-4, np.float32)
    cur = node("dense", f"fc{i}", [cur, variable(f"w{i}")], units=3200, use_bias=False)
g = Graph([cur[0]])
weights = sum(p.nbytes for p in params.values())
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
to_onnx(g, params, path=%(path)r, external_threshold=weights // 2)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(weights, base, peak)
''' % {"here": HERE, "path": str(tmp_path / "big.onnx")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(HERE)).stdout.split()
    weights, base, peak = (int(v) for v in out)
    assert peak - base <= 0.6 * weights, (weights, base, peak)
    assert os.path.getsize(str(tmp_path / "big.onnx.data")) >= weights


def test_bad_graph_inputs_raise_bridge_errors():
    from nnvm_bridge.errors import AttributeParseError, InvalidModelError

    with pytest.raises(InvalidModelError):
        to_onnx("not a graph", {})
    x = np.zeros((2, 3), np.float32)
    g = Graph([node("softmax", "sm", [data_var("data", x)], axis="not-an-int")[0]])
    with pytest.raises(AttributeParseError, match="'sm'"):
        to_onnx(g, {})
    g = Graph([node("reshape", "rs", [data_var("data", x)], shape=(4, 4))[0]])
    with pytest.raises(ShapeError, match="'rs'"):
        to_onnx(g, {})


def test_unsupported_ops_listing_without_raising():
    from frontend_ext.onnx.exporter import unsupported_ops

    x = np.zeros((1, 4, 4, 4), np.float32)
    data = data_var("data", x)
    g = Graph([node("yolo_reorg", "reorg", [data], stride=2)[0], node("relu", "r", [data])[0]])
    assert unsupported_ops(g) == {"yolo_reorg": ["reorg"]}
    g2, params = small_cnn()
    assert unsupported_ops(g2, opset=11, params=params) == {}


def batch_sensitive_graph(batch):
    """Ops whose converters use shapes: each must keep the batch dimension symbolic."""
    x = np.zeros((batch, 6, 4, 4), np.float32)
    d = data_var("data", x)
    gn = node("group_norm", "gn", [d, variable("g"), variable("b")], num_groups=3)
    ln = node("layer_norm", "ln", [d, variable("g"), variable("b")], axis=1)
    up = node("upsampling", "up", [d], scale=2)
    ap = node("adaptive_avg_pool2d", "ap", [up], output_size=(2, 2))
    sp = node("split", "sp", [d], indices_or_sections=2, axis=1)
    cat = node("concatenate", "cat", [sp[1], sp[0]], axis=1)
    tl = node("tile", "tl", [cat], reps=(1, 1, 2, 1))
    rp = node("repeat", "rp", [ap], repeats=2, axis=0)
    fl = node("flatten", "fl", [d])
    am = node("argmax", "am", [fl], axis=(1,), keepdims=True, dtype="float32")
    tk = node("topk", "tk", [fl], k=3, ret_type="values")
    s = node("sum", "s", [d], axis=(1, 2, 3))
    pos = node("__greater_scalar__", "pos", [s], scalar=0.0)
    wh = node("where", "wh", [pos, d, node("zeros_like", "z", [d])])
    sl = node("slice_like", "sl", [tl, d], axis=(2,))
    r3 = node("reshape", "r3", [d], shape=(0, 6, -1))
    bm = node("batch_matmul", "bm", [r3, r3], transpose_b=True)
    sm = node("softmax", "sm", [bm], axis=1)
    pd = node("pad", "pd", [d], pad_width=((0, 0), (0, 0), (1, 1), (0, 2)))
    bc = node("broadcast_to", "bc", [node("expand_dims", "ed", [s], axis=1)], shape=(0, 3))
    outs = [gn, ln, rp, am, tk, wh, sl, sm, pd, bc]
    return Graph([o[0] for o in outs])


@pytest.mark.parametrize("opset", [11, 17, 21])
def test_dynamic_batch_shape_dependent_converters(opset):
    rng = np.random.default_rng(0)
    params = {"g": rng.uniform(0.5, 1.5, 6).astype(np.float32), "b": rng.standard_normal(6).astype(np.float32)}
    model = to_onnx(batch_sensitive_graph(2), params, opset=opset, dynamic_batch=True)
    for batch in (1, 3):
        x = rng.standard_normal((batch, 6, 4, 4)).astype(np.float32)
        got = run_ort(model, {"data": x})
        want = run_ort(to_onnx(batch_sensitive_graph(batch), params, opset=opset), {"data": x})
        assert len(got) == len(want) == 10
        for a, b in zip(got, want):
            assert_close(a, b)


def test_float16_graph_keeps_its_dtype():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8)).astype(np.float16)
    w = rng.standard_normal((4, 8)).astype(np.float16)
    d = data_var("data", x)
    fc = node("dense", "fc", [d, variable("w")], units=4, use_bias=False)
    y = node("__mul_scalar__", "scale", [node("relu", "r", [fc])], scalar=0.5)
    sm = node("softmax", "sm", [y])
    model = to_onnx(Graph([sm[0]]), {"w": w}, opset=17)
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    got = run_ort(model, {"data": x})[0]
    assert got.dtype == np.float16
    ref = np.maximum(x.astype(np.float32) @ w.astype(np.float32).T, 0) * 0.5
    ref = np.exp(ref - ref.max(-1, keepdims=True))
    assert_close(got, ref / ref.sum(-1, keepdims=True), tol=1e-2)
