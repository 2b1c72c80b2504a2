"""The context every Relax emitter receives (its ``ctx``)."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.errors import CompileError

from .. import compat


class Ctx:
    """What an emitter may use: the block builder, and static facts about the current node (``node``
    is the same node the emitter receives; ``fail`` names it)."""

    def __init__(self, bb, graph, params, bind_params):
        self.bb = bb
        self.graph = graph
        self.params = params
        self.bind_params = bind_params
        self.node = None
        self.in_shapes = []
        self.in_dtypes = []
        self.out_shapes = []
        self.out_dtypes = []
        self.const_inputs = []  # numpy value of each input when it is a bound parameter, else None

    def emit(self, expr):
        return self.bb.emit(expr)

    def const(self, value, dtype=None):
        rx = compat.relax()
        arr = np.asarray(value, dtype=dtype or self.out_dtypes[0])
        return rx.const(arr, str(arr.dtype))

    def scalar(self, value, dtype):
        """A scalar constant in ``dtype`` (integers are rounded the way numpy casts them)."""
        rx = compat.relax()
        return rx.const(np.asarray(value).astype(dtype), dtype)

    def fail(self, message):
        raise CompileError(message, node=self.node.name, op=self.node.op)


def _op():
    return compat.relax().op
