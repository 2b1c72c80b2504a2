"""Plan the CPU/GPU offload: conv2d/dense chains, grouped into segments that run as one packed call.

A chain is conv -> [batch_norm] -> [add residual] -> [relu|clip] (or dense -> [relu|clip]) with
constant weights; BN is folded into the weight and bias. A channel concat reading a chain is planned
too (``_plan_concats``). Connected chains form a *segment*: one
``relax.call_dps_packed`` runs them all in PyTorch, so the tensors passed between them never enter
TVM's buffers. One call per chain cost MobileNetV2 about 2 ms per run in copies, DLPack views and
VM calls (53 calls), as much as a third of its oneDNN time.

Works on the NNVM graph (with inferred shapes/dtypes), where consumers and constant parameters are
easy to see.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnvm_bridge.ops import node_attrs

from . import offload

ADDS = ("broadcast_add", "elemwise_add")


@dataclass
class Plan:
    kind: str  # "conv2d", "dense" or "concat" (channel concat of 4-D tensors, no weights)
    data: object  # Entry of the data input (concat: the first one)
    weight: np.ndarray | None
    bias: np.ndarray | None
    conv: tuple = ()  # conv2d: (strides, pads, dilation, groups), each spatial pair a 2-tuple
    residual: object = None  # Entry or None
    act: int = offload.ACT_NONE
    clip: tuple = (0.0, 0.0)
    absorbed: list = field(default_factory=list)  # node ids inside the chain (not the final one)
    inputs: list = field(default_factory=list)  # concat: every input Entry

    def reads(self):
        """The Entries this chain reads from other nodes."""
        return self.inputs if self.kind == "concat" else [e for e in (self.data, self.residual) if e is not None]


@dataclass
class Segment:
    members: list  # final node ids of the chains, in graph order
    inputs: list = field(default_factory=list)  # Entries read from outside the segment, in first-use order
    outputs: list = field(default_factory=list)  # member ids whose value is read outside the segment


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


def _pair(v):
    v = tuple(int(x) for x in v)
    return v * 2 if len(v) == 1 else v


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
        conv = ()
        if node.op == "conv2d":
            pads = tuple(a.padding)
            if len(pads) == 4:
                if pads[:2] != pads[2:]:
                    continue  # torch conv2d pads symmetrically
                pads = pads[:2]
            if a.layout != "NCHW" or a.kernel_layout != "OIHW" or len(out_shape(node)) != 4:
                continue
            conv = (_pair(a.strides), _pair(pads), _pair(a.dilation), int(a.groups))
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
        if node.op == "conv2d" and free(user) and user.op in ADDS:
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
        claimed.update(id(n) for n in absorbed + [cur])
        plans[g.node_id(cur)] = Plan(node.op, node.inputs[0], w, b, conv, residual, act, clip,
                                     [g.node_id(n) for n in absorbed])
    _plan_concats(g, plans)
    return plans


def _plan_concats(g, plans):
    """Channel concats of float32 4-D tensors that read an offloaded chain (SqueezeNet's fire modules,
    Inception's branches): in a segment they stay channels-last, instead of leaving the segment for
    TVM's concatenate and coming back."""
    shapes, dtypes, ptr = g.attrs["shape"], g.attrs["dtype"], g.node_row_ptr
    for nid, node in enumerate(g.nodes):
        if node.op != "concatenate" or dtypes[ptr[nid]] != "float32" or len(shapes[ptr[nid]] or ()) != 4:
            continue
        if node_attrs(node).axis not in (1, -3) or not any(g.node_id(e.node) in plans for e in node.inputs):
            continue
        if any(dtypes[ptr[g.node_id(e.node)] + e.index] != "float32" for e in node.inputs):
            continue
        plans[nid] = Plan("concat", node.inputs[0], None, None, inputs=list(node.inputs))


def emission_order(g, plans):
    """Node ids (variables and the nodes TVM computes) and Segments, in an order valid for emission.

    A topological sort that grows the open segment as far as it can: a ready chain joins it; else a
    ready TVM node that does not read the open segment is emitted before it; only when neither is
    left does the segment close (it is emitted, and its values become readable). Graph order alone
    is not enough: NNVM orders nodes depth-first from the outputs, which can put a TVM node between
    two chains that do not depend on it and split one segment into two.
    """
    import heapq

    cons = _consumers(g)
    owner = {}  # node id of every node inside a chain -> the chain's final node id
    for fid, p in plans.items():
        for nid in p.absorbed + [fid]:
            owner[nid] = fid
    order = [nid for nid, node in enumerate(g.nodes) if node.is_variable]
    deps, users = {}, {}  # unit -> units it reads; unit -> units reading it (units: TVM nodes and chains)
    for nid, node in enumerate(g.nodes):
        if node.is_variable:
            continue
        unit = owner.get(nid, nid)
        for e in node.inputs:
            src = g.node_id(e.node)
            src = owner.get(src, src)
            if src != unit and not g.nodes[src].is_variable:
                deps.setdefault(unit, set()).add(src)
                users.setdefault(src, set()).add(unit)
    units = sorted({owner.get(nid, nid) for nid, node in enumerate(g.nodes) if not node.is_variable})
    waiting = {u: len(deps.get(u, ())) for u in units}
    ready_chains = [u for u in units if u in plans and not waiting[u]]
    ready_nodes = [u for u in units if u not in plans and not waiting[u]]
    seg, inside, blocked = None, set(), []  # inside: the open segment's members; blocked: ready TVM
    # nodes that read the open segment

    def done(u):
        for v in users.get(u, ()):
            waiting[v] -= 1
            if not waiting[v]:
                heapq.heappush(ready_chains if v in plans else ready_nodes, v)

    def close():
        for fid in seg.members:
            for user, _ in cons.get((id(g.nodes[fid]), 0), []):
                if user is None or owner.get(g.node_id(user)) not in inside:
                    seg.outputs.append(fid)
                    break
        order.append(seg)

    while ready_chains or ready_nodes or blocked:
        if ready_chains:
            fid = heapq.heappop(ready_chains)
            seg = seg or Segment([])
            p = plans[fid]
            for e in p.reads():
                if g.node_id(e.node) not in inside and \
                        all(e.node is not x.node or e.index != x.index for x in seg.inputs):
                    seg.inputs.append(e)
            seg.members.append(fid)
            inside.add(fid)
            done(fid)
        elif ready_nodes:
            nid = heapq.heappop(ready_nodes)
            if deps.get(nid, set()) & inside:
                blocked.append(nid)
                continue
            order.append(nid)
            done(nid)
        else:  # only nodes reading the open segment are left: close it
            close()
            seg, inside = None, set()
            for nid in blocked:
                heapq.heappush(ready_nodes, nid)
            blocked = []
    if seg is not None:
        close()
    # a segment of concats alone has nothing to run in PyTorch: TVM concatenates
    out = []
    for item in order:
        if isinstance(item, Segment) and all(plans[m].kind == "concat" for m in item.members):
            out += item.members
        else:
            out.append(item)
    return out
