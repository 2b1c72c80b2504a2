"""The numpy ``compute`` rules against MXNet's own operators (a real executor, no mocks)."""
import numpy as np
import pytest

from nnvm_bridge.ir import Node
from nnvm_bridge.ops import get_op, node_attrs
from tolerance import assert_close as _close  # noqa: E402

mx = pytest.importorskip("mxnet")
nd = mx.nd


def _compute(op, attrs, xs):
    node = Node(op, "n", [Node("null", f"x{i}")[0] for i in range(len(xs))], attrs)
    return get_op(op).compute(node_attrs(node), [np.asarray(x) for x in xs])


def _fmt(t):
    return "(" + ", ".join(str(v) for v in t) + ("," if len(t) == 1 else "") + ")"


RNG = np.random.default_rng(7)


def _rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("dshape,k,s,p,d,nf,g", [
    ((2, 4, 9, 8), (3, 3), (2, 1), (1, 0), (1, 2), 6, 2),
    ((1, 3, 7, 7), (1, 1), (1, 1), (0, 0), (1, 1), 5, 1),
    ((1, 4, 6, 6), (3, 3), (1, 1), (1, 1), (1, 1), 4, 4),
    ((2, 2, 11), (4,), (2,), (1,), (2,), 3, 1),
    ((1, 2, 4, 5, 5), (2, 3, 3), (1, 2, 1), (1, 0, 1), (1, 1, 1), 4, 2),
])
def test_conv_matches_mxnet(dshape, k, s, p, d, nf, g):
    x = _rand(*dshape)
    w = _rand(nf, dshape[1] // g, *k)
    b = _rand(nf)
    theirs = nd.Convolution(nd.array(x), nd.array(w), nd.array(b), kernel=k, stride=s, pad=p, dilate=d,
                            num_filter=nf, num_group=g).asnumpy()
    ours = _compute(f"conv{len(k)}d", {"channels": str(nf), "kernel_size": _fmt(k), "strides": _fmt(s),
                                       "padding": _fmt(p), "dilation": _fmt(d), "groups": str(g)}, [x, w, b])[0]
    _close(ours, theirs)


def test_conv_asymmetric_padding_equals_pad_then_conv():
    x, w = _rand(1, 2, 6, 7), _rand(3, 2, 3, 3)
    ours = _compute("conv2d", {"channels": "3", "kernel_size": "(3, 3)", "padding": "(1, 0, 2, 1)",
                               "use_bias": "0"}, [x, w])[0]
    xp = np.pad(x, [(0, 0), (0, 0), (1, 2), (0, 1)])
    theirs = nd.Convolution(nd.array(xp), nd.array(w), kernel=(3, 3), num_filter=3, no_bias=True).asnumpy()
    _close(ours, theirs)


@pytest.mark.parametrize("dshape,k,s,p,adj,d,nf,g", [
    ((1, 3, 4, 4), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 5, 1),
    ((2, 4, 5, 3), (4, 2), (2, 1), (1, 0), (0, 0), (1, 2), 6, 2),
    ((1, 2, 7), (3,), (3,), (0,), (2,), (1,), 4, 2),
    ((1, 2, 3, 3, 2), (2, 2, 2), (2, 2, 2), (0, 1, 0), (0, 1, 0), (1, 1, 1), 3, 1),
])
def test_conv_transpose_matches_mxnet(dshape, k, s, p, adj, d, nf, g):
    x = _rand(*dshape)
    w = _rand(dshape[1], nf // g, *k)
    b = _rand(nf)
    theirs = nd.Deconvolution(nd.array(x), nd.array(w), nd.array(b), kernel=k, stride=s, pad=p, adj=adj, dilate=d,
                              num_filter=nf, num_group=g, no_bias=False).asnumpy()
    ours = _compute(f"conv{len(k)}d_transpose", {
        "channels": str(nf), "kernel_size": _fmt(k), "strides": _fmt(s), "padding": _fmt(p),
        "output_padding": _fmt(adj), "dilation": _fmt(d), "groups": str(g)}, [x, w, b])[0]
    _close(ours, theirs)


@pytest.mark.parametrize("dshape,k,s,p,conv,kind,include", [
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), "valid", "max", True),
    ((1, 2, 7, 8), (3, 3), (2, 2), (1, 1), "full", "max", True),
    ((2, 3, 10, 9), (2, 3), (2, 2), (0, 1), "full", "avg", True),
    ((2, 3, 9, 9), (3, 3), (2, 2), (1, 1), "valid", "avg", False),
    ((1, 2, 8, 8), (3, 3), (2, 2), (1, 1), "full", "avg", False),
    ((1, 2, 9), (3,), (2,), (1,), "full", "max", True),
    ((1, 2, 5, 6, 7), (2, 2, 3), (2, 2, 2), (0, 1, 1), "valid", "avg", True),
])
def test_pool_matches_mxnet(dshape, k, s, p, conv, kind, include):
    x = _rand(*dshape)
    theirs = nd.Pooling(nd.array(x), kernel=k, stride=s, pad=p, pooling_convention=conv, pool_type=kind,
                        count_include_pad=include).asnumpy()
    attrs = {"pool_size": _fmt(k), "strides": _fmt(s), "padding": _fmt(p), "ceil_mode": str(conv == "full")}
    if kind == "avg":
        attrs["count_include_pad"] = str(include)
    _close(_compute(f"{kind}_pool{len(k)}d", attrs, [x])[0], theirs)
    gtheirs = nd.Pooling(nd.array(x), kernel=k, global_pool=True, pool_type=kind).asnumpy()
    _close(_compute(f"global_{kind}_pool{len(k)}d", {}, [x])[0], gtheirs)


def test_batch_norm_matches_mxnet_inference():
    x, gamma, beta, mean = _rand(2, 3, 4, 5), _rand(3), _rand(3), _rand(3)
    var = np.abs(_rand(3)) + 0.5
    theirs = nd.BatchNorm(nd.array(x), nd.array(gamma), nd.array(beta), nd.array(mean), nd.array(var), eps=1e-3,
                          fix_gamma=False, use_global_stats=True).asnumpy()
    out = _compute("batch_norm", {"epsilon": "1e-3"}, [x, gamma, beta, mean, var])
    _close(out[0], theirs)
    np.testing.assert_array_equal(out[1], mean)
    # fix_gamma=True in MXNet == scale=False in NNVM
    theirs = nd.BatchNorm(nd.array(x), nd.array(gamma), nd.array(beta), nd.array(mean), nd.array(var), eps=1e-3,
                          fix_gamma=True, use_global_stats=True).asnumpy()
    _close(_compute("batch_norm", {"epsilon": "1e-3", "scale": "0"}, [x, gamma, beta, mean, var])[0], theirs)


def test_norms_match_mxnet():
    x = _rand(2, 4, 3, 5)
    g4, b4 = _rand(4), _rand(4)
    _close(_compute("instance_norm", {"epsilon": "1e-5"}, [x, g4, b4])[0],
           nd.InstanceNorm(nd.array(x), nd.array(g4), nd.array(b4), eps=1e-5).asnumpy())
    g5, b5 = _rand(5), _rand(5)
    _close(_compute("layer_norm", {"axis": "-1"}, [x, g5, b5])[0],
           nd.LayerNorm(nd.array(x), nd.array(g5), nd.array(b5), axis=-1, eps=1e-5).asnumpy())
    _close(_compute("group_norm", {"num_groups": "2"}, [x, g4, b4])[0],
           nd.GroupNorm(nd.array(x), nd.array(np.ones(2, np.float32)), nd.array(np.zeros(2, np.float32)),
                        num_groups=2, eps=1e-5).asnumpy() * g4.reshape(1, 4, 1, 1) + b4.reshape(1, 4, 1, 1))
    _close(_compute("lrn", {"size": "3", "axis": "1", "alpha": "1e-2", "beta": "0.75", "bias": "2"}, [x])[0],
           nd.LRN(nd.array(x), nsize=3, alpha=1e-2, beta=0.75, knorm=2).asnumpy())
    _close(_compute("l2_normalize", {"eps": "1e-10", "axis": "(1,)"}, [x])[0],
           nd.L2Normalization(nd.array(x), mode="channel", eps=1e-10).asnumpy())
    _close(_compute("norm", {"axis": "(1, 2)", "keepdims": "1"}, [x])[0],
           nd.norm(nd.array(x), axis=(1, 2), keepdims=True).asnumpy())


@pytest.mark.parametrize("op,attrs,mx_fn", [
    ("relu", {}, lambda x: nd.relu(x)),
    ("softmax", {"axis": "1"}, lambda x: nd.softmax(x, axis=1)),
    ("log_softmax", {}, lambda x: nd.log_softmax(x, axis=-1)),
    ("leaky_relu", {"alpha": "0.1"}, lambda x: nd.LeakyReLU(x, act_type="leaky", slope=0.1)),
    ("elu", {"alpha": "0.7"}, lambda x: nd.LeakyReLU(x, act_type="elu", slope=0.7)),
    ("selu", {}, lambda x: nd.LeakyReLU(x, act_type="selu")),
    ("gelu", {}, lambda x: nd.LeakyReLU(x, act_type="gelu")),
    ("hard_sigmoid", {}, lambda x: nd.hard_sigmoid(x, alpha=0.2, beta=0.5)),
    ("upsampling", {"scale": "2"}, lambda x: nd.UpSampling(x, scale=2, sample_type="nearest")),
    ("pad", {"pad_width": "((0, 0), (0, 0), (1, 2), (2, 0))", "pad_value": "1.5"},
     lambda x: nd.pad(x, mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 2, 0), constant_value=1.5)),
    ("mirror_pad", {"pad_width": "((0, 0), (0, 0), (1, 2), (2, 1))"},
     lambda x: nd.pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 1, 2, 2, 1))),
    ("mirror_pad", {"pad_width": "((0, 0), (0, 0), (1, 2), (2, 1))", "mode": "edge"},
     lambda x: nd.pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 2, 2, 1))),
    ("depth_to_space", {"block_size": "2"}, lambda x: nd.depth_to_space(x, 2)),
    ("space_to_depth", {"block_size": "2"}, lambda x: nd.space_to_depth(x, 2)),
    ("adaptive_avg_pool2d", {"output_size": "(3, 2)"},
     lambda x: nd.contrib.AdaptiveAvgPooling2D(x, output_size=(3, 2))),
    ("topk", {"k": "2", "axis": "1", "ret_type": "values"}, lambda x: nd.topk(x, k=2, axis=1, ret_typ="value")),
])
def test_unary_ops_match_mxnet(op, attrs, mx_fn):
    x = _rand(2, 4, 6, 4)
    _close(_compute(op, attrs, [x])[0], mx_fn(nd.array(x)).asnumpy())


def test_prelu_dense_and_indexing_match_mxnet():
    x, alpha = _rand(2, 3, 4), _rand(3)
    _close(_compute("prelu", {}, [x, alpha])[0],
           nd.LeakyReLU(nd.array(x), gamma=nd.array(alpha), act_type="prelu").asnumpy())
    w, b = _rand(5, 4), _rand(5)
    _close(_compute("dense", {"units": "5"}, [x, w, b])[0],
           nd.FullyConnected(nd.array(x), nd.array(w), nd.array(b), num_hidden=5, flatten=False).asnumpy())
    data = _rand(3, 4, 5)
    idx = np.array([[0, 2, 1], [3, 0, 1]], dtype=np.int64)
    _close(_compute("gather_nd", {}, [data, idx])[0], nd.gather_nd(nd.array(data), nd.array(idx)).asnumpy())
    topk = _compute("topk", {"k": "3", "axis": "-1", "dtype": "float32"}, [data])
    np.testing.assert_array_equal(topk[1], nd.topk(nd.array(data), k=3, axis=-1, ret_typ="indices").asnumpy())
    hot = _compute("one_hot", {"depth": "5"}, [np.array([[0, 4], [2, 7]])])[0]
    _close(hot, nd.one_hot(nd.array([[0, 4], [2, 7]]), 5).asnumpy())
    cond = np.array([1, 0, 1], dtype=np.float32)
    a, bb = _rand(3, 2), _rand(3, 2)
    _close(_compute("where", {}, [cond, a, bb])[0], nd.where(nd.array(cond), nd.array(a), nd.array(bb)).asnumpy())
    like = np.zeros((2, 2, 3), np.float32)
    _close(_compute("slice_like", {"axis": "(0, 2)"}, [data, like])[0],
           nd.slice_like(nd.array(data), nd.array(like), axes=(0, 2)).asnumpy())
