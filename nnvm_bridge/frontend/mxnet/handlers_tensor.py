"""Handlers for MXNet's shape manipulation, slicing, indexing, reduction and creation ops."""
from __future__ import annotations

from ...errors import ShapeError
from ...ir import dtypes as _dt
from ...ops.common import norm_axis, prod
from ...ops.transform import reshape_output_shape
from . import defaults
from .context import BIG
from .handlers_nn import need_inputs
from .registry import MXNET_IMPORT


def dtype_name(attrs, key="dtype"):
    try:
        return _dt.canonical(attrs[key])
    except Exception:
        raise attrs.error(f"unsupported dtype {attrs[key]!r}") from None


# ---- reshaping -----------------------------------------------------------------------------------
@MXNET_IMPORT.register("Reshape", "reshape", attrs=defaults.RESHAPE)
def reshape(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    spec = list(attrs["shape"])
    if not spec:
        target = list(attrs["target_shape"])
        if not target:
            raise attrs.error("Reshape needs 'shape'")
        # legacy target_shape: 0 means 'infer'; keep_highest keeps the first dim
        spec = [-1 if v == 0 else v for v in target]
        if attrs["keep_highest"]:
            spec = [0] + spec
    return _reshape(ctx, node, inputs, spec, attrs["reverse"])


# numpy-extension reshape's special values -> legacy Reshape's (-2 copy, -4 copy the rest, -5 merge, -6 split)
_LEGACY_CODES = {-2: 0, -4: -2, -5: -3, -6: -4}


@MXNET_IMPORT.register("_npx_reshape", attrs=defaults.NPX_RESHAPE)
def npx_reshape(ctx, node, attrs, inputs):
    """What to_mxnet writes for Reshape (MXNet's oneDNN Reshape fails on empty arrays), read as Reshape."""
    need_inputs(inputs, 1, ctx)
    if attrs["order"] != "C":
        raise attrs.error(f"_npx_reshape order={attrs['order']!r} (only 'C')")
    spec = []
    for v in attrs["newshape"]:
        if v in (0, -3):  # numpy's 0 is a length, -3 drops a dim of 1: legacy Reshape has neither
            raise attrs.error(f"_npx_reshape newshape value {v} is not supported")
        spec.append(_LEGACY_CODES.get(v, v))  # (a split's two sizes are lengths or -1: unchanged)
    return _reshape(ctx, node, inputs, spec, attrs["reverse"])


def _reshape(ctx, node, inputs, spec, reverse):
    if reverse and any(v in (0, -2, -3, -4) for v in spec):
        # MXNet matches special values from the right: resolve with the known input shape
        src = ctx.need_shape(inputs[0], "Reshape with reverse=True")
        try:
            spec = list(reshape_output_shape(src[::-1], spec[::-1], op="Reshape"))[::-1]
        except ShapeError as exc:
            raise ctx.fail(exc.bare_message, ShapeError) from None
    return ctx.out("reshape", inputs[:1], dict(shape=tuple(spec)), name=node.name)


@MXNET_IMPORT.register("Flatten", "flatten")
def flatten(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    return ctx.out("flatten", inputs[:1], {}, name=node.name)


@MXNET_IMPORT.register("transpose", attrs=defaults.TRANSPOSE)
def transpose(ctx, node, attrs, inputs):
    return ctx.out("transpose", inputs[:1], dict(axes=tuple(attrs["axes"])), name=node.name)


@MXNET_IMPORT.register("SwapAxis", "swapaxes", attrs=defaults.SWAP_AXIS)
def swap_axis(ctx, node, attrs, inputs):
    n = ctx.ndim(inputs[0], "SwapAxis")
    d1, d2 = norm_axis(attrs["dim1"], n), norm_axis(attrs["dim2"], n)
    perm = list(range(n))
    perm[d1], perm[d2] = perm[d2], perm[d1]
    return ctx.out("transpose", inputs[:1], dict(axes=tuple(perm)), name=node.name)


@MXNET_IMPORT.register("expand_dims", attrs=defaults.EXPAND_DIMS)
def expand_dims(ctx, node, attrs, inputs):
    return ctx.out("expand_dims", inputs[:1], dict(axis=attrs["axis"]), name=node.name)


@MXNET_IMPORT.register("squeeze", attrs=defaults.SQUEEZE)
def squeeze(ctx, node, attrs, inputs):
    axis = attrs["axis"]
    return ctx.out("squeeze", inputs[:1], dict(axis=() if axis is None else tuple(axis)), name=node.name)


@MXNET_IMPORT.register("Concat", "concat", attrs=defaults.CONCAT)
def concat(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    return ctx.out("concatenate", inputs, dict(axis=attrs["dim"]), name=node.name)


@MXNET_IMPORT.register("stack", attrs=defaults.STACK)
def stack(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    return ctx.out("stack", inputs, dict(axis=attrs["axis"], num_args=len(inputs)), name=node.name)


def _split(node, inputs, ctx, ios, axis, squeeze_axis):
    n = ios if isinstance(ios, int) else len(ios) + 1
    if n == 1:
        outs = [inputs[0]]
    else:
        split = ctx.emit("split", inputs[:1], dict(indices_or_sections=ios, axis=axis), name=node.name)
        outs = [split[k] for k in range(n)]
    if squeeze_axis:
        outs = [ctx.out("squeeze", [e], dict(axis=(axis,)), name=ctx.aux_name(f"squeeze{k}"))
                for k, e in enumerate(outs)]
    return outs


@MXNET_IMPORT.register("SliceChannel", "split", attrs=defaults.SLICE_CHANNEL)
def slice_channel(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    n = attrs["num_outputs"]
    if n <= 0:
        raise attrs.error(f"num_outputs={n} must be positive")
    return _split(node, inputs, ctx, n, attrs["axis"], attrs["squeeze_axis"])


@MXNET_IMPORT.register("_split_v2", attrs=defaults.SPLIT_V2)
def split_v2(ctx, node, attrs, inputs):
    need_inputs(inputs, 1, ctx)
    if attrs["sections"] > 0:
        ios = attrs["sections"]
    else:
        idx = list(attrs["indices"])
        if idx and idx[0] == 0:  # the op's indices start with the implicit 0
            idx = idx[1:]
        ios = tuple(idx)
    return _split(node, inputs, ctx, ios, attrs["axis"], attrs["squeeze_axis"])


# ---- slicing ---------------------------------------------------------------------------------------
@MXNET_IMPORT.register("slice", "crop", attrs=defaults.SLICE)
def slice_(ctx, node, attrs, inputs):
    begin, end = list(attrs["begin"]), list(attrs["end"])
    step = list(attrs["step"]) or [None] * len(begin)
    if len(end) != len(begin) or len(step) != len(begin):
        raise attrs.error(f"begin {tuple(begin)}, end {tuple(end)} and step {tuple(step)} differ in length")
    b2, e2, s2 = [], [], []
    for b, e, s in zip(begin, end, step):
        s = 1 if s is None else s
        if s == 0:
            raise attrs.error("step 0")
        b2.append(b if b is not None else (0 if s > 0 else BIG))
        e2.append(e if e is not None else (BIG if s > 0 else -BIG))
        s2.append(s)
    ir_attrs = dict(begin=tuple(b2), end=tuple(e2))
    if any(s != 1 for s in s2):
        ir_attrs["stride"] = tuple(s2)
    return ctx.out("strided_slice", inputs[:1], ir_attrs, name=node.name)


@MXNET_IMPORT.register("slice_axis", attrs=defaults.SLICE_AXIS)
def slice_axis(ctx, node, attrs, inputs):
    axis = attrs["axis"]
    if axis < 0:
        axis = norm_axis(axis, ctx.ndim(inputs[0], "slice_axis with a negative axis"))
    end = attrs["end"]
    begin = [0] * axis + [attrs["begin"]]
    ends = [BIG] * axis + [BIG if end is None else end]
    return ctx.out("strided_slice", inputs[:1], dict(begin=tuple(begin), end=tuple(ends)), name=node.name)


@MXNET_IMPORT.register("slice_like", attrs=defaults.SLICE_LIKE)
def slice_like(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    return ctx.out("slice_like", inputs[:2], dict(axis=tuple(attrs["axes"])), name=node.name)


@MXNET_IMPORT.register("Crop", attrs=defaults.CROP)
def crop(ctx, node, attrs, inputs):
    d = ctx.need_shape(inputs[0], "Crop")
    if len(d) != 4:
        raise attrs.error(f"Crop takes 4-d data, got shape {d}")
    if len(inputs) >= 2:
        h, w = ctx.need_shape(inputs[1], "Crop")[2:4]
    else:
        h, w = tuple(attrs["h_w"])
    if attrs["center_crop"]:
        oh, ow = (d[2] - h) // 2, (d[3] - w) // 2
    else:
        oh, ow = tuple(attrs["offset"])
    if oh < 0 or ow < 0 or oh + h > d[2] or ow + w > d[3]:
        raise attrs.error(f"crop window {(oh, ow, h, w)} does not fit data of shape {d}", ShapeError)
    return ctx.out("strided_slice", inputs[:1], dict(begin=(0, 0, oh, ow), end=(BIG, BIG, oh + h, ow + w)),
                   name=node.name)


@MXNET_IMPORT.register("clip", attrs=defaults.CLIP)
def clip(ctx, node, attrs, inputs):
    return ctx.out("clip", inputs[:1], dict(a_min=attrs["a_min"], a_max=attrs["a_max"]), name=node.name)


@MXNET_IMPORT.register("Cast", "cast", "amp_cast", attrs=defaults.CAST)
def cast(ctx, node, attrs, inputs):
    return ctx.out("cast", inputs[:1], dict(dtype=dtype_name(attrs)), name=node.name)


# ---- linear algebra ---------------------------------------------------------------------------------
@MXNET_IMPORT.register("dot", attrs=defaults.DOT)
def dot(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    ta, tb = attrs["transpose_a"], attrs["transpose_b"]
    lhs, rhs = inputs[:2]
    ls, rs = ctx.shape(lhs), ctx.shape(rhs)
    if ls is not None and rs is not None and len(ls) == 2 and len(rs) == 2:
        return ctx.out("matmul", [lhs, rhs], dict(transpose_a=ta, transpose_b=tb), name=node.name)
    ls = ctx.need_shape(lhs, "dot of non-2-d operands")
    rs = ctx.need_shape(rhs, "dot of non-2-d operands")
    # MXNet's DotShape: lhs is viewed as (M, K) (or (K, M) when transposed), rhs as (K, N) / (N, K)
    if len(ls) == 1 and len(rs) == 1:
        if ls != rs:
            raise attrs.error(f"dot of shapes {ls} and {rs}", ShapeError)
        prod_ = ctx.aux("elemwise_mul", [lhs, rhs])
        return ctx.out("sum", [prod_], dict(axis=(0,), keepdims=True), name=node.name)
    if ta:
        k, m_dims = ls[0], tuple(ls[1:])
    else:
        k, m_dims = ls[-1], tuple(ls[:-1])
    if tb:
        k2, n_dims = rs[-1], tuple(rs[:-1])
    else:
        k2, n_dims = rs[0], tuple(rs[1:])
    if k != k2:
        raise attrs.error(f"dot inner dims differ: {ls} x {rs} (transpose_a={ta}, transpose_b={tb})", ShapeError)
    l2 = ctx.aux("reshape", [lhs], dict(shape=(k, prod(m_dims)) if ta else (prod(m_dims), k)), suffix="lhs2d")
    r2 = ctx.aux("reshape", [rhs], dict(shape=(prod(n_dims), k) if tb else (k, prod(n_dims))), suffix="rhs2d")
    mm = ctx.aux("matmul", [l2, r2], dict(transpose_a=ta, transpose_b=tb))
    out_shape = m_dims + n_dims or (1,)
    return ctx.out("reshape", [mm], dict(shape=out_shape), name=node.name)


@MXNET_IMPORT.register("batch_dot", attrs=defaults.DOT)
def batch_dot(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    return ctx.out("batch_matmul", inputs[:2], dict(transpose_a=attrs["transpose_a"], transpose_b=attrs["transpose_b"]),
                   name=node.name)


# ---- indexing -----------------------------------------------------------------------------------------
@MXNET_IMPORT.register("take", attrs=defaults.TAKE)
def take(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    data, idx = inputs[:2]
    mode = attrs["mode"]
    d = ctx.shape(data)
    axis = attrs["axis"]
    if d is not None:
        axis = norm_axis(axis, len(d))
        n = d[axis]
        if mode == "wrap":
            idx = ctx.aux("broadcast_mod", [idx, ctx.scalar_const("dim", n, idx)], suffix="wrap")
        else:  # 'clip' (and 'raise', whose in-range behaviour is the same)
            idx = ctx.aux("clip", [idx], dict(a_min=0.0, a_max=float(n - 1)))
    elif mode == "wrap":
        ctx.need_shape(data, "take with mode='wrap'")
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("take", [data, idx], dict(axis=axis), name=node.name)


@MXNET_IMPORT.register("gather_nd")
def gather_nd(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    idx = inputs[1]
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("gather_nd", [inputs[0], idx], {}, name=node.name)


@MXNET_IMPORT.register("where")
def where(ctx, node, attrs, inputs):
    need_inputs(inputs, 3, ctx)
    return ctx.out("where", inputs[:3], {}, name=node.name)


@MXNET_IMPORT.register("one_hot", attrs=defaults.ONE_HOT)
def one_hot(ctx, node, attrs, inputs):
    idx = inputs[0]
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("one_hot", [idx], dict(depth=attrs["depth"], on_value=attrs["on_value"],
                                          off_value=attrs["off_value"], dtype=dtype_name(attrs)), name=node.name)


@MXNET_IMPORT.register("topk", attrs=defaults.TOPK)
def topk(ctx, node, attrs, inputs):
    ret = attrs["ret_typ"]
    if ret == "mask":
        raise attrs.error("ret_typ='mask' is not supported")
    data = inputs[0]
    axis = attrs["axis"]
    if axis is None:
        data = ctx.aux("reshape", [data], dict(shape=(-1,)))
        axis = 0
    ir_attrs = dict(k=attrs["k"], axis=axis, ret_type={"value": "values"}.get(ret, ret),
                    is_ascend=attrs["is_ascend"], dtype=dtype_name(attrs))
    n = ctx.emit("topk", [data], ir_attrs, name=node.name)
    return [n[0], n[1]] if ret == "both" else [n[0]]


# ---- reductions ----------------------------------------------------------------------------------------
def _reduce(ir_op):
    def fn(ctx, node, attrs, inputs):
        axis = attrs["axis"]
        axis = () if axis is None else tuple(axis)
        # MXNet reduces over everything when no axis is given, whatever 'exclude' says
        exclude = attrs["exclude"] and bool(axis)
        return ctx.out(ir_op, inputs[:1], dict(axis=axis, keepdims=attrs["keepdims"], exclude=exclude), name=node.name)
    return fn


for _mx, _ir in (("sum", "sum"), ("sum_axis", "sum"), ("mean", "mean"), ("max", "max"), ("max_axis", "max"),
                 ("min", "min"), ("min_axis", "min"), ("prod", "prod")):
    MXNET_IMPORT.add(_mx, _reduce(_ir), attrs=defaults.REDUCE)


def _arg(ir_op):
    def fn(ctx, node, attrs, inputs):
        axis = attrs["axis"]
        # MXNet returns float32 indices
        ir_attrs = dict(axis=() if axis is None else (axis,), keepdims=attrs["keepdims"], dtype="float32")
        return ctx.out(ir_op, inputs[:1], ir_attrs, name=node.name)
    return fn


MXNET_IMPORT.add("argmax", _arg("argmax"), attrs=defaults.ARG_REDUCE)
MXNET_IMPORT.add("argmin", _arg("argmin"), attrs=defaults.ARG_REDUCE)


@MXNET_IMPORT.register("argmax_channel")
def argmax_channel(ctx, node, attrs, inputs):
    return ctx.out("argmax", inputs[:1], dict(axis=(-1,), dtype="float32"), name=node.name)


@MXNET_IMPORT.register("norm", attrs=defaults.NORM)
def norm(ctx, node, attrs, inputs):
    ord_ = attrs["ord"]
    if ord_ not in (1, 2):
        raise attrs.error(f"ord={ord_} is not supported (1 or 2)")
    axis = attrs["axis"]
    return ctx.out("norm", inputs[:1], dict(ord=ord_, axis=() if axis is None else tuple(axis),
                                            keepdims=attrs["keepdims"]), name=node.name)


# ---- broadcasting / tiling ------------------------------------------------------------------------------
@MXNET_IMPORT.register("broadcast_to", attrs=defaults.BROADCAST_TO)
def broadcast_to(ctx, node, attrs, inputs):
    return ctx.out("broadcast_to", inputs[:1], dict(shape=tuple(attrs["shape"])), name=node.name)


@MXNET_IMPORT.register("broadcast_axis", "broadcast_axes", attrs=defaults.BROADCAST_AXIS)
def broadcast_axis(ctx, node, attrs, inputs):
    n = ctx.ndim(inputs[0], "broadcast_axis")
    axes, sizes = tuple(attrs["axis"]), tuple(attrs["size"])
    if len(axes) != len(sizes):
        raise attrs.error(f"axis {axes} and size {sizes} differ in length")
    target = [0] * n
    for ax, s in zip(axes, sizes):
        target[norm_axis(ax, n)] = s
    return ctx.out("broadcast_to", inputs[:1], dict(shape=tuple(target)), name=node.name)


@MXNET_IMPORT.register("broadcast_like", attrs=defaults.BROADCAST_LIKE)
def broadcast_like(ctx, node, attrs, inputs):
    need_inputs(inputs, 2, ctx)
    if attrs["lhs_axes"] is not None or attrs["rhs_axes"] is not None:
        ls = ctx.need_shape(inputs[0], "broadcast_like with axes")
        rs = ctx.need_shape(inputs[1], "broadcast_like with axes")
        target = list(ls)
        for la, ra in zip(attrs["lhs_axes"] or (), attrs["rhs_axes"] or ()):
            target[norm_axis(la, len(ls))] = rs[norm_axis(ra, len(rs))]
        return ctx.out("broadcast_to", inputs[:1], dict(shape=tuple(target)), name=node.name)
    zeros = ctx.aux("zeros_like", [inputs[1]])
    return ctx.out("broadcast_add", [inputs[0], zeros], {}, name=node.name)


@MXNET_IMPORT.register("tile", attrs=defaults.TILE)
def tile(ctx, node, attrs, inputs):
    return ctx.out("tile", inputs[:1], dict(reps=tuple(attrs["reps"])), name=node.name)


@MXNET_IMPORT.register("repeat", attrs=defaults.REPEAT)
def repeat(ctx, node, attrs, inputs):
    return ctx.out("repeat", inputs[:1], dict(repeats=attrs["repeats"], axis=attrs["axis"]), name=node.name)


@MXNET_IMPORT.register("reverse", "flip", attrs=defaults.REVERSE)
def reverse(ctx, node, attrs, inputs):
    x = inputs[0]
    axes = tuple(attrs["axis"])
    for k, ax in enumerate(axes):
        last = k == len(axes) - 1
        x = ctx.out("flip", [x], dict(axis=ax), name=node.name if last else ctx.aux_name(f"flip{k}"))
    return x


# ---- creation -------------------------------------------------------------------------------------------
@MXNET_IMPORT.register("_zeros", "_ones", attrs=defaults.ZEROS)
def zeros_ones(ctx, node, attrs, inputs):
    op = "zeros" if node.op == "_zeros" else "ones"
    return ctx.out(op, [], dict(shape=tuple(attrs["shape"]), dtype=dtype_name(attrs)), name=node.name)


@MXNET_IMPORT.register("_full", attrs=defaults.FULL)
def full(ctx, node, attrs, inputs):
    return ctx.out("full", [], dict(shape=tuple(attrs["shape"]), dtype=dtype_name(attrs), fill_value=attrs["value"]),
                   name=node.name)


@MXNET_IMPORT.register("_arange", attrs=defaults.ARANGE)
def arange(ctx, node, attrs, inputs):
    if attrs["repeat"] != 1:
        raise attrs.error("repeat != 1 is not supported")
    start, stop = attrs["start"], attrs["stop"]
    if stop is None:
        start, stop = 0.0, start
    return ctx.out("arange", [], dict(start=start, stop=stop, step=attrs["step"], dtype=dtype_name(attrs)),
                   name=node.name)


@MXNET_IMPORT.register("shape_array")
def shape_array(ctx, node, attrs, inputs):
    return ctx.out("shape_of", inputs[:1], dict(dtype="int64"), name=node.name)
