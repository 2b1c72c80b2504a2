"""The NNVM operator table (data) with shape, dtype and numpy rules."""
from . import ext, nn, reduce, tensor, transform, vision  # noqa: F401  (registration side effects)
from . import rnn  # noqa: F401,E402  (the fused RNN extension op)
from . import numpy_ref  # noqa: F401,E402  (numpy compute rules for ops registered without one)
from .registry import (ALIASES, OPS, REQUIRED, Attr, AttrDict, OpDef, canonical_name, check_node, get_op,
                       node_attrs, num_outputs, num_visible_outputs, register)

__all__ = ["OPS", "ALIASES", "REQUIRED", "Attr", "AttrDict", "OpDef", "canonical_name", "check_node", "get_op",
           "node_attrs", "num_outputs", "num_visible_outputs", "register"]
