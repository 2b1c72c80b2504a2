"""MXNet export of the ops whose shape comes from a tensor at run time.

MXNet 1.9's symbols take shapes as attributes, so these are written from the output shape the IR knows:
a symbolic dim that copies the input's dim becomes MXNet's 0 (bound when the symbol is bound); anything
else takes its length from a tensor of the graph that has it (``_contrib_arange_like``, ``broadcast_like``);
where none has, the error says to pass shape=.
"""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import ShapeError
from nnvm_bridge.ir.symbolic import format_dim, is_static, is_symbolic

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


def needs_shape_error(node, why):
    return ShapeError(f"MXNet cannot express {node.op} with symbolic dims ({why}); give the symbolic input dims "
                      "values with shape={input: dims}", node=node.name, op=node.op)


def _copy_spec(node, src, out):
    """``out`` as an MXNet Reshape spec over input shape ``src``, read left to right as MXNet does: 0 copies
    the next input dim, -3 merges the next two (a symbolic product such as 2*batch), a number is itself and
    passes one input dim, and one other symbolic dim may be -1."""
    spec, i = [], 0
    for d in out:
        if i < len(src) and src[i] == d and is_symbolic(d):
            spec.append(0)
            i += 1
        elif i + 1 < len(src) and is_symbolic(d) and src[i] * src[i + 1] == d:
            spec.append(-3)
            i += 2
        elif not is_symbolic(d):
            spec.append(int(d))
            i += 1
        elif -1 not in spec:
            spec.append(-1)
            i += 1
        else:
            raise needs_shape_error(node, f"the output dims {format_dim(d)} and another are new")
    return tuple(spec)


@MXNET_EXPORT.register("dyn_reshape")
def _dyn_reshape(ctx, node, attrs, inputs):
    src, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if src is None or out is None:
        raise needs_shape_error(node, "unknown shapes")
    try:
        spec = _copy_spec(node, src, out)
    except ShapeError:  # several new symbolic dims: reshape_like a tensor built with the output's shape
        static = tuple(1 if is_symbolic(d) else int(d) for d in out)
        like = _widen(ctx, node, ctx.add("_full", f"{node.name}_like", [], {"shape": static, "value": 0.0}), out)
        return [ctx.add("reshape_like", node.name, [inputs[0], like])]
    return [ctx.add("Reshape", node.name, inputs[:1], {"shape": spec})]


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
        if s == d:
            spec.append(0)  # MXNet's broadcast_to keeps a 0 dim as it is
        elif is_symbolic(d) and s == 1:
            spec.append(0)
            widen[len(spec) - 1] = d  # a new symbolic length: broadcast_like a tensor that has it
        elif is_symbolic(d):
            raise needs_shape_error(node, f"it broadcasts the dim {format_dim(s)} to the symbolic dim {format_dim(d)}")
        else:
            spec.append(int(d))
    y = ctx.add("broadcast_to", node.name, [x], {"shape": tuple(spec)})
    return [_widen(ctx, node, y, widen)]


def _length(ctx, node, d, name):
    """A float32 tensor [0, 1, ..., d): ``_arange`` for an int, else ``_contrib_arange_like`` over a tensor
    that has the symbolic length ``d`` on some axis (MXNet learns it when the symbol is bound)."""
    if not is_symbolic(d):
        return ctx.add("_arange", name, [], {"start": 0, "stop": int(d), "dtype": "float32"})
    src = ctx.dim_source(d)
    if src is None:
        raise needs_shape_error(node, f"no tensor of the graph has the length {format_dim(d)} to take it from")
    entry, axis = src
    steps = ctx.add("_contrib_arange_like", name, [entry], {"axis": axis})
    return ctx.add("Cast", f"{name}_f", [steps], {"dtype": "float32"})  # arange_like keeps its input's dtype


_MAX_EXTRA = 4  # how many slabs past a tensor's length _widen appends (HF Whisper's mask: sequence + 1)


def _widen(ctx, node, x, out):
    """``x`` (1 on every symbolic axis of ``out``) broadcast to those lengths with ``broadcast_like``; a length
    ``d + k`` (small k) that no tensor has is ``d`` and ``k`` more copies of the slab, which are all alike."""
    for a, d in enumerate(out):
        if is_symbolic(d):
            extra = next((k for k in range(_MAX_EXTRA + 1) if ctx.dim_source(d - k) is not None), None)
            if extra is None:
                raise needs_shape_error(node, f"no tensor of the graph has the length {format_dim(d)} to take it from")
            src, slab = ctx.dim_source(d - extra), x
            x = ctx.add("broadcast_like", f"{node.name}_dim{a}", [x, src[0]], {"lhs_axes": (a,), "rhs_axes": (src[1],)})
            if extra:
                x = ctx.add("Concat", f"{node.name}_dim{a}_more", [x] + [slab] * extra,
                            {"dim": a, "num_args": extra + 1})
    return x


@MXNET_EXPORT.register("dyn_full")
def _dyn_full(ctx, node, attrs, inputs):
    out = ctx.shape(node[0])
    if out is None:
        raise needs_shape_error(node, "its shape comes from a tensor at run time")
    static = tuple(1 if is_symbolic(d) else int(d) for d in out)
    x = ctx.add("_full", node.name, [], {"shape": static, "value": attrs.value, "dtype": mx_dtype(attrs.dtype)})
    return [_widen(ctx, node, x, out)]


def _scalar(ctx, node, entry, k, name):
    """Element ``k`` of a 1-element-per-axis int tensor as a float32 (1,) tensor."""
    x = ctx.add("slice_axis", name, [entry], {"axis": 0, "begin": k, "end": k + 1})
    return ctx.add("Cast", f"{name}_f", [ctx.add("Reshape", f"{name}_flat", [x], {"shape": (-1,)})],
                   {"dtype": "float32"})


@MXNET_EXPORT.register("dyn_arange")
def _dyn_arange(ctx, node, attrs, inputs):
    out = ctx.shape(node[0])
    if out is None:
        raise needs_shape_error(node, "unknown output length")
    steps = _length(ctx, node, out[0], f"{node.name}_steps")
    start, delta = (_scalar(ctx, node, x, 0, f"{node.name}_{w}") for x, w in zip((inputs[0], inputs[2]), "sd"))
    y = ctx.add("broadcast_add", f"{node.name}_add", [ctx.add("broadcast_mul", f"{node.name}_mul", [steps, delta]),
                                                      start])
    return [ctx.add("Cast", node.name, [y], {"dtype": mx_dtype(attrs.dtype)})]


@MXNET_EXPORT.register("dyn_slice")
def _dyn_slice(ctx, node, attrs, inputs):
    """``take(x, start + arange(n), axis, mode='wrap')`` per sliced axis (steps are 1: the importer refuses
    others); 'wrap' gives a negative start python's meaning."""
    data, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    axes = ctx.params.get(node.inputs[3].node.name) if node.inputs[3].node.is_variable else None
    if data is None or out is None or axes is None:
        raise needs_shape_error(node, "its axes or shapes are not known")
    x = inputs[0]
    for i, a in enumerate(int(v) % len(data) for v in np.asarray(axes).reshape(-1)):
        start = _scalar(ctx, node, inputs[1], i, f"{node.name}_start{i}")
        index = ctx.add("broadcast_add", f"{node.name}_index{i}",
                        [_length(ctx, node, out[a], f"{node.name}_steps{i}"), start])
        x = ctx.add("take", f"{node.name}_{i}" if i + 1 < len(axes.reshape(-1)) else node.name, [x, index],
                    {"axis": a, "mode": "wrap"})
    return [x]
