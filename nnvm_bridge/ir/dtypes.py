"""The three incompatible dtype numberings (NNVM, MXNet mshadow, ONNX) and numpy.

Internally the IR names dtypes by their numpy name ("float32", "int64", "bool", ...; bfloat16 and the
float8 types by their ml_dtypes name, whose numpy arrays hold them).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

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
    "float8_e4m3fn": (None, None, 17),
    "float8_e4m3fnuz": (None, None, 18),
    "float8_e5m2": (None, None, 19),
    "float8_e5m2fnuz": (None, None, 20),
    "float8_e8m0fnu": (None, None, 24),
}


class Float8Format(NamedTuple):
    """The bit layout of a float8 type: 1 sign bit, then exponent and ``mantissa`` bits; codes are
    ordered by magnitude, so ``max_code`` bounds the finite ones. ``unsigned_zero`` (the fnuz types):
    0x80 is the NaN and -0 does not exist."""
    mantissa: int
    bias: int
    max_code: int
    nan_code: int
    inf_code: Optional[int]
    unsigned_zero: bool


FLOAT8 = {
    "float8_e4m3fn": Float8Format(3, 7, 0x7E, 0x7F, None, False),
    "float8_e4m3fnuz": Float8Format(3, 8, 0x7F, 0x80, None, True),
    "float8_e5m2": Float8Format(2, 15, 0x7B, 0x7E, 0x7C, False),
    "float8_e5m2fnuz": Float8Format(2, 16, 0x7F, 0x80, None, True),
}
E8M0 = "float8_e8m0fnu"  # a power of two (codes 0..254: 2**(code - 127)) or NaN (255): no sign, no zero
FLOAT8_NAMES = tuple(FLOAT8) + (E8M0,)
ML_DTYPES = ("bfloat16",) + FLOAT8_NAMES  # numpy holds these as ml_dtypes' types (numpy kind "V")

NNVM_CODE = {k: v[0] for k, v in _TABLE.items() if v[0] is not None}
MXNET_CODE = {k: v[1] for k, v in _TABLE.items() if v[1] is not None}
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
    if name is None and getattr(dtype, "__name__", None) in ML_DTYPES:
        return dtype.__name__
    raise DTypeError(f"unsupported dtype {dtype!r}")


def to_numpy(name: str) -> np.dtype:
    name = canonical(name)
    if name in ML_DTYPES:
        try:
            import ml_dtypes  # installed with onnx

            return np.dtype(getattr(ml_dtypes, name))
        except ImportError as exc:
            raise DTypeError(f"{name} needs the ml_dtypes package") from exc
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
    name = canonical(name)
    if name not in MXNET_CODE:
        raise DTypeError(f"MXNet has no {name} arrays")
    return MXNET_CODE[name]


def to_onnx(name) -> int:
    return ONNX_CODE[canonical(name)]


def dtype_hint(name) -> str:
    """A variable's ``__dtype__`` hint: MXNet's code, as MXNet writes it, or the IR's name for the dtypes
    MXNet has no code for (float8), which MXNet never reads."""
    name = canonical(name)
    return str(MXNET_CODE[name]) if name in MXNET_CODE else name


def from_dtype_hint(hint) -> str:
    hint = str(hint).strip()
    return from_mxnet(int(hint)) if hint.lstrip("-").isdigit() else canonical(hint)


def is_float(name) -> bool:
    return canonical(name) in ("float16", "float32", "float64", "bfloat16") or is_float8(name)


def is_float8(name) -> bool:
    return canonical(name) in FLOAT8_NAMES
