"""ONNX export handlers, by category; the exporter imports each module (which registers its handlers)."""
