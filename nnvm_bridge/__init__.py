"""nnvm_bridge: MXNet <-> ONNX conversion through the NNVM graph IR, and TVM compilation.

Importing this package needs only numpy and onnx; MXNet and TVM are imported lazily by the
functions that need them.
"""
from .errors import (AttributeParseError, BridgeError, CompileError, DTypeError, InvalidModelError,
                     MissingDependencyError, ParamsError, ShapeError, UnsupportedOperatorError,
                     UnsupportedOpsetError)
from .ir import Entry, Graph, Node, load_json, save_json
from .version import __version__
from . import frontend  # noqa: E402  (light: its functions import their implementations lazily)
from .api import compile_model, export_model, import_model, import_to_gluon, load_compiled


__all__ = ["BridgeError", "AttributeParseError", "CompileError", "DTypeError", "InvalidModelError",
           "MissingDependencyError", "ParamsError", "ShapeError", "UnsupportedOperatorError",
           "UnsupportedOpsetError", "Entry", "Graph", "Node", "load_json", "save_json", "__version__",
           "frontend", "export_model", "import_model", "import_to_gluon", "compile_model", "load_compiled"]
