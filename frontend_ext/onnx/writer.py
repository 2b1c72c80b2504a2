"""Tensor sinks for initializers: inline (raw bytes) or streamed to an external-data file.

The streaming sink writes each parameter's bytes straight to the ``.data`` file and puts only a
reference (location, offset, length) in the protobuf, so a model larger than protobuf's 2 GB
limit is never materialised in memory: peak memory stays close to the weights themselves.
"""
from __future__ import annotations

import os

import numpy as np
from onnx import TensorProto

from nnvm_bridge.errors import BridgeError, ParamsError
from nnvm_bridge.ir import dtypes as _dt

# Above this many bytes of parameters a file export switches to external data (protobuf's hard
# limit is 2 GiB for the whole model; keep a margin for the graph itself).
EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 27
# Tensors smaller than this stay inline even in external-data mode (as onnx.save does).
INLINE_MAX_BYTES = 1024
_ALIGN = 4096  # page-aligned offsets let readers mmap tensors


def _contiguous(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == object or arr.dtype.kind in "OUSV" and arr.dtype.name != "bfloat16":
        raise ParamsError(f"a parameter of dtype {arr.dtype} is not a numeric array")
    return np.ascontiguousarray(arr)


def _fill_header(t: TensorProto, name: str, arr):
    """Name, dims and ONNX data type of ``t`` (inline and external tensors alike)."""
    try:
        t.data_type = _dt.to_onnx(_dtype_name(arr))
    except BridgeError:
        raise ParamsError(f"parameter {name!r} has dtype {arr.dtype}, which ONNX cannot store") from None
    t.name = name
    t.dims.extend(int(d) for d in arr.shape)


def write_inline(t: TensorProto, name: str, arr) -> TensorProto:
    """Fill ``t`` from the array's raw bytes (never Python lists)."""
    arr = _contiguous(arr)
    _fill_header(t, name, arr)
    if arr.dtype.byteorder == ">":  # pragma: no cover - big-endian hosts
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    t.raw_data = arr.tobytes()
    return t


def _dtype_name(arr) -> str:
    return "bfloat16" if arr.dtype.name == "bfloat16" else arr.dtype.name


class InlineSink:
    """Every initializer inside the protobuf."""

    def write_into(self, t: TensorProto, name: str, arr):
        return write_inline(t, name, arr)

    def close(self):
        pass


class ExternalDataSink:
    """Initializers of INLINE_MAX_BYTES or more are appended to one ``.data`` file."""

    def __init__(self, data_path: str, location: str, inline_max: int = INLINE_MAX_BYTES):
        self.location = location
        self.inline_max = inline_max
        self._file = open(data_path, "wb")
        self._offset = 0

    def write_into(self, t: TensorProto, name: str, arr):
        arr = _contiguous(arr)
        if arr.nbytes < self.inline_max:
            return write_inline(t, name, arr)
        _fill_header(t, name, arr)
        pad = (-self._offset) % _ALIGN
        if pad:
            self._file.write(b"\0" * pad)
            self._offset += pad
        # memoryview: the tensor's bytes go to the file without an extra copy
        self._file.write(memoryview(arr.reshape(-1)).cast("B"))
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.location), ("offset", str(self._offset)),
                           ("length", str(arr.nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        self._offset += arr.nbytes
        return t

    def close(self):
        self._file.close()


def data_file_for(path: str) -> tuple:
    """(absolute data path, location relative to the model) for a model path."""
    location = os.path.basename(path) + ".data"
    return os.path.join(os.path.dirname(os.path.abspath(path)), location), location


def save_model_proto(model, path: str, external: bool | None = None):
    """Save a ready ModelProto; external data when asked or when it would not fit protobuf."""
    import onnx

    if external is None:
        size = sum(t.ByteSize() for t in model.graph.initializer)
        external = size > EXTERNAL_DATA_THRESHOLD
    if external:
        _, location = data_file_for(path)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=INLINE_MAX_BYTES)
    else:
        onnx.save_model(model, path)
