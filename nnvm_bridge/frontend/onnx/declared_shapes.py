"""What ONNX's own shape inference (with data propagation) says of each tensor, for where the IR cannot tell.

- Ranks: NNVM's ops give shape (1,) where ONNX means a scalar (a full reduction, Gather with a 0-d index, an
  elementwise op on such values), so an Unsqueeze or Squeeze of one needs the rank of the ONNX value.
- Dims: a Resize to sizes computed at run time (torchvision's detection transform scales the image by
  min(320 / min(H, W), 640 / max(H, W))) keeps the sizes that shape arithmetic fixes (batch and channels).

The inference runs once, on the first question (about a second on a large detector); models that never ask pay
nothing.
"""
from __future__ import annotations


class DeclaredShapes:
    def __init__(self, model):
        self._model, self._dims = model, None

    def dims(self, name):
        """The dims of the ONNX tensor ``name``: a tuple of ints and None (unknown), or None without a rank."""
        if self._dims is None:
            self._dims = _infer(self._model)
            self._model = None
        return self._dims.get(name)

    def rank(self, name):
        d = self.dims(name)
        return None if d is None else len(d)


def _infer(model) -> dict:
    import onnx

    if model is None:
        return {}
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - only hints: a model ONNX cannot infer keeps the shapes it declares
        pass
    dims = {}
    _collect(model.graph, dims)
    return dims


def _collect(graph, dims):
    for vi in (*graph.input, *graph.value_info, *graph.output):
        t = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and t.HasField("shape"):
            dims[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
    for node in graph.node:
        for a in node.attribute:
            for g in (a.g,) if a.HasField("g") else a.graphs:
                _collect(g, dims)
