"""Find conv2d/dense chains to offload as one call: conv -> [batch_norm] -> [add residual] -> [relu|clip].

Works on the NNVM graph (with inferred shapes/dtypes), where consumers and constant parameters are
easy to see. Each plan replaces the chain's last node; the nodes inside the chain are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnvm_bridge.ops import node_attrs

from . import offload


@dataclass
class Plan:
    kind: str  # "conv2d" or "dense"
    data: object  # Entry of the data input
    weight: np.ndarray
    bias: np.ndarray | None
    attrs: list
    residual: object = None  # Entry or None
    absorbed: list = field(default_factory=list)  # node ids inside the chain (not the final one)


def _consumers(g):
    out = {}
    for node in g.nodes:
        for i, e in enumerate(node.inputs):
            out.setdefault((id(e.node), e.index), []).append((node, i))
    for e in g.outputs:
        out.setdefault((id(e.node), e.index), []).append((None, -1))
    return out


def _sole(cons, node, index=0):
    users = cons.get((id(node), index), [])
    if len(users) != 1 or users[0][0] is None:
        return None, None
    return users[0]


def plan_offload(g, params):
    """{final node id: Plan} for every chain worth offloading (float32, constant weights)."""
    cons = _consumers(g)
    shapes, dtypes, ptr = g.attrs["shape"], g.attrs["dtype"], g.node_row_ptr

    def const(e):
        return params.get(e.node.name) if e.node.is_variable else None

    def out_shape(node, k=0):
        return shapes[ptr[g.node_id(node)] + k]

    plans, claimed = {}, set()

    def free(user):
        return user is not None and id(user) not in claimed

    for node in g.nodes:
        if node.op not in ("conv2d", "dense") or dtypes[ptr[g.node_id(node)]] != "float32":
            continue
        a = node_attrs(node)
        w = const(node.inputs[1])
        b = const(node.inputs[2]) if a.use_bias else None
        if w is None or (a.use_bias and b is None):
            continue
        if node.op == "conv2d":
            pads = tuple(a.padding)
            if len(pads) == 4:
                if pads[:2] != pads[2:]:
                    continue  # torch conv2d pads symmetrically
                pads = pads[:2]
            elif len(pads) == 1:
                pads = pads * 2
            if a.layout != "NCHW" or a.kernel_layout != "OIHW" or len(out_shape(node)) != 4:
                continue
        w = np.asarray(w, dtype=np.float32)
        b = None if b is None else np.asarray(b, dtype=np.float32)
        absorbed, cur, residual, act, clip = [], node, None, offload.ACT_NONE, (0.0, 0.0)
        user, _ = _sole(cons, cur)
        if node.op == "conv2d" and free(user) and user.op == "batch_norm":
            ba = node_attrs(user)
            stats = [const(e) for e in user.inputs[1:5]]
            unused_extra = not cons.get((id(user), 1)) and not cons.get((id(user), 2))
            if ba.axis in (1, -3) and all(s is not None for s in stats) and unused_extra:
                gamma, beta, mean, var = (np.asarray(s, dtype=np.float64) for s in stats)
                scale = (gamma if ba.scale else 1.0) / np.sqrt(var + ba.epsilon)
                shift = (beta if ba.center else 0.0) - mean * scale
                w = (w * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
                b = ((0.0 if b is None else b) * scale + shift).astype(np.float32)
                absorbed.append(cur)
                cur = user
                user, _ = _sole(cons, cur)
        if node.op == "conv2d" and free(user) and user.op in ("broadcast_add", "elemwise_add"):
            other = user.inputs[1] if user.inputs[0].node is cur else user.inputs[0]
            if user.inputs[0].node is not user.inputs[1].node and \
                    shapes[ptr[g.node_id(other.node)] + other.index] == out_shape(cur) and \
                    dtypes[ptr[g.node_id(other.node)] + other.index] == "float32":
                residual = other
                absorbed.append(cur)
                cur = user
                user, _ = _sole(cons, cur)
        if free(user) and user.op == "relu":
            act = offload.ACT_RELU
        elif free(user) and user.op == "clip":
            ca = node_attrs(user)
            act, clip = offload.ACT_CLIP, (float(ca.a_min), float(ca.a_max))
        if act != offload.ACT_NONE:
            absorbed.append(cur)
            cur = user
        if node.op == "conv2d":
            attrs = offload.conv_attrs(tuple(a.strides) * (2 if len(a.strides) == 1 else 1), pads,
                                       tuple(a.dilation) * (2 if len(a.dilation) == 1 else 1), a.groups,
                                       b is not None, residual is not None, act, clip)
        else:
            attrs = offload.dense_attrs(b is not None, act, clip)
        claimed.update(id(n) for n in absorbed + [cur])
        plans[g.node_id(cur)] = Plan(node.op, node.inputs[0], w, b, attrs, residual,
                                     [g.node_id(n) for n in absorbed])
    _choose_layouts(g, plans, cons)
    return plans


def _choose_layouts(g, plans, cons):
    """Keep a conv chain's output channels-last when only other conv chains read it (see offload.py)."""
    conv_data = {}  # id(node) of a conv plan's first node -> plan  (data input is input 0)
    residual_of = {}  # id(add node absorbed as residual join) -> plan
    for fid, p in plans.items():
        if p.kind != "conv2d":
            continue
        for nid in p.absorbed + [fid]:
            n = g.nodes[nid]
            if n.op == "conv2d":
                conv_data[id(n)] = p
            elif n.op in ("broadcast_add", "elemwise_add") and p.residual is not None:
                residual_of[id(n)] = p
    if not conv_data:
        return
    finals = {}
    for fid, p in plans.items():
        if p.kind != "conv2d":
            continue
        node = g.nodes[fid]
        users = cons.get((id(node), 0), [])
        ok = bool(users)
        for user, idx in users:
            if user is None:
                ok = False
            elif id(user) in conv_data and idx == 0:
                continue
            elif id(user) in residual_of and residual_of[id(user)].residual.node is node:
                continue
            else:
                ok = False
        if ok:
            p.attrs[14] = 1
            finals[id(node)] = p
    for p in plans.values():
        if p.kind != "conv2d":
            continue
        if id(p.data.node) in finals:
            p.attrs[12] = 1
            p.weight = np.ascontiguousarray(p.weight.transpose(0, 2, 3, 1))  # OHWI for channels-last
        if p.residual is not None and id(p.residual.node) in finals:
            p.attrs[13] = 1
