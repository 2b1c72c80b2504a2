"""The NNVM operator table (data) with shape, dtype and numpy rules."""
# Importing the op modules registers their ops, in this order (the order of OPS).
from . import (tensor, ext, nn, reduce, transform, vision, rnn, dynamic, quantize, control, roi,  # noqa: F401,I001
               scatter, datadep, einsum, image, random, cumulative)
from . import runtime_resize  # noqa: F401,I001
from .registry import (ALIASES, OPS, REQUIRED, Attr, AttrDict, OpDef, canonical_name, check_node, get_op,
                       node_attrs, num_outputs, num_visible_outputs, register)

__all__ = ["OPS", "ALIASES", "REQUIRED", "Attr", "AttrDict", "OpDef", "canonical_name", "check_node", "get_op",
           "node_attrs", "num_outputs", "num_visible_outputs", "register"]
