"""to_onnx: the ONNX emitter (NNVM graph + params -> onnx.ModelProto / .onnx file).

``exporter.to_onnx`` / ``exporter.save_onnx`` are the entry points; ``registry.ONNX_EXPORT`` is the
handler table (``@ONNX_EXPORT.register("op", since=N)``, also for user plug-in ops), and
``builder.Builder`` hides opset differences.
"""
