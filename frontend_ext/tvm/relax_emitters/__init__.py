"""One small Relax emitter per NNVM op, by op family (registered in ``frontend_ext.tvm.registry``)."""
