"""Handlers for MXNet's shape manipulation, slicing, indexing, reduction and creation ops."""
from __future__ import annotations

from ...errors import ShapeError
from ...ir import dtypes as _dt
from ...ops.common import norm_axis, prod
from ...ops.transform import reshape_output_shape
from .context import BIG
from .handlers_nn import need_inputs
from .op_map import handler


def _dtype_name(a, key="dtype"):
    try:
        return _dt.canonical(a[key])
    except Exception:
        raise a.error(f"unsupported dtype {a[key]!r}") from None


# ---- reshaping -----------------------------------------------------------------------------------
@handler("Reshape", "reshape", table="Reshape")
def reshape(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    spec = list(a["shape"])
    if not spec:
        target = list(a["target_shape"])
        if not target:
            raise a.error("Reshape needs 'shape'")
        # legacy target_shape: 0 means 'infer'; keep_highest keeps the first dim
        spec = [-1 if v == 0 else v for v in target]
        if a["keep_highest"]:
            spec = [0] + spec
    if a["reverse"] and any(v in (0, -2, -3, -4) for v in spec):
        # MXNet matches special values from the right: resolve with the known input shape
        src = ctx.need_shape(ins[0], "Reshape with reverse=True")
        try:
            spec = list(reshape_output_shape(src[::-1], spec[::-1], op="Reshape"))[::-1]
        except ShapeError as exc:
            raise ctx.fail(exc.bare_message, ShapeError) from None
    return ctx.out("reshape", ins[:1], dict(shape=tuple(spec)), name=node.name)


@handler("Flatten", "flatten")
def flatten(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    return ctx.out("flatten", ins[:1], {}, name=node.name)


@handler("transpose")
def transpose(node, a, ins, ctx):
    return ctx.out("transpose", ins[:1], dict(axes=tuple(a["axes"])), name=node.name)


@handler("SwapAxis", "swapaxes", table="SwapAxis")
def swap_axis(node, a, ins, ctx):
    n = ctx.ndim(ins[0], "SwapAxis")
    d1, d2 = norm_axis(a["dim1"], n), norm_axis(a["dim2"], n)
    perm = list(range(n))
    perm[d1], perm[d2] = perm[d2], perm[d1]
    return ctx.out("transpose", ins[:1], dict(axes=tuple(perm)), name=node.name)


@handler("expand_dims")
def expand_dims(node, a, ins, ctx):
    return ctx.out("expand_dims", ins[:1], dict(axis=a["axis"]), name=node.name)


@handler("squeeze")
def squeeze(node, a, ins, ctx):
    axis = a["axis"]
    return ctx.out("squeeze", ins[:1], dict(axis=() if axis is None else tuple(axis)), name=node.name)


@handler("Concat", "concat", table="Concat")
def concat(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    return ctx.out("concatenate", ins, dict(axis=a["dim"]), name=node.name)


@handler("stack")
def stack(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    return ctx.out("stack", ins, dict(axis=a["axis"], num_args=len(ins)), name=node.name)


def _split(node, ins, ctx, ios, axis, squeeze_axis):
    n = ios if isinstance(ios, int) else len(ios) + 1
    if n == 1:
        outs = [ins[0]]
    else:
        split = ctx.emit("split", ins[:1], dict(indices_or_sections=ios, axis=axis), name=node.name)
        outs = [split[k] for k in range(n)]
    if squeeze_axis:
        outs = [ctx.out("squeeze", [e], dict(axis=(axis,)), name=ctx.aux_name(f"squeeze{k}"))
                for k, e in enumerate(outs)]
    return outs


@handler("SliceChannel", "split", table="SliceChannel")
def slice_channel(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    n = a["num_outputs"]
    if n <= 0:
        raise a.error(f"num_outputs={n} must be positive")
    return _split(node, ins, ctx, n, a["axis"], a["squeeze_axis"])


@handler("_split_v2")
def split_v2(node, a, ins, ctx):
    need_inputs(ins, 1, ctx)
    if a["sections"] > 0:
        ios = a["sections"]
    else:
        idx = list(a["indices"])
        if idx and idx[0] == 0:  # the op's indices start with the implicit 0
            idx = idx[1:]
        ios = tuple(idx)
    return _split(node, ins, ctx, ios, a["axis"], a["squeeze_axis"])


# ---- slicing ---------------------------------------------------------------------------------------
@handler("slice", "crop", table="slice")
def slice_(node, a, ins, ctx):
    begin, end = list(a["begin"]), list(a["end"])
    step = list(a["step"]) or [None] * len(begin)
    if len(end) != len(begin) or len(step) != len(begin):
        raise a.error(f"begin {tuple(begin)}, end {tuple(end)} and step {tuple(step)} differ in length")
    b2, e2, s2 = [], [], []
    for b, e, s in zip(begin, end, step):
        s = 1 if s is None else s
        if s == 0:
            raise a.error("step 0")
        b2.append(b if b is not None else (0 if s > 0 else BIG))
        e2.append(e if e is not None else (BIG if s > 0 else -BIG))
        s2.append(s)
    attrs = dict(begin=tuple(b2), end=tuple(e2))
    if any(s != 1 for s in s2):
        attrs["stride"] = tuple(s2)
    return ctx.out("strided_slice", ins[:1], attrs, name=node.name)


@handler("slice_axis")
def slice_axis(node, a, ins, ctx):
    axis = a["axis"]
    if axis < 0:
        axis = norm_axis(axis, ctx.ndim(ins[0], "slice_axis with a negative axis"))
    end = a["end"]
    begin = [0] * axis + [a["begin"]]
    ends = [BIG] * axis + [BIG if end is None else end]
    return ctx.out("strided_slice", ins[:1], dict(begin=tuple(begin), end=tuple(ends)), name=node.name)


@handler("slice_like")
def slice_like(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    return ctx.out("slice_like", ins[:2], dict(axis=tuple(a["axes"])), name=node.name)


@handler("Crop")
def crop(node, a, ins, ctx):
    d = ctx.need_shape(ins[0], "Crop")
    if len(d) != 4:
        raise a.error(f"Crop takes 4-d data, got shape {d}")
    if len(ins) >= 2:
        h, w = ctx.need_shape(ins[1], "Crop")[2:4]
    else:
        h, w = tuple(a["h_w"])
    if a["center_crop"]:
        oh, ow = (d[2] - h) // 2, (d[3] - w) // 2
    else:
        oh, ow = tuple(a["offset"])
    if oh < 0 or ow < 0 or oh + h > d[2] or ow + w > d[3]:
        raise a.error(f"crop window {(oh, ow, h, w)} does not fit data of shape {d}", ShapeError)
    return ctx.out("strided_slice", ins[:1], dict(begin=(0, 0, oh, ow), end=(BIG, BIG, oh + h, ow + w)),
                   name=node.name)


@handler("clip")
def clip(node, a, ins, ctx):
    return ctx.out("clip", ins[:1], dict(a_min=a["a_min"], a_max=a["a_max"]), name=node.name)


@handler("Cast", "cast", "amp_cast", table="Cast")
def cast(node, a, ins, ctx):
    return ctx.out("cast", ins[:1], dict(dtype=_dtype_name(a)), name=node.name)


# ---- linear algebra ---------------------------------------------------------------------------------
@handler("dot")
def dot(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    ta, tb = a["transpose_a"], a["transpose_b"]
    lhs, rhs = ins[:2]
    ls, rs = ctx.shape(lhs), ctx.shape(rhs)
    if ls is not None and rs is not None and len(ls) == 2 and len(rs) == 2:
        return ctx.out("matmul", [lhs, rhs], dict(transpose_a=ta, transpose_b=tb), name=node.name)
    ls = ctx.need_shape(lhs, "dot of non-2-d operands")
    rs = ctx.need_shape(rhs, "dot of non-2-d operands")
    # MXNet's DotShape: lhs is viewed as (M, K) (or (K, M) when transposed), rhs as (K, N) / (N, K)
    if len(ls) == 1 and len(rs) == 1:
        if ls != rs:
            raise a.error(f"dot of shapes {ls} and {rs}", ShapeError)
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
        raise a.error(f"dot inner dims differ: {ls} x {rs} (transpose_a={ta}, transpose_b={tb})", ShapeError)
    l2 = ctx.aux("reshape", [lhs], dict(shape=(k, prod(m_dims)) if ta else (prod(m_dims), k)), suffix="lhs2d")
    r2 = ctx.aux("reshape", [rhs], dict(shape=(prod(n_dims), k) if tb else (k, prod(n_dims))), suffix="rhs2d")
    mm = ctx.aux("matmul", [l2, r2], dict(transpose_a=ta, transpose_b=tb))
    out_shape = m_dims + n_dims or (1,)
    return ctx.out("reshape", [mm], dict(shape=out_shape), name=node.name)


@handler("batch_dot", table="dot")
def batch_dot(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    return ctx.out("batch_matmul", ins[:2], dict(transpose_a=a["transpose_a"], transpose_b=a["transpose_b"]),
                   name=node.name)


# ---- indexing -----------------------------------------------------------------------------------------
@handler("take")
def take(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    data, idx = ins[:2]
    mode = a.choice("mode", ("clip", "wrap", "raise"))
    d = ctx.shape(data)
    axis = a["axis"]
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


@handler("gather_nd")
def gather_nd(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    idx = ins[1]
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("gather_nd", [ins[0], idx], {}, name=node.name)


@handler("where")
def where(node, a, ins, ctx):
    need_inputs(ins, 3, ctx)
    return ctx.out("where", ins[:3], {}, name=node.name)


@handler("one_hot")
def one_hot(node, a, ins, ctx):
    idx = ins[0]
    if ctx.dtype(idx) not in ("int32", "int64"):
        idx = ctx.aux("cast", [idx], dict(dtype="int32"))
    return ctx.out("one_hot", [idx], dict(depth=a["depth"], on_value=a["on_value"], off_value=a["off_value"],
                                          dtype=_dtype_name(a)), name=node.name)


@handler("topk")
def topk(node, a, ins, ctx):
    ret = a.choice("ret_typ", ("value", "indices", "both", "mask"))
    if ret == "mask":
        raise a.error("ret_typ='mask' is not supported")
    data = ins[0]
    axis = a["axis"]
    if axis is None:
        data = ctx.aux("reshape", [data], dict(shape=(-1,)))
        axis = 0
    attrs = dict(k=a["k"], axis=axis, ret_type={"value": "values"}.get(ret, ret), is_ascend=a["is_ascend"],
                 dtype=_dtype_name(a))
    n = ctx.emit("topk", [data], attrs, name=node.name)
    return [n[0], n[1]] if ret == "both" else [n[0]]


# ---- reductions ----------------------------------------------------------------------------------------
def _reduce(ir_op):
    def fn(node, a, ins, ctx):
        axis = a["axis"]
        axis = () if axis is None else tuple(axis)
        # MXNet reduces over everything when no axis is given, whatever 'exclude' says
        exclude = a["exclude"] and bool(axis)
        return ctx.out(ir_op, ins[:1], dict(axis=axis, keepdims=a["keepdims"], exclude=exclude), name=node.name)
    return fn


for _mx, _ir in (("sum", "sum"), ("sum_axis", "sum"), ("mean", "mean"), ("max", "max"), ("max_axis", "max"),
                 ("min", "min"), ("min_axis", "min"), ("prod", "prod")):
    handler(_mx, table="sum")(_reduce(_ir))


def _arg(ir_op):
    def fn(node, a, ins, ctx):
        axis = a["axis"]
        # MXNet returns float32 indices
        attrs = dict(axis=() if axis is None else (axis,), keepdims=a["keepdims"], dtype="float32")
        return ctx.out(ir_op, ins[:1], attrs, name=node.name)
    return fn


handler("argmax", table="argmax")(_arg("argmax"))
handler("argmin", table="argmax")(_arg("argmin"))


@handler("argmax_channel")
def argmax_channel(node, a, ins, ctx):
    return ctx.out("argmax", ins[:1], dict(axis=(-1,), dtype="float32"), name=node.name)


@handler("norm")
def norm(node, a, ins, ctx):
    ord_ = a["ord"]
    if ord_ not in (1, 2):
        raise a.error(f"ord={ord_} is not supported (1 or 2)")
    axis = a["axis"]
    return ctx.out("norm", ins[:1], dict(ord=ord_, axis=() if axis is None else tuple(axis),
                                         keepdims=a["keepdims"]), name=node.name)


# ---- broadcasting / tiling ------------------------------------------------------------------------------
@handler("broadcast_to")
def broadcast_to(node, a, ins, ctx):
    return ctx.out("broadcast_to", ins[:1], dict(shape=tuple(a["shape"])), name=node.name)


@handler("broadcast_axis", "broadcast_axes", table="broadcast_axis")
def broadcast_axis(node, a, ins, ctx):
    n = ctx.ndim(ins[0], "broadcast_axis")
    axes, sizes = tuple(a["axis"]), tuple(a["size"])
    if len(axes) != len(sizes):
        raise a.error(f"axis {axes} and size {sizes} differ in length")
    target = [0] * n
    for ax, s in zip(axes, sizes):
        target[norm_axis(ax, n)] = s
    return ctx.out("broadcast_to", ins[:1], dict(shape=tuple(target)), name=node.name)


@handler("broadcast_like")
def broadcast_like(node, a, ins, ctx):
    need_inputs(ins, 2, ctx)
    if a["lhs_axes"] is not None or a["rhs_axes"] is not None:
        ls = ctx.need_shape(ins[0], "broadcast_like with axes")
        rs = ctx.need_shape(ins[1], "broadcast_like with axes")
        target = list(ls)
        for la, ra in zip(a["lhs_axes"] or (), a["rhs_axes"] or ()):
            target[norm_axis(la, len(ls))] = rs[norm_axis(ra, len(rs))]
        return ctx.out("broadcast_to", ins[:1], dict(shape=tuple(target)), name=node.name)
    zeros = ctx.aux("zeros_like", [ins[1]])
    return ctx.out("broadcast_add", [ins[0], zeros], {}, name=node.name)


@handler("tile")
def tile(node, a, ins, ctx):
    return ctx.out("tile", ins[:1], dict(reps=tuple(a["reps"])), name=node.name)


@handler("repeat")
def repeat(node, a, ins, ctx):
    return ctx.out("repeat", ins[:1], dict(repeats=a["repeats"], axis=a["axis"]), name=node.name)


@handler("reverse", "flip", table="reverse")
def reverse(node, a, ins, ctx):
    x = ins[0]
    axes = tuple(a["axis"])
    for k, ax in enumerate(axes):
        last = k == len(axes) - 1
        x = ctx.out("flip", [x], dict(axis=ax), name=node.name if last else ctx.aux_name(f"flip{k}"))
    return x


# ---- creation -------------------------------------------------------------------------------------------
@handler("_zeros", "_ones", table="_zeros")
def zeros_ones(node, a, ins, ctx):
    op = "zeros" if node.op == "_zeros" else "ones"
    return ctx.out(op, [], dict(shape=tuple(a["shape"]), dtype=_dtype_name(a)), name=node.name)


@handler("_full")
def full(node, a, ins, ctx):
    return ctx.out("full", [], dict(shape=tuple(a["shape"]), dtype=_dtype_name(a), fill_value=a["value"]),
                   name=node.name)


@handler("_arange")
def arange(node, a, ins, ctx):
    if a["repeat"] != 1:
        raise a.error("repeat != 1 is not supported")
    start, stop = a["start"], a["stop"]
    if stop is None:
        start, stop = 0.0, start
    return ctx.out("arange", [], dict(start=start, stop=stop, step=a["step"], dtype=_dtype_name(a)), name=node.name)


@handler("shape_array")
def shape_array(node, a, ins, ctx):
    return ctx.out("shape_of", ins[:1], dict(dtype="int64"), name=node.name)
