"""ONNX importer (``from_onnx``): ONNX ModelProto / file -> NNVM IR.

Modules: ``importer`` (driver: loads the converters, holds the plug-in hook), ``registry`` (the versioned
ONNX op -> converter table), ``context`` (node emission, value lookup), ``convert_*`` (one converter per ONNX
op and schema version), ``tensors`` (reading models and initializers), ``validate`` (model checks).

Plug-ins add ops with :func:`register_onnx_op`.
"""
from .importer import from_onnx, register_onnx_op, supported_ops

__all__ = ["from_onnx", "register_onnx_op", "supported_ops"]
