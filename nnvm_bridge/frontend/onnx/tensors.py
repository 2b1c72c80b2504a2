"""Loading ONNX models and tensors safely (external data only from inside the model's folder)."""
from __future__ import annotations

import os

import numpy as np

from ...errors import InvalidModelError, ParamsError


def load_model(model):
    """(ModelProto, base_dir, file label) from a ModelProto, a path or serialized bytes."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model, None, None
    if isinstance(model, (bytes, bytearray, memoryview)):
        try:  # from bytes nothing external is loaded: there is no folder to resolve it against
            return onnx.load_model_from_string(bytes(model)), None, None
        except Exception as exc:  # protobuf DecodeError and friends
            raise InvalidModelError(f"not an ONNX model: {exc}") from None
    if not isinstance(model, (str, os.PathLike)):
        raise InvalidModelError(f"expected an ONNX ModelProto, a path or bytes, got {type(model).__name__}")
    path = os.fspath(model)
    if os.path.isdir(path):
        raise InvalidModelError("expected an ONNX file, got a directory", file=path)
    if not os.path.isfile(path):
        raise InvalidModelError("no such ONNX file", file=path)
    try:
        m = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise InvalidModelError(f"not an ONNX model: {exc}", file=path) from None
    return m, os.path.dirname(os.path.abspath(path)), path


def _external_path(t, base_dir, file):
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location")
    if not loc:
        raise ParamsError(f"initializer {t.name!r} has external data without a location", file=file)
    if base_dir is None:
        raise ParamsError(f"initializer {t.name!r} uses external data; load the model from its path",
                          file=file)
    base = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(base, loc))
    if os.path.isabs(loc) or os.path.commonpath([base, full]) != base:
        raise ParamsError(f"initializer {t.name!r}: external data {loc!r} lies outside the model's folder",
                          file=file)
    if not os.path.isfile(full):
        raise ParamsError(f"initializer {t.name!r}: external data file {loc!r} not found", file=file)
    return full, int(info.get("offset", 0) or 0), info.get("length")


def tensor_to_array(t, base_dir=None, file=None) -> np.ndarray:
    from onnx import TensorProto, numpy_helper

    try:
        if t.data_location == TensorProto.EXTERNAL:
            full, offset, length = _external_path(t, base_dir, file)
            from ...ir import dtypes as _dt

            dtype = _dt.to_numpy(_dt.from_onnx(t.data_type))
            count = int(np.prod(t.dims)) if len(t.dims) else 1
            nbytes = count * dtype.itemsize
            if length is not None and int(length) != nbytes:
                raise ParamsError(f"initializer {t.name!r}: external length {length} != {nbytes} bytes",
                                  file=file)
            if offset < 0 or offset + nbytes > os.path.getsize(full):
                raise ParamsError(f"initializer {t.name!r}: external data file is too short", file=file)
            if nbytes == 0:
                return np.zeros(tuple(t.dims), dtype)
            # Mapped, not read: pages load only when used, so a 2 GB model does not cost 2 GB (or,
            # read and copied, 4 GB) at import.  Copy-on-write: the file itself is never changed.
            return np.memmap(full, dtype=dtype, mode="c", offset=offset, shape=tuple(t.dims))
        return numpy_helper.to_array(t)
    except ParamsError:
        raise
    except Exception as exc:
        raise ParamsError(f"cannot read tensor {t.name!r}: {exc}", file=file) from None
