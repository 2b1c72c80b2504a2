"""MXNet importer (``from_mxnet``): symbol JSON + params or a Gluon block -> NNVM IR.

Modules: ``importer`` (driver: loads the handlers, holds the plug-in hook), ``registry`` (the
MXNet op -> handler table), ``defaults`` (MXNet attribute specs and defaults, the typed reader),
``context`` (node emission, shape checks), ``handlers_nn`` / ``handlers_tensor`` / ``handlers_math``
(one small handler per MXNet op), ``gluon`` (a Gluon HybridBlock read as symbol JSON + params).
Nothing here imports mxnet at import time; ``gluon`` imports it when a block is read.

Plug-ins add ops with :func:`register_mxnet_op`.
"""
from .importer import from_mxnet, register_mxnet_op, supported_ops

__all__ = ["from_mxnet", "register_mxnet_op", "supported_ops"]
