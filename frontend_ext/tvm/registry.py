"""The table of NNVM-op -> Relax emitters.

An emitter is ``fn(ctx, node, attrs, inputs)``: ``ctx`` the :class:`relax_emitters.context.Ctx` (block
builder, static shapes and dtypes of the node), ``node`` the IR node, ``attrs`` its parsed attributes,
``inputs`` the Relax expressions of its inputs. It returns one expression, or a list for several outputs.
The driver ``to_relax`` imports the built-in emitter modules and marks the table loaded.
"""
from __future__ import annotations

from nnvm_bridge.registry import Registry

RELAX_EXPORT = Registry("Relax")
