"""Inference simplification: drop training-only ops and outputs."""
from __future__ import annotations

from ..graph import Entry, Graph, Node
from .rewrite import rewrite

# Ops that are the identity at inference time (output 0 = input 0).
IDENTITY_OPS = ("dropout", "block_grad", "copy")
# Outputs that only matter while training: op -> indices of its visible-only-in-training outputs.
TRAINING_OUTPUTS = {"batch_norm": (1, 2), "dropout": (1,)}


def simplify_inference(graph: Graph) -> Graph:
    """Remove dropout, block_grad and copy; drop batch_norm's mean/var from the graph outputs.

    batch_norm itself is kept (its output 0 is what inference uses).  A consumer of dropout's
    mask gets ``ones_like(data)``, which is what the mask is when nothing is dropped.  Graph
    outputs that only exist for training are removed unless nothing else would be left.
    """
    def visit(node: Node, inputs, rw):
        if node.op not in IDENTITY_OPS:
            return None
        data = inputs[0]
        if node.op == "dropout":
            mask = Node("ones_like", node.name + "_mask", [data])
            return [data, Entry(mask, 0)]
        return [data]

    def keep(e: Entry) -> bool:
        return e.index not in TRAINING_OUTPUTS.get(e.node.op, ())

    old_kept = [keep(e) for e in graph.outputs]
    if not any(old_kept):
        old_kept = [True] * len(graph.outputs)

    def choose_outputs(new_outputs):
        return [e for e, k in zip(new_outputs, old_kept) if k]

    return rewrite(graph, visit, outputs=choose_outputs)
