"""Converters for shape and data-movement ONNX ops, constants and shape arithmetic."""
from __future__ import annotations

import math

import numpy as np

from ...errors import ShapeError
from ...ir import dtypes as _dt
from ...ir.symbolic import Dim, clamped_at_zero, dim_max, dim_min, is_static, lower_bound, slice_length
from ...ops.common import broadcast_shapes
from . import shape_values
from .convert_datadep import data_dependent_dim, run_time_dims
from .registry import ONNX_IMPORT
from .tensors import tensor_to_array

_BIG = 2 ** 62


def _ints(v):
    return tuple(int(x) for x in np.asarray(v).reshape(-1))


# ---- constants --------------------------------------------------------------------------------
@ONNX_IMPORT.register("Constant", since=(1, 9, 11, 12, 13, 19, 21, 23, 24, 25))
def constant(ctx, node, attrs, inputs):
    if "value" in attrs:
        return tensor_to_array(attrs["value"], None, ctx.file)
    if "value_float" in attrs:
        return np.asarray(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.asarray(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.asarray(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.asarray(attrs["value_ints"], dtype=np.int64)
    raise ctx.unsupported(f"attributes {sorted(attrs)}")


@ONNX_IMPORT.register("ConstantOfShape", since=(9, 20, 21, 23, 24, 25))
def constant_of_shape(ctx, node, attrs, inputs):
    value = attrs.get("value")
    if value is None:
        fill = np.zeros((1,), dtype=np.float32)
    else:
        fill = tensor_to_array(value, None, ctx.file)
    dims = _shape_input(ctx, inputs[0], "ConstantOfShape shape", output_dims=True)
    if not is_static(dims):
        return ctx.runtime_op("dyn_full", [inputs[0]], dims, {"value": float(fill.reshape(-1)[0]),
                                                             "dtype": _dt.canonical(fill.dtype)})
    return np.full(dims, fill.reshape(-1)[0], dtype=fill.dtype)


def _shape_input(ctx, x, what, output_dims=False):
    """The dims (ints and Dims) held by a shape input: a constant or a symbolic shape value; with
    ``output_dims`` (where the node's output has the dims it holds), a tensor computed at run time too."""
    v = ctx.shape_value(x)
    if v is None and output_dims and ctx.const(x) is None and ctx.shape(x) is not None:
        v = run_time_dims(ctx, ctx.partial_shape_values.get(x) if isinstance(x, str) else None)
        if v is not None and (len(v),) != tuple(ctx.shape(x)):
            v = None
    if v is None:
        v = ctx.require_const(x, what)  # a constant of another dtype, or the error that says what is missing
    return tuple(d if isinstance(d, Dim) else int(d) for d in np.asarray(v).reshape(-1))


@ONNX_IMPORT.register("Shape", since=(1, 13, 15, 19, 21, 23, 24, 25))
def shape_op(ctx, node, attrs, inputs):
    x = inputs[0]
    s = ctx.shape(x)
    start, end = attrs.get("start", 0), attrs.get("end")
    if is_static(s):
        return np.asarray(s, dtype=np.int64)[slice(start, end)]
    y = ctx.shape_tensor(x)
    if start != 0 or end is not None:
        y = ctx.emit1("strided_slice", [y], {"begin": (start,), "end": (_BIG if end is None else end,)})
    return y


@ONNX_IMPORT.register("Size", since=(1, 13, 19, 21, 23, 24, 25))
def size_op(ctx, node, attrs, inputs):
    s = ctx.shape(inputs[0])
    if s is None:
        raise ctx.error(ShapeError, "Size needs the input shape; give it with shape=")
    if not is_static(s):
        return ctx.emit1("prod", [ctx.shape_tensor(inputs[0])], {"keepdims": True})
    return np.asarray(int(np.prod(s)), dtype=np.int64)


def _range_operands(ctx, inputs):
    return [ctx.require_const(inputs[i], "Range inputs").reshape(()) for i in range(3)]


def _symbolic_range(ctx, inputs):
    """Range over bounds of which one is a symbolic dim: arange with run-time bounds, and its length."""
    vals = [ctx.shape_value(inputs[i]) for i in range(3)]
    if any(v is None for v in vals) or not any(isinstance(v.reshape(-1)[0], Dim) for v in vals):
        return None
    start, limit, delta = (v.reshape(-1)[0] for v in vals)
    if isinstance(delta, Dim) or int(delta) == 0 or int(delta) != delta:
        return None
    length = slice_length(start, limit, int(delta))
    if clamped_at_zero(length) is not None and ctx.is_tensor_dim(clamped_at_zero(length)):
        length = clamped_at_zero(length)  # max(T, 0) where T is a tensor's length (WavLM's frames): T
    if ctx.node is not None:  # one element of it is a dim (Funnel: the last of arange(S) bounds another range)
        ctx.aranges[ctx.node.outputs[0]] = [(start, int(delta), length)]
    return ctx.runtime_op("dyn_arange", [inputs[0], inputs[1], inputs[2]], (length,),
                          {"dtype": ctx.dtype(inputs[0])})


@ONNX_IMPORT.register("Range", since=11)
def range_op(ctx, node, attrs, inputs):
    dynamic = _symbolic_range(ctx, inputs)
    if dynamic is not None:
        return dynamic
    start, limit, delta = _range_operands(ctx, inputs)
    return np.arange(start, limit, delta).astype(start.dtype)


@ONNX_IMPORT.register("Range", since=27)
def range_stashed(ctx, node, attrs, inputs):
    """Range-27 computes a float16 range in float32 unless ``stash_type=0``."""
    dynamic = _symbolic_range(ctx, inputs) if ctx.dtype(inputs[0]) != "float16" else None
    if dynamic is not None:
        return dynamic
    start, limit, delta = _range_operands(ctx, inputs)
    if start.dtype == np.float16 and attrs.get("stash_type", 1) == 1:
        return np.arange(*(v.astype(np.float32) for v in (start, limit, delta))).astype(np.float16)
    return np.arange(start, limit, delta).astype(start.dtype)


# ---- reshaping --------------------------------------------------------------------------------
@ONNX_IMPORT.register("Reshape", since=1)
def reshape_attribute(ctx, node, attrs, inputs):
    return _reshape(ctx, attrs, inputs[0], tuple(attrs.get("shape")))


@ONNX_IMPORT.register("Reshape", since=(5, 13, 14, 19, 21, 23, 24, 25))
def reshape(ctx, node, attrs, inputs):
    spec = _shape_input(ctx, inputs[1], "Reshape shape")
    if attrs.get("allowzero", 0) and is_static(spec) and 0 in spec and -1 not in spec:
        # an empty result whatever the input (whose zero-length dim may read as unknown): nothing to read
        return np.zeros(tuple(int(d) for d in spec), _dt.to_numpy(ctx.dtype(inputs[0])))
    if is_static(spec) and is_static(ctx.shape(inputs[0])):
        return _reshape(ctx, attrs, inputs[0], spec)
    return _symbolic_reshape(ctx, attrs, inputs[0], inputs[1], spec)


def _symbolic_reshape(ctx, attrs, x, shape_input, spec):
    """Reshape with symbolic dims in the input or the target: an IR reshape whose 0/-1 spec gives the
    target dims where there is one, a reshape to the run-time shape tensor otherwise."""
    xs = ctx.shape(x)
    if xs is None or (attrs.get("allowzero", 0) and 0 in spec):
        raise ctx.error(ShapeError, "Reshape of a tensor of unknown rank (or with allowzero) needs the input "
                                    "shapes; give them with shape=")
    out = [xs[i] if isinstance(d, int) and d == 0 else d for i, d in enumerate(spec)]
    holes = [i for i, d in enumerate(out) if isinstance(d, int) and d == -1]
    if len(holes) == 1:
        out[holes[0]] = math.prod(xs) // math.prod(d for i, d in enumerate(out) if i != holes[0])
    forced = not holes and _forced_dims(xs, out)
    if forced:  # the run-time shape tensor stays the op's: reshaping to it checks the forced dim
        return ctx.runtime_op("dyn_reshape", [x, shape_input], forced)
    ir_spec = ctx.reshape_spec(xs, out)
    if ir_spec is not None:
        return ctx.emit1("reshape", [x], {"shape": ir_spec})
    return ctx.runtime_op("dyn_reshape", [x, shape_input], out)


def _forced_dims(xs, out):
    """``out`` with the one symbolic dim that the element counts fix replaced by its forced value (one of the
    input's dims), or None: the target ``(N, min(64, S), 64)`` of an ``(N, S, 64)`` tensor can only hold ``S``
    there (the reshape is valid only when they are equal), and a plain ``S`` broadcasts against other ``S``."""
    total = math.prod(xs)
    if not isinstance(total, Dim) or math.prod(out) == total:
        return None
    forced = []
    for i, d in enumerate(out):
        rest = math.prod(e for j, e in enumerate(out) if j != i)
        if isinstance(d, Dim) and not (isinstance(rest, int) and rest == 0):
            q = total // rest
            if q * rest == total and q in xs:
                forced.append((i, q))
    if len(forced) != 1:
        return None
    i, q = forced[0]
    return out[:i] + [q] + out[i + 1:]


def _reshape(ctx, attrs, x, spec):
    if attrs.get("allowzero", 0) and 0 in spec:
        if -1 in spec:
            raise ctx.unsupported("allowzero with 0 and -1")
        xs = ctx.shape(x)
        if xs is None or int(np.prod(xs)) != 0:
            raise ctx.error(ShapeError, f"cannot reshape to {spec} with allowzero=1")
    xs = ctx.shape(x)
    if xs is not None:
        # resolve 0/-1 now so MXNet sees plain dims (keeps symbolic batch dims otherwise)
        out = [xs[i] if d == 0 and not attrs.get("allowzero", 0) else d for i, d in enumerate(spec)]
        if -1 in out:
            rest = int(np.prod([d for d in out if d != -1]))
            total = int(np.prod(xs))
            if rest == 0 or total % rest:
                raise ctx.error(ShapeError, f"cannot reshape {xs} to {spec}")
            out[out.index(-1)] = total // rest
        if int(np.prod(out)) != int(np.prod(xs)):
            raise ctx.error(ShapeError, f"cannot reshape {xs} to {spec}")
        spec = tuple(out)
        if attrs.get("allowzero", 0) and 0 in spec:  # an empty result: nothing to read from x
            return np.zeros(spec, _dt.to_numpy(ctx.dtype(x)))
    return ctx.reshape(x, spec)


@ONNX_IMPORT.register("Flatten", since=(1, 9, 11, 13, 21, 23, 24, 25))
def flatten(ctx, node, attrs, inputs):
    x = inputs[0]
    axis = int(attrs.get("axis", 1))
    s = ctx.shape(x)
    if s is None:
        if axis == 1:
            return ctx.emit1("flatten", [x])
        if axis == 0:
            return ctx.reshape(x, (1, -1))
        raise ctx.error(ShapeError, f"Flatten axis={axis} needs the input shape")
    axis %= max(len(s), 1) if axis < 0 else len(s) + 1
    if axis == 1 and len(s) >= 2:
        return ctx.emit1("flatten", [x])
    return ctx.reshape(x, (math.prod(s[:axis]), math.prod(s[axis:])))


@ONNX_IMPORT.register("Transpose", since=(1, 13, 21, 23, 24, 25))
def transpose(ctx, node, attrs, inputs):
    perm = attrs.get("perm")
    x = inputs[0]
    if perm is None:
        r = ctx.require_rank(x)
        perm = tuple(reversed(range(r)))
    return ctx.emit1("transpose", [x], {"axes": tuple(int(p) for p in perm)})


def _axes_attribute(attrs):
    """Squeeze/Unsqueeze axes before opset 13, the ``axes`` attribute."""
    axes = attrs.get("axes")
    return None if axes is None else tuple(int(a) for a in axes)


def _axes_input(ctx, inputs):
    """Squeeze/Unsqueeze axes from opset 13, the second input."""
    return None if inputs[1] is None else _ints(ctx.require_const(inputs[1], "axes"))


@ONNX_IMPORT.register("Squeeze", since=(1, 11))
def squeeze_attribute(ctx, node, attrs, inputs):
    return _squeeze(ctx, inputs[0], _axes_attribute(attrs))


@ONNX_IMPORT.register("Squeeze", since=(13, 21, 23, 24, 25))
def squeeze(ctx, node, attrs, inputs):
    return _squeeze(ctx, inputs[0], _axes_input(ctx, inputs))


def _squeeze(ctx, x, axes):
    r = ctx.onnx_rank(x)
    if r == 0:
        return ctx.entry(x)
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
        return ctx.scalar(ctx.reshape(x, (1,)))  # MXNet has no 0-d arrays
    return ctx.emit1("squeeze", [x], {"axis": axes})


@ONNX_IMPORT.register("Unsqueeze", since=(1, 11))
def unsqueeze_attribute(ctx, node, attrs, inputs):
    return _unsqueeze(ctx, inputs[0], _axes_attribute(attrs))


@ONNX_IMPORT.register("Unsqueeze", since=(13, 21, 23, 24, 25))
def unsqueeze(ctx, node, attrs, inputs):
    return _unsqueeze(ctx, inputs[0], _axes_input(ctx, inputs))


def _unsqueeze(ctx, x, axes):
    v = ctx.const(x)
    r = ctx.onnx_rank(x)
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


@ONNX_IMPORT.register("Concat", since=(1, 4, 11, 13))
def concat(ctx, node, attrs, inputs):
    ins = [x for x in inputs if x]
    axis = int(attrs.get("axis", 1))
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


def _split_input(ctx, inputs):
    if inputs[1] and ctx.const(inputs[1]) is None and shape_values.has_dims(ctx.shape_value(inputs[1])):
        return _SymbolicSizes(inputs[1], ctx.shape_value(inputs[1]).reshape(-1))
    return _ints(ctx.require_const(inputs[1], "split")) if inputs[1] else None


class _SymbolicSizes(list):
    """Split sizes that are symbolic dims (the anchors of each feature map: 3 * h_i * w_i), with the tensor
    that holds them at run time."""

    def __init__(self, tensor, dims):
        super().__init__(dims)
        self.tensor = tensor


def _symbolic_split(ctx, x, axis, sizes):
    """Each part a dyn_slice from the running sum of the sizes tensor (exclusive cumsum) to that plus its size."""
    s = ctx.require_rank(x) and ctx.shape(x)
    t = ctx.cast(sizes.tensor, "int64")
    begins = ctx.emit1("cumsum", [t], {"axis": 0, "exclusive": True})
    ends = ctx.emit1("broadcast_add", [begins, t])
    parts = []
    for k, d in enumerate(sizes):
        out = list(s)
        out[axis] = d
        ins = [x] + [ctx.emit1("strided_slice", [v], {"begin": (k,), "end": (k + 1,)}) for v in (begins, ends)]
        parts.append(ctx.runtime_op("dyn_slice", ins + [np.asarray([axis], np.int64), np.ones(1, np.int64)], out))
    return parts


@ONNX_IMPORT.register("Split", since=1)
def split_v1(ctx, node, attrs, inputs):
    """Split-1 takes the sizes from the ``split`` attribute or else from the second input."""
    sizes = attrs.get("split") or _split_input(ctx, inputs)
    return _split(ctx, inputs[0], attrs, sizes, len(node.outputs))


@ONNX_IMPORT.register("Split", since=(2, 11))
def split_attribute(ctx, node, attrs, inputs):
    return _split(ctx, inputs[0], attrs, attrs.get("split"), len(node.outputs))


@ONNX_IMPORT.register("Split", since=13)
def split(ctx, node, attrs, inputs):
    return _split(ctx, inputs[0], attrs, _split_input(ctx, inputs), len(node.outputs))


@ONNX_IMPORT.register("Split", since=18)
def split_num_outputs(ctx, node, attrs, inputs):
    """Split-18: without sizes, ``num_outputs`` equal parts (the last one smaller)."""
    n_out = int(attrs["num_outputs"]) if attrs.get("num_outputs") else len(node.outputs)
    return _split(ctx, inputs[0], attrs, _split_input(ctx, inputs), n_out)


def _split(ctx, x, attrs, sizes, n_out):
    """``sizes`` along ``axis``, or ``n_out`` equal parts when there are none."""
    axis = int(attrs.get("axis", 0))
    s = ctx.shape(x)
    if s is not None:
        axis %= len(s)
    if sizes is None:
        if s is not None and isinstance(s[axis], Dim):  # equal parts; the run time checks they divide
            return ctx.emit("split", [x], {"indices_or_sections": n_out, "axis": axis})
        if s is not None and s[axis] % n_out:
            chunk = -(-s[axis] // n_out)
            sizes = [chunk] * (n_out - 1) + [s[axis] - chunk * (n_out - 1)]
        else:
            parts = ctx.emit("split", [x], {"indices_or_sections": n_out, "axis": axis})
            return parts
    if isinstance(sizes, _SymbolicSizes):
        return _symbolic_split(ctx, x, axis, sizes)
    sizes = [int(v) for v in sizes]
    points = tuple(int(v) for v in np.cumsum(sizes)[:-1])
    if len(sizes) == 1:
        return [ctx.entry(x)]
    return ctx.emit("split", [x], {"indices_or_sections": points, "axis": axis})


@ONNX_IMPORT.register("Slice", since=1)
def slice_attributes(ctx, node, attrs, inputs):
    return _slice(ctx, inputs[0], attrs.get("starts"), attrs.get("ends"), attrs.get("axes"), None)


@ONNX_IMPORT.register("Slice", since=(10, 11, 13))
def slice_op(ctx, node, attrs, inputs):
    dynamic = _symbolic_slice(ctx, inputs)
    if dynamic is None:
        dynamic = _run_time_slice(ctx, inputs)
    if dynamic is not None:
        return dynamic
    starts = _ints(ctx.require_const(inputs[1], "Slice starts"))
    ends = _ints(ctx.require_const(inputs[2], "Slice ends"))
    axes = _ints(ctx.require_const(inputs[3], "Slice axes")) if inputs[3] else None
    steps = _ints(ctx.require_const(inputs[4], "Slice steps")) if inputs[4] else None
    return _slice(ctx, inputs[0], starts, ends, axes, steps)


def _symbolic_slice(ctx, inputs):
    """Slice whose starts or ends are symbolic dims (``x[:, :seq]``, ``bias[..., past:past + seq]``): ends
    that reach the end of their axis make a plain slice; otherwise the bounds come from the tensors at run
    time (dyn_slice)."""
    vals = [ctx.shape_value(inputs[i]) if inputs[i] else None for i in range(1, 5)]
    if vals[0] is None or vals[1] is None or not (shape_values.has_dims(vals[0]) or shape_values.has_dims(vals[1])):
        return None
    xs = ctx.shape(inputs[0])
    if xs is None or any(vals[i - 1] is None for i in range(1, 5) if inputs[i]):
        return None
    r = len(xs)
    starts, ends = list(vals[0].reshape(-1)), list(vals[1].reshape(-1))
    axes = [int(a) % r for a in vals[2].reshape(-1)] if inputs[3] else list(range(len(starts)))
    steps = list(vals[3].reshape(-1)) if inputs[4] else [1] * len(starts)
    if any(isinstance(st, Dim) or int(st) != 1 for st in steps):
        raise ctx.unsupported("symbolic slice bounds with steps other than 1")
    if not any(isinstance(b, Dim) for b in starts) and all(not isinstance(e, Dim) or e == xs[a]
                                                            for e, a in zip(ends, axes)):
        ends = [_BIG if isinstance(e, Dim) else int(e) for e in ends]
        return _slice(ctx, inputs[0], [int(b) for b in starts], ends, axes, [1] * len(starts))
    out, bounds = list(xs), []
    for b, e, a in zip(starts, ends, axes):
        lo, hi = _slice_bound(ctx, b, xs[a]), _slice_bound(ctx, e, xs[a])
        out[a] = dim_max(hi - lo, 0)
        bounds.append((lo, hi))
    if all(not isinstance(lo, Dim) and (not isinstance(hi, Dim) or hi == xs[a]) for (lo, hi), a in zip(bounds, axes)):
        # the bounds land on fixed places (T5's bias[:, :, -seq:] on an axis of length seq starts at 0)
        ends = [_BIG if isinstance(hi, Dim) else int(hi) for _, hi in bounds]
        return _slice(ctx, inputs[0], [int(lo) for lo, _ in bounds], ends, axes, [1] * len(starts))
    ins = [inputs[0], inputs[1], inputs[2], inputs[3] or np.asarray(axes, dtype=np.int64),
           inputs[4] or np.ones(len(starts), dtype=np.int64)]
    return ctx.runtime_op("dyn_slice", ins, out)


def _run_time_slice(ctx, inputs):
    """Slice whose starts or ends only run time knows (torchvision pastes each mask at its box's place): each
    sliced axis gets a new length symbol that may be 0, bound from the bounds when it runs (dyn_slice).
    Axes and steps must be constants, the steps 1."""
    if all(ctx.const(inputs[i]) is not None for i in (1, 2)) or any(
            inputs[i] and ctx.const(inputs[i]) is None for i in (3, 4)):
        return None
    xs, bounds = ctx.shape(inputs[0]), ctx.shape(inputs[1])
    if xs is None or bounds is None or not is_static(bounds):
        return None
    n = math.prod(bounds)
    axes = [a % len(xs) for a in _ints(ctx.const(inputs[3]))] if inputs[3] else list(range(n))
    if inputs[4] and any(st != 1 for st in _ints(ctx.const(inputs[4]))):
        raise ctx.unsupported("slice bounds known only at run time with steps other than 1")
    out = list(xs)
    for a in axes:
        out[a] = data_dependent_dim(ctx, a)
    ins = [inputs[0], ctx.cast(inputs[1], "int64"), ctx.cast(inputs[2], "int64"),
           np.asarray(axes, dtype=np.int64), np.ones(len(axes), dtype=np.int64)]
    return ctx.runtime_op("dyn_slice", ins, out)


def _slice_bound(ctx, v, dim):
    """Where a slice bound ``v`` (int or Dim) lands on an axis of length ``dim`` (step 1, python rules).
    A symbolic bound is taken to lie inside the axis, as it does whenever the model runs at all (a causal
    buffer sliced at [past : past + seq]): the length is then ``end - start`` instead of an expression of
    ``min`` atoms that no other dim would ever equal."""
    if isinstance(v, Dim):
        if lower_bound(v) is not None:
            return v
        if lower_bound(-v) is not None:  # minus a size counts from the end: x[-seq:]
            return v + dim
        raise ctx.unsupported(f"a slice bound {v} that may be negative")
    v = int(v)
    if v < 0:
        return dim_max(v + dim, 0)
    return dim_min(v, dim)


def _slice(ctx, x, starts, ends, axes, steps):
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
        # normalise with the known dims (python slice semantics) so the emitters see plain indices;
        # a symbolic axis keeps the file's bounds (strided_slice has the same semantics)
        for i in range(n):
            if not isinstance(xs[i], Dim):
                begin[i], end[i], _ = slice(begin[i], end[i], stride[i]).indices(xs[i])
                if end[i] < 0:  # indices() writes "before the first element" (x[3::-1]) as -1, an index from the end
                    end[i] = -_BIG
    return ctx.emit1("strided_slice", [x], {"begin": tuple(begin), "end": tuple(end), "stride": tuple(stride)})


@ONNX_IMPORT.register("Gather", since=(1, 11, 13))
def gather(ctx, node, attrs, inputs):
    data, idx = inputs[0], inputs[1]
    axis = int(attrs.get("axis", 0))
    r = ctx.require_rank(data)
    axis %= r
    iv = ctx.const(idx)
    dv = ctx.const(data)
    ds = ctx.shape(data)
    if iv is not None and ds is not None:
        if not isinstance(ds[axis], Dim):  # on a symbolic axis, take counts negative indices from the end itself
            iv = np.where(iv < 0, iv + ds[axis], iv).astype(np.int64)
        if dv is not None:
            return np.take(dv, iv, axis=axis)
        if iv.ndim == 0:
            y = ctx.emit1("take", [data, iv.reshape(1)], {"axis": axis})
            return ctx.emit1("squeeze", [y], {"axis": (axis,)}) if r > 1 else ctx.scalar(y)
    return ctx.emit1("take", [data, idx], {"axis": axis})


@ONNX_IMPORT.register("GatherND", since=(11, 12, 13))
def gather_nd(ctx, node, attrs, inputs):
    data, idx = inputs[0], inputs[1]
    r = ctx.require_rank(idx)
    # ONNX indexes with the last dim of indices, NNVM/MXNet with the first
    perm = (r - 1,) + tuple(range(r - 1))
    coords = ctx.emit1("transpose", [idx], {"axes": perm})
    batch_dims = int(attrs.get("batch_dims", 0))
    if batch_dims:
        coords = _with_batch_coordinates(ctx, idx, coords, batch_dims)
    return ctx.emit1("gather_nd", [data, coords])


def _with_batch_coordinates(ctx, idx, coords, batch_dims):
    """batch_dims=b: each index tuple also addresses its own batch position, so the b leading coordinates
    (a grid over indices' leading axes) go in front of the tuple and one plain gather_nd does the rest."""
    s = ctx.shape(idx)
    if s is None or not is_static(s[:-1]):
        raise ctx.unsupported("batch_dims with indices of unknown shape")
    grid = np.indices(tuple(int(d) for d in s[:-1]), dtype=_dt.to_numpy(ctx.dtype(idx)))[:batch_dims]
    return ctx.emit1("concatenate", [grid, coords], {"axis": 0})


@ONNX_IMPORT.register("Expand", since=(8, 13))
def expand(ctx, node, attrs, inputs):
    x = inputs[0]
    target = _shape_input(ctx, inputs[1], "Expand shape", output_dims=True)
    s = ctx.shape(x)
    if s is None:
        raise ctx.error(ShapeError, "Expand needs the input shape")
    if not (is_static(s) and is_static(target)):
        out = broadcast_shapes(tuple(s), target)
        if ctx.shape_value(inputs[1]) is None:  # new symbols: bound from the exact output shape at run time
            return ctx.runtime_op("dyn_broadcast_to", [x, _expanded_shape_tensor(ctx, x, inputs[1])], out)
        return ctx.broadcast_to(x, out, lambda: ctx.entry(inputs[1]))
    out = tuple(np.broadcast_shapes(tuple(s), target))
    if len(s) < len(out):
        x = ctx.reshape(x, (1,) * (len(out) - len(s)) + tuple(s)) if len(s) else ctx.reshape(x, (1,) * len(out))
    if tuple(ctx.shape(x)) == out:
        return ctx.entry(x)
    return ctx.emit1("broadcast_to", [x], {"shape": out})


def _expanded_shape_tensor(ctx, x, target):
    """Expand's output shape as an int64 tensor: each dim the target's where ``x`` has 1, else ``x``'s (numpy
    broadcasting, empty dims included)."""
    t, n, rank = ctx.cast(target, "int64"), ctx.shape(target)[0], ctx.require_rank(x)
    s = ctx.shape_tensor(x) if rank else np.zeros(0, np.int64)
    if rank < n:
        s = ctx.emit1("concatenate", [np.ones(n - rank, np.int64), s], {"axis": 0})
    elif n < rank:
        t = ctx.emit1("concatenate", [np.ones(rank - n, np.int64), t], {"axis": 0})
    return ctx.emit1("where", [ctx.emit1("__equal_scalar__", [s], {"scalar": 1.0}), t, s])


@ONNX_IMPORT.register("Tile", since=1)
def tile_v1(ctx, node, attrs, inputs):
    raise ctx.unsupported("opset < 6 (tiles/axis inputs)")


@ONNX_IMPORT.register("Tile", since=(6, 13))
def tile(ctx, node, attrs, inputs):
    reps = _shape_input(ctx, inputs[1], "Tile repeats")
    if not is_static(reps):
        return _symbolic_tile(ctx, inputs[0], inputs[1], reps)
    return ctx.emit1("tile", [inputs[0]], {"reps": reps})


def _symbolic_tile(ctx, x, reps_input, reps):
    """Tile by symbolic repeats (``cls.repeat(batch, 1, 1)``, DeBERTa's ``rel.repeat(batch, 1, 1)`` of a
    (heads, span, dim) tensor): the static repeats tile first; an axis of length 1 repeated a symbolic number of
    times is broadcast to it; any other gets a new axis of 1 before it, broadcast to the repeats and merged back
    (``repeat`` lays the copies out as that merge does)."""
    s = ctx.shape(x)
    if s is None or len(reps) != len(s):
        raise ctx.unsupported(f"symbolic repeats {reps} of an input of another or unknown rank")
    n = len(s)
    static = tuple(1 if isinstance(r, Dim) else r for r in reps)
    if any(r != 1 for r in static):
        x = ctx.emit1("tile", [x], {"reps": static})
        s = ctx.shape(x)
    repeated = [isinstance(r, Dim) for r in reps]
    split = [rep and d != 1 for rep, d in zip(repeated, s)]
    for i in reversed(range(n)):
        if split[i]:
            x = ctx.emit1("expand_dims", [x], {"axis": i})
    out, index = [], []  # dims after broadcasting; per axis, the repeats' element it broadcasts to (n: a 1)
    for i in range(n):
        if split[i]:
            out += [reps[i], s[i]]
            index += [i, n]
        else:
            out.append(reps[i] if repeated[i] else s[i])
            index.append(i if repeated[i] else n)

    def shape_tensor():
        rep = ctx.emit1("concatenate", [ctx.cast(reps_input, "int64"), np.ones(1, np.int64)], {"axis": 0})
        return ctx.emit1("take", [rep, np.asarray(index, np.int64)], {"axis": 0})

    y = ctx.broadcast_to(x, tuple(out), shape_tensor)
    if not any(split):
        return y
    return ctx.emit1("reshape", [y], {"shape": tuple(-3 if sp else 0 for sp in split)})


@ONNX_IMPORT.register("Pad", since=1)
def pad_v1(ctx, node, attrs, inputs):
    return _pad(ctx, attrs, inputs[0], list(attrs.get("paddings")), float(attrs.get("value", 0.0)), None)


@ONNX_IMPORT.register("Pad", since=2)
def pad_attributes(ctx, node, attrs, inputs):
    return _pad(ctx, attrs, inputs[0], list(attrs.get("pads")), float(attrs.get("value", 0.0)), None)


@ONNX_IMPORT.register("Pad", since=(11, 13, 18, 19, 21, 23, 24, 25))
def pad(ctx, node, attrs, inputs):
    value = ctx.const(inputs[2]) if inputs[2] else None
    if inputs[2] and value is None:
        raise ctx.error(ShapeError, "Pad constant_value must be a constant")
    value = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
    axes = _ints(ctx.require_const(inputs[3], "Pad axes")) if inputs[3] else None
    if ctx.const(inputs[1]) is None:
        return _run_time_pad(ctx, attrs, inputs[0], inputs[1], value, axes)
    pads = list(_ints(ctx.require_const(inputs[1], "Pad pads")))
    return _pad(ctx, attrs, inputs[0], pads, value, axes)


def _run_time_pad(ctx, attrs, x, pads_input, value, axes):
    """Pad by amounts computed at run time (torchvision's detection transform pads each image to a multiple of
    32): dyn_pad, whose output dims are the padded lengths where the pads are symbolic values, else new
    symbols bound from the pads when they run."""
    mode = attrs.get("mode", "constant")
    if mode not in ("constant", "edge", "reflect"):  # wrap gathers positions known at import
        ctx.require_const(pads_input, "Pad pads")
    r = ctx.require_rank(x)
    xs = ctx.shape(x)
    axes = list(range(r)) if axes is None else [a % r for a in axes]
    pads = ctx.entry(ctx.cast(pads_input, "int64"))
    if axes != list(range(r)):  # the pads of every axis, begins then ends: 0 on the axes not named
        k = len(axes)
        order = [axes.index(a) if a in axes else -1 for a in range(r)]
        picks = [o for o in order] + [o + k if o >= 0 else -1 for o in order]
        padded = ctx.emit1("concatenate", [pads, np.zeros(1, dtype=np.int64)], {"axis": 0})
        pads = ctx.emit1("take", [padded, np.asarray([p if p >= 0 else 2 * k for p in picks])], {"axis": 0})
        value_known = None
    else:
        value_known = ctx.shape_value(pads_input)
    if value_known is not None and value_known.size == 2 * r:
        flat = list(value_known.reshape(-1))
        out = tuple(xs[a] + flat[a] + flat[a + r] for a in range(r))
    else:
        out = run_time_dims(ctx)
        if out is None:
            raise ctx.error(ShapeError, "Pad pads must be a constant or the output rank known; give the input "
                                        "shapes with shape=")
    return ctx.runtime_op("dyn_pad", [x, pads], out, {"pad_value": value, "mode": mode})


def _pad(ctx, attrs, x, pads, value, axes):
    mode = attrs.get("mode", "constant")
    r = ctx.require_rank(x)
    if axes is None:
        axes = tuple(range(r))
    axes = [a % r for a in axes]
    k = len(axes)
    width = [[0, 0] for _ in range(r)]
    for i, a in enumerate(axes):
        width[a] = [int(pads[i]), int(pads[i + k])]
    if any(p < 0 for w in width for p in w):
        raise ctx.unsupported("negative pads")
    width = tuple(tuple(w) for w in width)
    if mode == "constant":
        return ctx.emit1("pad", [x], {"pad_width": width, "pad_value": value})
    if mode in ("reflect", "edge"):
        return ctx.emit1("mirror_pad", [x], {"pad_width": width, "mode": mode})
    if mode == "wrap":
        return _wrap_pad(ctx, x, width)
    raise ctx.unsupported(f"mode={mode}")


def _wrap_pad(ctx, x, width):
    """mode=wrap: along each padded axis, gather positions -before .. n+after-1 taken modulo n (so pads
    longer than the axis repeat it, as numpy's wrap does)."""
    s = ctx.shape(x)
    for axis, (before, after) in enumerate(width):
        if not (before or after):
            continue
        n = None if s is None else s[axis]
        if not isinstance(n, (int, np.integer)) or n == 0:
            raise ctx.unsupported("mode=wrap on an axis of unknown or zero length")
        positions = np.arange(-before, int(n) + after, dtype=np.int64) % int(n)
        x = ctx.emit1("take", [x, positions], {"axis": axis})
    return ctx.entry(x)


@ONNX_IMPORT.register("DepthToSpace", since=(1, 11, 13, 28))
def depth_to_space(ctx, node, attrs, inputs):
    return ctx.emit1("depth_to_space", [inputs[0]], {"block_size": int(attrs.get("blocksize")),
                                                     "mode": attrs.get("mode", "DCR")})


# SpaceToDepth-28 adds ``mode``; the default DCR is the order of the older versions
@ONNX_IMPORT.register("SpaceToDepth", since=(1, 13, 28))
def space_to_depth(ctx, node, attrs, inputs):
    mode = attrs.get("mode", "DCR")
    if mode != "DCR":
        raise ctx.unsupported(f"mode={mode}")
    return ctx.emit1("space_to_depth", [inputs[0]], {"block_size": int(attrs.get("blocksize"))})


@ONNX_IMPORT.register("OneHot", since=(9, 11, 28))
def one_hot(ctx, node, attrs, inputs):
    idx = inputs[0]
    depth = int(ctx.require_const(inputs[1], "OneHot depth").reshape(-1)[0])
    values = ctx.require_const(inputs[2], "OneHot values").reshape(-1)
    ix = ctx.emit1("where", [ctx.cast(ctx.emit1("__less_scalar__", [idx], {"scalar": 0.0}), ctx.dtype(idx)),
                             ctx.emit1("__add_scalar__", [idx], {"scalar": float(depth)}), idx]) \
        if ctx.dtype(idx) not in ("uint8", "uint16", "uint32", "uint64") else idx
    return ctx.emit1("one_hot", [ix], {"depth": depth, "axis": int(attrs.get("axis", -1)),
                                       "on_value": float(values[1]), "off_value": float(values[0]),
                                       "dtype": _dt.canonical(values.dtype)})
