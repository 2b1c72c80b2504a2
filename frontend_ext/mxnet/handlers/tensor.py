"""Tensor creation, casts, shape manipulation, indexing, reductions, matmul."""
from __future__ import annotations

from nnvm_bridge.errors import ShapeError, unsupported_feature
from nnvm_bridge.ir.symbolic import is_symbolic
from nnvm_bridge.ops.common import norm_axis
from nnvm_bridge.ops.transform import slice_bounds

from ..context import mx_dtype, same
from ..registry import MXNET_EXPORT

MXNET_EXPORT.add("zeros_like", same("zeros_like"))
MXNET_EXPORT.add("ones_like", same("ones_like"))
MXNET_EXPORT.add("reshape_like", same("reshape_like"))
MXNET_EXPORT.add("where", same("where"))


@MXNET_EXPORT.register("gather_nd")
def _gather_nd(ctx, node, attrs, inputs):
    rows = (ctx.shape(node.inputs[0]) or (None,))[0]
    if isinstance(rows, int) and rows > 0:
        return [ctx.add("gather_nd", node.name, inputs)]
    # data that may have no rows gets a spare row in front (see spare_row); the indices of the rows then
    # move by one where they count from the start, and stay where they count from the end
    data = ctx.spare_row(f"{node.name}_data", inputs[0], first=True)
    row = ctx.add("slice_axis", f"{node.name}_row", [inputs[1]], {"axis": 0, "begin": 0, "end": 1})
    row = ctx.add("elemwise_add", f"{node.name}_moved", [
        row, ctx.add("_greater_equal_scalar", f"{node.name}_from_start", [row], {"scalar": 0})])
    m = int(ctx.shape(node.inputs[1])[0])
    idx = row if m == 1 else ctx.add("Concat", f"{node.name}_indices", [
        row, ctx.add("slice_axis", f"{node.name}_rest", [inputs[1]], {"axis": 0, "begin": 1, "end": m})],
        {"dim": 0, "num_args": 2})
    return [ctx.add("gather_nd", node.name, [data, idx])]


# ---- creation and casts --------------------------------------------------------------------------
@MXNET_EXPORT.register("cast")
def _cast(ctx, node, attrs, inputs):
    src = ctx.dtype(node.inputs[0])
    if attrs.dtype == "bool" and src not in (None, "bool"):
        # bool is uint8 in MXNet, and Cast truncates (0.5 -> 0, -3.4e38 -> 0): test != 0 first
        inputs = [ctx.add("_not_equal_scalar", f"{node.name}_nonzero", inputs, {"scalar": 0.0})]
    return [ctx.add("Cast", node.name, inputs, {"dtype": mx_dtype(attrs.dtype)})]


def _init(op):
    def fn(ctx, node, attrs, inputs):
        mx_attrs = {"shape": tuple(attrs.shape), "dtype": mx_dtype(attrs.dtype)}
        if op == "_full":
            mx_attrs["value"] = attrs.fill_value
        return [ctx.add(op, node.name, inputs, mx_attrs)]
    return fn


MXNET_EXPORT.add("full", _init("_full"))
MXNET_EXPORT.add("zeros", _init("_zeros"))
MXNET_EXPORT.add("ones", _init("_ones"))


@MXNET_EXPORT.register("full_like")
def _full_like(ctx, node, attrs, inputs):
    ones = ctx.add("ones_like", node.name + "_ones", inputs)
    return [ctx.add("_mul_scalar", node.name, [ones], {"scalar": attrs.fill_value})]


@MXNET_EXPORT.register("arange")
def _arange(ctx, node, attrs, inputs):
    return [ctx.add("_arange", node.name, inputs, {"start": attrs.start, "stop": attrs.stop, "step": attrs.step,
                                                   "dtype": mx_dtype(attrs.dtype)})]


@MXNET_EXPORT.register("shape_of")
def _shape_of(ctx, node, attrs, inputs):
    y = ctx.add("shape_array", node.name, inputs)
    if attrs.dtype != "int64":
        y = ctx.add("Cast", node.name + "_cast", [y], {"dtype": mx_dtype(attrs.dtype)})
    return [y]


@MXNET_EXPORT.register("one_hot")
def _one_hot(ctx, node, attrs, inputs):
    y = ctx.add("one_hot", node.name, inputs, {"depth": attrs.depth, "on_value": attrs.on_value,
                                               "off_value": attrs.off_value, "dtype": mx_dtype(attrs.dtype)})
    shape = ctx.shape(node.inputs[0])
    axis = attrs.axis
    if axis != -1:
        if shape is None:
            raise ShapeError("one_hot with axis != -1 needs the input shape", node=node.name, op=node.op)
        r = len(shape) + 1
        axis %= r
        if axis != r - 1:
            perm = list(range(r - 1))
            perm.insert(axis, r - 1)
            y = ctx.add("transpose", node.name + "_axis", [y], {"axes": tuple(perm)})
    return [y]


# ---- shape manipulation --------------------------------------------------------------------------
@MXNET_EXPORT.register("concatenate")
def _concat(ctx, node, attrs, inputs):
    return [ctx.add("Concat", node.name, inputs, {"dim": attrs.axis, "num_args": len(inputs)})]


@MXNET_EXPORT.register("stack")
def _stack(ctx, node, attrs, inputs):
    return [ctx.add("stack", node.name, inputs, {"axis": attrs.axis, "num_args": len(inputs)})]


@MXNET_EXPORT.register("expand_dims")
def _expand_dims(ctx, node, attrs, inputs):
    y = inputs[0]
    for k in range(attrs.num_newaxis):
        name = node.name if k == attrs.num_newaxis - 1 else f"{node.name}_{k}"
        y = ctx.add("expand_dims", name, [y], {"axis": attrs.axis})
    return [y]


@MXNET_EXPORT.register("squeeze")
def _squeeze(ctx, node, attrs, inputs):
    return [ctx.add("squeeze", node.name, inputs, {"axis": tuple(attrs.axis) if attrs.axis else None})]


@MXNET_EXPORT.register("split")
def _split(ctx, node, attrs, inputs):
    shape = ctx.shape(node.inputs[0])
    axis = attrs.axis
    if isinstance(attrs.indices_or_sections, int):
        y = ctx.add("SliceChannel", node.name, inputs, {"num_outputs": attrs.indices_or_sections, "axis": axis})
        return [(y[0], k) for k in range(attrs.indices_or_sections)]
    if shape is None:
        raise ShapeError("split at indices needs the input shape", node=node.name, op=node.op)
    pts = [0] + list(attrs.indices_or_sections) + [shape[axis % len(shape)]]
    return [ctx.add("slice_axis", f"{node.name}_{k}", inputs, {"axis": axis, "begin": b, "end": e})
            for k, (b, e) in enumerate(zip(pts[:-1], pts[1:]))]


@MXNET_EXPORT.register("reshape")
def _reshape(ctx, node, attrs, inputs):
    shape = tuple(attrs.shape) or (1,)  # MXNet has no 0-d arrays: a scalar stays (1,)
    return [ctx.add("Reshape", node.name, inputs, {"shape": _inferred_rest(ctx, node, shape)})]


@MXNET_EXPORT.register("flatten")
def _flatten(ctx, node, attrs, inputs):
    return [ctx.add("Reshape", node.name, inputs, {"shape": _inferred_rest(ctx, node, (0, -1))})]


def _inferred_rest(ctx, node, shape):
    """``shape`` with its -1 made the length shape inference gives there, where that is a number: MXNet cannot
    infer a -1 beside a copied length 0 (an empty array of a data-dependent length)."""
    out = ctx.shape(node[0])
    if -1 not in shape or any(c < -1 for c in shape) or not out or len(out) != len(shape):
        return shape
    k = shape.index(-1)
    return shape[:k] + (out[k],) + shape[k + 1:] if isinstance(out[k], int) else shape


@MXNET_EXPORT.register("transpose")
def _transpose(ctx, node, attrs, inputs):
    return [ctx.add("transpose", node.name, inputs, {"axes": tuple(attrs.axes) if attrs.axes else None})]


@MXNET_EXPORT.register("broadcast_to")
def _broadcast_to(ctx, node, attrs, inputs):
    return [ctx.add("broadcast_to", node.name, inputs, {"shape": tuple(attrs.shape)})]


@MXNET_EXPORT.register("tile")
def _tile(ctx, node, attrs, inputs):
    return [ctx.add("tile", node.name, inputs, {"reps": tuple(attrs.reps)})]


@MXNET_EXPORT.register("repeat")
def _repeat(ctx, node, attrs, inputs):
    return [ctx.add("repeat", node.name, inputs, {"repeats": attrs.repeats, "axis": attrs.axis})]


# ---- slicing and indexing ------------------------------------------------------------------------
_INT32_END = 2**31 - 1


@MXNET_EXPORT.register("strided_slice")
def _strided_slice(ctx, node, attrs, inputs):
    shape = ctx.shape(node.inputs[0])
    if shape is None:
        return [ctx.add("slice", node.name, inputs, {"begin": tuple(attrs.begin), "end": tuple(attrs.end),
                                                     "step": tuple(attrs.stride) if attrs.stride else None})]
    bounds = slice_bounds(attrs, shape)[:len(attrs.begin)]
    x = inputs[0]
    begin, end = [], []
    for k, (b, e, st) in enumerate(bounds):
        if st > 0 and is_symbolic(shape[k]):  # MXNet's slice wraps and clamps the given bounds as numpy does
            # (beyond int32 MXNet parses no bound: None is "from the start" / "to the end")
            b, e = int(attrs.begin[k]), int(attrs.end[k])
            b, e = None if b <= -_INT32_END else min(b, _INT32_END), None if e >= _INT32_END else max(e, -_INT32_END)
            # oneDNN's slice does not clamp a begin before 0: a negative begin takes the last entries first (with
            # an end counted from the start, x[-4:300], the last of x[:300] as many as the slice has)
            if b is not None and b < 0 and (e is None or e < 0):
                x, b = _last(ctx, node, x, k, -b), None
            elif b is not None and b < 0:
                x, b, e = _from_end_to(ctx, node, x, k, b, e), None, None
            begin.append(b)
            end.append(e)
            continue
        # any other symbolic bound cannot be written, and int() says so (to_mxnet turns that into an error
        # asking for shape=)
        begin.append(int(b))
        end.append(None if st < 0 and e < 0 else int(e))
    step = tuple(st for _, _, st in bounds)
    return [ctx.add("slice", node.name, [x], {"begin": tuple(begin), "end": tuple(end), "step": step})]


def _last(ctx, node, x, axis, n):
    """The last (at most) ``n`` entries of ``x`` along ``axis``: the first of it reversed (an end clamps)."""
    flipped = ctx.add("reverse", f"{node.name}_flip", [x], {"axis": axis})
    first = ctx.add("slice", f"{node.name}_tail", [flipped], {"begin": (None,) * axis + (0,),
                                                               "end": (None,) * axis + (n,)})
    return ctx.add("reverse", f"{node.name}_unflip", [first], {"axis": axis})


def _from_end_to(ctx, node, x, axis, begin, end):
    """``x[begin:end]`` along ``axis``, begin < 0 <= end: the last entries of ``x[:end]``, as many as the slice of
    an int32 count along the axis has (its kernel clamps as numpy does; oneDNN's float32 one does not)."""
    rank = len(ctx.shape(node.inputs[0]))
    count = ctx.add("Cast", f"{node.name}_count", [ctx.add("_contrib_arange_like", f"{node.name}_steps", [x],
                                                           {"axis": axis})], {"dtype": "int32"})
    length = ctx.add("slice", f"{node.name}_length", [count], {"begin": (begin,), "end": (end,)})
    for a in [a for a in range(rank) if a != axis]:
        length = ctx.add("expand_dims", f"{node.name}_length{a}", [length], {"axis": a})
    head = ctx.add("slice", f"{node.name}_head", [x], {"begin": (None,) * (axis + 1), "end": (None,) * axis + (end,)})
    flipped = ctx.add("reverse", f"{node.name}_flip", [head], {"axis": axis})
    last = ctx.add("slice_like", f"{node.name}_last", [flipped, length], {"axes": (axis,)})
    return ctx.add("reverse", f"{node.name}_unflip", [last], {"axis": axis})


@MXNET_EXPORT.register("slice_like")
def _slice_like(ctx, node, attrs, inputs):
    return [ctx.add("slice_like", node.name, inputs, {"axes": tuple(attrs.axis)})]


@MXNET_EXPORT.register("flip")
def _flip(ctx, node, attrs, inputs):
    return [ctx.add("reverse", node.name, inputs, {"axis": attrs.axis})]


@MXNET_EXPORT.register("take")
def _take(ctx, node, attrs, inputs):
    data = inputs[0]
    axis = attrs.axis
    if axis is None:
        data = ctx.add("Reshape", node.name + "_flat", [data], {"shape": (-1,)})
        axis = 0
    index, shape = ctx.shape(node.inputs[1]), ctx.shape(node.inputs[0])
    if index == () and shape is not None and len(shape) > 1:  # a 0-d index (a loop's iteration) is (1,) in MXNet
        y = ctx.add("take", f"{node.name}_taken", [data, inputs[1]], {"axis": axis, "mode": "wrap"})
        return [ctx.add("squeeze", node.name, [y], {"axis": (axis % len(shape),)})]
    return [ctx.add("take", node.name, [data, inputs[1]], {"axis": axis, "mode": "wrap"})]


@MXNET_EXPORT.register("topk")
def _topk(ctx, node, attrs, inputs):
    ret = {"both": "both", "values": "value", "indices": "indices"}[attrs.ret_type]
    y = ctx.add("topk", node.name, inputs, {"k": attrs.k, "axis": attrs.axis, "ret_typ": ret,
                                            "is_ascend": attrs.is_ascend, "dtype": mx_dtype(attrs.dtype)})
    return [y, (y[0], 1)] if ret == "both" else [y]


# ---- reductions and products ---------------------------------------------------------------------
def _reduce(op):
    def fn(ctx, node, attrs, inputs):
        mx_attrs = {"keepdims": attrs.keepdims}
        if attrs.axis:
            mx_attrs["axis"] = tuple(attrs.axis)
            mx_attrs["exclude"] = attrs.exclude
        return [ctx.add(op, node.name, inputs, mx_attrs)]
    return fn


MXNET_EXPORT.add("sum", _reduce("sum"))
MXNET_EXPORT.add("mean", _reduce("mean"))
MXNET_EXPORT.add("max", _reduce("max"))
MXNET_EXPORT.add("min", _reduce("min"))
MXNET_EXPORT.add("prod", _reduce("prod"))


def _arg(op):
    def fn(ctx, node, attrs, inputs):
        if len(attrs.axis) != 1 or attrs.exclude:
            raise unsupported_feature(node.op, node.name, "several axes", direction="MXNet")
        y = ctx.add(op, node.name + "_f", inputs, {"axis": attrs.axis[0], "keepdims": attrs.keepdims})
        return [ctx.add("Cast", node.name, [y], {"dtype": mx_dtype(attrs.dtype)})]
    return fn


MXNET_EXPORT.add("argmax", _arg("argmax"))
MXNET_EXPORT.add("argmin", _arg("argmin"))


@MXNET_EXPORT.register("norm")
def _norm(ctx, node, attrs, inputs):
    mx_attrs = {"ord": attrs.ord, "keepdims": attrs.keepdims}
    if attrs.axis:
        mx_attrs["axis"] = tuple(attrs.axis)
    return [ctx.add("norm", node.name, inputs, mx_attrs)]


@MXNET_EXPORT.register("matmul")
def _matmul(ctx, node, attrs, inputs):
    return [ctx.add("dot", node.name, inputs, {"transpose_a": attrs.transpose_a, "transpose_b": attrs.transpose_b})]


@MXNET_EXPORT.register("batch_matmul")
def _batch_matmul(ctx, node, attrs, inputs):
    return [ctx.add("batch_dot", node.name, inputs, {"transpose_a": attrs.transpose_a,
                                                     "transpose_b": attrs.transpose_b})]


@MXNET_EXPORT.register("cumsum")
def _cumsum(ctx, node, attrs, inputs):
    # MXNet's cumsum has neither exclusive nor reverse: flip around it, subtract the element itself
    shape = ctx.shape(node.inputs[0])
    if shape is None:
        raise unsupported_feature(node.op, node.name, "unknown input rank", direction="MXNet")
    axis = norm_axis(attrs.axis, len(shape))  # MXNet's reverse takes no negative axis
    x = inputs[0]
    if attrs.reverse:
        x = ctx.add("reverse", f"{node.name}_flip", [x], {"axis": (axis,)})
    y = ctx.add("_np_cumsum", node.name if not (attrs.exclusive or attrs.reverse) else f"{node.name}_cumsum", [x],
                {"axis": axis})
    if attrs.exclusive:
        y = ctx.add("elemwise_sub", node.name if not attrs.reverse else f"{node.name}_exclusive", [y, x])
    if attrs.reverse:
        y = ctx.add("reverse", node.name, [y], {"axis": (axis,)})
    return [y]
