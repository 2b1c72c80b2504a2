"""from_mxnet per op: shapes equal MXNet's infer_shape, numbers (via to_onnx + onnxruntime) equal MXNet's forward."""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
pytest.importorskip("onnxruntime")

# MXNet 1.9.1 touches a deprecated scipy namespace on every mx.nd.array call
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")

from mxnet_check import check_symbol  # noqa: E402

S = mx.sym
RNG = np.random.default_rng(42)


def data(*shape, low=None, high=None, name="data"):
    if low is not None:
        arr = RNG.uniform(low, high, shape)
    else:
        arr = RNG.normal(0, 1, shape)
    return {name: arr.astype(np.float32)}


def v(name="data"):
    return S.var(name)


def _npx_reshape(x, newshape):
    """``_npx_reshape`` of ``x`` (no Python wrapper takes a legacy symbol)."""
    import json

    js = json.loads(x.tojson())
    js["nodes"].append({"op": "_npx_reshape", "name": "npx_reshape", "attrs": {"newshape": str(newshape)},
                        "inputs": [js["heads"][0]]})
    js["heads"] = [[len(js["nodes"]) - 1, 0, 0]]
    return mx.sym.load_json(json.dumps(js))


x = v()

# (id, symbol, inputs) -- each symbol is built from MXNet's own operator API
CASES = [
    # convolution family
    ("conv2d", S.Convolution(x, kernel=(3, 3), num_filter=4, name="c"), data(1, 3, 8, 8)),
    ("conv2d_attrs", S.Convolution(x, kernel=(3, 2), stride=(2, 1), pad=(1, 0), dilate=(1, 2), num_filter=4,
                                   num_group=2, no_bias=True, name="c"), data(2, 4, 9, 9)),
    ("conv1d", S.Convolution(x, kernel=(3,), stride=(2,), pad=(1,), num_filter=5, name="c"), data(2, 3, 11)),
    ("conv3d", S.Convolution(x, kernel=(2, 3, 3), pad=(1, 1, 1), num_filter=2, name="c"), data(1, 2, 4, 5, 5)),
    ("deconv2d", S.Deconvolution(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), adj=(1, 1), num_filter=3, name="d"),
     data(1, 4, 5, 5)),
    ("deconv2d_bias_group", S.Deconvolution(x, kernel=(4, 4), stride=(2, 2), num_filter=4, num_group=2,
                                            no_bias=False, name="d"), data(1, 4, 3, 3)),
    ("deconv2d_target", S.Deconvolution(x, kernel=(3, 3), stride=(2, 2), target_shape=(11, 11), num_filter=2,
                                        name="d"), data(1, 3, 5, 5)),
    ("deconv1d", S.Deconvolution(x, kernel=(3,), stride=(2,), num_filter=2, name="d"), data(1, 3, 6)),
    # pooling
    ("maxpool", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max"), data(1, 2, 9, 9)),
    ("maxpool_full", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="full"),
     data(1, 2, 10, 10)),
    ("avgpool_pad", S.Pooling(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="avg"), data(1, 2, 6, 6)),
    ("avgpool_nopad_count", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                      count_include_pad=False), data(1, 2, 7, 7)),
    ("avgpool_full", S.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", pooling_convention="full"),
     data(1, 2, 8, 8)),
    ("sumpool", S.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="sum"), data(1, 2, 6, 6)),
    ("lppool", S.Pooling(x, kernel=(2, 2), stride=(1, 1), pool_type="lp", p_value=2), data(1, 2, 5, 5)),
    ("global_max", S.Pooling(x, kernel=(1, 1), global_pool=True, pool_type="max"), data(2, 3, 5, 4)),
    ("global_avg", S.Pooling(x, global_pool=True, pool_type="avg"), data(2, 3, 5, 4)),
    ("global_sum", S.Pooling(x, global_pool=True, pool_type="sum"), data(2, 3, 5, 4)),
    ("maxpool1d", S.Pooling(x, kernel=(3,), stride=(2,), pool_type="max"), data(1, 2, 9)),
    ("avgpool3d", S.Pooling(x, kernel=(2, 2, 2), stride=(2, 2, 2), pool_type="avg"), data(1, 2, 4, 4, 4)),
    # normalisation
    ("batchnorm_default", S.BatchNorm(x, name="bn"), data(2, 3, 4, 4)),
    ("batchnorm_nofix", S.BatchNorm(x, fix_gamma=False, eps=1e-5, name="bn"), data(2, 3, 4, 4)),
    ("batchnorm_axis", S.BatchNorm(x, axis=-1, fix_gamma=False, name="bn"), data(2, 4, 3)),
    ("instancenorm", S.InstanceNorm(x, name="in"), data(2, 3, 4, 5)),
    ("layernorm", S.LayerNorm(x, name="ln"), data(2, 3, 6)),
    ("layernorm_axis", S.LayerNorm(x, axis=1, name="ln"), data(2, 3, 6)),
    ("lrn", S.LRN(x, nsize=3, alpha=1e-3, beta=0.75, knorm=2), data(1, 5, 4, 4)),
    ("l2norm_instance", S.L2Normalization(x), data(2, 3, 4)),
    ("l2norm_channel", S.L2Normalization(x, mode="channel"), data(2, 3, 4)),
    ("l2norm_spatial", S.L2Normalization(x, mode="spatial"), data(2, 3, 4, 2)),
    ("groupnorm", S.GroupNorm(x, num_groups=2, name="gn"), data(2, 4, 3, 3)),
    # dense / embedding
    ("fc_flatten", S.FullyConnected(x, num_hidden=5, name="fc"), data(2, 3, 2, 2)),
    ("fc_noflatten", S.FullyConnected(x, num_hidden=5, flatten=False, name="fc"), data(2, 3, 4)),
    ("fc_nobias", S.FullyConnected(x, num_hidden=5, no_bias=True, name="fc"), data(2, 6)),
    ("embedding", S.Embedding(x, input_dim=10, output_dim=4, name="emb"),
     {"data": RNG.integers(0, 10, (2, 3)).astype(np.float32)}),
    ("take", S.take(v("a"), v("i"), axis=1),
     {"a": RNG.normal(0, 1, (3, 5)).astype(np.float32), "i": np.array([[0, 4], [7, -2]], np.float32)}),
    ("take_wrap", S.take(v("a"), v("i"), axis=0, mode="wrap"),
     {"a": RNG.normal(0, 1, (4, 2)).astype(np.float32), "i": np.array([1, 5, -1], np.float32)}),
    # activations
    *[(f"act_{t}", S.Activation(x, act_type=t), data(2, 3, 4))
      for t in ("relu", "sigmoid", "tanh", "softrelu", "softsign")],
    ("leaky", S.LeakyReLU(x, act_type="leaky", slope=0.1), data(2, 3)),
    ("leaky_default", S.LeakyReLU(x), data(2, 3)),
    ("elu", S.LeakyReLU(x, act_type="elu", slope=0.7), data(2, 3)),
    ("selu", S.LeakyReLU(x, act_type="selu"), data(2, 3)),
    ("gelu", S.LeakyReLU(x, act_type="gelu"), data(2, 3)),
    ("rrelu", S.LeakyReLU(x, act_type="rrelu")[0], data(2, 3)),
    ("prelu", S.LeakyReLU(x, act_type="prelu", name="pr"), data(2, 3, 4, 4)),
    ("hard_sigmoid", S.hard_sigmoid(x, alpha=0.3, beta=0.4), data(2, 5)),
    # softmax family
    ("softmax", S.softmax(x), data(2, 5)),
    ("softmax_axis_temp", S.softmax(x, axis=1, temperature=2.5), data(2, 3, 4)),
    ("log_softmax", S.log_softmax(x, axis=0), data(3, 4)),
    ("softmin", S.softmin(x), data(2, 5)),
    ("softmax_output", S.SoftmaxOutput(x, S.var("softmax_label"), name="sm"), data(2, 5)),
    ("softmax_output_4d", S.SoftmaxOutput(x, name="sm"), data(2, 3, 2, 2)),
    ("softmax_output_multi", S.SoftmaxOutput(x, multi_output=True, name="sm"), data(2, 3, 2, 2)),
    ("softmax_activation_channel", S.SoftmaxActivation(x, mode="channel"), data(2, 3, 2, 2)),
    ("softmax_activation_instance", S.SoftmaxActivation(x), data(2, 3, 2)),
    ("linreg", S.LinearRegressionOutput(x, name="lr"), data(2, 3)),
    ("logreg", S.LogisticRegressionOutput(x, name="lr"), data(2, 3)),
    ("maereg", S.MAERegressionOutput(x, name="lr"), data(2, 3)),
    # removed at inference
    ("dropout_head", S.Dropout(S.relu(x), p=0.3), data(2, 3)),
    ("blockgrad_makeloss", S.MakeLoss(S.BlockGrad(S.exp(x)) * 2), data(2, 3)),
    ("identity", S.identity(S.sin(x)), data(2, 3)),
    ("dropout_of_input", S.Dropout(x, name="drop"), data(2, 3)),
    # reshaping
    ("reshape_special", S.Reshape(x, shape=(0, -1)), data(2, 3, 4)),
    ("reshape_m2", S.Reshape(x, shape=(-2, 1)), data(2, 3, 4)),
    ("reshape_m3", S.Reshape(x, shape=(-3, -2)), data(2, 3, 4)),
    ("reshape_m4", S.Reshape(x, shape=(-4, 1, -1, -2)), data(2, 3, 4)),
    ("reshape_reverse", S.Reshape(x, shape=(-1, 0), reverse=True), data(2, 3, 4)),
    # numpy-extension reshape: what to_mxnet writes for Reshape
    ("npx_reshape", _npx_reshape(x, (-2, -1)), data(2, 3, 4)),
    ("npx_reshape_merge_split", _npx_reshape(x, (-5, -6, 2, -1)), data(2, 3, 4)),
    ("npx_reshape_rest", _npx_reshape(x, (-5, -4)), data(2, 3, 4, 2)),
    ("flatten", S.Flatten(x), data(2, 3, 4)),
    ("transpose", S.transpose(x, axes=(2, 0, 1)), data(2, 3, 4)),
    ("transpose_default", S.transpose(x), data(2, 3, 4)),
    ("swapaxis", S.SwapAxis(x, dim1=0, dim2=2), data(2, 3, 4)),
    ("expand_dims", S.expand_dims(x, axis=-1), data(2, 3)),
    ("squeeze", S.squeeze(x, axis=(1,)), data(2, 1, 3)),
    ("squeeze_all", S.squeeze(x), data(2, 1, 3, 1)),
    ("concat", S.Concat(v("a"), v("b"), dim=1),
     {"a": RNG.normal(0, 1, (2, 3)).astype(np.float32), "b": RNG.normal(0, 1, (2, 2)).astype(np.float32)}),
    ("slicechannel", S.Group(list(S.SliceChannel(x, num_outputs=3, axis=1))), data(2, 6, 2)),
    ("split_squeeze", S.Group(list(S.split(x, num_outputs=2, axis=-1, squeeze_axis=True))), data(2, 3, 2)),
    ("split_v2", S.Group(list(S.split_v2(x, (1, 3), axis=1))), data(2, 5)),
    ("slice", S.slice(x, begin=(None, 1), end=(None, 3)), data(3, 5)),
    ("slice_step", S.slice(x, begin=(2, None), end=(None, 0), step=(-1, -2)), data(4, 5)),
    ("slice_axis", S.slice_axis(x, axis=-1, begin=1, end=None), data(2, 3, 5)),
    ("slice_like", S.slice_like(v("a"), v("b"), axes=(0, 2)),
     {"a": RNG.normal(0, 1, (4, 3, 5)).astype(np.float32), "b": RNG.normal(0, 1, (2, 3, 3)).astype(np.float32)}),
    ("crop_hw", S.Crop(x, h_w=(2, 3), offset=(1, 1), num_args=1), data(1, 2, 5, 5)),
    ("crop_like_center", S.Crop(v("a"), v("b"), center_crop=True, num_args=2),
     {"a": RNG.normal(0, 1, (1, 2, 6, 6)).astype(np.float32), "b": RNG.normal(0, 1, (1, 2, 3, 4)).astype(np.float32)}),
    ("clip", S.clip(x, a_min=-0.5, a_max=0.3), data(3, 4)),
    ("cast", S.Cast(x, dtype="int32") * 1, data(3, 4, low=-5, high=5)),
    ("pad_constant", S.Pad(x, mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 2, 1), constant_value=0.5),
     data(1, 2, 3, 3)),
    ("pad_edge", S.Pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 2, 2, 1)), data(1, 2, 3, 3)),
    ("pad_reflect", S.Pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 1, 2, 2, 1)), data(1, 2, 3, 3)),
    ("upsampling_nearest", S.UpSampling(x, scale=2, sample_type="nearest"), data(1, 2, 3, 3)),
    ("upsampling_bilinear", S.UpSampling(x, S.var("up_weight"), scale=2, sample_type="bilinear", num_filter=2,
                                         name="up"), data(1, 2, 3, 3)),
    # linear algebra
    ("dot", S.dot(v("a"), v("b")),
     {"a": RNG.normal(0, 1, (2, 3)).astype(np.float32), "b": RNG.normal(0, 1, (3, 4)).astype(np.float32)}),
    ("dot_t", S.dot(v("a"), v("b"), transpose_a=True, transpose_b=True),
     {"a": RNG.normal(0, 1, (3, 2)).astype(np.float32), "b": RNG.normal(0, 1, (4, 3)).astype(np.float32)}),
    ("dot_nd", S.dot(v("a"), v("b")),
     {"a": RNG.normal(0, 1, (2, 3, 4)).astype(np.float32), "b": RNG.normal(0, 1, (4, 5, 2)).astype(np.float32)}),
    ("dot_nd_ta", S.dot(v("a"), v("b"), transpose_a=True),
     {"a": RNG.normal(0, 1, (4, 2, 3)).astype(np.float32), "b": RNG.normal(0, 1, (4, 5)).astype(np.float32)}),
    ("dot_1d", S.dot(v("a"), v("b")),
     {"a": RNG.normal(0, 1, (4,)).astype(np.float32), "b": RNG.normal(0, 1, (4,)).astype(np.float32)}),
    ("batch_dot", S.batch_dot(v("a"), v("b"), transpose_b=True),
     {"a": RNG.normal(0, 1, (2, 3, 4)).astype(np.float32), "b": RNG.normal(0, 1, (2, 5, 4)).astype(np.float32)}),
    # reductions
    ("sum_all", S.sum(x), data(2, 3, 4)),
    ("sum_axis_keep", S.sum(x, axis=(1, 2), keepdims=True), data(2, 3, 4)),
    ("mean_exclude", S.mean(x, axis=1, exclude=True), data(2, 3, 4)),
    ("max", S.max(x, axis=0), data(2, 3, 4)),
    ("min_axis", S.min_axis(x, axis=2), data(2, 3, 4)),
    ("prod", S.prod(x, axis=-1), data(2, 3, 4, low=0.5, high=1.5)),
    ("sum_axis_op", S.sum_axis(x, axis=1), data(2, 3, 4)),
    ("argmax", S.argmax(x, axis=1), data(2, 3, 4)),
    ("argmin_keep", S.argmin(x, axis=-1, keepdims=True), data(2, 3, 4)),
    ("norm", S.norm(x, axis=1), data(2, 3, 4)),
    # misc tensor ops
    ("where", S.where(v("c"), v("a"), v("b")),
     {"c": (RNG.random((2, 3)) > 0.5).astype(np.float32), "a": RNG.normal(0, 1, (2, 3)).astype(np.float32),
      "b": RNG.normal(0, 1, (2, 3)).astype(np.float32)}),
    ("tile", S.tile(x, reps=(2, 1, 3)), data(2, 3)),
    ("repeat", S.repeat(x, repeats=2, axis=1), data(2, 3)),
    ("stack", S.stack(v("a"), v("b"), axis=1),
     {"a": RNG.normal(0, 1, (2, 3)).astype(np.float32), "b": RNG.normal(0, 1, (2, 3)).astype(np.float32)}),
    ("zeros_ones_like", S.zeros_like(x) + S.ones_like(x) + x, data(2, 3)),
    ("broadcast_to", S.broadcast_to(x, shape=(2, 0, 4)), data(1, 3, 1)),
    ("broadcast_axis", S.broadcast_axis(x, axis=(0, 2), size=(3, 2)), data(1, 3, 1)),
    ("broadcast_like", S.broadcast_like(v("a"), v("b")),
     {"a": RNG.normal(0, 1, (1, 3)).astype(np.float32), "b": RNG.normal(0, 1, (4, 3)).astype(np.float32)}),
    ("reverse", S.reverse(x, axis=(0, 1)), data(2, 3)),
    ("avgpool_full_pad", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                   pooling_convention="full"), data(1, 2, 6, 6)),
    ("avgpool_full_pad_nocount", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                           pooling_convention="full", count_include_pad=False), data(1, 2, 6, 6)),
    ("maxpool_full_pad", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full"),
     data(1, 2, 6, 6)),
    ("sumpool_pad", S.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="sum"), data(1, 2, 7, 7)),
    ("global_lp", S.Pooling(x, global_pool=True, pool_type="lp", p_value=2), data(1, 2, 3, 3)),
    ("batchnorm_axis3_fixgamma", S.BatchNorm(x, axis=3, name="bn"), data(2, 3, 4, 5)),
    ("topk_value", S.topk(x, k=2, ret_typ="value"), data(2, 5)),
    ("topk_both", S.Group(list(S.topk(x, k=2, ret_typ="both", axis=0))), data(4, 3)),
    ("one_hot", S.one_hot(x, depth=4), {"data": np.array([[0, 1, 3], [2, 2, 0]], np.float32)}),
    ("argmax_all", S.argmax(x), data(2, 3)),
    ("sum_exclude_no_axis", S.sum(x, exclude=True), data(2, 3)),
    ("expand_dims_neg", S.expand_dims(x, axis=-2), data(2, 3)),
    ("slice_negative", S.slice(x, begin=(-2,), end=(None,)), data(5, 3)),
    ("fc_1d", S.FullyConnected(x, num_hidden=2, name="fc"), data(4)),
    ("shape_array", S.shape_array(x), data(2, 3)),
    ("deconv3d", S.Deconvolution(x, kernel=(2, 2, 2), stride=(2, 2, 2), num_filter=2, name="d"), data(1, 2, 2, 3, 3)),
    ("upsampling_multi", S.UpSampling(v("a"), v("b"), scale=2, sample_type="nearest", num_args=2),
     {"a": RNG.normal(0, 1, (1, 2, 4, 4)).astype(np.float32), "b": RNG.normal(0, 1, (1, 3, 2, 2)).astype(np.float32)}),
    ("adaptive_avg_1", S.contrib.AdaptiveAvgPooling2D(x, output_size=(1, 1)), data(1, 2, 4, 4)),
    ("adaptive_avg_2", S.contrib.AdaptiveAvgPooling2D(x, output_size=(2, 2)), data(1, 2, 4, 4)),
    ("gather_nd", S.gather_nd(v("a"), v("i")),
     {"a": RNG.normal(0, 1, (3, 4)).astype(np.float32), "i": np.array([[0, 2], [1, 3]], np.float32)}),
    ("softmax_dtype", S.softmax(x, dtype="float64"), data(2, 3)),
    ("where_1d_condition", S.where(v("c"), v("a"), v("b")),
     {"c": np.array([1, 0, 1], np.float32), "a": RNG.normal(0, 1, (3, 2)).astype(np.float32),
      "b": RNG.normal(0, 1, (3, 2)).astype(np.float32)}),
    ("cast_float16", S.Cast(x, dtype="float16"), data(2, 3)),
    ("zeros_ones_full", x + S.zeros(shape=(2, 3)) + S.ones(shape=(2, 3)) * S.full(shape=(2, 3), val=0.5), data(2, 3)),
    ("arange", S.broadcast_add(x, S.arange(start=1, stop=4)), data(2, 3)),
    ("arange_stop_only", S.broadcast_mul(x, S.arange(3)), data(2, 3)),
    ("add_n", S.add_n(v("a"), v("b"), v("c")),
     {k: RNG.normal(0, 1, (2, 3)).astype(np.float32) for k in "abc"}),
    ("elementwise_sum", S.ElementWiseSum(v("a"), v("b")),
     {k: RNG.normal(0, 1, (2, 3)).astype(np.float32) for k in "ab"}),
]

_BINARY_SAME = ["elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_plus", "_minus", "_mul", "_div",
                "_maximum", "_minimum", "_power", "_hypot", "_equal", "_not_equal", "_greater", "_greater_equal",
                "_lesser", "_lesser_equal", "_logical_and", "_logical_or", "_mod"]
_BROADCAST = ["broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div", "broadcast_maximum",
              "broadcast_minimum", "broadcast_power", "broadcast_hypot", "broadcast_equal", "broadcast_not_equal",
              "broadcast_greater", "broadcast_greater_equal", "broadcast_lesser", "broadcast_lesser_equal",
              "broadcast_plus", "broadcast_minus", "broadcast_mod"]
_SCALAR = ["_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar", "_rdiv_scalar",
           "_power_scalar", "_rpower_scalar", "_maximum_scalar", "_minimum_scalar", "_equal_scalar",
           "_not_equal_scalar", "_greater_scalar", "_greater_equal_scalar", "_lesser_scalar", "_lesser_equal_scalar",
           "_mod_scalar", "_rmod_scalar", "_hypot_scalar"]
_UNARY = {  # name: input range
    "abs": None, "arccos": (-0.9, 0.9), "arccosh": (1.1, 3), "arcsin": (-0.9, 0.9), "arcsinh": None,
    "arctan": None, "arctanh": (-0.9, 0.9), "cbrt": None, "ceil": None, "cos": None, "cosh": None, "erf": None,
    "exp": None, "expm1": None, "floor": None, "log": (0.1, 3), "log10": (0.1, 3), "log1p": (0, 3), "log2": (0.1, 3),
    "logical_not": None, "negative": None, "reciprocal": (0.5, 2), "relu": None, "sigmoid": None, "sign": None,
    "sin": None, "sinh": None, "softsign": None, "sqrt": (0.1, 3), "square": None, "tan": (-1, 1), "tanh": None,
    "trunc": None, "fix": None, "rsqrt": (0.1, 3), "rint": None, "round": None, "rcbrt": (0.5, 2),
    "degrees": None, "radians": None,
}


def _half_values(shape):
    # include exact .5 ties so rounding conventions are exercised
    a = np.round(RNG.normal(0, 3, shape) * 2) / 2
    return a.astype(np.float32)


def _binary(name):
    fn = getattr(S, name, None) or getattr(S._internal, name)
    return fn(v("a"), v("b"))


def _inputs_ab(shape_a, shape_b, positive=False):
    lo, hi = (0.5, 2.0) if positive else (-2.0, 2.0)
    a = RNG.uniform(lo, hi, shape_a).astype(np.float32)
    b = RNG.uniform(lo, hi, shape_b).astype(np.float32)
    if not positive:
        b[..., 0] = a.reshape(-1)[0] if a.shape == b.shape else b[..., 0]  # some equal pairs for comparisons
    return {"a": a, "b": b}


CASES += [(f"bin_{n}", _binary(n), _inputs_ab((2, 3), (2, 3), positive=n in ("_power", "_mod", "elemwise_div")))
          for n in _BINARY_SAME]
CASES += [(f"bcast_{n}", _binary(n), _inputs_ab((2, 1, 3), (4, 1), positive=n in ("broadcast_power", "broadcast_mod")))
          for n in _BROADCAST]
CASES += [(f"scalar_{n}", (getattr(S, n, None) or getattr(S._internal, n))(x, scalar=1.5),
           data(2, 3, low=0.5, high=3.0) if n in ("_power_scalar", "_rpower_scalar", "_rdiv_scalar", "_mod_scalar",
                                                  "_rmod_scalar") else {"data": _half_values((2, 3))})
          for n in _SCALAR]
CASES += [(f"unary_{n}", getattr(S, n)(x),
           data(3, 4, low=r[0], high=r[1]) if r else {"data": _half_values((3, 4))})
          for n, r in _UNARY.items()]


@pytest.mark.parametrize("sym,inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op(sym, inputs):
    check_symbol(sym, inputs)


def test_batchnorm_default_attrs_moving_stats():
    """fix_gamma defaults to True in MXNet: gamma must be ignored (treated as ones), eps=1e-3."""
    sym = S.BatchNorm(x, name="bn")
    c = 4
    params = {"bn_gamma": np.full(c, 3.0, np.float32), "bn_beta": np.array([0.1, -0.2, 0.3, 0.5], np.float32),
              "bn_moving_mean": np.array([0.5, -1.0, 2.0, 0.0], np.float32),
              "bn_moving_var": np.array([0.25, 4.0, 1.0, 0.01], np.float32)}
    inputs = data(2, c, 3, 3)
    graph, out_params = check_symbol(sym, inputs, params=params)
    np.testing.assert_array_equal(out_params["bn_gamma"], np.ones(c, np.float32))
    # aux states keep their variable names
    assert {"bn_moving_mean", "bn_moving_var"} <= set(out_params)
    np.testing.assert_array_equal(out_params["bn_moving_var"], params["bn_moving_var"])
    # numpy reference of MXNet's inference formula
    xv = inputs["data"]
    m, var = params["bn_moving_mean"][:, None, None], params["bn_moving_var"][:, None, None]
    ref = (xv - m) / np.sqrt(var + 1e-3) + params["bn_beta"][:, None, None]
    from mxnet_check import run_onnx, close

    outs, _ = run_onnx(graph, out_params, inputs)
    close(outs[0], ref)


def test_gluon_hybrid_block_small():
    from mxnet import gluon

    net = gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(gluon.nn.Conv2D(4, 3, padding=1), gluon.nn.BatchNorm(), gluon.nn.Activation("relu"),
                gluon.nn.MaxPool2D(2, ceil_mode=True), gluon.nn.Dense(3))
    net.initialize(mx.init.Xavier())
    xin = RNG.normal(0, 1, (2, 3, 7, 7)).astype(np.float32)
    net(mx.nd.array(xin))
    for name, p in net.collect_params().items():
        if name.endswith(("running_mean", "beta")):
            p.set_data(mx.nd.array(RNG.normal(0, 0.5, p.shape)))
        if name.endswith(("running_var", "gamma")):
            p.set_data(mx.nd.array(RNG.uniform(0.5, 2, p.shape)))
    ref = net(mx.nd.array(xin)).asnumpy()
    from nnvm_bridge.frontend import from_mxnet
    from mxnet_check import run_onnx, close

    graph, params = from_mxnet(net, shape={"data": xin.shape})
    assert graph.input_names(params) == ["data"]
    assert not any(k.startswith(("arg:", "aux:")) for k in params)
    outs, _ = run_onnx(graph, params, {"data": xin})
    close(outs[0], ref)


def test_deconv_target_shape_with_adj_shapes():
    # MXNet's own CPU kernel cannot run this case (MKLDNN refuses the padding), so check shapes only
    sym = S.Deconvolution(x, kernel=(3, 3), stride=(2, 2), target_shape=(10, 9), num_filter=2, name="d")
    graph, _ = check_symbol(sym, data(1, 3, 5, 5), numerics=False)
    conv = [n for n in graph.op_nodes() if n.op == "conv2d_transpose"][0]
    # h: 2*(5-1)+3 = 11 -> 10 needs adj 1; w: 11 -> 9 is exactly 2*pad
    assert conv.attrs["output_padding"] == "(1, 0)" and conv.attrs["padding"] == "(1, 1)"


# ---- symbol and params sources ------------------------------------------------------------------------
def _small_net():
    conv = S.Convolution(x, kernel=(3, 3), num_filter=2, name="conv")
    net = S.FullyConnected(S.Activation(S.BatchNorm(conv, name="bn"), act_type="relu"), num_hidden=3, name="fc")
    return S.SoftmaxOutput(net, name="softmax")


def _small_params(sym, shape=(1, 2, 5, 5)):
    from mxnet_check import random_params

    return random_params(sym, {"data": shape}, np.random.default_rng(1))


def test_sources_json_dict_path_symbol_and_params_file(tmp_path):
    import json

    from nnvm_bridge.frontend import from_mxnet
    from mxnet_check import mx_forward, run_onnx, close

    sym = _small_net()
    args, aux = _small_params(sym)
    prefix = str(tmp_path / "net")
    sym.save(prefix + "-symbol.json")
    saved = {**{f"arg:{k}": mx.nd.array(v) for k, v in args.items()},
             **{f"aux:{k}": mx.nd.array(v) for k, v in aux.items()}}
    mx.nd.save(prefix + "-0000.params", saved)
    xin = data(1, 2, 5, 5)
    ref = mx_forward(sym, xin, args, aux)[0]
    shape = {"data": (1, 2, 5, 5)}
    variants = [
        from_mxnet(sym, args, aux, shape=dict(shape, softmax_label=(1,))),  # a label shape is accepted, unused
        from_mxnet(sym.tojson(), {k: mx.nd.array(v) for k, v in args.items()}, aux, shape=shape),
        from_mxnet(json.loads(sym.tojson()), {f"arg:{k}": v for k, v in args.items()},
                   {f"aux:{k}": v for k, v in aux.items()}, shape=shape),
        from_mxnet(prefix + "-symbol.json", prefix + "-0000.params", shape=shape),
    ]
    for graph, params in variants:
        # the label of SoftmaxOutput is not a graph input
        assert graph.input_names(params) == ["data"]
        assert "softmax_label" not in params
        assert set(params) == set(args) | set(aux)
        outs, _ = run_onnx(graph, params, xin)
        close(outs[0], ref)


def test_params_file_is_read_without_mxnet(tmp_path, monkeypatch):
    """The .params path goes through nnvm_bridge's own reader (mx.nd.load is never called)."""
    from nnvm_bridge.frontend import from_mxnet

    sym = _small_net()
    args, aux = _small_params(sym)
    path = str(tmp_path / "net-0000.params")
    mx.nd.save(path, {**{f"arg:{k}": mx.nd.array(v) for k, v in args.items()},
                      **{f"aux:{k}": mx.nd.array(v) for k, v in aux.items()}})

    def boom(*a, **k):
        raise AssertionError("mx.nd.load must not be used")

    monkeypatch.setattr(mx.nd, "load", boom)
    _, params = from_mxnet(sym.tojson(), path, shape={"data": (1, 2, 5, 5)})
    np.testing.assert_array_equal(params["conv_weight"], args["conv_weight"])
    np.testing.assert_array_equal(params["bn_moving_var"], aux["bn_moving_var"])


def test_symbol_only_infers_weight_shapes():
    from nnvm_bridge.frontend import from_mxnet

    sym = _small_net()
    graph, params = from_mxnet(sym, shape={"data": (1, 2, 5, 5)})
    assert params == {} or set(params) <= {"bn_gamma"}
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(data=(1, 2, 5, 5))
    expected = dict(zip(sym.list_arguments(), arg_shapes))
    expected.update(zip(sym.list_auxiliary_states(), aux_shapes))
    for var in graph.variables:
        if var.name in expected:
            assert graph.shape_of(var[0]) == tuple(expected[var.name]), var.name
    assert graph.shape_of(graph.outputs[0]) == tuple(out_shapes[0])


# ---- errors --------------------------------------------------------------------------------------------
def test_all_unsupported_ops_reported_at_once():
    from nnvm_bridge.errors import UnsupportedOperatorError
    from nnvm_bridge.frontend import from_mxnet

    sym = S.erfinv(S.gammaln(S.relu(x), name="g1") + S.gammaln(x, name="g2"), name="e1")
    with pytest.raises(UnsupportedOperatorError) as info:
        from_mxnet(sym, shape={"data": (2, 3)})
    msg = str(info.value)
    assert "erfinv x1" in msg and "gammaln x2" in msg
    assert "'g1'" in msg and "'g2'" in msg and "'e1'" in msg
    assert set(info.value.ops) == {"erfinv", "gammaln"}


def test_missing_weight_names_it():
    from nnvm_bridge.errors import ParamsError
    from nnvm_bridge.frontend import from_mxnet

    sym = _small_net()
    args, aux = _small_params(sym)
    del args["fc_weight"]
    with pytest.raises(ParamsError) as info:
        from_mxnet(sym, args, aux, shape={"data": (1, 2, 5, 5)})
    assert "fc_weight" in str(info.value) and "FullyConnected" in str(info.value)


def test_missing_aux_state_names_it():
    from nnvm_bridge.errors import ParamsError
    from nnvm_bridge.frontend import from_mxnet

    sym = _small_net()
    args, aux = _small_params(sym)
    with pytest.raises(ParamsError, match="bn_moving_mean"):
        from_mxnet(sym, args, {"bn_moving_var": aux["bn_moving_var"]}, shape={"data": (1, 2, 5, 5)})


@pytest.mark.parametrize("name,bad", [("conv_weight", (2, 2, 3, 2)), ("fc_weight", (3, 7)), ("bn_beta", (3,)),
                                      ("fc_bias", (4,))])
def test_wrong_weight_shape_names_it(name, bad):
    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_mxnet

    sym = _small_net()
    args, aux = _small_params(sym)
    target = args if name in args else aux
    target[name] = np.zeros(bad, np.float32)
    with pytest.raises(ShapeError) as info:
        from_mxnet(sym, args, aux, shape={"data": (1, 2, 5, 5)})
    assert name in str(info.value) and str(bad) in str(info.value)


def test_bad_attribute_names_node_and_op():
    import json

    from nnvm_bridge.errors import AttributeParseError
    from nnvm_bridge.frontend import from_mxnet

    js = json.loads(S.Convolution(x, kernel=(3, 3), num_filter=2, name="myconv").tojson())
    for node in js["nodes"]:
        if node["op"] == "Convolution":
            node["attrs"]["num_filter"] = "two"
    with pytest.raises(AttributeParseError) as info:
        from_mxnet(js)
    assert "myconv" in str(info.value) and "Convolution" in str(info.value) and "num_filter" in str(info.value)


def test_unknown_shape_name_and_bad_json():
    from nnvm_bridge.errors import InvalidModelError, ShapeError
    from nnvm_bridge.frontend import from_mxnet

    with pytest.raises(ShapeError, match="nosuch"):
        from_mxnet(S.relu(x), shape={"nosuch": (1, 2)})
    with pytest.raises(InvalidModelError):
        from_mxnet("{not json")
    with pytest.raises(InvalidModelError):
        from_mxnet('{"nodes": [{"op": "relu", "name": "r", "inputs": [[5, 0, 0]]}], "heads": [[0, 0, 0]]}')


def test_reshape_reverse_needs_shape():
    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_mxnet

    with pytest.raises(ShapeError) as info:
        from_mxnet(S.Reshape(x, shape=(-1, 0), reverse=True, name="rr"))
    assert "'rr'" in str(info.value) and "Reshape" in str(info.value)


def test_input_hints_and_dtype():
    from nnvm_bridge.frontend import from_mxnet

    graph, params = from_mxnet(S.relu(x) + 1, shape={"data": (2, 3)}, dtype="float16")
    var = graph.variables[0]
    assert var.attrs["__shape__"] == "(2, 3)" and var.attrs["__dtype__"] == "2"
    assert graph.dtype_of(graph.outputs[0]) == "float16"


@pytest.fixture
def mxnet_import_table(monkeypatch):
    """The MXNet import table, restored after the test (plug-in registrations are process-wide)."""
    from nnvm_bridge.frontend.mxnet.registry import MXNET_IMPORT

    monkeypatch.setattr(MXNET_IMPORT, "_table", {k: dict(v) for k, v in MXNET_IMPORT._table.items()})
    return MXNET_IMPORT


def test_plugin_handler(mxnet_import_table):
    from nnvm_bridge.frontend import from_mxnet
    from nnvm_bridge.frontend.mxnet import register_mxnet_op

    def gammaln_as_log(ctx, node, attrs, inputs):  # a deliberately wrong plug-in, just to see it used
        return ctx.out("log", inputs[:1], {}, name=node.name)

    register_mxnet_op("gammaln", gammaln_as_log)
    graph, _ = from_mxnet(S.gammaln(x, name="gl"), shape={"data": (2,)})
    assert [n.op for n in graph.op_nodes()] == ["log"]
    with pytest.raises(ValueError, match="'gammaln' is already registered"):
        register_mxnet_op("gammaln", gammaln_as_log)
    with pytest.raises(ValueError, match="'Convolution' is already registered"):
        register_mxnet_op("Convolution", gammaln_as_log)


def test_plugin_attribute_spec_and_override(mxnet_import_table):
    import json

    from nnvm_bridge.errors import AttributeParseError
    from nnvm_bridge.frontend import from_mxnet
    from nnvm_bridge.frontend.mxnet import register_mxnet_op
    from nnvm_bridge.ops.registry import Attr

    def relu_plus(ctx, node, attrs, inputs):  # reads its attribute through the spec, with its default
        return ctx.out("__add_scalar__", [ctx.aux("relu", inputs[:1])], dict(scalar=attrs["bias"]), name=node.name)

    with pytest.raises(TypeError, match="Attr"):
        register_mxnet_op("relu", relu_plus, attrs={"bias": ("float", 0.5)}, override=True)
    register_mxnet_op("relu", relu_plus, attrs={"bias": Attr("float", 0.5, min=0)}, override=True)
    graph, _ = from_mxnet(S.relu(x, name="r"), shape={"data": (2,)})
    assert [(n.op, dict(n.attrs)) for n in graph.op_nodes()] == [("relu", {}), ("__add_scalar__", {"scalar": "0.5"})]
    sym = json.loads(S.relu(x, name="r").tojson())
    sym["nodes"][-1]["attrs"] = {"bias": "-1"}
    with pytest.raises(AttributeParseError, match="'bias'='-1': must not be negative"):
        from_mxnet(sym, shape={"data": (2,)})


def test_gluon_two_inputs_two_outputs():
    from mxnet import gluon

    from nnvm_bridge.frontend import from_mxnet
    from mxnet_check import run_onnx, close

    class TwoInTwoOut(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.fc = gluon.nn.Dense(4)

        def hybrid_forward(self, F, a, b):
            h = self.fc(a) + b
            return F.relu(h), F.sigmoid(h)

    net = TwoInTwoOut()
    net.initialize(mx.init.Xavier())
    a = RNG.normal(0, 1, (2, 3)).astype(np.float32)
    b = RNG.normal(0, 1, (2, 4)).astype(np.float32)
    ref = [o.asnumpy() for o in net(mx.nd.array(a), mx.nd.array(b))]
    graph, params = from_mxnet(net, shape={"data0": a.shape, "data1": b.shape})
    assert graph.input_names(params) == ["data0", "data1"]
    outs, _ = run_onnx(graph, params, {"data0": a, "data1": b})
    assert len(outs) == 2
    for o, r in zip(outs, ref):
        close(o, r)


def test_gluon_block_needs_shape():
    from mxnet import gluon

    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_mxnet

    net = gluon.nn.Dense(3)
    net.initialize()
    with pytest.raises(ShapeError, match="shape"):
        from_mxnet(net)


def test_prelu_gamma_wrong_shape_names_it():
    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_mxnet

    sym = S.LeakyReLU(x, act_type="prelu", name="pr")
    with pytest.raises(ShapeError, match="pr_gamma"):
        from_mxnet(sym, {"pr_gamma": np.ones(5, np.float32)}, shape={"data": (1, 3, 2, 2)})


def test_helper_errors_name_the_node():
    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_mxnet

    with pytest.raises(ShapeError) as info:
        from_mxnet(S.SwapAxis(x, dim1=0, dim2=5, name="sw"), shape={"data": (2, 3)})
    assert "'sw'" in str(info.value) and "SwapAxis" in str(info.value)


def test_mutated_symbols_raise_only_bridge_errors():
    """Garbage attributes, wrong op names, bad output indices and missing inputs never leak
    KeyError/IndexError/ValueError: every failure is a BridgeError."""
    import json
    import random

    from nnvm_bridge.errors import BridgeError
    from nnvm_bridge.frontend import from_mxnet

    net = S.BatchNorm(S.Convolution(x, kernel=(3, 3), num_filter=2, name="c"), name="bn")
    net = S.Reshape(S.Pooling(net, kernel=(2, 2), pool_type="avg"), shape=(0, -1))
    net = S.FullyConnected(net, num_hidden=3, name="fc")
    net = S.Concat(net, S.slice_axis(net, axis=1, begin=0, end=2), dim=1)
    base = json.dumps(json.loads(S.SoftmaxOutput(S.dot(net, S.var("w2")), name="sm").tojson()))
    values = ["", "None", "-1", "0", "(0,)", "()", "[1,2,3]", "abc", "1e400", "nan", "(-3, -4, 2)", "True",
              "99999999999", "((1,2),(3,4))"]
    keys = ["kernel", "num_filter", "shape", "axis", "dim", "begin", "end", "pad", "stride", "num_hidden", "eps",
            "pool_type", "num_outputs", "dtype", "mode", "pad_width", "scale", "sample_type", "act_type",
            "target_shape", "axes", "dim1", "k", "indices", "num_groups", "ord", "h_w"]
    ops = ["Convolution", "Pooling", "Reshape", "FullyConnected", "Concat", "slice_axis", "dot", "BatchNorm",
           "SoftmaxOutput", "transpose", "SliceChannel", "Deconvolution", "UpSampling", "Pad", "take", "Embedding",
           "Crop", "LeakyReLU", "broadcast_axis", "SwapAxis", "topk", "_split_v2", "slice", "Cast",
           "L2Normalization", "GroupNorm", "norm"]
    rng = random.Random(7)
    converted = 0
    for _ in range(300):
        js = json.loads(base)
        for _ in range(rng.randint(1, 3)):
            node = rng.choice(js["nodes"])
            r = rng.random()
            if r < 0.5:
                node.setdefault("attrs", {})[rng.choice(keys)] = rng.choice(values)
            elif r < 0.7:
                node["op"] = rng.choice(ops)
            elif r < 0.85 and node["inputs"]:
                node["inputs"][rng.randrange(len(node["inputs"]))][1] = rng.randint(0, 3)
            else:
                node["inputs"] = node["inputs"][:rng.randint(0, len(node["inputs"]))]
        shape = rng.choice([{"data": (1, 3, 6, 6), "w2": (5, 4)}, None, {"data": (1, 3, 6), "w2": (5, 4)}])
        try:
            from_mxnet(js, shape=shape)
            converted += 1
        except BridgeError as exc:
            assert str(exc)
    assert 0 < converted < 300  # both outcomes were exercised


def test_data_input_names_skip_weights_and_labels():
    from nnvm_bridge.frontend.mxnet.importer import data_input_names

    sym = S.Group([_small_net(), S.FullyConnected(S.var("extra"), num_hidden=2, name="fc2")])
    # weights are recognised by their slot even when no params are given; labels are dropped
    assert data_input_names(sym) == ["data", "extra"]
    assert data_input_names(sym.tojson(), {"arg:conv_weight": None}) == ["data", "extra"]
