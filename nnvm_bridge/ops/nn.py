"""Neural-network ops of NNVM's "top" table (nn.h), plus ND-convolution extensions."""
from __future__ import annotations

from ..errors import ShapeError
from ..ir.symbolic import fits
from . import numpy_ref as ref
from .common import DATA_LAYOUTS, KERNEL_LAYOUTS, expand_pads, known, pad_shape, per_dim, pool_out, same_shape
from .registry import Attr, register

_LAYOUTS = ("NCHW",)


def _conv_shape(nsp):
    def rule(a, shapes):
        if not known(shapes[:2]):
            return [None]
        data, w = shapes[0], shapes[1]
        if len(data) != nsp + 2:
            raise ShapeError(f"data must be {nsp + 2}-d, got shape {data}")
        if len(w) != nsp + 2:
            raise ShapeError(f"weight must be {nsp + 2}-d, got shape {w}")
        groups = a.groups
        if not fits(data[1], w[1] * groups):
            raise ShapeError(f"data has {data[1]} channels but weight {w} with groups={groups} expects "
                             f"{w[1] * groups}")
        if w[0] != a.channels:
            raise ShapeError(f"weight {w} does not match channels={a.channels}")
        if len(shapes) > 2 and shapes[2] is not None and tuple(shapes[2]) != (a.channels,):
            raise ShapeError(f"bias shape {shapes[2]} does not match channels={a.channels}")
        pb, pe = expand_pads(a.padding, nsp)
        st = per_dim(a.strides, nsp)
        dl = per_dim(a.dilation, nsp)
        out = [data[0], a.channels]
        for i in range(nsp):
            out.append(pool_out(data[2 + i], w[2 + i], st[i], pb[i], pe[i], False, dl[i]))
        return [tuple(out)]
    return rule


def _deconv_shape(nsp):
    def rule(a, shapes):
        if not known(shapes[:2]):
            return [None]
        data, w = shapes[0], shapes[1]
        if len(data) != nsp + 2 or len(w) != nsp + 2:
            raise ShapeError(f"data {data} / weight {w} must be {nsp + 2}-d")
        if not fits(data[1], w[0]):
            raise ShapeError(f"data has {data[1]} channels but weight {w} expects {w[0]}")
        if w[1] * a.groups != a.channels:
            raise ShapeError(f"weight {w} with groups={a.groups} does not give channels={a.channels}")
        pb, pe = expand_pads(a.padding, nsp)
        st, dl, op_ = per_dim(a.strides, nsp), per_dim(a.dilation, nsp), per_dim(a.output_padding, nsp)
        out = [data[0], a.channels]
        for i in range(nsp):
            out.append(st[i] * (data[2 + i] - 1) + dl[i] * (w[2 + i] - 1) + 1 - pb[i] - pe[i] + op_[i])
        return [tuple(out)]
    return rule


def _use_bias_inputs(a):
    return 3 if a.use_bias else 2


def _conv_attrs(nsp, transpose=False):
    one = (1,) * nsp
    attrs = {
        "channels": Attr("int", min=1),
        "kernel_size": Attr("shape", min=1),
        "strides": Attr("shape", one, min=1),
        "padding": Attr("shape", (0,) * nsp, min=0),
        "dilation": Attr("shape", one, min=1),
        "groups": Attr("int", 1, min=1),
        "layout": Attr("layout", DATA_LAYOUTS[nsp]),
        "kernel_layout": Attr("layout", KERNEL_LAYOUTS[nsp]),
        "out_dtype": Attr("str", "same"),
        "use_bias": Attr("bool", True),
    }
    if transpose:
        attrs["output_padding"] = Attr("shape", (0,) * nsp, min=0)
    else:
        attrs["out_layout"] = Attr("layout", "__undef__")
    return attrs


def _pool_shape(nsp):
    def rule(a, shapes):
        if not known(shapes):
            return [None]
        data = shapes[0]
        if len(data) != nsp + 2:
            raise ShapeError(f"data must be {nsp + 2}-d, got shape {data}")
        k = per_dim(a.pool_size, nsp)
        st = per_dim(a.strides, nsp)
        pb, pe = expand_pads(a.padding, nsp)
        out = list(data[:2])
        for i in range(nsp):
            out.append(pool_out(data[2 + i], k[i], st[i], pb[i], pe[i], a.ceil_mode))
        return [tuple(out)]
    return rule


def _pool_attrs(nsp, avg):
    attrs = {
        "pool_size": Attr("shape", min=1),
        "strides": Attr("shape", (1,) * nsp, min=1),
        "padding": Attr("shape", (0,) * nsp, min=0),
        "layout": Attr("layout", DATA_LAYOUTS[nsp]),
        "ceil_mode": Attr("bool", False),
    }
    if avg:
        attrs["count_include_pad"] = Attr("bool", False)
    return attrs


def _global_pool_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    if len(d) < 3:
        raise ShapeError(f"data must be at least 3-d, got shape {d}")
    return [tuple(d[:2]) + (1,) * (len(d) - 2)]


def _dense_shape(a, shapes):
    if not known(shapes[:2]):
        return [None]
    d, w = shapes[0], shapes[1]
    if len(w) != 2 or w[0] != a.units or not fits(d[-1], w[1]):
        raise ShapeError(f"dense with units={a.units}: data {d} and weight {w} do not fit")
    if len(shapes) > 2 and shapes[2] is not None and tuple(shapes[2]) != (a.units,):
        raise ShapeError(f"bias shape {shapes[2]} does not match units={a.units}")
    return [tuple(d[:-1]) + (a.units,)]


def _bn_shape(a, shapes):
    if shapes[0] is None:
        return [None, None, None]
    d = shapes[0]
    ax = a.axis % len(d)
    c = (d[ax],)
    for name, s in zip(("gamma", "beta", "moving_mean", "moving_var"), shapes[1:]):
        if s is not None and tuple(s) != c:
            raise ShapeError(f"{name} shape {s} does not match {c} channels")
    return [d, c, c]


def _upsampling_shape(a, shapes):
    if not known(shapes):
        return [None]
    n, c, h, w = shapes[0]
    return [(n, c, h * a.scale, w * a.scale)]


def _resize_shape(a, shapes):
    if not known(shapes):
        return [None]
    n, c = shapes[0][:2]
    return [(n, c) + tuple(a.size)]


def _prelu_shape(a, shapes):
    return [shapes[0]]


def _dropout_shape(a, shapes):
    return [shapes[0], shapes[0]]


_CONV_INPUTS = ("data", "weight", "bias")
_EXT = {"level": 6, "ext": True}  # the 1-D and 3-D convolutions and poolings extend NNVM's table

register("dense", inputs=("data", "weight", "bias"), num_inputs=_use_bias_inputs,
         attrs={"units": Attr("int", min=1), "use_bias": Attr("bool", True)}, infer_shape=_dense_shape,
         compute=ref.dense, doc="y = x W^T + b over the last axis (no implicit flatten)")
register("relu", infer_shape=same_shape, compute=ref.relu)
register("dropout", attrs={"rate": Attr("float", 0.5)}, num_outputs=2, num_visible_outputs=1,
         output_names=("output", "mask"), infer_shape=_dropout_shape, compute=ref.dropout)
register("batch_norm", inputs=("data", "gamma", "beta", "moving_mean", "moving_var"),
         attrs={"axis": Attr("int", 1), "epsilon": Attr("float", 1e-5), "center": Attr("bool", True),
                "scale": Attr("bool", True)},
         num_outputs=3, num_visible_outputs=1, output_names=("output", "mean", "var"),
         mutate_inputs=(3, 4), infer_shape=_bn_shape, compute=ref.batch_norm)
register("softmax", attrs={"axis": Attr("int", -1)}, infer_shape=same_shape, compute=ref.softmax)
register("log_softmax", attrs={"axis": Attr("int", -1)}, infer_shape=same_shape, compute=ref.log_softmax)
register("leaky_relu", attrs={"alpha": Attr("float", 0.25)}, infer_shape=same_shape, compute=ref.leaky_relu, level=3)
register("prelu", inputs=("data", "alpha"), attrs={"axis": Attr("int", 1)}, infer_shape=_prelu_shape,
         compute=ref.prelu)
register("pad", attrs={"pad_width": Attr("tuple_tuple_int"), "pad_value": Attr("float", 0.0)},
         infer_shape=pad_shape, compute=ref.pad)
register("lrn", attrs={"size": Attr("int"), "axis": Attr("int"), "alpha": Attr("float"), "beta": Attr("float"),
                       "bias": Attr("float")}, infer_shape=same_shape, compute=ref.lrn)
register("l2_normalize", attrs={"eps": Attr("float"), "axis": Attr("shape")}, infer_shape=same_shape,
         compute=ref.l2_normalize)
register("upsampling", attrs={"scale": Attr("int"), "layout": Attr("layout", "NCHW", choices=_LAYOUTS),
                              "method": Attr("str", "NEAREST_NEIGHBOR", choices=("NEAREST_NEIGHBOR", "BILINEAR"))},
         infer_shape=_upsampling_shape, compute=ref.upsampling)
register("resize", attrs={"size": Attr("shape"), "layout": Attr("layout", "NCHW", choices=_LAYOUTS),
                          "method": Attr("str", "BILINEAR", choices=("BILINEAR", "NEAREST_NEIGHBOR")),
                          "align_corners": Attr("bool", False)}, infer_shape=_resize_shape,
         doc="bilinear: MXNet BilinearResize2D's coordinates (numpy_ref.bilinear_taps)")
register("__layout_transform__", attrs={"src_layout": Attr("layout", "__undef__"),
                                        "dst_layout": Attr("layout", "__undef__")}, internal=True)
register("conv2d", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs, attrs=_conv_attrs(2),
         infer_shape=_conv_shape(2), compute=ref.conv(2), level=2,
         doc="padding is (ph, pw) symmetric or, as an extension, (top, left, bottom, right)")
register("conv2d_transpose", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs,
         attrs=_conv_attrs(2, transpose=True), infer_shape=_deconv_shape(2), compute=ref.conv_transpose(2), level=2)
register("max_pool2d", attrs=_pool_attrs(2, False), infer_shape=_pool_shape(2), compute=ref.pool(2, "max"), level=2)
register("avg_pool2d", attrs=_pool_attrs(2, True), infer_shape=_pool_shape(2), compute=ref.pool(2, "avg"), level=2)
register("global_max_pool2d", attrs={"layout": Attr("layout", "NCHW", choices=_LAYOUTS)},
         infer_shape=_global_pool_shape, compute=ref.global_pool("max"), level=2)
register("global_avg_pool2d", attrs={"layout": Attr("layout", "NCHW", choices=_LAYOUTS)},
         infer_shape=_global_pool_shape, compute=ref.global_pool("avg"), level=2)

# ---- extensions: 1-D and 3-D convolution and pooling ---------------------------------------
register("conv1d", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs, attrs=_conv_attrs(1),
         infer_shape=_conv_shape(1), compute=ref.conv(1), **_EXT)
register("conv1d_transpose", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs,
         attrs=_conv_attrs(1, transpose=True), infer_shape=_deconv_shape(1), compute=ref.conv_transpose(1), **_EXT)
register("max_pool1d", attrs=_pool_attrs(1, False), infer_shape=_pool_shape(1), compute=ref.pool(1, "max"), **_EXT)
register("avg_pool1d", attrs=_pool_attrs(1, True), infer_shape=_pool_shape(1), compute=ref.pool(1, "avg"), **_EXT)
register("global_max_pool1d", infer_shape=_global_pool_shape, compute=ref.global_pool("max"), **_EXT)
register("global_avg_pool1d", infer_shape=_global_pool_shape, compute=ref.global_pool("avg"), **_EXT)
register("conv3d", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs, attrs=_conv_attrs(3),
         infer_shape=_conv_shape(3), compute=ref.conv(3), **_EXT)
register("conv3d_transpose", inputs=_CONV_INPUTS, num_inputs=_use_bias_inputs,
         attrs=_conv_attrs(3, transpose=True), infer_shape=_deconv_shape(3), compute=ref.conv_transpose(3), **_EXT)
register("max_pool3d", attrs=_pool_attrs(3, False), infer_shape=_pool_shape(3), compute=ref.pool(3, "max"), **_EXT)
register("avg_pool3d", attrs=_pool_attrs(3, True), infer_shape=_pool_shape(3), compute=ref.pool(3, "avg"), **_EXT)
register("global_max_pool3d", infer_shape=_global_pool_shape, compute=ref.global_pool("max"), **_EXT)
register("global_avg_pool3d", infer_shape=_global_pool_shape, compute=ref.global_pool("avg"), **_EXT)
