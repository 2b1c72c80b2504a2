"""IR passes: inference simplification, dead-node elimination, constant folding, reshape resolution,
batch-norm folding.

Equivalence is checked by running graphs before and after with the numpy interpreter, whose op
rules are checked against MXNet in test_ir_compute.py.
"""
import os

import numpy as np
import pytest

from nnvm_bridge.errors import BridgeError, ShapeError, UnsupportedOperatorError
from nnvm_bridge.ir import Graph, Node, load_json, save_json
from nnvm_bridge.ir.interpreter import run_graph
from nnvm_bridge.ir.passes import (eliminate_dead_nodes, fold_batch_norm, fold_constants, infer_shape, infer_type,
                                   resolve_reshape, run_passes, simplify_inference)
from nnvm_bridge.ir.passes.pipeline import DEFAULT_PASSES
from nnvm_bridge.ops import node_attrs

RNG = np.random.default_rng(3)
FIX = os.path.join(os.path.dirname(__file__), "fixtures")


def _rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _close(a, b, tol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b), initial=0.0) <= tol * max(1.0, np.max(np.abs(b), initial=0.0))


def _var(name, shape=None):
    return Node("null", name, attrs={"__shape__": str(tuple(shape))} if shape else None)


def _ops(g):
    return [n.op for n in g.op_nodes()]


# ---- simplify_inference -------------------------------------------------------------------------
def _training_graph():
    x = _var("data", (2, 3, 4, 4))
    gamma, beta, mean, var = (_var(n) for n in ("gamma", "beta", "mean", "var"))
    bn = Node("batch_norm", "bn", [x[0], gamma[0], beta[0], mean[0], var[0]], {"epsilon": "1e-3"})
    drop = Node("dropout", "drop", [bn[0]], {"rate": "0.5"})
    bg = Node("block_grad", "bg", [drop[0]])
    cp = Node("copy", "cp", [bg[0]])
    relu = Node("relu", "relu", [cp[0]])
    masked = Node("elemwise_mul", "masked", [relu[0], drop[1]])
    return Graph([masked[0], bn[1], bn[2], drop[1]])


def _bn_params():
    return {"gamma": _rand(3), "beta": _rand(3), "mean": _rand(3), "var": np.abs(_rand(3)) + 0.5}


def test_simplify_inference_removes_training_ops_and_outputs():
    g = _training_graph()
    before = save_json(g)
    s = simplify_inference(g)
    assert save_json(g) == before  # the input graph is not modified
    assert _ops(s) == ["batch_norm", "relu", "ones_like", "elemwise_mul"]
    assert len(s.outputs) == 1 and s.outputs[0].node.name == "masked"
    assert [n.name for n in s.variables] == ["data", "gamma", "beta", "mean", "var"]
    params = _bn_params()
    x = _rand(2, 3, 4, 4)
    ours = run_graph(s, {"data": x}, params)[0]
    full = run_graph(g, {"data": x}, params)[0]  # dropout's numpy rule is the identity with mask 1
    _close(ours, full)
    # the result still validates and round-trips
    assert save_json(load_json(save_json(s))) == save_json(s)


def test_simplify_keeps_training_outputs_if_nothing_else():
    x = _var("x", (2, 3))
    bn = Node("batch_norm", "bn", [x[0]] + [_var(f"p{i}")[0] for i in range(4)])
    g = Graph([bn[1], bn[2]])
    s = simplify_inference(g)
    assert [e.index for e in s.outputs] == [1, 2]


def test_simplify_graph_output_of_removed_op():
    x = _var("x", (2, 3))
    drop = Node("dropout", "d", [x[0]])
    s = simplify_inference(Graph([drop[0]]))
    assert s.outputs[0].node.name == "x" and s.op_nodes() == []


# ---- eliminate_dead_nodes -----------------------------------------------------------------------
def test_eliminate_dead_nodes():
    x, y, w, unused_w = _var("x", (2, 3)), _var("y", (2, 3)), _var("w"), _var("unused_w")
    live = Node("broadcast_add", "live", [x[0], w[0]])
    dead = Node("broadcast_mul", "dead", [live[0], unused_w[0]])
    dead2 = Node("relu", "dead2", [dead[0]])
    nodes = [x, y, w, live, unused_w, dead, dead2]
    g = Graph([live[0]], nodes=nodes)
    params = {"w": _rand(3), "unused_w": _rand(3), "not_in_graph": _rand(1)}
    g2, unused = eliminate_dead_nodes(g, params)
    assert unused == ["not_in_graph", "unused_w"]
    assert [n.name for n in g2.nodes] == ["x", "y", "w", "live"]  # unused data input y kept, order kept
    g3, _ = eliminate_dead_nodes(g, params, keep_inputs=False)
    assert [n.name for n in g3.nodes] == ["x", "w", "live"]
    assert len(g.nodes) == 7


# ---- fold_constants ---------------------------------------------------------------------------
def test_fold_params_only_subgraph():
    x = _var("x", (2, 3))
    w, b = _var("w"), _var("b")
    scale = Node("__mul_scalar__", "scale", [w[0]], {"scalar": "2"})
    shifted = Node("broadcast_add", "shifted", [scale[0], b[0]])
    out = Node("broadcast_mul", "out", [x[0], shifted[0]])
    g = Graph([out[0]])
    params = {"w": _rand(3), "b": _rand(1, 3)}
    orig = dict(params)
    g2, p2 = fold_constants(g, params)
    assert params.keys() == orig.keys()  # the input dict is not modified
    assert _ops(g2) == ["broadcast_mul"]
    assert set(p2) == {"shifted"}  # named after the folded node; w and b are no longer used
    _close(p2["shifted"], params["w"] * 2 + params["b"])
    x_val = _rand(2, 3)
    _close(run_graph(g2, {"x": x_val}, p2)[0], run_graph(g, {"x": x_val}, params)[0])


def test_fold_through_generators_but_keep_growing_ops():
    x = _var("x", (4, 3))
    z = Node("zeros", "z", [], {"shape": "(3,)"})
    w = _var("w")
    add = Node("broadcast_add", "add", [z[0], w[0]])
    neg = Node("negative", "neg", [add[0]])
    big = Node("broadcast_to", "big", [neg[0]], {"shape": "(4, 3)"})
    out = Node("elemwise_add", "out", [x[0], big[0]])
    ar = Node("arange", "ar", [], {"stop": "3"})
    out2 = Node("broadcast_add", "out2", [out[0], ar[0]])
    g = Graph([out2[0]])
    params = {"w": _rand(3)}
    g2, p2 = fold_constants(g, params)
    assert _ops(g2) == ["broadcast_to", "elemwise_add", "arange", "broadcast_add"]
    assert list(p2) == ["neg"]
    _close(p2["neg"], -params["w"])
    x_val = _rand(4, 3)
    _close(run_graph(g2, {"x": x_val}, p2)[0], run_graph(g, {"x": x_val}, params)[0])


def test_fold_respects_size_limit_and_missing_rules():
    x = _var("x", (2,))
    w = _var("w")
    sq = Node("square", "sq", [w[0]])
    # resize has no numpy rule: it is left alone, and so is everything after it
    img = _var("img")
    rs = Node("resize", "rs", [img[0]], {"size": "(4, 4)"})
    rs2 = Node("negative", "rs2", [rs[0]])
    out = Node("broadcast_add", "out", [x[0], sq[0]])
    g = Graph([out[0], rs2[0]])
    params = {"w": _rand(1000), "img": _rand(1, 1, 2, 2)}
    g2, p2 = fold_constants(g, params, max_bytes=1000)
    assert "square" in _ops(g2) and set(p2) == {"w", "img"}
    g3, p3 = fold_constants(g, params)
    assert "square" not in _ops(g3) and "resize" in _ops(g3) and "negative" in _ops(g3)
    assert set(p3) == {"sq", "img"}


def test_fold_unique_names_and_multi_output():
    x = _var("x", (2, 4))
    w = _var("w")
    sp = Node("split", "x_split", [w[0]], {"indices_or_sections": "2", "axis": "1"})
    a = Node("broadcast_mul", "a", [x[0], sp[0]])
    b = Node("broadcast_add", "b", [a[0], sp[1]])
    taken = Node("relu", "x_split_output0", [b[0]])  # an op already uses the name the fold wants
    g = Graph([taken[0]])
    params = {"w": _rand(2, 4)}
    g2, p2 = fold_constants(g, params)
    assert _ops(g2) == ["broadcast_mul", "broadcast_add", "relu"]
    assert set(p2) == {"x_split_output0_const", "x_split_output1"}
    names = [n.name for n in g2.nodes]
    assert len(names) == len(set(names))
    x_val = _rand(2, 2)
    _close(run_graph(g2, {"x": x_val}, p2)[0], run_graph(g, {"x": x_val}, params)[0])


def test_fold_shape_of_chain_with_known_shapes():
    # Shape -> slice -> concat -> reshape, as ONNX exporters write for flatten
    x = _var("x", (2, 3, 4))
    shp = Node("shape_of", "shp", [x[0]])
    first = Node("strided_slice", "first", [shp[0]], {"begin": "(0,)", "end": "(1,)"})
    minus1 = Node("full", "minus1", [], {"shape": "(1,)", "fill_value": "-1", "dtype": "int64"})
    cat = Node("concatenate", "cat", [first[0], minus1[0]], {"axis": "0"})
    g = Graph([cat[0]])
    g2, p2 = fold_constants(g, {})
    assert g2.op_nodes() == [] and list(p2) == ["cat"]
    np.testing.assert_array_equal(p2["cat"], [2, -1])
    assert p2["cat"].dtype == np.int64
    # without a known shape nothing folds
    y = _var("y")
    g3, p3 = fold_constants(Graph([Node("shape_of", "s", [y[0]])[0]]), {})
    assert _ops(g3) == ["shape_of"] and p3 == {}
    g4, p4 = fold_constants(Graph([Node("shape_of", "s", [y[0]])[0]]), {}, shape={"y": (5, 6)})
    np.testing.assert_array_equal(p4["s"], [5, 6])


def test_fold_preserves_dtypes():
    w = _var("w")
    c = Node("cast", "c", [w[0]], {"dtype": "float16"})
    x = _var("x", (3,))
    xc = Node("cast", "xc", [x[0]], {"dtype": "float16"})
    out = Node("elemwise_add", "out", [xc[0], c[0]])
    g = Graph([out[0]])
    g2, p2 = fold_constants(g, {"w": np.arange(3, dtype=np.int32)})
    assert p2["c"].dtype == np.float16
    t = infer_type(g2, params=p2)
    assert t.dtype_of(g2.outputs[0]) == "float16"


# ---- resolve_reshape ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape,spec,expect", [
    ((2, 3, 4, 5), "(0, -3, -2)", "(0, 12, 5)"),
    ((2, 3, 4, 5), "(-3, -2)", "(6, 4, 5)"),
    ((2, 6, 4), "(0, -4, 2, -1, -2)", "(0, 2, 3, 4)"),
    ((2, 6, 4), "(-1, -2)", "(-1, 6, 4)"),
    ((2, 3, 4), "(0, 0, -1)", "(0, 0, -1)"),
    ((6, 4), "(-4, -1, 3, 0)", "(2, 3, 4)"),
])
def test_resolve_reshape(shape, spec, expect):
    x = _var("x", shape)
    r = Node("reshape", "r", [x[0]], {"shape": spec})
    g = infer_type(infer_shape(Graph([r[0]])))
    g2 = resolve_reshape(g)
    assert g2.nodes[1].attrs["shape"] == expect
    assert g.nodes[1].attrs["shape"] == spec  # the input graph is untouched
    assert not any(v in (-2, -3, -4) for v in node_attrs(g2.nodes[1]).shape)
    assert g2.attrs["shape"] == g.attrs["shape"]  # same structure: inferred attrs stay
    x_val = _rand(*shape)
    _close(run_graph(g2, {"x": x_val})[0], run_graph(g, {"x": x_val})[0])
    # and an ONNX-style reading of the new spec (0 = same position, -1 = infer) agrees
    new_spec = node_attrs(g2.nodes[1]).shape
    onnx_shape = [shape[i] if v == 0 else v for i, v in enumerate(new_spec)]
    assert x_val.reshape(onnx_shape).shape == infer_shape(g2).shape_of(g2.outputs[0])


def test_resolve_reshape_unknown_shape_left_alone():
    x = _var("x")
    r = Node("reshape", "r", [x[0]], {"shape": "(-3, -2)"})
    g2 = resolve_reshape(Graph([r[0]]))
    assert g2.nodes[1].attrs["shape"] == "(-3, -2)"
    g3 = resolve_reshape(Graph([r[0]]), shape={"x": (2, 3, 4)})
    assert g3.nodes[1].attrs["shape"] == "(6, 4)"
    with pytest.raises(ShapeError) as info:
        resolve_reshape(Graph([r[0]]), shape={"x": (2,)})
    assert info.value.node == "r"


# ---- fold_batch_norm ----------------------------------------------------------------------------
def _bn_after(x_entry, name, channels, axis=None, **attrs):
    """A batch_norm node over ``x_entry`` and its (constant) statistics."""
    stats = [_var(f"{name}_{k}") for k in ("gamma", "beta", "moving_mean", "moving_var")]
    if axis is not None:
        attrs["axis"] = str(axis)
    bn = Node("batch_norm", name, [x_entry] + [s[0] for s in stats], {"epsilon": "1e-3", **attrs})
    params = {f"{name}_gamma": _rand(channels), f"{name}_beta": _rand(channels),
              f"{name}_moving_mean": _rand(channels), f"{name}_moving_var": np.abs(_rand(channels)) + 0.5}
    return bn, params


def _assert_same_results(g, params, g2, p2, feeds):
    before = run_graph(g, feeds, params)
    after = run_graph(g2, feeds, p2)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        # float32 sums of many products: near-zero outputs are compared at the tensor's scale
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.max(np.abs(b)))))
        assert a.dtype == b.dtype
    # the folded graph passes shape inference, with the same output shapes
    shapes = {k: v.shape for k, v in feeds.items()}
    s1 = infer_shape(g, shape=shapes, params=params, strict=True)
    s2 = infer_shape(g2, shape=shapes, params=p2, strict=True)
    assert [s2.shape_of(e) for e in g2.outputs] == [s1.shape_of(e) for e in g.outputs]
    assert set(p2) == {n.name for n in g2.variables} - set(feeds)


@pytest.mark.parametrize("nsp,use_bias,groups", [(2, True, 1), (2, False, 1), (2, True, 2), (2, False, 3),
                                                 (1, True, 1), (3, False, 1)])
def test_fold_batch_norm_into_conv(nsp, use_bias, groups):
    cin, cout, spatial = 6, 6, (7, 6, 5)[:nsp]
    x, w = _var("x", (2, cin) + spatial), _var("conv_weight")
    inputs = [x[0], w[0]]
    params = {"conv_weight": _rand(cout, cin // groups, *(3,) * nsp)}
    if use_bias:
        inputs.append(_var("conv_bias")[0])
        params["conv_bias"] = _rand(cout)
    conv = Node(f"conv{nsp}d", "conv", inputs, {"channels": str(cout), "kernel_size": str((3,) * nsp),
                                                "padding": str((1,) * nsp), "groups": str(groups),
                                                "use_bias": str(use_bias)})
    bn, bn_params = _bn_after(conv[0], "bn", cout, axis=1 if nsp != 2 else None)
    relu = Node("relu", "relu", [bn[0]])
    g = Graph([relu[0]])
    params.update(bn_params)
    before_json, before_params = save_json(g), dict(params)
    g2, p2 = fold_batch_norm(g, params)
    assert save_json(g) == before_json and params.keys() == before_params.keys()  # inputs untouched
    assert _ops(g2) == [f"conv{nsp}d", "relu"]
    assert set(p2) == {"conv_weight", "conv_bias"}  # the weight (and bias) keep their names; stats are gone
    assert node_attrs(g2.nodes[-2]).use_bias and "use_bias" not in g2.nodes[-2].attrs
    assert p2["conv_weight"].dtype == np.float32 and p2["conv_bias"].dtype == np.float32
    _assert_same_results(g, params, g2, p2, {"x": _rand(2, cin, *spatial)})


@pytest.mark.parametrize("data_shape,axis,use_bias", [((4, 5), 1, True), ((4, 5), -1, False), ((2, 3, 5), -1, True),
                                                  ((2, 3, 5), 2, False)])
def test_fold_batch_norm_into_dense(data_shape, axis, use_bias):
    x, w = _var("x", data_shape), _var("fc_weight")
    params = {"fc_weight": _rand(3, 5)}
    inputs = [x[0], w[0]]
    if use_bias:
        inputs.append(_var("fc_bias")[0])
        params["fc_bias"] = _rand(3)
    fc = Node("dense", "fc", inputs, {"units": "3", "use_bias": str(use_bias)})
    bn, bn_params = _bn_after(fc[0], "bn", 3, axis=axis)
    g = Graph([bn[0]])
    params.update(bn_params)
    g2, p2 = fold_batch_norm(g, params)
    assert _ops(g2) == ["dense"] and set(p2) == {"fc_weight", "fc_bias"}
    _assert_same_results(g, params, g2, p2, {"x": _rand(*data_shape)})


def test_fold_batch_norm_shared_conv_output_is_not_folded_into_the_conv():
    x, w = _var("x", (1, 4, 5, 5)), _var("w")
    conv = Node("conv2d", "conv", [x[0], w[0]], {"channels": "4", "kernel_size": "(1, 1)", "use_bias": "0"})
    bn, params = _bn_after(conv[0], "bn", 4)
    other = Node("relu", "other", [conv[0]])  # a second reader of the conv output
    g = Graph([bn[0], other[0]])
    params["w"] = _rand(4, 4, 1, 1)
    g2, p2 = fold_batch_norm(g, params)
    assert sorted(_ops(g2)) == ["broadcast_add", "broadcast_mul", "conv2d", "relu"]
    np.testing.assert_array_equal(p2["w"], params["w"])
    assert g2.outputs[0].node.name == "bn"  # the add takes the batch_norm's name
    assert p2["bn_scale"].shape == (4, 1, 1) and p2["bn_scale"].dtype == np.float32
    _assert_same_results(g, params, g2, p2, {"x": _rand(1, 4, 5, 5)})


@pytest.mark.parametrize("axis,data_shape", [(1, (2, 3, 4)), (-2, (2, 3, 4)), (2, (2, 4, 3))])
def test_fold_batch_norm_elsewhere_becomes_multiply_add(axis, data_shape):
    # after an op with no weight, and after a conv whose channel axis is not the batch_norm's
    x = _var("x", data_shape)
    act = Node("tanh", "act", [x[0]])
    bn, params = _bn_after(act[0], "bn", 3, axis=axis, center="0")
    g = Graph([bn[0], bn[1], bn[2]])  # mean/var outputs are the moving statistics at inference
    g2, p2 = fold_batch_norm(g, params)
    assert _ops(g2) == ["tanh", "broadcast_mul", "broadcast_add"]
    assert [e.node.name for e in g2.outputs] == ["bn", "bn_moving_mean", "bn_moving_var"]
    _assert_same_results(g, params, g2, p2, {"x": _rand(*data_shape)})


def test_fold_batch_norm_conv_channel_axis_mismatch():
    x, w = _var("x", (1, 2, 3, 3)), _var("w")
    conv = Node("conv2d", "conv", [x[0], w[0]], {"channels": "3", "kernel_size": "(1, 1)", "use_bias": "0"})
    bn, params = _bn_after(conv[0], "bn", 3, axis=2)
    g = Graph([bn[0]])
    params["w"] = _rand(3, 2, 1, 1)
    g2, p2 = fold_batch_norm(g, params)
    assert _ops(g2) == ["conv2d", "broadcast_mul", "broadcast_add"]
    _assert_same_results(g, params, g2, p2, {"x": _rand(1, 2, 3, 3)})


def test_fold_batch_norm_shared_weight_gets_a_new_name():
    x, w = _var("x", (1, 2, 4, 4)), _var("w")
    attrs = {"channels": "2", "kernel_size": "(3, 3)", "padding": "(1, 1)", "use_bias": "0"}
    c1 = Node("conv2d", "c1", [x[0], w[0]], attrs)
    bn1, p1 = _bn_after(c1[0], "bn1", 2)
    c2 = Node("conv2d", "c2", [bn1[0], w[0]], attrs)
    bn2, p2_ = _bn_after(c2[0], "bn2", 2)
    g = Graph([bn2[0]])
    params = {"w": _rand(2, 2, 3, 3), **p1, **p2_}
    g2, p2 = fold_batch_norm(g, params)
    assert _ops(g2) == ["conv2d", "conv2d"]
    assert set(p2) == {"c1_weight", "c1_bias", "c2_weight", "c2_bias"}  # w itself is no longer used
    _assert_same_results(g, params, g2, p2, {"x": _rand(1, 2, 4, 4)})


def test_fold_batch_norm_leaves_non_constant_statistics_alone():
    x, w = _var("x", (1, 2, 3, 3)), _var("w")
    conv = Node("conv2d", "conv", [x[0], w[0]], {"channels": "2", "kernel_size": "(1, 1)", "use_bias": "0"})
    bn, params = _bn_after(conv[0], "bn", 2)
    params["w"] = _rand(2, 2, 1, 1)
    del params["bn_moving_var"]  # a graph input: not a constant
    g = Graph([bn[0]])
    g2, p2 = fold_batch_norm(g, params)
    assert save_json(g2) == save_json(g) and p2.keys() == params.keys()
    feeds = {"x": _rand(1, 2, 3, 3), "bn_moving_var": np.abs(_rand(2)) + 0.5}
    np.testing.assert_array_equal(run_graph(g2, feeds, p2)[0], run_graph(g, feeds, params)[0])


def test_run_passes_accepts_fold_batch_norm():
    x, w = _var("x", (1, 2, 3, 3)), _var("w")
    conv = Node("conv2d", "conv", [x[0], w[0]], {"channels": "2", "kernel_size": "(1, 1)", "use_bias": "0"})
    bn, params = _bn_after(conv[0], "bn", 2)
    drop = Node("dropout", "drop", [bn[0]])
    g = Graph([drop[0]])
    params["w"] = _rand(2, 2, 1, 1)
    assert "fold_batch_norm" not in DEFAULT_PASSES
    g2, p2 = run_passes(g, params, passes=DEFAULT_PASSES + ("fold_batch_norm",))
    assert _ops(g2) == ["conv2d"] and set(p2) == {"w", "conv_bias"}
    _assert_same_results(g, params, g2, p2, {"x": _rand(1, 2, 3, 3)})


# ---- run_passes and whole models ----------------------------------------------------------------
def test_run_passes_on_a_training_graph():
    g = _training_graph()
    x = _var("x2", (2, 3, 4, 4))
    params = _bn_params()
    params["unused"] = _rand(2)
    g2, p2 = run_passes(g, params)
    assert "dropout" not in _ops(g2) and "block_grad" not in _ops(g2)
    assert "unused" not in p2 and set(p2) == {"gamma", "beta", "mean", "var"}
    x_val = _rand(2, 3, 4, 4)
    _close(run_graph(g2, {"data": x_val}, p2)[0], run_graph(g, {"data": x_val}, params)[0])
    with pytest.raises(BridgeError, match="unknown pass"):
        run_passes(g, params, passes=("nonsense",))
    del x


def test_passes_on_the_nnvm_fixture():
    g = load_json(os.path.join(FIX, "nnvm_v06_graph.json"))
    shapes = {"conv0_weight": (4, 3, 3, 3), "conv0_bias": (4,), "bn0_gamma": (4,), "bn0_beta": (4,),
              "bn0_moving_mean": (4,), "bn0_moving_var": (4,), "fc1_weight": (10, 64), "fc1_bias": (10,)}
    params = {k: (np.abs(_rand(*s)) + 0.5 if k.endswith("var") else _rand(*s)) for k, s in shapes.items()}
    g2, p2 = run_passes(g, params)
    assert _ops(g2) == _ops(g) and set(p2) == set(params)
    x = _rand(1, 3, 8, 8)
    out = run_graph(g2, {"data": x}, p2)[0]
    _close(out, run_graph(g, {"data": x}, params)[0])
    _close(out.sum(axis=1), np.ones(1))  # softmax output


def test_interpreter_reports_missing_rules_and_inputs():
    x = _var("x")
    rs = Node("resize", "rs", [x[0]], {"size": "(2, 2)"})
    nms_in = _var("v")
    nms = Node("non_max_suppression", "nms", [x[0], nms_in[0]])
    with pytest.raises(UnsupportedOperatorError) as info:
        run_graph(Graph([rs[0], nms[0]]), {"x": _rand(1, 1, 2, 2)})
    assert set(info.value.ops) == {"resize", "non_max_suppression"}
    r = Node("relu", "r", [x[0]])
    with pytest.raises(ShapeError, match="no value") as info:
        run_graph(Graph([r[0]]), {})
    assert info.value.node == "x"


# ---- property: the default passes never change what a graph computes --------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_UNARY = ["negative", "relu", "sigmoid", "tanh", "dropout", "block_grad", "copy", "abs"]
_BINARY = ["broadcast_add", "broadcast_mul", "broadcast_sub", "elemwise_add"]


@st.composite
def _random_graph(draw):
    values = [_var("x", (2, 3, 4))[0]] + [_var(f"p{i}")[0] for i in range(3)]
    for i in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reshape"]))
        a = draw(st.sampled_from(values))
        if kind == "unary":
            node = Node(draw(st.sampled_from(_UNARY)), f"n{i}", [a])
        elif kind == "binary":
            node = Node(draw(st.sampled_from(_BINARY)), f"n{i}", [a, draw(st.sampled_from(values))])
        elif kind == "scalar":
            node = Node("__mul_scalar__", f"n{i}", [a], {"scalar": str(draw(st.sampled_from([0.5, 2.0, -1.0])))})
        else:  # an MXNet-style reshape there and back
            flat = Node("reshape", f"n{i}_flat", [a], {"shape": "(-3, -2)"})
            node = Node("reshape", f"n{i}", [flat[0]], {"shape": "(-4, 2, -1, -2)"})
        values.append(node[0])
    outs = [values[-1]] + draw(st.lists(st.sampled_from(values[4:]), max_size=2))
    return Graph(outs)


@settings(max_examples=40, deadline=None)
@given(_random_graph())
def test_default_passes_preserve_results(g):
    params = {f"p{i}": _rand(2, 3, 4) for i in range(3)}
    x = _rand(2, 3, 4)
    before = run_graph(g, {"x": x}, params)
    g2, p2 = run_passes(g, params)
    after = run_graph(g2, {"x": x}, p2)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        _close(a, b)
    assert not {"dropout", "block_grad", "copy"} & set(_ops(g2))
    assert all(not {-2, -3, -4} & set(node_attrs(n).shape) for n in g2.op_nodes() if n.op == "reshape")
    assert set(p2) <= {n.name for n in g2.variables}
    assert save_json(load_json(save_json(g2))) == save_json(g2)
