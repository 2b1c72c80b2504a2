"""Passes over the NNVM graph IR; each is a function Graph -> Graph."""
from .infer import infer_shape, infer_type

__all__ = ["infer_shape", "infer_type"]
