"""to_mxnet: the MXNet emitter (NNVM graph + params -> symbol JSON + numpy params), and the MXNet/Gluon objects
built from them (``objects``).  ``registry.MXNET_EXPORT`` is the handler table, ``register_mxnet_emitter`` the
plug-in hook.  Nothing here imports mxnet at import time.
"""
from .to_mxnet import register_mxnet_emitter, to_mxnet

__all__ = ["to_mxnet", "register_mxnet_emitter"]
