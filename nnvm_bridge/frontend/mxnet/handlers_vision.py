"""Handlers for the MXNet ops of GluonCV's segmentation and detection nets.

BilinearResize2D becomes the IR's ``resize`` with the output size MXNet's mode computes; box_decode
is elementwise arithmetic on the box columns; box_nms is the IR's ``box_nms`` (MXNet's semantics, attribute
for attribute); argsort is a full ``topk`` returning indices.
"""
from __future__ import annotations

from ...ops.common import norm_axis
from ...ops.registry import Attr
from ...ops.vision import BOX_FORMATS
from .context import BIG
from .handlers_nn import need_inputs
from .handlers_tensor import dtype_name
from .registry import MXNET_IMPORT

_RESIZE_MODES = ("size", "like", "odd_scale", "to_even_down", "to_even_up", "to_odd_down", "to_odd_up")
BILINEAR_RESIZE = dict(height=Attr("int", 1), width=Attr("int", 1), scale_height=Attr("float", None, optional=True),
                       scale_width=Attr("float", None, optional=True),
                       mode=Attr("str", "size", choices=_RESIZE_MODES), align_corners=Attr("bool", True))
BOX_DECODE = dict(std0=Attr("float", 1.0), std1=Attr("float", 1.0), std2=Attr("float", 1.0),
                  std3=Attr("float", 1.0), clip=Attr("float", -1.0),
                  format=Attr("str", "center", choices=("center", "corner")))
BOX_NMS = dict(overlap_thresh=Attr("float", 0.5), valid_thresh=Attr("float", 0.0), topk=Attr("int", -1),
               coord_start=Attr("int", 2), score_index=Attr("int", 1), id_index=Attr("int", -1),
               background_id=Attr("int", -1), force_suppress=Attr("bool", False),
               in_format=Attr("str", "corner", choices=BOX_FORMATS),
               out_format=Attr("str", "corner", choices=BOX_FORMATS))
ARGSORT = dict(axis=Attr("int", -1, optional=True), is_ascend=Attr("bool", True), dtype=Attr("str", "float32"))


# ---- resizing -------------------------------------------------------------------------------------
def _resize_target(ctx, attrs, inputs, h, w):
    """The (height, width) MXNet 1.9.1's BilinearResize2D computes (bilinear_resize.cc, InferShape)."""
    mode = attrs["mode"]
    sh, sw = attrs["scale_height"], attrs["scale_width"]
    if mode == "like":
        need_inputs(inputs, 2, ctx)
        return tuple(ctx.need_shape(inputs[1], "BilinearResize2D mode='like'")[2:4])
    if mode == "size":
        if sh is not None and sw is not None:
            return int(sh * h), int(sw * w)
        return attrs["height"], attrs["width"]
    if mode == "odd_scale":
        if sh is None or sw is None:
            raise ctx.fail("mode='odd_scale' needs scale_height and scale_width")
        return tuple(int(n * s) if n % 2 == 0 else int((n - 1) * s) + 1 for n, s in ((h, sh), (w, sw)))
    even = mode.startswith("to_even")
    step = -1 if mode.endswith("down") else 1
    return tuple(n if (n % 2 == 0) == even else n + step for n in (h, w))


@MXNET_IMPORT.register("_contrib_BilinearResize2D", attrs=BILINEAR_RESIZE)
def bilinear_resize(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    shape = ctx.need_shape(inputs[0], "BilinearResize2D")
    size = _resize_target(ctx, attrs, inputs, *shape[2:4])
    if min(size) < 1:
        raise ctx.fail(f"output size {size} must be positive")
    return ctx.out("resize", inputs[:1], dict(size=size, method="BILINEAR", align_corners=attrs["align_corners"]),
                   name=node.name)


# ---- boxes ----------------------------------------------------------------------------------------
@MXNET_IMPORT.register("_contrib_box_decode", attrs=BOX_DECODE)
def box_decode(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    data, anchors = inputs[:2]
    dshape = ctx.need_shape(data, "box_decode")
    ashape = ctx.need_shape(anchors, "box_decode")

    def col(x, shape, i, tag):  # ends "to the end", not the import-time lengths: H and W may be symbolic
        lead = len(shape) - 1
        return ctx.aux("strided_slice", [x], dict(begin=(0,) * lead + (i,), end=(BIG,) * lead + (i + 1,)),
                       suffix=f"{tag}{i}")

    def op(name, *args, **kw):
        return ctx.aux(name, list(args), kw, suffix=name.strip("_"))

    a = [col(anchors, ashape, i, "a") for i in range(4)]
    p = [col(data, dshape, i, "p") for i in range(4)]
    if attrs["format"] == "corner":
        aw, ah = op("broadcast_sub", a[2], a[0]), op("broadcast_sub", a[3], a[1])
        ax = op("broadcast_add", a[0], op("__mul_scalar__", aw, scalar=0.5))
        ay = op("broadcast_add", a[1], op("__mul_scalar__", ah, scalar=0.5))
    else:
        ax, ay, aw, ah = a
    std = [attrs[f"std{i}"] for i in range(4)]
    ox = op("broadcast_add", op("broadcast_mul", op("__mul_scalar__", p[0], scalar=std[0]), aw), ax)
    oy = op("broadcast_add", op("broadcast_mul", op("__mul_scalar__", p[1], scalar=std[1]), ah), ay)
    dw, dh = op("__mul_scalar__", p[2], scalar=std[2]), op("__mul_scalar__", p[3], scalar=std[3])
    if attrs["clip"] > 0:
        dw, dh = (op("__min_scalar__", v, scalar=attrs["clip"]) for v in (dw, dh))
    ow = op("__mul_scalar__", op("broadcast_mul", op("exp", dw), aw), scalar=0.5)
    oh = op("__mul_scalar__", op("broadcast_mul", op("exp", dh), ah), scalar=0.5)
    corners = [op("broadcast_sub", ox, ow), op("broadcast_sub", oy, oh), op("broadcast_add", ox, ow),
               op("broadcast_add", oy, oh)]
    return ctx.out("concatenate", corners, dict(axis=len(dshape) - 1), name=node.name)


@MXNET_IMPORT.register("_contrib_box_nms", attrs=BOX_NMS)
def box_nms(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    return ctx.out("box_nms", inputs[:1], {k: attrs[k] for k in BOX_NMS}, name=node.name)


# ---- sorting --------------------------------------------------------------------------------------
@MXNET_IMPORT.register("argsort", attrs=ARGSORT)
def argsort(ctx, node, attrs, inputs):
    data, axis = inputs[0], attrs["axis"]
    if axis is None:
        data, axis = ctx.aux("reshape", [data], dict(shape=(-1,))), 0
    n = ctx.need_shape(data, "argsort")
    axis = norm_axis(axis, len(n))
    return ctx.out("topk", [data], dict(k=n[axis], axis=axis, ret_type="indices", is_ascend=attrs["is_ascend"],
                                        dtype=dtype_name(attrs)), name=node.name)
