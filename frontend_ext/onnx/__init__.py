"""to_onnx: the ONNX emitter (NNVM graph + params -> onnx.ModelProto / .onnx file).

``exporter.to_onnx`` / ``exporter.save_onnx`` are the entry points; ``registry.ONNX_EXPORT`` is the handler
table, ``register_onnx_handler`` the plug-in hook, and ``builder.Builder`` hides opset differences.
"""
from .exporter import register_onnx_handler, save_onnx, to_onnx

__all__ = ["to_onnx", "save_onnx", "register_onnx_handler"]
