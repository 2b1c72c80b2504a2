"""The ``ctx`` an ONNX export handler gets: the builder and the node's inferred shapes/dtypes.

The node itself, its parsed attrs and its input value names come as the handler's other
arguments, ``fn(ctx, node, attrs, inputs)``.
"""
from __future__ import annotations

from nnvm_bridge.errors import ShapeError


class NodeContext:
    def __init__(self, builder, node, in_shapes, in_dtypes, out_shapes, out_dtypes, in_params=()):
        self.b = builder
        self.node = node  # named in shape errors
        self.in_shapes = in_shapes
        self.in_dtypes = in_dtypes
        self.out_shapes = out_shapes
        self.out_dtypes = out_dtypes
        # (body, formal shapes, formal dtypes, {formal: outer value name}) -> GraphProto; set by the exporter
        self.build_body = None
        self.in_params = in_params  # the value of each input that is a parameter, else None

    def param(self, i: int):
        """The value (numpy) of input ``i`` when it is a parameter, else None: handlers may fold it."""
        return self.in_params[i] if i < len(self.in_params) else None

    @property
    def opset(self) -> int:
        return self.b.opset

    def shape(self, i: int = 0) -> tuple:
        s = self.in_shapes[i] if i < len(self.in_shapes) else None
        if s is None:
            raise ShapeError(f"the ONNX export needs the shape of input {i}; give the graph inputs' shapes",
                             node=self.node.name, op=self.node.op)
        return tuple(s)

    def out_shape(self, k: int = 0) -> tuple:
        s = self.out_shapes[k] if k < len(self.out_shapes) else None
        if s is None:
            raise ShapeError("the ONNX export needs this node's output shape; give the graph inputs' shapes",
                             node=self.node.name, op=self.node.op)
        return tuple(s)

    def ndim(self, i: int = 0) -> int:
        return len(self.shape(i))

    def dtype(self, i: int = 0) -> str:
        d = self.in_dtypes[i] if i < len(self.in_dtypes) else None
        return d or "float32"

    def out_dtype(self, k: int = 0) -> str:
        d = self.out_dtypes[k] if k < len(self.out_dtypes) else None
        return d or self.dtype(0)
