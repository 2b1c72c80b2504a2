"""Converters for shape and data-movement ONNX ops, constants and shape arithmetic."""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError, UnsupportedOperatorError
from ...ir import dtypes as _dt
from .registry import converter

_BIG = 2 ** 62


def _unsupported(ctx, node, what):
    return UnsupportedOperatorError({f"{node.op_type} ({what})": [node.name]}, direction="ONNX import",
                                    file=ctx.file)


def _ints(v):
    return tuple(int(x) for x in np.asarray(v).reshape(-1))


# ---- constants --------------------------------------------------------------------------------
@converter("Constant", 1, 9, 11, 12, 13, 19, 21)
def constant(ctx, node):
    from .tensors import tensor_to_array

    a = node.attrs
    if "value" in a:
        return tensor_to_array(a["value"], None, ctx.file)
    if "value_float" in a:
        return np.asarray(a["value_float"], dtype=np.float32)
    if "value_floats" in a:
        return np.asarray(a["value_floats"], dtype=np.float32)
    if "value_int" in a:
        return np.asarray(a["value_int"], dtype=np.int64)
    if "value_ints" in a:
        return np.asarray(a["value_ints"], dtype=np.int64)
    raise _unsupported(ctx, node, f"attributes {sorted(a)}")


@converter("ConstantOfShape", 9, 20, 21)
def constant_of_shape(ctx, node):
    shape = _ints(ctx.require_const(node.input(0), "ConstantOfShape shape"))
    value = node.attr("value")
    if value is None:
        fill = np.zeros((1,), dtype=np.float32)
    else:
        from .tensors import tensor_to_array

        fill = tensor_to_array(value, None, ctx.file)
    return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)


@converter("Shape", 1, 13, 15, 19, 21)
def shape_op(ctx, node):
    x = node.input(0)
    s = ctx.shape(x)
    start, end = node.attr("start", 0), node.attr("end")
    if s is not None:
        return np.asarray(s, dtype=np.int64)[slice(start, end)]
    y = ctx.emit1("shape_of", [x], {"dtype": "int64"})
    if start != 0 or end is not None:
        y = ctx.emit1("strided_slice", [y], {"begin": (start,), "end": (_BIG if end is None else end,)})
    return y


@converter("Size", 1, 13, 19, 21)
def size_op(ctx, node):
    s = ctx.shape(node.input(0))
    if s is None:
        raise ctx.error(ShapeError, "Size needs the input shape; give it with shape=")
    return np.asarray(int(np.prod(s)), dtype=np.int64)


@converter("Range", 11)
def range_op(ctx, node):
    start, limit, delta = (ctx.require_const(node.input(i), "Range inputs") for i in range(3))
    return np.arange(start.reshape(()), limit.reshape(()), delta.reshape(())).astype(start.dtype)


# ---- reshaping --------------------------------------------------------------------------------
@converter("Reshape", 1, 5, 13, 14, 19, 21)
def reshape(ctx, node):
    x = node.input(0)
    if ctx.opset < 5:
        spec = tuple(node.attr("shape"))
    else:
        spec = _ints(ctx.require_const(node.input(1), "Reshape shape"))
    if node.attr("allowzero", 0) and 0 in spec:
        if -1 in spec:
            raise _unsupported(ctx, node, "allowzero with 0 and -1")
        xs = ctx.shape(x)
        if xs is None or int(np.prod(xs)) != 0:
            raise ctx.error(ShapeError, f"cannot reshape to {spec} with allowzero=1")
    xs = ctx.shape(x)
    if xs is not None:
        # resolve 0/-1 now so MXNet sees plain dims (keeps symbolic batch dims otherwise)
        out = [xs[i] if d == 0 and not node.attr("allowzero", 0) else d for i, d in enumerate(spec)]
        if -1 in out:
            rest = int(np.prod([d for d in out if d != -1]))
            total = int(np.prod(xs))
            if rest == 0 or total % rest:
                raise ctx.error(ShapeError, f"cannot reshape {xs} to {spec}")
            out[out.index(-1)] = total // rest
        if int(np.prod(out)) != int(np.prod(xs)):
            raise ctx.error(ShapeError, f"cannot reshape {xs} to {spec}")
        spec = tuple(out)
    return ctx.reshape(x, spec)


@converter("Flatten", 1, 9, 11, 13, 21)
def flatten(ctx, node):
    x = node.input(0)
    axis = int(node.attr("axis", 1))
    s = ctx.shape(x)
    if s is None:
        if axis == 1:
            return ctx.emit1("flatten", [x])
        if axis == 0:
            return ctx.reshape(x, (1, -1))
        raise ctx.error(ShapeError, f"Flatten axis={axis} needs the input shape")
    axis %= max(len(s), 1) if axis < 0 else len(s) + 1
    lead = int(np.prod(s[:axis]))
    if axis == 1 and len(s) >= 2:
        return ctx.emit1("flatten", [x])
    return ctx.reshape(x, (lead, int(np.prod(s[axis:]))))


@converter("Transpose", 1, 13, 21)
def transpose(ctx, node):
    perm = node.attr("perm")
    x = node.input(0)
    if perm is None:
        r = ctx.require_rank(x)
        perm = tuple(reversed(range(r)))
    return ctx.emit1("transpose", [x], {"axes": tuple(int(p) for p in perm)})


def _axes(ctx, node, since):
    if ctx.opset >= since:
        name = node.input(1)
        return None if name is None else _ints(ctx.require_const(name, "axes"))
    a = node.attr("axes")
    return None if a is None else tuple(int(x) for x in a)


@converter("Squeeze", 1, 11, 13, 21)
def squeeze(ctx, node):
    x = node.input(0)
    axes = _axes(ctx, node, 13)
    r = ctx.rank(x)
    if axes and r is not None:
        axes = tuple(sorted(a % r for a in axes))
    if not axes:
        s = ctx.shape(x)
        if s is None:
            raise ctx.error(ShapeError, "Squeeze without axes needs the input shape")
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    if r is not None and len(axes) == r:
        v = ctx.const(x)
        if v is not None:
            return v.reshape(())
        return ctx.reshape(x, (1,))  # MXNet has no 0-d arrays
    return ctx.emit1("squeeze", [x], {"axis": axes})


@converter("Unsqueeze", 1, 11, 13, 21)
def unsqueeze(ctx, node):
    x = node.input(0)
    axes = _axes(ctx, node, 13)
    v = ctx.const(x)
    r = ctx.rank(x)
    if r is None:
        raise ctx.error(ShapeError, "Unsqueeze needs the input rank")
    out_rank = r + len(axes)
    axes = sorted(a % out_rank for a in axes)
    if v is not None:
        return v.reshape(_unsqueezed(v.shape, axes))
    if r == 0:
        return ctx.reshape(x, (1,) * out_rank)
    y = ctx.entry(x)
    for a in axes:
        y = ctx.emit1("expand_dims", [y], {"axis": a})
    return y


def _unsqueezed(shape, axes):
    out = list(shape)
    for a in axes:
        out.insert(a, 1)
    return tuple(out)


@converter("Concat", 1, 4, 11, 13)
def concat(ctx, node):
    ins = [x for x in node.inputs if x]
    axis = int(node.attr("axis", 1))
    vals = [ctx.const(x) for x in ins]
    if all(v is not None for v in vals):
        return np.concatenate(vals, axis=axis)
    r = ctx.rank(ins[0])
    if r is not None:
        axis %= r
    # empty operands (common in shape arithmetic) contribute nothing
    ins = [x for x in ins if not (ctx.shape(x) is not None and 0 in ctx.shape(x))] or ins[:1]
    if len(ins) == 1:
        return ctx.entry(ins[0])
    return ctx.emit1("concatenate", ins, {"axis": axis})


@converter("Split", 1, 2, 11, 13, 18)
def split(ctx, node):
    x = node.input(0)
    axis = int(node.attr("axis", 0))
    n_out = len(node.outputs)
    if ctx.opset >= 13:
        sizes = _ints(ctx.require_const(node.input(1), "split")) if node.input(1) else None
    elif ctx.opset >= 2:
        sizes = node.attr("split")
    else:
        sizes = node.attr("split") or (_ints(ctx.require_const(node.input(1), "split")) if node.input(1) else None)
    s = ctx.shape(x)
    if s is not None:
        axis %= len(s)
    if sizes is None:
        if ctx.opset >= 18 and node.attr("num_outputs"):
            n_out = int(node.attr("num_outputs"))
        if s is not None and s[axis] % n_out:
            chunk = -(-s[axis] // n_out)
            sizes = [chunk] * (n_out - 1) + [s[axis] - chunk * (n_out - 1)]
        else:
            parts = ctx.emit("split", [x], {"indices_or_sections": n_out, "axis": axis})
            return parts
    sizes = [int(v) for v in sizes]
    points = tuple(int(v) for v in np.cumsum(sizes)[:-1])
    if len(sizes) == 1:
        return [ctx.entry(x)]
    return ctx.emit("split", [x], {"indices_or_sections": points, "axis": axis})


@converter("Slice", 1, 10, 11, 13)
def slice_op(ctx, node):
    x = node.input(0)
    if ctx.opset < 10:
        starts, ends = node.attr("starts"), node.attr("ends")
        axes = node.attr("axes")
        steps = None
    else:
        starts = _ints(ctx.require_const(node.input(1), "Slice starts"))
        ends = _ints(ctx.require_const(node.input(2), "Slice ends"))
        axes = _ints(ctx.require_const(node.input(3), "Slice axes")) if node.input(3) else None
        steps = _ints(ctx.require_const(node.input(4), "Slice steps")) if node.input(4) else None
    r = ctx.require_rank(x)
    axes = list(range(len(starts))) if axes is None else [a % r for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    n = max(axes) + 1
    begin, end, stride = [0] * n, [_BIG] * n, [1] * n
    for a, b, e, st in zip(axes, starts, ends, steps):
        begin[a], end[a], stride[a] = int(b), int(max(min(e, _BIG), -_BIG)), int(st)
        if st < 0 and b >= _BIG // 2:
            begin[a] = -1
    xs = ctx.shape(x)
    if xs is not None:
        # normalise with the known shape (python slice semantics) so the emitters see plain indices
        nb, ne = [], []
        for i in range(n):
            b, e, st = slice(begin[i], end[i], stride[i]).indices(xs[i])
            nb.append(b)
            ne.append(e)
        begin, end = nb, ne
    return ctx.emit1("strided_slice", [x], {"begin": tuple(begin), "end": tuple(end), "stride": tuple(stride)})


@converter("Gather", 1, 11, 13)
def gather(ctx, node):
    data, idx = node.input(0), node.input(1)
    axis = int(node.attr("axis", 0))
    r = ctx.require_rank(data)
    axis %= r
    iv = ctx.const(idx)
    dv = ctx.const(data)
    ds = ctx.shape(data)
    if iv is not None and ds is not None:
        iv = np.where(iv < 0, iv + ds[axis], iv).astype(np.int64)
        if dv is not None:
            return np.take(dv, iv, axis=axis)
        if iv.ndim == 0:
            y = ctx.emit1("take", [data, iv.reshape(1)], {"axis": axis})
            return ctx.emit1("squeeze", [y], {"axis": (axis,)}) if r > 1 else y
    return ctx.emit1("take", [data, idx], {"axis": axis})


@converter("GatherND", 11, 12, 13)
def gather_nd(ctx, node):
    if node.attr("batch_dims", 0):
        raise _unsupported(ctx, node, "batch_dims")
    data, idx = node.input(0), node.input(1)
    r = ctx.require_rank(idx)
    # ONNX indexes with the last dim of indices, NNVM/MXNet with the first
    perm = (r - 1,) + tuple(range(r - 1))
    return ctx.emit1("gather_nd", [data, ctx.emit1("transpose", [idx], {"axes": perm})])


@converter("Expand", 8, 13)
def expand(ctx, node):
    x = node.input(0)
    target = _ints(ctx.require_const(node.input(1), "Expand shape"))
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "Expand needs the input shape")
    out = tuple(np.broadcast_shapes(tuple(s), target))
    if len(s) < len(out):
        x = ctx.reshape(x, (1,) * (len(out) - len(s)) + tuple(s)) if len(s) else ctx.reshape(x, (1,) * len(out))
    if tuple(ctx.shape(x)) == out:
        return ctx.entry(x)
    return ctx.emit1("broadcast_to", [x], {"shape": out})


@converter("Tile", 1, 6, 13)
def tile(ctx, node):
    if ctx.opset < 6:
        raise _unsupported(ctx, node, "opset < 6 (tiles/axis inputs)")
    reps = _ints(ctx.require_const(node.input(1), "Tile repeats"))
    return ctx.emit1("tile", [node.input(0)], {"reps": reps})


@converter("Pad", 1, 2, 11, 13, 18, 19, 21)
def pad(ctx, node):
    x = node.input(0)
    mode = node.attr("mode", "constant")
    if ctx.opset < 11:
        pads = list(node.attr("pads" if ctx.opset >= 2 else "paddings"))
        value = float(node.attr("value", 0.0))
        axes = None
    else:
        pads = list(_ints(ctx.require_const(node.input(1), "Pad pads")))
        value = ctx.const(node.input(2)) if node.input(2) else None
        if node.input(2) and value is None:
            raise ctx.error(ShapeError, "Pad constant_value must be a constant")
        value = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
        axes = _ints(ctx.require_const(node.input(3), "Pad axes")) if node.input(3) else None
    r = ctx.require_rank(x)
    if axes is None:
        axes = tuple(range(r))
    axes = [a % r for a in axes]
    k = len(axes)
    width = [[0, 0] for _ in range(r)]
    for i, a in enumerate(axes):
        width[a] = [int(pads[i]), int(pads[i + k])]
    if any(p < 0 for w in width for p in w):
        raise _unsupported(ctx, node, "negative pads")
    width = tuple(tuple(w) for w in width)
    if mode == "constant":
        return ctx.emit1("pad", [x], {"pad_width": width, "pad_value": value})
    if mode in ("reflect", "edge"):
        return ctx.emit1("mirror_pad", [x], {"pad_width": width, "mode": mode})
    raise _unsupported(ctx, node, f"mode={mode}")


@converter("TopK", 1, 10, 11)
def topk(ctx, node):
    x = node.input(0)
    k = int(node.attr("k")) if ctx.opset < 10 else int(ctx.require_const(node.input(1), "TopK k").reshape(-1)[0])
    axis = int(node.attr("axis", -1))
    r = ctx.rank(x)
    if r is not None:
        axis %= r
    largest = bool(node.attr("largest", 1))
    return ctx.emit("topk", [x], {"k": k, "axis": axis, "ret_type": "both", "is_ascend": not largest,
                                  "dtype": "int64"})


@converter("DepthToSpace", 1, 11, 13)
def depth_to_space(ctx, node):
    return ctx.emit1("depth_to_space", [node.input(0)], {"block_size": int(node.attr("blocksize")),
                                                         "mode": node.attr("mode", "DCR")})


@converter("SpaceToDepth", 1, 13)
def space_to_depth(ctx, node):
    return ctx.emit1("space_to_depth", [node.input(0)], {"block_size": int(node.attr("blocksize"))})


@converter("OneHot", 9, 11)
def one_hot(ctx, node):
    idx = node.input(0)
    depth = int(ctx.require_const(node.input(1), "OneHot depth").reshape(-1)[0])
    values = ctx.require_const(node.input(2), "OneHot values").reshape(-1)
    ix = ctx.emit1("where", [ctx.cast(ctx.emit1("__less_scalar__", [idx], {"scalar": 0.0}), ctx.dtype(idx)),
                             ctx.emit1("__add_scalar__", [idx], {"scalar": float(depth)}), idx]) \
        if ctx.dtype(idx) not in ("uint8", "uint16", "uint32", "uint64") else idx
    return ctx.emit1("one_hot", [ix], {"depth": depth, "axis": int(node.attr("axis", -1)),
                                       "on_value": float(values[1]), "off_value": float(values[0]),
                                       "dtype": _dt.canonical(values.dtype)})
