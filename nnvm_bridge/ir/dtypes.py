"""The three incompatible dtype numberings (NNVM, MXNet mshadow, ONNX) and numpy.

Internally the IR names dtypes by their numpy name ("float32", "int64", "bool", ...).
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError

# name -> (nnvm TCODE, mxnet mshadow flag, onnx TensorProto code)
_TABLE = {
    "float32": (0, 0, 1),
    "float64": (1, 1, 11),
    "float16": (2, 2, 10),
    "uint8": (3, 3, 2),
    "int32": (4, 4, 6),
    "int8": (5, 5, 3),
    "int64": (6, 6, 7),
    "int16": (7, 8, 5),
    "uint16": (8, 9, 4),
    "uint32": (9, 10, 12),
    "uint64": (10, 11, 13),
    "bool": (11, 7, 9),
    "bfloat16": (None, 12, 16),
}

NNVM_CODE = {k: v[0] for k, v in _TABLE.items() if v[0] is not None}
MXNET_CODE = {k: v[1] for k, v in _TABLE.items()}
ONNX_CODE = {k: v[2] for k, v in _TABLE.items()}
_FROM_NNVM = {v: k for k, v in NNVM_CODE.items()}
_FROM_MXNET = {v: k for k, v in MXNET_CODE.items()}
_FROM_ONNX = {v: k for k, v in ONNX_CODE.items()}

DTYPE_NAMES = tuple(_TABLE)


def canonical(dtype) -> str:
    """Normalise a numpy dtype, type or name to the IR's dtype name."""
    if isinstance(dtype, str):
        name = dtype.strip().lower()
        if name in _TABLE:
            return name
        if name in ("float", "single"):
            return "float32"
        if name in ("double",):
            return "float64"
        if name in ("half",):
            return "float16"
        if name in ("int", "long"):
            return "int64"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    except Exception:
        name = None
    if name in _TABLE:
        return name
    if name is None and getattr(dtype, "__name__", None) == "bfloat16":
        return "bfloat16"
    raise DTypeError(f"unsupported dtype {dtype!r}")


def to_numpy(name: str) -> np.dtype:
    name = canonical(name)
    if name == "bfloat16":
        try:
            import ml_dtypes  # optional

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError as exc:
            raise DTypeError("bfloat16 needs the ml_dtypes package") from exc
    return np.dtype(name)


def from_nnvm(code: int) -> str:
    try:
        return _FROM_NNVM[int(code)]
    except (KeyError, ValueError, TypeError):
        raise DTypeError(f"unknown NNVM dtype code {code!r}") from None


def from_mxnet(code: int) -> str:
    try:
        return _FROM_MXNET[int(code)]
    except (KeyError, ValueError, TypeError):
        raise DTypeError(f"unknown MXNet dtype code {code!r}") from None


def from_onnx(code: int) -> str:
    try:
        return _FROM_ONNX[int(code)]
    except (KeyError, ValueError, TypeError):
        raise DTypeError(f"unsupported ONNX tensor type {code!r}") from None


def to_nnvm(name) -> int:
    name = canonical(name)
    if name not in NNVM_CODE:
        raise DTypeError(f"dtype {name} has no NNVM code")
    return NNVM_CODE[name]


def to_mxnet(name) -> int:
    return MXNET_CODE[canonical(name)]


def to_onnx(name) -> int:
    return ONNX_CODE[canonical(name)]


def is_float(name) -> bool:
    return canonical(name) in ("float16", "float32", "float64", "bfloat16")
