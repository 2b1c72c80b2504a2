"""NNVM-style frontends and emitters: from_onnx, from_mxnet, to_onnx, to_mxnet.

Each name imports its implementation lazily so ``import nnvm_bridge`` stays light.
"""
from __future__ import annotations


def from_mxnet(symbol, arg_params=None, aux_params=None, shape=None, dtype=None):
    """MXNet symbol JSON (text, dict, path), mx.sym.Symbol or Gluon HybridBlock -> (Graph, params)."""
    from .mxnet.importer import from_mxnet as impl

    return impl(symbol, arg_params=arg_params, aux_params=aux_params, shape=shape, dtype=dtype)


def from_onnx(model, shape=None, dtype=None):
    """ONNX ModelProto, path or bytes -> (Graph, params)."""
    from .onnx.importer import from_onnx as impl

    return impl(model, shape=shape, dtype=dtype)


def to_onnx(graph, params, opset=None, dynamic_batch=False, **kwargs):
    """(Graph, params) -> onnx.ModelProto."""
    from frontend_ext.onnx.exporter import to_onnx as impl

    return impl(graph, params, opset=opset, dynamic_batch=dynamic_batch, **kwargs)


def to_mxnet(graph, params):
    """(Graph, params) -> (symbol_json, arg_params, aux_params) with numpy params; no MXNet needed."""
    from frontend_ext.mxnet.to_mxnet import to_mxnet as impl

    return impl(graph, params)


__all__ = ["from_mxnet", "from_onnx", "to_onnx", "to_mxnet"]
