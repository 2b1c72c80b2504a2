"""Batch-norm folding: an inference batch_norm on constant statistics becomes constant arithmetic.

``y = (x - mean) * gamma / sqrt(var + eps) + beta`` is ``x * scale + shift`` per channel.  After a
convolution or dense layer whose output nothing else reads, ``scale`` and ``shift`` go into that
layer's weight and bias; any other such batch_norm becomes one broadcast multiply and add.
"""
from __future__ import annotations

import numpy as np

from ...errors import BridgeError
from ..graph import Entry, Graph, Node, variable
from ..names import NameAllocator
from .rewrite import copy_node, rewrite

# Ops whose weight has the output channels on axis 0 and whose output channel axis is
# 1 (NC... convolutions) or the last one (dense).
_CONV_SPATIAL_DIMS = {"conv1d": 1, "conv2d": 2, "conv3d": 3}
_INTO_OPS = tuple(_CONV_SPATIAL_DIMS) + ("dense",)


def fold_batch_norm(graph: Graph, params: dict):
    """Fold every batch_norm whose gamma, beta, moving_mean and moving_var are parameters.

    Into the producer (conv1d/2d/3d in NC... layout, or dense), when the batch_norm normalises
    the producer's output channels, reads its only output that anything uses, and the
    producer's weight (and bias, if any) are parameters: the weight is scaled per output channel
    and the bias becomes ``bias * scale + shift`` (a bias is added if the op had none).
    Otherwise into ``broadcast_add(broadcast_mul(x, scale), shift)``, the add taking the
    batch_norm's name.  batch_norm's mean/var outputs become its moving_mean/moving_var inputs,
    which is what they are at inference.  Scale and shift are computed in float64 and cast to the
    dtype of the weight (or of the data).  Returns ``(graph, params)``; a replaced weight or bias
    keeps its name when nothing else uses it, parameters left unused are dropped, and the inputs
    are not modified.
    """
    from ...ops import node_attrs

    params = dict(params or {})
    uses = _use_counts(graph)
    ranks, dtypes = _ranks_and_dtypes(graph, params)
    names = NameAllocator([n.name for n in graph.nodes] + list(params))
    new_params = {}
    orphans = set()  # parameters this pass may leave unused
    into = {}  # id(producer) -> (scale, shift) of the batch_norm that reads it
    folded = set()  # id() of the batch_norms folded into their producer
    affine = {}  # id(batch_norm) -> (scale, shift, broadcast shape of a channel vector, dtype)

    for bn in graph.op_nodes():
        if bn.op != "batch_norm":
            continue
        stats = [_param(e, params) for e in bn.inputs[1:5]]
        if any(s is None for s in stats):
            continue
        attrs = node_attrs(bn)
        scale, shift = _scale_shift(attrs, *stats)
        data = bn.inputs[0]
        rank = ranks.get((id(data.node), data.index))
        if _folds_into(data, attrs, rank, len(scale), uses, params):
            into[id(data.node)] = (scale, shift)
            folded.add(id(bn))
        else:
            view = _channel_view(attrs.axis, rank)
            dtype = dtypes.get((id(data.node), data.index)) or stats[0].dtype
            if view is None or not np.issubdtype(np.dtype(dtype), np.floating):
                continue
            affine[id(bn)] = (scale, shift, view, dtype)
        orphans.update(e.node.name for e in bn.inputs[1:5])

    def constant(base, value):
        name = names.fresh(base)
        new_params[name] = value
        return Entry(variable(name), 0)

    def refold(node, inputs, scale, shift):
        """``node`` (conv/dense) with its weight and bias absorbing ``x * scale + shift``."""
        from ...ops import get_op

        op = get_op(node.op)
        w = _param(node.inputs[1], params)
        b = _param(node.inputs[2], params) if node_attrs(node).use_bias else np.zeros(w.shape[0], w.dtype)
        w_new = (w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        b_new = (b.astype(np.float64) * scale + shift).astype(b.dtype)
        entries = [inputs[0]]
        for k, value, base in ((1, w_new, node.name + "_weight"), (2, b_new, node.name + "_bias")):
            old = node.inputs[k] if k < len(node.inputs) else None
            if old is not None and uses[(id(old.node), 0)] == 1:
                new_params[old.node.name] = value  # its only user: replace the value, keep the name
                entries.append(inputs[k])
            else:
                if old is not None:
                    orphans.add(old.node.name)
                entries.append(constant(base, value))
        attrs = {k: v for k, v in node.attrs.items() if k != "use_bias"}
        attrs.update(op.format_attrs({"use_bias": True}))  # written out only where it is not the default
        return copy_node(node, entries, attrs)

    def visit(node: Node, inputs, rw):
        if id(node) in into:
            return refold(node, inputs, *into[id(node)])
        if id(node) in folded:
            return [inputs[0], inputs[3], inputs[4]]
        if id(node) not in affine:
            return None
        scale, shift, view, dtype = affine[id(node)]
        s = constant(node.name + "_scale", scale.reshape(view).astype(dtype))
        t = constant(node.name + "_shift", shift.reshape(view).astype(dtype))
        mul = Node("broadcast_mul", names.fresh(node.name + "_mul"), [inputs[0], s])
        add = Node("broadcast_add", node.name, [Entry(mul, 0), t])
        return [Entry(add, 0), inputs[3], inputs[4]]

    g = rewrite(graph, visit, keep_unused_variables=lambda n: n.name not in orphans)
    used = {n.name for n in g.variables}
    params.update(new_params)
    return g, {k: v for k, v in params.items() if k in used or k not in orphans}


def _use_counts(graph: Graph) -> dict:
    """(id(node), output index) -> how many node inputs and graph outputs read that entry."""
    uses = {}
    for e in [e for n in graph.nodes for e in n.inputs] + list(graph.outputs):
        key = (id(e.node), e.index)
        uses[key] = uses.get(key, 0) + 1
    return uses


def _ranks_and_dtypes(graph: Graph, params: dict):
    """Entry -> rank and entry -> dtype name, where inference gets that far (else empty)."""
    from .infer import infer_shape, infer_type

    def per_entry(infer, key, value):
        try:
            found = infer(graph, params=params).attrs[key]
        except BridgeError:
            return {}
        ptr = graph.node_row_ptr
        return {(id(node), k): value(found[ptr[nid] + k]) for nid, node in enumerate(graph.nodes)
                for k in range(ptr[nid + 1] - ptr[nid]) if found[ptr[nid] + k] is not None}

    return per_entry(infer_shape, "shape", len), per_entry(infer_type, "dtype", str)


def _param(entry: Entry, params: dict):
    """The floating-point parameter array ``entry`` reads, or None."""
    node = entry.node
    if not node.is_variable or node.name not in params:
        return None
    value = np.asarray(params[node.name])
    return value if np.issubdtype(value.dtype, np.floating) else None


def _scale_shift(attrs, gamma, beta, mean, var):
    gamma, beta, mean, var = (np.asarray(v, dtype=np.float64) for v in (gamma, beta, mean, var))
    scale = (gamma if attrs.scale else np.ones_like(gamma)) / np.sqrt(var + attrs.epsilon)
    shift = (beta if attrs.center else np.zeros_like(beta)) - mean * scale
    return scale, shift


def _channel_view(axis: int, rank):
    """Shape of a channel vector broadcast along ``axis`` (None if the rank is needed and unknown)."""
    if axis < 0:
        return (-1,) + (1,) * (-axis - 1)
    if rank is None or axis >= rank:
        return None
    return (-1,) + (1,) * (rank - axis - 1)


def _folds_into(data: Entry, attrs, rank, channels: int, uses: dict, params: dict) -> bool:
    """Whether a batch_norm with ``attrs`` over ``data`` (of rank ``rank``) can be folded into the
    weight and bias of the op producing ``data``."""
    from ...ops import node_attrs
    from ...ops.common import DATA_LAYOUTS, KERNEL_LAYOUTS

    producer = data.node
    if producer.op not in _INTO_OPS or data.index != 0 or uses.get((id(producer), 0)) != 1:
        return False
    pattrs = node_attrs(producer)
    w = _param(producer.inputs[1], params)
    if w is None or w.shape[:1] != (channels,) or (pattrs.use_bias and _param(producer.inputs[2], params) is None):
        return False
    if producer.op == "dense":
        return attrs.axis == -1 or (rank is not None and attrs.axis == rank - 1)
    nsp = _CONV_SPATIAL_DIMS[producer.op]
    return (pattrs.layout == DATA_LAYOUTS[nsp] and pattrs.kernel_layout == KERNEL_LAYOUTS[nsp]
            and attrs.axis in (1, -(nsp + 1)))
