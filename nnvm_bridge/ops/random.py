"""Random number ops (extensions, level 6): random_uniform, random_normal (ONNX RandomUniform/RandomNormal;
the *Like, Bernoulli and Multinomial ops are built from them by the importer).

They have no numpy rule on purpose: a rule would let constant folding turn a random tensor into a fixed
parameter. Their numbers cannot match another runtime's (each has its own generator); what the op table
promises is the shape, dtype and distribution. ``seed`` is kept for the emitters (MXNet and ONNX take it
as theirs; the Relax emitter derives its counter-based stream from it, so a compiled model gives the same
numbers on every run).
"""
from __future__ import annotations

from .registry import Attr, register

FLOAT_DTYPES = ("float32", "float64", "float16")


def _declared_shape(a, shapes):
    return [tuple(a.shape)]


def _declared_dtype(a, dtypes):
    return [a.dtype]


register("random_uniform", inputs=(),
         attrs={"shape": Attr("shape"), "low": Attr("float", 0.0), "high": Attr("float", 1.0),
                "dtype": Attr("dtype", "float32", choices=FLOAT_DTYPES), "seed": Attr("float", None, optional=True)},
         infer_shape=_declared_shape, infer_type=_declared_dtype, level=6, ext=True,
         doc="uniform samples in [low, high) of the given shape; never folded (no numpy rule)")
register("random_normal", inputs=(),
         attrs={"shape": Attr("shape"), "mean": Attr("float", 0.0), "scale": Attr("float", 1.0),
                "dtype": Attr("dtype", "float32", choices=FLOAT_DTYPES), "seed": Attr("float", None, optional=True)},
         infer_shape=_declared_shape, infer_type=_declared_dtype, level=6, ext=True,
         doc="normal samples N(mean, scale^2) of the given shape; never folded (no numpy rule)")
