"""MXNet export handlers, by category; to_mxnet imports each module (which registers its handlers)."""
