"""MXNet export of the ops whose shape comes from a tensor at run time.

MXNet 1.9's symbols take shapes as attributes, so these are written from the output shape the IR knows:
a symbolic dim that copies the input's dim becomes MXNet's 0 (bound when the symbol is bound); anything
else takes its length from a tensor of the graph that has it (``_contrib_arange_like``, ``broadcast_like``);
where none has, the error says to pass shape=.
"""
from __future__ import annotations

import math

import numpy as np

from nnvm_bridge.errors import ShapeError
from nnvm_bridge.ir.symbolic import cut_from, format_dim, is_static, is_symbolic

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


def needs_shape_error(node, why):
    return ShapeError(f"MXNet cannot express {node.op} with symbolic dims ({why}); give the symbolic input dims "
                      "values with shape={input: dims}", node=node.name, op=node.op)


def _copy_spec(node, src, out):
    """``out`` as MXNet Reshape specs over input shape ``src`` (one per Reshape to chain), read left to right as
    MXNet does: 0 copies the next input dim, -3 merges the next two (a symbolic product such as 2*batch), -4
    splits the next one into ``n // k`` and a number ``k`` (Swin's windows), a number is itself and passes one
    input dim, and one other symbolic dim may be -1."""
    pieces, i, j = [], 0, 0
    while j < len(out):
        d = out[j]
        j += 1
        if i < len(src) and src[i] == d and is_symbolic(d):
            pieces.append((0,))
            i += 1
        elif i + 1 < len(src) and is_symbolic(d) and src[i] * src[i + 1] == d:
            pieces.append((-3,))
            i += 2
        elif i < len(src) and is_symbolic(d) and j < len(out) and not is_symbolic(out[j]) and int(out[j]) > 0 \
                and d == src[i] // int(out[j]):
            pieces.append((-4, -1, int(out[j])))
            i, j = i + 1, j + 1
        elif not is_symbolic(d):
            pieces.append((int(d),))
            i += 1
        elif (-1,) not in pieces:
            pieces.append((-1,))
            i += 1
        else:
            raise needs_shape_error(node, f"the output dims {format_dim(d)} and another are new")
    return _one_unknown_each(pieces)


def _one_unknown_each(pieces):
    """MXNet takes one -1 per Reshape: a spec with more (several splits) becomes a chain, each Reshape copying
    the dims the ones before it made (0) and the input dims still to come (-2)."""
    specs, made, stage = [], 0, []
    for p in pieces:
        if -1 in p and any(-1 in q for q in stage):
            specs.append((0,) * made + sum(stage, ()) + (-2,))
            made += sum(2 if q[0] == -4 else 1 for q in stage)
            stage = []
        stage.append(p)
    specs.append((0,) * made + sum(stage, ()))
    return specs


@MXNET_EXPORT.register("dyn_reshape")
def _dyn_reshape(ctx, node, attrs, inputs):
    src, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if src is None or out is None:
        raise needs_shape_error(node, "unknown shapes")
    try:
        specs = _copy_spec(node, src, out)
    except ShapeError:  # several new symbolic dims: reshape_like a tensor built with the output's shape
        static = tuple(1 if is_symbolic(d) else int(d) for d in out)
        like = ctx.add("_full", f"{node.name}_like", [], {"shape": static, "value": 0.0})
        # a length no tensor has (DPT's isqrt(patches) grid) from the shape tensor: were it a 0 or -1 there,
        # reshape_like's element count check fails when MXNet runs
        like = _widen(ctx, node, like, out, inputs[1] if (ctx.shape(node.inputs[1]) or (0,))[0] == len(out) else None)
        return [ctx.add("reshape_like", node.name, [inputs[0], like])]
    x = inputs[0]
    for k, spec in enumerate(specs):
        x = ctx.add("Reshape", node.name if k == len(specs) - 1 else f"{node.name}_{k}", [x], {"shape": spec})
    return [x]


@MXNET_EXPORT.register("dyn_broadcast_to")
def _dyn_broadcast_to(ctx, node, attrs, inputs):
    src, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if src is None or out is None:
        raise needs_shape_error(node, "unknown shapes")
    x = inputs[0]
    if len(src) < len(out):  # numpy broadcasting aligns on the right: lead with 1s
        x = ctx.add("Reshape", f"{node.name}_rank", [x], {"shape": (1,) * (len(out) - len(src)) + (0,) * len(src)})
        src = (1,) * (len(out) - len(src)) + tuple(src)
    spec, widen = [], [1] * len(out)
    for s, d in zip(src, out):
        if s == d or cut_from(s, d):  # min(S, c) broadcast to S is S (MXNet's shape checks catch S > c)
            spec.append(0)  # MXNet's broadcast_to keeps a 0 dim as it is
        elif is_symbolic(d) and s == 1:
            spec.append(0)
            widen[len(spec) - 1] = d  # a new symbolic length: broadcast_like a tensor that has it
        elif is_symbolic(d):
            raise needs_shape_error(node, f"it broadcasts the dim {format_dim(s)} to the symbolic dim {format_dim(d)}")
        else:
            spec.append(int(d))
    y = ctx.add("broadcast_to", node.name, [x], {"shape": tuple(spec)})
    return [_widen(ctx, node, y, widen, inputs[1] if (ctx.shape(node.inputs[1]) or (0,))[0] == len(out) else None)]


def _length(ctx, node, d, name):
    """A float32 tensor [0, 1, ..., d): ``_arange`` for an int, else ``_contrib_arange_like`` over a tensor
    that has the symbolic length ``d`` on some axis (MXNet learns it when the symbol is bound)."""
    if not is_symbolic(d):
        return ctx.add("_arange", name, [], {"start": 0, "stop": int(d), "dtype": "float32"})
    src, cut = ctx.dim_source(d), None
    if src is None and _min_of_constant(d):  # min(c, X): the first c steps of X's (slice clamps as min does)
        cut, x = _min_of_constant(d)
        src = ctx.dim_source(x)
    if src is None and _scaled(ctx, d) is not None:
        src = _scaled_length(ctx, name, *_scaled(ctx, d))
    if src is None:
        raise needs_shape_error(node, f"no tensor of the graph has the length {format_dim(d)} to take it from")
    entry, axis = src
    steps = ctx.add("_contrib_arange_like", name, [entry], {"axis": axis})
    if cut is not None:
        steps = ctx.add("slice", f"{name}_cut", [steps], {"begin": (0,), "end": (cut,)})
    return ctx.add("Cast", f"{name}_f", [steps], {"dtype": "float32"})  # arange_like keeps its input's dtype


def _scaled(ctx, d):
    """(source of X, a, c) when ``d`` is ``a * X + c`` (ints a >= 1, c >= 0) and some tensor is X long (XLNet's
    relative positions over 2 * sequence, Funnel's over 4 * sequence), else None."""
    terms = dict(d.terms)
    c = terms.pop((), 0)
    if c < 0 or not terms or any(k <= 0 for k in terms.values()):
        return None
    a = math.gcd(*terms.values())
    x = (d - c) // a
    src = ctx.dim_source(x) if x * a + c == d else None
    return None if src is None else (src, a, c)


def _scaled_length(ctx, name, src, a, c):
    """(entry, 0) of a 1-d tensor ``a * X + c`` long: X's positions repeated ``a`` times and ``c`` more."""
    x = ctx.add("_contrib_arange_like", f"{name}_base", [src[0]], {"axis": src[1]})
    y = ctx.add("repeat", f"{name}_times", [x], {"repeats": a, "axis": 0}) if a > 1 else x
    if c:
        more = ctx.add("_arange", f"{name}_more", [], {"start": 0, "stop": c, "dtype": "float32"})
        y = ctx.add("Concat", f"{name}_plus", [ctx.add("Cast", f"{name}_f", [y], {"dtype": "float32"}), more],
                    {"dim": 0, "num_args": 2})
    return y, 0


def _min_of_constant(d):
    """(c, X) when ``d`` is min(c, X) for an int c (a slice of a fixed-length table cut to X: GPT-Neo's
    causal-mask buffer under torch.export), else None."""
    if len(d.terms) != 1:
        return None
    (monomial, coeff), = d.terms
    if coeff != 1 or len(monomial) != 1 or monomial[0].op != "min":
        return None
    ints = [a for a in monomial[0].args if not is_symbolic(a)]
    dims = [a for a in monomial[0].args if is_symbolic(a)]
    return (int(ints[0]), dims[0]) if len(ints) == 1 and len(dims) == 1 else None


_MAX_EXTRA = 4  # how many slabs past a tensor's length _widen appends besides d's own constant


def _widen(ctx, node, x, out, shape=None):
    """``x`` (1 on every symbolic axis of ``out``) broadcast to those lengths with ``broadcast_like`` from a tensor
    that has the length; a length ``d + k`` that no tensor has (T5's and Whisper's causal masks over ``sequence +
    1``) as ``d`` from such a tensor and ``k`` copies of the slab, which are all alike; else (given ``shape``, the
    int tensor of the output shape) cut at run time."""
    for a, d in enumerate(out):
        if is_symbolic(d):
            own = dict(d.terms).get((), 0)
            tries = dict.fromkeys([*range(_MAX_EXTRA + 1), *([own] if own > 0 else [])])
            k = next((k for k in tries if ctx.dim_source(d - k) is not None), None)
            src = ctx.dim_source(d - k) if k is not None else None
            if src is None and shape is not None:
                k, length = 0, element_f32(ctx, node, shape, a, f"{node.name}_len{a}")
                src = (run_time_positions(ctx, node, length, f"{node.name}_len{a}"), 0)
            if src is None:
                raise needs_shape_error(node, f"no tensor of the graph has the length {format_dim(d)} to take it from")
            y = ctx.add("broadcast_like", f"{node.name}_dim{a}", [x, src[0]], {"lhs_axes": (a,), "rhs_axes": (src[1],)})
            if k:  # x has one element along a: the k more are copies of it
                more = ctx.add("repeat", f"{node.name}_dim{a}_more", [x], {"repeats": k, "axis": a})
                y = ctx.add("Concat", f"{node.name}_dim{a}_all", [y, more], {"dim": a, "num_args": 2})
            x = y
            ctx.note_dims([None] * a + [d], x)
    return x


# the longest length MXNet takes from a tensor's value at run time (positions are cut from a fixed range)
_MAX_RUN_TIME_LENGTH = 1 << 14


def run_time_positions(ctx, node, length, name):
    """float32 positions [0, length) for a float (1,) tensor ``length`` that only run time knows: cut from
    a fixed range by ``_contrib_boolean_mask``; longer lengths fail with a message when MXNet runs."""
    grid = ctx.add("_arange", f"{name}_grid", [], {"start": 0, "stop": _MAX_RUN_TIME_LENGTH, "dtype": "float32"})
    keep = ctx.add("broadcast_lesser", f"{name}_keep", [grid, length])
    fits = ctx.add("_lesser_equal_scalar", f"{name}_fits", [length], {"scalar": float(_MAX_RUN_TIME_LENGTH)})
    ok = _check(ctx, f"{name}_check_length_at_most_{_MAX_RUN_TIME_LENGTH}_else_give_shape", fits)
    return ctx.add("broadcast_mul", f"{name}_pos", [ctx.add("_contrib_boolean_mask", f"{name}_cut", [grid, keep]), ok])


@MXNET_EXPORT.register("dyn_full")
def _dyn_full(ctx, node, attrs, inputs):
    out = ctx.shape(node[0])
    if out is None:
        raise needs_shape_error(node, "its shape comes from a tensor at run time")
    static = tuple(1 if is_symbolic(d) else int(d) for d in out)
    x = ctx.add("_full", node.name, [], {"shape": static, "value": attrs.value, "dtype": mx_dtype(attrs.dtype)})
    return [_widen(ctx, node, x, out, inputs[0])]


def element_f32(ctx, node, entry, k, name):
    """Element ``k`` of a 1-element-per-axis int tensor as a float32 (1,) tensor."""
    x = ctx.add("slice_axis", name, [entry], {"axis": 0, "begin": k, "end": k + 1})
    return ctx.add("Cast", f"{name}_f", [ctx.add("Reshape", f"{name}_flat", [x], {"shape": (-1,)})],
                   {"dtype": "float32"})


@MXNET_EXPORT.register("dyn_arange")
def _dyn_arange(ctx, node, attrs, inputs):
    out = ctx.shape(node[0])
    if out is None:
        raise needs_shape_error(node, "unknown output length")
    start, delta = (element_f32(ctx, node, x, 0, f"{node.name}_{w}") for x, w in zip((inputs[0], inputs[2]), "sd"))
    try:
        steps = _length(ctx, node, out[0], f"{node.name}_steps")
    except ShapeError:  # no tensor is that long yet (the bound comes from the input's shape, the tensor later)
        steps = run_time_positions(ctx, node, _range_length(ctx, node, start, inputs[1], delta), f"{node.name}_steps")
    y = ctx.add("broadcast_add", f"{node.name}_add", [ctx.add("broadcast_mul", f"{node.name}_mul", [steps, delta]),
                                                      start])
    return [ctx.add("Cast", node.name, [y], {"dtype": mx_dtype(attrs.dtype)})]


def _range_length(ctx, node, start, limit, delta):
    """max(ceil((limit - start) / delta), 0) as a float (1,) tensor: ONNX Range's length, at run time."""
    name = f"{node.name}_len"
    span = ctx.add("broadcast_sub", f"{name}_span", [element_f32(ctx, node, limit, 0, f"{name}_l"), start])
    steps = ctx.add("ceil", f"{name}_ceil", [ctx.add("broadcast_div", f"{name}_div", [span, delta])])
    return ctx.add("relu", name, [steps])


@MXNET_EXPORT.register("dyn_slice")
def _dyn_slice(ctx, node, attrs, inputs):
    """``take(x, start + arange(n), axis)`` per sliced axis (steps are 1: the importer refuses others), the
    bounds placed by python's rules; a length that no tensor has (bounds only run time knows) is cut at run
    time."""
    data, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    axes = ctx.params.get(node.inputs[3].node.name) if node.inputs[3].node.is_variable else None
    if data is None or out is None or axes is None:
        raise needs_shape_error(node, "its axes or shapes are not known")
    x = inputs[0]
    for i, a in enumerate(int(v) % len(data) for v in np.asarray(axes).reshape(-1)):
        start, length = _slice_bounds(ctx, node, inputs[0], a, *(
            element_f32(ctx, node, inputs[k], i, f"{node.name}_{w}{i}") for k, w in ((1, "start"), (2, "end"))))
        if is_symbolic(out[a]) and ctx.dim_source(out[a]) is None:
            steps = run_time_positions(ctx, node, length, f"{node.name}_steps{i}")
        else:
            steps = _length(ctx, node, out[a], f"{node.name}_steps{i}")
        index = ctx.add("broadcast_add", f"{node.name}_index{i}", [steps, start])
        x = ctx.add("take", f"{node.name}_{i}" if i + 1 < len(axes.reshape(-1)) else node.name, [x, index],
                    {"axis": a, "mode": "clip"})
    return [x]


def _slice_bounds(ctx, node, x, axis, start, end):
    """The start and the length of a slice from ``start`` to ``end`` on ``axis`` of ``x`` (float (1,) tensors)
    by python's rules: a negative bound counts from the end, then each is clamped onto the axis."""
    name = f"{node.name}_len{axis}"
    n = ctx.add("Cast", f"{name}_n", [ctx.add("slice_axis", f"{name}_ni", [ctx.add("shape_array", f"{name}_s", [x])],
                                              {"axis": 0, "begin": axis, "end": axis + 1})], {"dtype": "float32"})

    def placed(v, w):
        below = ctx.add("_lesser_scalar", f"{name}_{w}neg", [v], {"scalar": 0.0})
        v = ctx.add("broadcast_add", f"{name}_{w}", [v, ctx.add("broadcast_mul", f"{name}_{w}n", [below, n])])
        return ctx.add("broadcast_minimum", f"{name}_{w}in", [ctx.add("_maximum_scalar", f"{name}_{w}0", [v],
                                                                      {"scalar": 0.0}), n])
    begin = placed(start, "b")
    length = ctx.add("_maximum_scalar", name, [ctx.add("broadcast_sub", f"{name}_d", [placed(end, "e"), begin])],
                     {"scalar": 0.0})
    return begin, length


@MXNET_EXPORT.register("bind_dims")
def _bind_dims(ctx, node, attrs, inputs):
    return [ctx.add("_copy", node.name, inputs[:1])]


# how far beyond each end of an axis a pad known only at run time may reach, in lengths of the axis
_PAD_REACH = 2


def _check(ctx, name, condition):
    """A float (1,) tensor 1 when the float (1,) tensor ``condition`` is 1; where it is 0, MXNet fails when it
    runs (the mask keeps nothing, which cannot be reshaped to one element; the node is named ``name``).
    ``_npx_constraint_check`` would say it better, but its 0-d output stops MXNet's shape inference."""
    kept = ctx.add("_contrib_boolean_mask", f"{name}_kept", [ctx.add("ones_like", f"{name}_one", [condition]),
                                                             condition])
    return ctx.add("Reshape", name, [kept], {"shape": (1,)})


def _pad_positions(ctx, node, x, a, n, before, after, out):
    """float32 source positions ``arange(out[a]) - before`` of the padded axis ``a`` of ``x`` (length ``n``, a
    float (1,) tensor). A new length that no tensor has is cut at run time from positions reaching _PAD_REACH
    axis lengths beyond either end (``_contrib_boolean_mask``); pads reaching further fail with a message."""
    name = f"{node.name}_axis{a}"
    src = ctx.dim_source(out) if is_symbolic(out) else None
    if src is not None or not is_symbolic(out):
        return ctx.add("broadcast_sub", f"{name}_pos", [_length(ctx, node, out, f"{name}_steps"), before])
    steps = ctx.add("_contrib_arange_like", f"{name}_steps", [x], {"axis": a})
    wide = ctx.add("repeat", f"{name}_wide", [steps], {"repeats": 2 * _PAD_REACH + 1, "axis": 0})
    reach = ctx.add("_mul_scalar", f"{name}_reach", [n], {"scalar": float(_PAD_REACH)})
    grid = ctx.add("Cast", f"{name}_gridf", [ctx.add("_contrib_arange_like", f"{name}_grid", [wide], {"axis": 0})],
                   {"dtype": "float32"})
    pos = ctx.add("broadcast_sub", f"{name}_cand", [grid, reach])
    neg_before = ctx.add("negative", f"{name}_neg", [before])
    keep = ctx.add("broadcast_mul", f"{name}_keep", [
        ctx.add("broadcast_greater_equal", f"{name}_lo", [pos, neg_before]),
        ctx.add("broadcast_lesser", f"{name}_hi", [pos, ctx.add("broadcast_add", f"{name}_end", [n, after])])])
    fits = ctx.add("broadcast_mul", f"{name}_fits", [
        ctx.add("broadcast_lesser_equal", f"{name}_fb", [before, reach]),
        ctx.add("broadcast_lesser_equal", f"{name}_fa", [after, reach])])
    ok = _check(ctx, f"{name}_check_pads_reach_{_PAD_REACH}_axis_lengths_else_give_shape", fits)
    return ctx.add("broadcast_mul", f"{name}_pos", [ctx.add("_contrib_boolean_mask", f"{name}_cut", [pos, keep]), ok])


@MXNET_EXPORT.register("dyn_pad")
def _dyn_pad(ctx, node, attrs, inputs):
    """Per axis, ``take`` at the source positions (clipped; reflected for mode=reflect) and ``pad_value`` where
    they lie outside the axis (mode=constant), as the Relax emitter does."""
    data, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if data is None or out is None:
        raise needs_shape_error(node, "unknown shapes")
    rank = len(data)
    shape = ctx.add("Cast", f"{node.name}_shape", [ctx.add("shape_array", f"{node.name}_shape_i", [inputs[0]])],
                    {"dtype": "float32"})
    pads = ctx.add("Cast", f"{node.name}_pads", [inputs[1]], {"dtype": "float32"})
    x = inputs[0]
    for a in range(rank):
        name = f"{node.name}_axis{a}"
        n = ctx.add("slice_axis", f"{name}_n", [shape], {"axis": 0, "begin": a, "end": a + 1})
        before, after = (ctx.add("slice_axis", f"{name}_{w}", [pads], {"axis": 0, "begin": k, "end": k + 1})
                         for w, k in (("before", a), ("after", a + rank)))
        pos = _pad_positions(ctx, node, x, a, n, before, after, out[a])
        source = pos
        if attrs.mode == "reflect":
            last2 = ctx.add("_mul_scalar", f"{name}_last2", [ctx.add("_minus_scalar", f"{name}_last", [n],
                                                                      {"scalar": 1.0})], {"scalar": 2.0})
            source = ctx.add("abs", f"{name}_abs", [pos])
            beyond = ctx.add("broadcast_greater_equal", f"{name}_beyond", [source, n])
            source = ctx.add("where", f"{name}_refl", [beyond, ctx.add("broadcast_sub", f"{name}_back",
                                                                       [last2, source]), source])
        taken = ctx.add("take", f"{name}_take", [x, source], {"axis": a, "mode": "clip"})
        if attrs.mode == "constant":
            inside = ctx.add("broadcast_mul", f"{name}_inside", [
                ctx.add("_greater_equal_scalar", f"{name}_ge0", [pos], {"scalar": 0.0}),
                ctx.add("broadcast_lesser", f"{name}_ltn", [pos, n])])
            inside = ctx.add("Reshape", f"{name}_along", [inside], {"shape": (1,) * a + (-1,) + (1,) * (rank - a - 1)})
            inside = ctx.add("broadcast_like", f"{name}_mask", [inside, taken])
            fill = ctx.add("_plus_scalar", f"{name}_fill", [ctx.add("zeros_like", f"{name}_zeros", [taken])],
                           {"scalar": attrs.pad_value})
            taken = ctx.add("where", f"{name}_padded", [inside, taken, fill])
        x = taken
        ctx.note_dims([None] * a + [out[a]], x)
    return [ctx.add("_copy", node.name, [x])]
