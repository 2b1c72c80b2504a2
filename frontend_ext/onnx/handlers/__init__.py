"""ONNX handlers, by category; importing this package registers them all."""
from . import elementwise, nn, normalization, reduce, tensor, transform  # noqa: F401
