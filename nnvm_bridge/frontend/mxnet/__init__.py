"""MXNet importer (``from_mxnet``): symbol JSON + params or a Gluon block -> NNVM IR.

Modules: ``importer`` (driver), ``op_map`` (MXNet op -> handler table, plug-in hook),
``defaults`` (MXNet attribute kinds and defaults), ``context`` (node emission, shape checks),
``handlers_nn`` / ``handlers_tensor`` / ``handlers_math`` (one small handler per MXNet op).
Nothing here imports mxnet; Gluon blocks are read through ``frontend_ext.mxnet.gluon``.
"""
