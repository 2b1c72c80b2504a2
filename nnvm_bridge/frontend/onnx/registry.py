"""The ONNX import table: op type -> one converter per schema version of the default domain.

``@ONNX_IMPORT.register("Conv", since=(1, 11, 22))`` files a converter under the ONNX schema
versions it implements; ``ONNX_IMPORT.get(op, opset)`` picks the largest version <= the model's
opset and never a newer one (an op whose converters are all newer than the model raises
UnsupportedOpsetError naming the versions there are).  Every converter is called as
``fn(ctx, node, attrs, inputs)``:

* ``ctx``: the :class:`~.context.ImportContext` (values, shapes and dtypes by tensor name; ``emit``);
* ``node``: the :class:`~.context.OnnxNode` (``op_type``, ``name``, ``outputs``);
* ``attrs``: the node's attributes, {name: python value} (strings decoded);
* ``inputs``: the node's input tensor names, an :class:`~.context.OnnxInputs` (an omitted optional
  input is None, also past the end), resolved through ``ctx``.

tests/test_onnx_import_versions.py checks the registered versions against ONNX's schema history.
The importer (importer.py) imports every converter module and then marks the table loaded.
"""
from __future__ import annotations

from ...registry import Registry

ONNX_IMPORT = Registry("ONNX import", versioned=True)
