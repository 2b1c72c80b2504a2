"""The rank ONNX's own shape inference gives each tensor of a model, for the places where the IR cannot tell.

NNVM's ops give shape (1,) where ONNX means a scalar (a full reduction, Gather with a 0-d index, an elementwise op
on such values), so an Unsqueeze or Squeeze of one needs the rank of the ONNX value. The inference runs once, on
the first question (about a second on a large detector), and models that never ask pay nothing.
"""
from __future__ import annotations


class DeclaredRanks:
    def __init__(self, model):
        self._model, self._ranks = model, None

    def get(self, name):
        """The rank of the ONNX tensor ``name`` (None where shape inference does not know it)."""
        if self._ranks is None:
            self._ranks = _infer(self._model)
            self._model = None
        return self._ranks.get(name)


def _infer(model) -> dict:
    import onnx

    if model is None:
        return {}
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except (onnx.shape_inference.InferenceError, ValueError, RuntimeError):
        pass  # a model ONNX cannot infer keeps the ranks it declares
    ranks = {}
    _collect(model.graph, ranks)
    return ranks


def _collect(graph, ranks):
    for vi in (*graph.input, *graph.value_info, *graph.output):
        t = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and t.HasField("shape"):
            ranks[vi.name] = len(t.shape.dim)
    for node in graph.node:
        for a in node.attribute:
            for g in (a.g,) if a.HasField("g") else a.graphs:
                _collect(g, ranks)
