"""to_onnx: the ONNX emitter (NNVM graph + params -> onnx.ModelProto / .onnx file).

``exporter.to_onnx`` / ``exporter.save_onnx`` are the entry points; ``registry.handler``
registers converters (also for user plug-in ops), ``builder.Builder`` hides opset differences.
"""
