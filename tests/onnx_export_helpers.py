"""Shared helpers for the to_onnx tests: tiny IR graphs built by hand, run in onnxruntime."""
from __future__ import annotations

import numpy as np

from nnvm_bridge.ir.graph import Graph, Node, variable
from tolerance import assert_close  # noqa: E402,F401


def fmt(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(fmt(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if value is None:
        return "None"
    return str(value)


def node(op, name, inputs, **attrs) -> Node:
    return Node(op, name, [i if not isinstance(i, Node) else i[0] for i in inputs],
                {k: fmt(v) for k, v in attrs.items()})


def data_var(name, arr) -> Node:
    from nnvm_bridge.ir import dtypes

    return variable(name, {"__shape__": fmt(tuple(arr.shape)), "__dtype__": str(dtypes.to_mxnet(arr.dtype.name))})


def single_op(op, attrs, data: dict, params: dict | None = None, outputs: int = 1):
    """A graph with one op node over variables: ``data`` are graph inputs, ``params`` initializers
    (their order in the op's inputs: all of ``data`` then all of ``params``, unless names are
    given by an ``order`` key)."""
    params = params or {}
    order = attrs.pop("_order", None) or list(data) + list(params)
    vars_ = {k: data_var(k, v) for k, v in data.items()}
    vars_.update({k: variable(k) for k in params})
    n = node(op, f"{op}_node", [vars_[k] for k in order], **attrs)
    g = Graph([n[i] for i in range(outputs)])
    return g, dict(params), dict(data)


def run_ort(model_or_path, feeds):
    import onnxruntime as ort

    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)
