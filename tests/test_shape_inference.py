"""Shape and dtype inference for every op with a rule, checked against the numpy compute rules
and, for the ops MXNet shares (Convolution, Deconvolution, Pooling, Reshape), against MXNet."""
import numpy as np
import pytest

from nnvm_bridge.errors import ShapeError
from nnvm_bridge.ir import Graph, Node
from nnvm_bridge.ir.symbolic import sym
from nnvm_bridge.ir.passes import infer_shape, infer_type
from nnvm_bridge.ops import OPS, get_op, node_attrs

# op -> list of (attrs, input shapes[, input kinds]); kinds: "f" float, "i" small non-negative ints,
# "p" positive floats, "b" 0/1 floats.
CASES = {
    "elemwise_sum": [({"num_args": "3"}, [(2, 3)] * 3)],
    "full": [({"shape": "(2, 3)", "fill_value": "1.5"}, [])],
    "zeros": [({"shape": "(4,)", "dtype": "int64"}, [])],
    "ones": [({"shape": "(1, 2)", "dtype": "float16"}, [])],
    "batch_matmul": [({"transpose_b": "1"}, [(2, 3, 4), (2, 5, 4)]), ({}, [(3, 2, 4), (3, 4, 1)])],
    "tile": [({"reps": "(2, 1, 3)"}, [(2, 3)])],
    "repeat": [({"repeats": "2", "axis": "1"}, [(2, 3)]), ({"repeats": "3"}, [(2, 2)])],
    "stack": [({"axis": "1", "num_args": "2"}, [(2, 3), (2, 3)]), ({"axis": "-1", "num_args": "3"}, [(4,)] * 3)],
    "one_hot": [({"depth": "4"}, [(2, 3)], "i"), ({"depth": "3", "axis": "0", "dtype": "int32"}, [(5,)], "i")],
    "topk": [({"k": "2", "axis": "1"}, [(2, 5)]), ({"k": "1", "ret_type": "indices", "axis": "0"}, [(4, 3)]),
             ({"k": "3", "ret_type": "values", "is_ascend": "1"}, [(2, 6)])],
    "arange": [({"start": "1", "stop": "7", "step": "2"}, []), ({"stop": "5", "dtype": "int32"}, [])],
    "shape_of": [({}, [(2, 3, 4)])],
    "depth_to_space": [({"block_size": "2"}, [(1, 8, 2, 3)]), ({"block_size": "2", "mode": "CRD"}, [(1, 8, 2, 3)])],
    "space_to_depth": [({"block_size": "2"}, [(1, 2, 4, 6)])],
    "mirror_pad": [({"pad_width": "((0, 0), (0, 0), (1, 2), (2, 1))"}, [(1, 2, 4, 5)]),
                   ({"pad_width": "((1, 1), (0, 2))", "mode": "edge"}, [(3, 3)])],
    "adaptive_avg_pool2d": [({"output_size": "(2, 3)"}, [(1, 2, 5, 7)]), ({"output_size": "(1,)"}, [(1, 2, 3, 3)])],
    "norm": [({"axis": "(1,)", "keepdims": "1"}, [(2, 3, 4)]), ({"ord": "1"}, [(2, 3)])],
    "layer_norm": [({"axis": "-1"}, [(2, 3, 4), (4,), (4,)]), ({"axis": "1"}, [(2, 3, 4), (3,), (3,)])],
    "instance_norm": [({}, [(2, 3, 4, 5), (3,), (3,)])],
    "group_norm": [({"num_groups": "2"}, [(2, 4, 3, 3), (4,), (4,)])],
    "dense": [({"units": "5"}, [(2, 3, 4), (5, 4), (5,)]), ({"units": "2", "use_bias": "0"}, [(3, 4), (2, 4)])],
    "dropout": [({"rate": "0.3"}, [(2, 3)])],
    "batch_norm": [({}, [(2, 3, 4, 4), (3,), (3,), (3,), (3,)], "ffffp"),
                   ({"axis": "-1", "center": "0"}, [(2, 5), (5,), (5,), (5,), (5,)], "ffffp")],
    "prelu": [({}, [(2, 3, 4, 4), (3,)])],
    "pad": [({"pad_width": "((0, 0), (1, 2), (0, 1))", "pad_value": "1.5"}, [(2, 3, 4)])],
    "upsampling": [({"scale": "2"}, [(1, 2, 3, 4)])],
    "resize": [({"size": "(5, 6)"}, [(1, 2, 3, 4)])],
    "conv2d": [({"channels": "4", "kernel_size": "(3, 3)", "strides": "(2, 1)", "padding": "(1, 0)",
                 "dilation": "(1, 2)", "groups": "2"}, [(2, 6, 7, 8), (4, 3, 3, 3), (4,)]),
               ({"channels": "3", "kernel_size": "(2, 2)", "padding": "(0, 1, 1, 0)", "use_bias": "0"},
                [(1, 2, 5, 5), (3, 2, 2, 2)])],
    "conv2d_transpose": [({"channels": "4", "kernel_size": "(3, 3)", "strides": "(2, 2)", "padding": "(1, 1)",
                           "output_padding": "(1, 0)", "groups": "2"}, [(1, 6, 4, 5), (6, 2, 3, 3), (4,)]),
                         ({"channels": "2", "kernel_size": "(2, 3)", "dilation": "(2, 1)", "use_bias": "0"},
                          [(1, 3, 3, 3), (3, 2, 2, 3)])],
    "max_pool2d": [({"pool_size": "(3, 3)", "strides": "(2, 2)", "padding": "(1, 1)", "ceil_mode": "1"},
                    [(1, 2, 7, 8)]),
                   ({"pool_size": "(2, 2)", "padding": "(0, 0, 1, 1)"}, [(1, 1, 4, 4)])],
    "avg_pool2d": [({"pool_size": "(3, 3)", "strides": "(2, 2)", "padding": "(1, 1)", "ceil_mode": "1",
                     "count_include_pad": "1"}, [(1, 2, 7, 8)]),
                   ({"pool_size": "(2, 3)", "strides": "(1, 2)", "padding": "(1, 1)"}, [(2, 2, 5, 6)])],
    "conv1d": [({"channels": "3", "kernel_size": "(3,)", "padding": "(1,)"}, [(2, 4, 9), (3, 4, 3), (3,)])],
    "conv1d_transpose": [({"channels": "3", "kernel_size": "(4,)", "strides": "(2,)"}, [(1, 2, 5), (2, 3, 4), (3,)])],
    "max_pool1d": [({"pool_size": "(2,)", "strides": "(2,)"}, [(1, 2, 9)])],
    "avg_pool1d": [({"pool_size": "(3,)", "padding": "(1,)"}, [(1, 2, 9)])],
    "conv3d": [({"channels": "2", "kernel_size": "(2, 3, 3)", "padding": "(0, 1, 1)"},
                [(1, 3, 4, 5, 6), (2, 3, 2, 3, 3), (2,)])],
    "conv3d_transpose": [({"channels": "2", "kernel_size": "(2, 2, 2)", "strides": "(2, 2, 2)"},
                          [(1, 3, 2, 3, 3), (3, 2, 2, 2, 2), (2,)])],
    "max_pool3d": [({"pool_size": "(2, 2, 2)", "strides": "(2, 2, 2)"}, [(1, 2, 4, 4, 5)])],
    "avg_pool3d": [({"pool_size": "(2, 2, 2)", "strides": "(1, 2, 2)", "padding": "(1, 0, 0)"}, [(1, 2, 4, 4, 5)])],
    "sum": [({"axis": "(1,)"}, [(2, 3, 4)]), ({"axis": "(0, 2)", "keepdims": "1"}, [(2, 3, 4)]),
            ({"axis": "(1,)", "exclude": "1"}, [(2, 3, 4)]), ({}, [(2, 3)])],
    "argmax": [({"axis": "(1,)"}, [(2, 3, 4)]), ({"axis": "(-1,)", "keepdims": "1", "dtype": "int64"}, [(2, 3)])],
    "argmin": [({"axis": "(0,)"}, [(3, 2)]), ({}, [(2, 3)])],
    "collapse_sum": [({}, [(2, 3, 4), (3, 1)])],
    "flatten": [({}, [(2, 3, 4)]), ({}, [(5,)])],
    "concatenate": [({"axis": "1"}, [(2, 3), (2, 5)]), ({"axis": "-1"}, [(1, 2, 1), (1, 2, 3), (1, 2, 2)])],
    "expand_dims": [({"axis": "1", "num_newaxis": "2"}, [(2, 3)]), ({"axis": "-1"}, [(2, 3)])],
    "squeeze": [({"axis": "(1,)"}, [(2, 1, 3)]), ({}, [(1, 2, 1)])],
    "split": [({"indices_or_sections": "(1, 3)", "axis": "1"}, [(2, 5)]),
              ({"indices_or_sections": "3", "axis": "0"}, [(6, 2)])],
    "cast": [({"dtype": "int32"}, [(2, 3)]), ({"dtype": "float16"}, [(2,)])],
    "reshape": [({"shape": "(0, -1)"}, [(2, 3, 4)]), ({"shape": "(-3, -2)"}, [(2, 3, 4, 5)]),
                ({"shape": "(0, -4, 2, -1, -2)"}, [(2, 6, 4)]), ({"shape": "(-1,)"}, [(2, 3)]),
                ({"shape": "(-2, 1)"}, [(3, 2)])],
    "reshape_like": [({}, [(2, 6), (3, 4)])],
    "transpose": [({"axes": "(2, 0, 1)"}, [(2, 3, 4)]), ({}, [(2, 3, 4)])],
    "strided_slice": [({"begin": "(0, 1)", "end": "(2, -1)", "stride": "(1, 2)"}, [(2, 5, 3)]),
                      ({"begin": "(3,)", "end": "(0,)", "stride": "(-1,)"}, [(5, 2)])],
    "slice_like": [({"axis": "(1,)"}, [(2, 5), (1, 3)]), ({}, [(4, 5), (2, 3)])],
    "flip": [({"axis": "1"}, [(2, 3)])],
    "cumsum": [({"axis": "1", "exclusive": "1"}, [(2, 3)]), ({"axis": "-1", "reverse": "1"}, [(4,)])],
    "take": [({"axis": "1"}, [(2, 5), (3,)], "fi"), ({}, [(2, 5), (2, 2)], "fi")],
    "gather_nd": [({}, [(3, 4, 5), (2, 6)], "fi")],
    "where": [({}, [(2, 3), (2, 3), (2, 3)], "bff"), ({}, [(2,), (2, 3), (2, 3)], "bff")],
    "expand_like": [({"axis": "(1,)"}, [(2, 4), (2, 3, 4)])],
    "broadcast_to": [({"shape": "(2, 3, 4)"}, [(3, 1)]), ({"shape": "(2, 0)"}, [(1, 3)])],
    "matmul": [({"transpose_a": "1"}, [(3, 2), (3, 4)]), ({"transpose_b": "1"}, [(2, 3), (4, 3)])],
    "yolo_reorg": [({"stride": "2"}, [(1, 2, 4, 6)])],
    "lrn": [({"size": "3", "axis": "1", "alpha": "1e-4", "beta": "0.75", "bias": "2"}, [(1, 5, 3, 3)])],
    "l2_normalize": [({"eps": "1e-10", "axis": "(1,)"}, [(2, 3, 4)])],
    "clip": [({"a_min": "0.2", "a_max": "0.5"}, [(2, 3)])],
    "full_like": [({"fill_value": "3"}, [(2, 3)])],
    "gelu": [({}, [(2, 3)]), ({"approximation": "tanh"}, [(2, 3)])],
    "softmax": [({"axis": "1"}, [(2, 3, 4)])],
    "log_softmax": [({}, [(2, 3)])],
    "box_nms": [({}, [(2, 5, 6)]), ({"coord_start": "1", "score_index": "0", "id_index": "-1"}, [(7, 5)])],
}
_INT_OPS = {"broadcast_left_shift", "broadcast_right_shift", "__lshift_scalar__", "__rshift_scalar__",
            "elemwise_mod", "broadcast_mod", "broadcast_bitwise_and", "broadcast_bitwise_or", "broadcast_bitwise_xor",
            "bitwise_not"}
_BINARY_SAME = {"elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "elemwise_mod", "elemwise_pow",
                "logical_and", "logical_or", "greater", "less", "logical_xor", "_assign"}
_CORE_MODULES = {"nnvm_bridge.ops." + m for m in ("common", "tensor", "ext", "nn", "reduce", "transform", "vision")}


def _default_cases(name):
    """Cases for ops not listed above: elementwise ops get generic shapes."""
    op = OPS[name]
    if name in CASES:
        return CASES[name]
    if name.startswith("broadcast_"):
        return [({}, [(2, 1, 4), (3, 1)]), ({}, [(5,), (2, 5)])]
    if name in _BINARY_SAME:
        return [({}, [(2, 3), (2, 3)])]
    if "scalar" in op.attrs:
        return [({"scalar": "2"}, [(2, 3)])]
    if op.inputs == ("data",) and not any(a.required for a in op.attrs.values()):
        return [({}, [(2, 3, 4)])]
    return []


def _ops_with_rules():
    return sorted(n for n, o in OPS.items() if o.infer_shape is not None and o.infer_shape.__module__ in _CORE_MODULES)


def _make_input(shape, kind, rng, dtype):
    if kind == "i":
        return rng.integers(0, 2, size=shape).astype(np.int64)
    if kind == "b":
        return (rng.random(shape) > 0.5).astype(dtype)
    if kind == "p":
        return (rng.random(shape) + 0.5).astype(dtype)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(1, 4, size=shape).astype(dtype)
    return (rng.random(shape) * 0.8 + 0.1).astype(dtype)


def _graph_for(name, attrs, shapes):
    vars_ = [Node("null", f"in{i}") for i in range(len(shapes))]
    node = Node(name, "node", [v[0] for v in vars_], attrs)
    op = get_op(name)
    n_out = op.count_outputs(node_attrs(node))
    return Graph([node[k] for k in range(n_out)]), node, n_out


def test_every_shape_rule_has_a_case():
    missing = [n for n in _ops_with_rules() if not _default_cases(n)]
    assert not missing, f"ops with a shape rule but no test case: {missing}"


@pytest.mark.parametrize("name", _ops_with_rules())
def test_shape_rule_matches_compute(name):
    rng = np.random.default_rng(0)
    for case in _default_cases(name):
        attrs, shapes = case[0], case[1]
        kinds = case[2] if len(case) > 2 else "f" * len(shapes)
        g, node, n_out = _graph_for(name, attrs, shapes)
        dtype = "int32" if name in _INT_OPS else "float32"
        feeds = {f"in{i}": s for i, s in enumerate(shapes)}
        sg = infer_shape(g, shape=feeds)
        dtypes = {f"in{i}": ("int64" if k == "i" else dtype) for i, k in enumerate(kinds)}
        tg = infer_type(g, dtype=dtypes)
        out_shapes = [sg.shape_of(e) for e in g.outputs]
        out_types = [tg.dtype_of(e) for e in g.outputs]
        assert all(s is not None for s in out_shapes), (name, attrs)
        # partial knowledge: unknown inputs give unknown outputs, never an exception
        partial = infer_shape(g)
        if shapes:
            assert all(partial.shape_of(e) is None for e in g.outputs) or name in ("shape_of",)
        op = get_op(name)
        if op.compute is None:
            continue
        xs = [_make_input(s, k, rng, dtypes[f"in{i}"]) for i, (s, k) in enumerate(zip(shapes, kinds))]
        if name == "gather_nd":
            xs[1] = rng.integers(0, 3, size=shapes[1])
        outs = op.compute(node_attrs(node), xs)
        assert len(outs) == n_out
        for k, o in enumerate(outs):
            assert tuple(np.shape(o)) == out_shapes[k], (name, attrs, k)
            assert np.asarray(o).dtype == np.dtype(out_types[k]), (name, attrs, k, np.asarray(o).dtype)


def test_shape_errors_name_the_node():
    x, w = Node("null", "x"), Node("null", "w")
    conv = Node("conv2d", "conv_bad", [x[0], w[0]], {"channels": "4", "kernel_size": "(3, 3)", "use_bias": "0"})
    with pytest.raises(ShapeError) as info:
        infer_shape(Graph([conv[0]]), shape={"x": (1, 3, 8, 8), "w": (4, 2, 3, 3)})
    assert info.value.node == "conv_bad" and info.value.op == "conv2d" and "channels" in str(info.value)
    add = Node("elemwise_add", "add_bad", [x[0], w[0]])
    with pytest.raises(ShapeError, match="same shape") as info:
        infer_shape(Graph([add[0]]), shape={"x": (2, 3), "w": (3, 2)})
    assert "'add_bad'" in str(info.value)
    r = Node("reshape", "rs_bad", [x[0]], {"shape": "(5, -1)"})
    with pytest.raises(ShapeError, match="cannot reshape") as info:
        infer_shape(Graph([r[0]]), shape={"x": (2, 3)})
    assert info.value.node == "rs_bad"
    with pytest.raises(ShapeError, match="give this input's shape"):
        infer_shape(Graph([r[0]]), strict=True)


def test_shape_hints_and_priorities():
    x = Node("null", "x", attrs={"__shape__": "(0, 3)", "__dtype__": "6"})
    y = Node("null", "y", attrs={"__shape__": "(2, 3)"})
    add = Node("broadcast_add", "a", [x[0], y[0]])
    g = Graph([add[0]])
    # 0 = unknown in MXNet hints: a symbolic dim, which broadcasting against 2 resolves
    assert infer_shape(g).shape_of(x[0]) == (sym("x_dim0"), 3)
    assert infer_shape(g).shape_of(g.outputs[0]) == (2, 3)
    assert infer_shape(g, shape={"y": (1, 3)}).shape_of(g.outputs[0]) == (sym("x_dim0"), 3)
    assert infer_shape(g, shape={"x": (4, 1, 3)}).shape_of(g.outputs[0]) == (4, 2, 3)
    params = {"x": np.zeros((2, 1), np.float32)}
    assert infer_shape(g, params=params).shape_of(g.outputs[0]) == (2, 3)
    t = infer_type(g)
    assert t.dtype_of(x[0]) == "int64" and t.dtype_of(y[0]) == "float32"
    assert infer_type(g, dtype="float16").dtype_of(x[0]) == "float16"
    # numpy type classes (what mx.nd.NDArray.dtype returns) and np.dtype objects are accepted
    assert infer_type(g, dtype={"x": np.int8, "y": np.dtype("float64")}).dtype_of(add[0]) == "int8"
    assert infer_type(g, params={"y": np.zeros(3, np.float16)}).dtype_of(y[0]) == "float16"


# ---- agreement with MXNet's own shape inference -----------------------------------------------
@pytest.fixture(scope="module")
def mx():
    return pytest.importorskip("mxnet")


def _nnvm_shape(op, attrs, shapes):
    g, node, n_out = _graph_for(op, attrs, shapes)
    return infer_shape(g, shape={f"in{i}": s for i, s in enumerate(shapes)}).shape_of(g.outputs[0])


def _fmt(t):
    return "(" + ", ".join(str(v) for v in t) + ("," if len(t) == 1 else "") + ")"


CONV_CONFIGS = [
    # data shape, kernel, stride, pad, dilate, num_filter, groups
    ((1, 3, 9, 9), (3, 3), (1, 1), (1, 1), (1, 1), 4, 1),
    ((2, 4, 10, 7), (3, 2), (2, 3), (1, 0), (1, 1), 6, 2),
    ((1, 6, 11, 11), (3, 3), (2, 2), (2, 2), (2, 2), 6, 6),
    ((1, 2, 8), (5,), (3,), (2,), (1,), 4, 1),
    ((1, 2, 5, 6, 7), (2, 3, 3), (1, 2, 2), (1, 1, 0), (1, 1, 2), 4, 2),
]


@pytest.mark.parametrize("cfg", CONV_CONFIGS)
def test_conv_shapes_match_mxnet(mx, cfg):
    dshape, k, s, p, d, nf, g = cfg
    nsp = len(k)
    sym = mx.sym.Convolution(mx.sym.var("x"), kernel=k, stride=s, pad=p, dilate=d, num_filter=nf, num_group=g,
                             name="c")
    arg_shapes, out_shapes, _ = sym.infer_shape(x=dshape)
    w_shape = arg_shapes[1]
    ours = _nnvm_shape(f"conv{nsp}d", {"channels": str(nf), "kernel_size": _fmt(k), "strides": _fmt(s),
                                       "padding": _fmt(p), "dilation": _fmt(d), "groups": str(g)},
                       [dshape, w_shape, (nf,)])
    assert ours == out_shapes[0]


DECONV_CONFIGS = [
    # data shape, kernel, stride, pad, adj, dilate, num_filter, groups
    ((1, 3, 4, 4), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 5, 1),
    ((2, 4, 5, 3), (4, 2), (2, 1), (1, 0), (0, 0), (1, 2), 6, 2),
    ((1, 2, 7), (3,), (3,), (0,), (2,), (1,), 4, 2),
    ((1, 2, 3, 3, 3), (2, 2, 2), (2, 2, 2), (0, 0, 0), (0, 1, 0), (1, 1, 1), 3, 1),
]


@pytest.mark.parametrize("cfg", DECONV_CONFIGS)
def test_deconv_shapes_match_mxnet(mx, cfg):
    dshape, k, s, p, adj, d, nf, g = cfg
    nsp = len(k)
    sym = mx.sym.Deconvolution(mx.sym.var("x"), kernel=k, stride=s, pad=p, adj=adj, dilate=d, num_filter=nf,
                               num_group=g, no_bias=False, name="d")
    arg_shapes, out_shapes, _ = sym.infer_shape(x=dshape)
    ours = _nnvm_shape(f"conv{nsp}d_transpose", {
        "channels": str(nf), "kernel_size": _fmt(k), "strides": _fmt(s), "padding": _fmt(p),
        "output_padding": _fmt(adj), "dilation": _fmt(d), "groups": str(g)}, [dshape, arg_shapes[1], (nf,)])
    assert ours == out_shapes[0]


POOL_CONFIGS = [
    # data shape, kernel, stride, pad, convention, pool type
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), "valid", "max"),
    ((1, 2, 7, 8), (3, 3), (2, 2), (1, 1), "full", "max"),
    ((2, 3, 10, 9), (2, 3), (2, 2), (0, 1), "full", "avg"),
    ((1, 1, 6, 6), (2, 2), (2, 2), (0, 0), "valid", "avg"),
    ((1, 2, 9), (3,), (2,), (1,), "full", "max"),
    ((1, 2, 5, 6, 7), (2, 2, 3), (2, 2, 2), (0, 1, 1), "valid", "avg"),
]


@pytest.mark.parametrize("cfg", POOL_CONFIGS)
def test_pool_shapes_match_mxnet(mx, cfg):
    dshape, k, s, p, conv, kind = cfg
    nsp = len(k)
    sym = mx.sym.Pooling(mx.sym.var("x"), kernel=k, stride=s, pad=p, pooling_convention=conv, pool_type=kind)
    _, out_shapes, _ = sym.infer_shape(x=dshape)
    ours = _nnvm_shape(f"{kind}_pool{nsp}d", {"pool_size": _fmt(k), "strides": _fmt(s), "padding": _fmt(p),
                                              "ceil_mode": str(conv == "full")}, [dshape])
    assert ours == out_shapes[0]
    gsym = mx.sym.Pooling(mx.sym.var("x"), kernel=k, global_pool=True, pool_type=kind)
    assert _nnvm_shape(f"global_{kind}_pool{nsp}d", {}, [dshape]) == gsym.infer_shape(x=dshape)[1][0]


RESHAPE_CONFIGS = [
    ((2, 3, 4), (0, -1)), ((2, 3, 4), (-1,)), ((2, 3, 4, 5), (-3, -2)), ((2, 3, 4, 5), (0, 0, -3)),
    ((2, 6, 4), (0, -4, 2, -1, -2)), ((2, 6, 4), (-4, 1, 2, -2)), ((2, 3, 4), (-2,)), ((2, 3, 4), (4, 0, -1)),
    ((6, 4), (-4, -1, 3, 0)), ((2, 3, 4, 5), (-3, -3)), ((3, 2), (-2, 1, 1)), ((2, 3, 4), (0, 0, 2, -1)),
]


@pytest.mark.parametrize("cfg", RESHAPE_CONFIGS)
def test_reshape_special_values_match_mxnet(mx, cfg):
    dshape, spec = cfg
    sym = mx.sym.Reshape(mx.sym.var("x"), shape=spec)
    _, out_shapes, _ = sym.infer_shape(x=dshape)
    assert _nnvm_shape("reshape", {"shape": _fmt(spec)}, [dshape]) == out_shapes[0]


def test_fc_flatten_and_dot_shapes_match_mxnet(mx):
    sym = mx.sym.FullyConnected(mx.sym.var("x"), num_hidden=7, flatten=False, name="fc")
    args, outs, _ = sym.infer_shape(x=(2, 3, 5))
    assert _nnvm_shape("dense", {"units": "7"}, [(2, 3, 5), args[1], args[2]]) == outs[0]
    sym = mx.sym.batch_dot(mx.sym.var("a"), mx.sym.var("b"), transpose_b=True)
    outs = sym.infer_shape(a=(4, 2, 3), b=(4, 5, 3))[1]
    assert _nnvm_shape("batch_matmul", {"transpose_b": "1"}, [(4, 2, 3), (4, 5, 3)]) == outs[0]
