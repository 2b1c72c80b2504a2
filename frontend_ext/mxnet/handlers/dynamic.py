"""MXNet export of the ops whose shape comes from a tensor at run time.

MXNet 1.9's symbols take shapes as attributes, so these are written from the output shape the IR knows:
a symbolic dim that copies the input's dim becomes MXNet's 0 (bound when the symbol is bound); anything
else needs concrete sizes, and the error says to pass shape=.
"""
from __future__ import annotations

from nnvm_bridge.errors import ShapeError
from nnvm_bridge.ir.symbolic import format_dim, is_static, is_symbolic

from ..context import mx_dtype
from ..registry import MXNET_EXPORT


def _needs_shape(node, why):
    return ShapeError(f"MXNet cannot express {node.op} with symbolic dims ({why}); give the symbolic input dims "
                      "values with shape={input: dims}", node=node.name, op=node.op)


def _copy_spec(node, src, out):
    """``out`` as an MXNet shape spec over input shape ``src``: 0 copies the dim at the same position, one
    other symbolic dim may be -1."""
    spec = []
    for k, d in enumerate(out):
        if not is_symbolic(d):
            spec.append(int(d))
        elif k < len(src) and src[k] == d:
            spec.append(0)
        elif -1 not in spec:
            spec.append(-1)
        else:
            raise _needs_shape(node, f"the output dims {format_dim(d)} and another are new")
    return tuple(spec)


@MXNET_EXPORT.register("dyn_reshape")
def _dyn_reshape(ctx, node, attrs, inputs):
    src, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if src is None or out is None:
        raise _needs_shape(node, "unknown shapes")
    return [ctx.add("Reshape", node.name, inputs[:1], {"shape": _copy_spec(node, src, out)})]


@MXNET_EXPORT.register("dyn_broadcast_to")
def _dyn_broadcast_to(ctx, node, attrs, inputs):
    src, out = ctx.shape(node.inputs[0]), ctx.shape(node[0])
    if src is None or out is None:
        raise _needs_shape(node, "unknown shapes")
    x = inputs[0]
    if len(src) < len(out):  # numpy broadcasting aligns on the right: lead with 1s
        x = ctx.add("Reshape", f"{node.name}_rank", [x], {"shape": (1,) * (len(out) - len(src)) + (0,) * len(src)})
        src = (1,) * (len(out) - len(src)) + tuple(src)
    spec = []
    for s, d in zip(src, out):
        if s == d:
            spec.append(0)  # MXNet's broadcast_to keeps a 0 dim as it is
        elif is_symbolic(d):
            raise _needs_shape(node, f"it broadcasts to the symbolic dim {format_dim(d)}")
        else:
            spec.append(int(d))
    return [ctx.add("broadcast_to", node.name, [x], {"shape": tuple(spec)})]


@MXNET_EXPORT.register("dyn_full")
def _dyn_full(ctx, node, attrs, inputs):
    out = ctx.shape(node[0])
    if out is None or not is_static(out):
        raise _needs_shape(node, "its shape comes from a tensor at run time")
    return [ctx.add("_full", node.name, [], {"shape": tuple(out), "value": attrs.value, "dtype": mx_dtype(attrs.dtype)})]


@MXNET_EXPORT.register("dyn_arange", "dyn_slice")
def _runtime_bounds(ctx, node, attrs, inputs):
    raise _needs_shape(node, "its bounds come from tensors at run time")
