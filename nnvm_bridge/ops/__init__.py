"""The NNVM operator table (data) with shape, dtype and numpy rules."""
from . import ext, nn, reduce, tensor, transform, vision  # noqa: F401  (registration side effects)
from .registry import (ALIASES, OPS, REQUIRED, Attr, AttrDict, OpDef, canonical_name, check_node, get_op,
                       node_attrs, num_outputs, num_visible_outputs, register)

__all__ = ["OPS", "ALIASES", "REQUIRED", "Attr", "AttrDict", "OpDef", "canonical_name", "check_node", "get_op",
           "node_attrs", "num_outputs", "num_visible_outputs", "register"]
