"""Parameter files without MXNet or TVM: MXNet ``.params``, NNVM/TVM param dicts, ``.npz``.

MXNet ``.params`` (``src/ndarray/ndarray.cc``, 1.9.1), all little-endian::

    uint64 0x112, uint64 reserved, uint64 n, n x NDArray, uint64 k, k x (uint64 len, bytes)
    NDArray = uint32 magic  (V1 0xF993fac8 | V2 0xF993fac9 | V3 0xF993faca | legacy: magic is ndim)
              [int32 stype]                    V2/V3 only; 0 = dense
              int32 ndim, int64 dims[ndim]     legacy: uint32 dims[ndim]
              int32 dev_type, int32 dev_id, int32 type_flag (mshadow code), raw data

Loading reads the file once into one buffer (a copy-on-write mmap for big files) and returns
``np.frombuffer`` views into it, so a 1 GiB file costs 1 GiB, not 2.  Every size in the file
is checked against the bytes that remain before anything is allocated, so hostile files fail
fast with a :class:`ParamsError` naming the file.
"""
from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile

import numpy as np

from ..errors import DTypeError, ParamsError
from . import dtypes as _dt

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA
TVM_LIST_MAGIC = 0xF7E58D4F05049CB7
TVM_ARRAY_MAGIC = 0xDD5E40F096B4A13F

_MAX_NDIM = 32  # mshadow/NNVM never go beyond this; a bigger ndim means a corrupt file
_MMAP_THRESHOLD = 16 << 20
_STYPES = {1: "row_sparse", 2: "csr"}


class _Reader:
    """Bounds-checked little-endian reads over one buffer."""

    def __init__(self, buf, source):
        self.buf = buf
        self.view = memoryview(buf)
        self.pos = 0
        self.source = source

    @property
    def remaining(self) -> int:
        return len(self.view) - self.pos

    def fail(self, msg):
        raise ParamsError(f"{msg} at byte {self.pos}", file=self.source)

    def need(self, n, what):
        if n < 0 or n > self.remaining:
            self.fail(f"truncated or corrupt file: {what} needs {n} bytes, {self.remaining} left")

    def unpack(self, fmt, what):
        size = struct.calcsize(fmt)
        self.need(size, what)
        vals = struct.unpack_from(fmt, self.view, self.pos)
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def array(self, dtype: np.dtype, shape, what) -> np.ndarray:
        count = 1
        for d in shape:
            count *= d
        nbytes = count * dtype.itemsize
        self.need(nbytes, what)
        nonzero = 1
        for d in shape:
            nonzero *= max(d, 1)
        if nonzero * dtype.itemsize >= 2 ** 63:  # numpy refuses such a shape even with no elements
            self.fail(f"{what}: shape {tuple(shape)} is impossibly large")
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos).reshape(shape)
        self.pos += nbytes
        return arr

    def string(self, what) -> str:
        n = self.unpack("<Q", f"length of {what}")
        self.need(n, what)
        raw = bytes(self.view[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what} is not UTF-8")

    def count(self, what, min_item_size) -> int:
        n = self.unpack("<Q", f"number of {what}")
        if n * min_item_size > self.remaining:
            self.fail(f"file claims {n} {what}, more than its {self.remaining} remaining bytes can hold")
        return n


# ---- reading the source --------------------------------------------------------------------------
def _open_buffer(path_or_bytes):
    """Return (buffer, source name).  Paths are read once; big files are mapped copy-on-write."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return path_or_bytes, None
    if hasattr(path_or_bytes, "read"):
        data = path_or_bytes.read()
        if not isinstance(data, (bytes, bytearray)):
            raise ParamsError("file object did not return bytes", file=getattr(path_or_bytes, "name", None))
        return data, getattr(path_or_bytes, "name", None)
    try:
        path = os.fspath(path_or_bytes)
    except TypeError:
        raise ParamsError(f"expected a path or bytes, got {type(path_or_bytes).__name__}") from None
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size >= _MMAP_THRESHOLD:
                # ACCESS_COPY: pages are shared with the page cache until someone writes to them.
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY), path
            buf = bytearray(size)
            n = f.readinto(buf)
            return (buf if n == size else buf[:n]), path
    except IsADirectoryError:
        raise ParamsError("expected a parameter file, got a directory", file=path) from None
    except FileNotFoundError:
        raise ParamsError("parameter file does not exist", file=path) from None
    except OSError as exc:
        raise ParamsError(f"cannot read parameter file: {exc.strerror or exc}", file=path) from None


def _np_dtype(name, r: _Reader) -> np.dtype:
    try:
        return _dt.to_numpy(name).newbyteorder("<")
    except DTypeError as exc:
        r.fail(exc.bare_message)


# ---- MXNet .params ---------------------------------------------------------------------------------
def _read_mx_ndarray(r: _Reader, index: int):
    what = f"array {index}"
    magic = r.unpack("<I", f"{what} magic")
    if magic in (V2_MAGIC, V3_MAGIC):
        stype = r.unpack("<i", f"{what} storage type")
        if stype != 0:
            r.fail(f"{what} uses sparse storage ({_STYPES.get(stype, stype)}); only dense arrays are supported")
    if magic in (V1_MAGIC, V2_MAGIC, V3_MAGIC):
        ndim = r.unpack("<i", f"{what} ndim")
        if magic == V3_MAGIC and ndim == -1:
            return None  # an unknown-shape ("none") array, which carries no data
        if not 0 <= ndim <= _MAX_NDIM:
            r.fail(f"{what} has an invalid ndim {ndim}")
        shape = r.unpack(f"<{ndim}q", f"{what} shape") if ndim else ()
    else:
        ndim = magic  # legacy format: the magic is ndim, dims are uint32
        if ndim > _MAX_NDIM:
            r.fail(f"{what}: bad magic 0x{magic:08x} (not an MXNet NDArray)")
        if ndim == 0:
            return None
        shape = r.unpack(f"<{ndim}I", f"{what} shape")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(d < 0 for d in shape):
        r.fail(f"{what} has a negative dimension in shape {shape}")
    r.unpack("<ii", f"{what} context")
    flag = r.unpack("<i", f"{what} dtype")
    try:
        name = _dt.from_mxnet(flag)
    except DTypeError:
        r.fail(f"{what} has an unknown MXNet dtype code {flag}")
    return r.array(_np_dtype(name, r), shape, f"{what} data (shape {shape}, {name})")


def read_ndarray_list(path_or_bytes):
    """Read an MXNet NDArray file: (list of arrays, list of names, possibly empty)."""
    return _read_mx(*_open_buffer(path_or_bytes))


def _read_mx(buf, source):
    r = _Reader(buf, source)
    if r.remaining < 8:
        r.fail("not an MXNet parameter file (too short)")
    header = r.unpack("<Q", "header")
    if header != LIST_MAGIC:
        if header == TVM_LIST_MAGIC:
            r.fail("this is an NNVM/TVM param dict, not an MXNet .params file (use load_tvm_params)")
        r.fail(f"not an MXNet parameter file (magic 0x{header:x}, expected 0x112)")
    r.unpack("<Q", "reserved field")
    n = r.count("arrays", 4)
    arrays = [_read_mx_ndarray(r, i) for i in range(n)]
    k = r.count("names", 8)
    if k not in (0, n):
        r.fail(f"file has {n} arrays but {k} names")
    names = [r.string(f"name {i}") for i in range(k)]
    return arrays, names


def load_params(path_or_bytes) -> dict:
    """MXNet ``.params`` -> {name: np.ndarray}, names as stored (``"arg:fc1_weight"``)."""
    return _load_mx(*_open_buffer(path_or_bytes))


def _load_mx(buf, source):
    arrays, names = _read_mx(buf, source)
    if arrays and not names:
        raise ParamsError(f"the file holds an unnamed list of {len(arrays)} arrays; use read_ndarray_list",
                          file=source)
    out = {}
    for name, arr in zip(names, arrays):
        if name in out:
            raise ParamsError(f"parameter {name!r} appears twice", file=source)
        if arr is None:
            raise ParamsError(f"parameter {name!r} has no shape (an empty NDArray)", file=source)
        out[name] = arr
    return out


def _mx_array_chunks(arr: np.ndarray, np_shape: bool) -> list:
    flag = _dt.to_mxnet(_dt.canonical(arr.dtype))
    return [struct.pack("<Ii", V3_MAGIC if np_shape else V2_MAGIC, 0),
            struct.pack(f"<i{arr.ndim}q", arr.ndim, *arr.shape),
            struct.pack("<iii", 1, 0, flag),  # context cpu(0), as MXNet writes after copying to CPU
            _raw_data(arr)]


def _raw_data(arr: np.ndarray):
    """The array's bytes, little-endian, C order; a zero-copy view when it already is."""
    if arr.ndim and arr.flags.c_contiguous and arr.dtype.byteorder in ("<", "=", "|"):
        return memoryview(arr.reshape(-1).view(np.uint8))
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")


def _mx_file_chunks(params, np_shape):
    if isinstance(params, dict):
        names = [str(k) for k in params]
        arrays = list(params.values())
    else:
        names, arrays = [], list(params)
    arrays = [_as_numpy(a, n) for a, n in zip(arrays, names or [None] * len(arrays))]
    if np_shape is None:
        np_shape = any(a.ndim == 0 for a in arrays)
    yield struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))
    for a in arrays:
        yield from _mx_array_chunks(a, np_shape)
    yield struct.pack("<Q", len(names))
    for n in names:
        raw = n.encode("utf-8")
        yield struct.pack("<Q", len(raw))
        yield raw


def params_to_bytes(params, np_shape: bool | None = None) -> bytes:
    """Bytes of an MXNet ``.params`` file, identical to what ``mx.nd.save`` writes.

    ``np_shape=None`` writes the V2 format MXNet uses by default, unless an array is 0-d:
    MXNet reads 0-d arrays back only from the V3 ("numpy shape") format, so then V3 is used
    for all of them, as ``mx.nd.save`` does under ``mx.util.np_shape(True)``.
    Also accepts a list of arrays (an unnamed list, as ``mx.nd.save(fname, [..])``).
    """
    return b"".join(_mx_file_chunks(params, np_shape))


def save_params(path, params, np_shape: bool | None = None) -> None:
    """Write an MXNet ``.params`` file (see :func:`params_to_bytes`), streaming tensor by tensor."""
    _write_chunks(path, _mx_file_chunks(params, np_shape))


def _write_chunks(path, chunks) -> None:
    chunks = list(chunks)  # convert every array first: a bad dtype must not leave half a file behind
    try:
        with open(path, "wb") as f:
            for c in chunks:
                f.write(c)
    except OSError as exc:
        raise ParamsError(f"cannot write parameter file: {exc.strerror or exc}", file=path) from None


def _as_numpy(a, name=None) -> np.ndarray:
    if hasattr(a, "asnumpy"):  # mx.nd.NDArray
        a = a.asnumpy()
    elif hasattr(a, "numpy") and not isinstance(a, np.ndarray):  # tvm tensor, torch tensor
        a = a.numpy()
    a = np.asarray(a)
    try:
        _dt.canonical(a.dtype)
    except DTypeError:
        raise ParamsError(f"parameter {name!r} has unsupported dtype {a.dtype}") from None
    return a


# ---- arg:/aux: prefixes --------------------------------------------------------------------------
def split_params(params: dict):
    """{"arg:w": .., "aux:m": .., "b": ..} -> ({"w": .., "b": ..}, {"m": ..}); bare names are args."""
    arg, aux = {}, {}
    for key, val in params.items():
        if key.startswith("aux:"):
            target, name = aux, key[4:]
        elif key.startswith("arg:"):
            target, name = arg, key[4:]
        else:
            target, name = arg, key
        if name in arg or name in aux:
            raise ParamsError(f"parameter {name!r} appears twice (with and without a prefix)")
        target[name] = val
    return arg, aux


def normalize_params(params, *, file=None):
    """Every form a user may hand over -> (arg_params, aux_params) of numpy arrays, names unprefixed.

    Accepted: None, a ``.params`` path (or its bytes), a dict of numpy arrays / NDArrays / tensors whose keys
    may carry ``arg:``/``aux:`` prefixes (bare names are args), or an ``(arg_params, aux_params)`` pair of
    such dicts or paths.  The one rule used by every entry point.
    """
    if params is None:
        return {}, {}
    if isinstance(params, tuple) and len(params) == 2:
        arg, aux = {}, {}
        for part, into in zip(params, (arg, aux)):
            a, b = normalize_params(part, file=file)
            into.update(a)
            (into if into is aux else aux).update(b)
        dup = sorted(set(arg) & set(aux))
        if dup:
            raise ParamsError(f"parameters {dup} are given both as arguments and as auxiliary states", file=file)
        return arg, aux
    if isinstance(params, (str, bytes, bytearray, os.PathLike)):
        file = os.fspath(params) if not isinstance(params, (bytes, bytearray)) else file
        params = load_params(params if isinstance(params, (bytes, bytearray)) else os.fspath(params))
    if not hasattr(params, "items"):
        raise ParamsError(f"params must be a path, a dict or (arg_params, aux_params), got {type(params).__name__}",
                          file=file)
    for k in params:
        if not isinstance(k, str):
            raise ParamsError(f"parameter names must be strings, got {k!r}", file=file)
    arg, aux = split_params(dict(params))
    return ({k: _as_numpy(v, k) for k, v in arg.items()}, {k: _as_numpy(v, k) for k, v in aux.items()})


def join_params(arg_params=None, aux_params=None) -> dict:
    """The inverse of :func:`split_params`: keys get ``arg:`` / ``aux:`` prefixes."""
    out = {f"arg:{k}": v for k, v in (arg_params or {}).items()}
    out.update({f"aux:{k}": v for k, v in (aux_params or {}).items()})
    return out


# ---- .npz --------------------------------------------------------------------------------------
def load_npz(path_or_bytes) -> dict:
    """{name: array} from a numpy ``.npz`` archive (pickled objects refused)."""
    source = None
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        fobj = io.BytesIO(bytes(path_or_bytes))
    else:
        fobj = source = os.fspath(path_or_bytes)
        if not os.path.isfile(source):
            raise ParamsError("parameter file does not exist", file=source)
    try:
        with np.load(fobj, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ParamsError("not an .npz archive (a single .npy array)", file=source)
            return {k: z[k] for k in z.files}
    except ParamsError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ParamsError(f"cannot read .npz archive: {exc}", file=source) from None


def save_npz(path, params: dict) -> None:
    arrays = {str(k): _as_numpy(v, k) for k, v in params.items()}
    try:
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    except OSError as exc:
        raise ParamsError(f"cannot write parameter file: {exc.strerror or exc}", file=path) from None


# ---- NNVM / TVM param dict (nnvm.compiler.save_param_dict, tvm.runtime.save_param_dict) ----------
_DL_CODES = {(0, 8): "int8", (0, 16): "int16", (0, 32): "int32", (0, 64): "int64",
             (1, 1): "bool", (1, 8): "uint8", (1, 16): "uint16", (1, 32): "uint32", (1, 64): "uint64",
             (2, 16): "float16", (2, 32): "float32", (2, 64): "float64", (4, 16): "bfloat16", (6, 8): "bool"}
# Writing bool uses DLPack's kDLBool (what TVM >= 0.2x writes); (uint, 1 bit) is read for old files.
_DL_FROM_NAME = {v: k for k, v in _DL_CODES.items() if k != (1, 1)}


def load_tvm_params(path_or_bytes) -> dict:
    """NNVM/TVM param dict bytes -> {name: np.ndarray} (views into one buffer)."""
    return _load_tvm(*_open_buffer(path_or_bytes))


def _load_tvm(buf, source):
    r = _Reader(buf, source)
    if r.remaining < 8:
        r.fail("not a TVM param dict (too short)")
    header = r.unpack("<Q", "header")
    if header != TVM_LIST_MAGIC:
        r.fail(f"not a TVM param dict (magic 0x{header:x})")
    r.unpack("<Q", "reserved field")
    names = [r.string(f"name {i}") for i in range(r.count("names", 8))]
    n = r.count("arrays", 8)
    if n != len(names):
        r.fail(f"file has {len(names)} names but {n} arrays")
    out = {}
    for i, name in enumerate(names):
        what = f"array {name!r}"
        if r.unpack("<Q", f"{what} magic") != TVM_ARRAY_MAGIC:
            r.fail(f"{what}: bad array magic")
        r.unpack("<Q", f"{what} reserved field")
        r.unpack("<ii", f"{what} device")
        ndim = r.unpack("<i", f"{what} ndim")
        if not 0 <= ndim <= _MAX_NDIM:
            r.fail(f"{what} has an invalid ndim {ndim}")
        code, bits, lanes = r.unpack("<BBH", f"{what} dtype")
        dname = _DL_CODES.get((code, bits))
        if dname is None or lanes != 1:
            r.fail(f"{what} has an unsupported dtype (code {code}, bits {bits}, lanes {lanes})")
        shape = r.unpack(f"<{ndim}q", f"{what} shape") if ndim else ()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if any(d < 0 for d in shape):
            r.fail(f"{what} has a negative dimension in shape {shape}")
        nbytes = r.unpack("<q", f"{what} byte size")
        dtype = _np_dtype(dname, r)
        expect = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if nbytes != expect:
            r.fail(f"{what} claims {nbytes} data bytes, its shape {shape} needs {expect}")
        if name in out:
            r.fail(f"parameter {name!r} appears twice")
        out[name] = r.array(dtype, shape, f"{what} data")
    return out


def _tvm_file_chunks(params: dict):
    names = [str(k) for k in params]
    arrays = [_as_numpy(v, n) for n, v in zip(names, params.values())]
    yield struct.pack("<QQQ", TVM_LIST_MAGIC, 0, len(names))
    for n in names:
        raw = n.encode("utf-8")
        yield struct.pack("<Q", len(raw))
        yield raw
    yield struct.pack("<Q", len(names))
    for a in arrays:
        code, bits = _DL_FROM_NAME[_dt.canonical(a.dtype)]
        yield struct.pack("<QQiiiBBH", TVM_ARRAY_MAGIC, 0, 1, 0, a.ndim, code, bits, 1)
        yield struct.pack(f"<{a.ndim}qq", *a.shape, a.nbytes)
        yield _raw_data(a)


def tvm_params_to_bytes(params: dict) -> bytes:
    """Bytes of a TVM param dict (``tvm.runtime.save_param_dict`` layout)."""
    return b"".join(_tvm_file_chunks(params))


def save_tvm_params(path, params: dict) -> None:
    _write_chunks(path, _tvm_file_chunks(params))


def load_any_params(path) -> dict:
    """Load a parameter file by content: MXNet ``.params``, TVM param dict or ``.npz``."""
    buf, source = _open_buffer(path)
    head = bytes(memoryview(buf)[:8])
    if head[:4] == b"PK\x03\x04":
        return load_npz(bytes(buf) if source is None else source)
    if len(head) == 8 and struct.unpack("<Q", head)[0] == TVM_LIST_MAGIC:
        return _load_tvm(buf, source)
    return _load_mx(buf, source)


__all__ = ["load_params", "save_params", "params_to_bytes", "read_ndarray_list", "split_params", "join_params",
           "load_npz", "save_npz", "load_tvm_params", "save_tvm_params", "tvm_params_to_bytes", "load_any_params"]
