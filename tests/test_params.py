"""Parameter files: MXNet .params byte compatibility (both directions), hostile files, npz, TVM dicts."""
import os
import struct
import time

import numpy as np
import pytest

from nnvm_bridge.errors import ParamsError
from nnvm_bridge.ir import params as P

MX_DTYPES = ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]


@pytest.fixture(scope="module")
def mx():
    return pytest.importorskip("mxnet")


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _mx_bytes(mx, tmp_path, arrays, np_shape=False):
    path = str(tmp_path / "mx.params")
    with mx.util.np_shape(np_shape):
        if isinstance(arrays, dict):
            nd = {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()}
        else:
            nd = [mx.nd.array(v, dtype=v.dtype) for v in arrays]
        mx.nd.save(path, nd)
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("dtype", MX_DTYPES)
def test_save_is_byte_identical_to_mxnet(mx, tmp_path, dtype):
    arrays = {"arg:w": _sample(dtype, (3, 4, 5)), "aux:m": _sample(dtype, (7,), 1),
              "arg:empty": np.zeros((0, 3), dtype=dtype)}
    ours = P.params_to_bytes(arrays)
    assert ours == _mx_bytes(mx, tmp_path, arrays)
    P.save_params(tmp_path / "ours.params", arrays)
    back = mx.nd.load(str(tmp_path / "ours.params"))
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k].asnumpy(), v)


def test_zero_d_arrays_use_numpy_shape_format(mx, tmp_path):
    # MXNet's default (V2) writer emits 0-d arrays that MXNet itself cannot read back, so
    # 0-d arrays switch the file to the V3 format that mx.nd.save writes under np_shape.
    arrays = {"s": np.array(2.5, dtype=np.float32), "v": np.arange(3, dtype=np.int64)}
    ours = P.params_to_bytes(arrays)
    assert ours == _mx_bytes(mx, tmp_path, arrays, np_shape=True)
    assert struct.unpack_from("<I", ours, 24)[0] == P.V3_MAGIC
    back = P.load_params(ours)
    assert back["s"].shape == () and back["s"] == 2.5
    # and the legacy-mode bytes (V2, ndim 0) are still readable here
    legacy = P.params_to_bytes(arrays, np_shape=False)
    assert legacy == _mx_bytes(mx, tmp_path, arrays, np_shape=False)
    assert P.load_params(legacy)["s"] == 2.5


def test_unnamed_list_matches_mxnet(mx, tmp_path):
    arrays = [_sample("float32", (2, 2)), _sample("float16", (3,))]
    data = P.params_to_bytes(arrays)
    assert data == _mx_bytes(mx, tmp_path, arrays)
    got, names = P.read_ndarray_list(data)
    assert names == [] and [a.dtype for a in got] == [np.float32, np.float16]
    with pytest.raises(ParamsError, match="unnamed list"):
        P.load_params(data)


@pytest.mark.parametrize("dtype", MX_DTYPES)
def test_load_reads_mxnet_files(mx, tmp_path, dtype):
    arrays = {"arg:conv0_weight": _sample(dtype, (4, 3, 3, 3)), "aux:bn_var": _sample(dtype, (4,), 2),
              "scalar_shaped": _sample(dtype, (1,), 3)}
    path = tmp_path / "model.params"
    path.write_bytes(_mx_bytes(mx, tmp_path, arrays))
    got = P.load_params(str(path))
    assert list(got) == list(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_load_gluon_export_roundtrip(mx, tmp_path):
    """A real Gluon model's exported params load with arg:/aux: keys and split cleanly."""
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(4, 3), mx.gluon.nn.BatchNorm(), mx.gluon.nn.Dense(5))
    net.initialize()
    net.hybridize()
    net(mx.nd.ones((1, 3, 8, 8)))
    net.export(str(tmp_path / "net"))
    got = P.load_params(str(tmp_path / "net-0000.params"))
    arg, aux = P.split_params(got)
    mx_arg = {k: v for k, v in net.collect_params().items() if v.grad_req != "null"}
    assert len(arg) == len(mx_arg) and len(aux) == 2
    for name, p in net.collect_params().items():
        key = name if name in arg else name
        ref = p.data().asnumpy()
        np.testing.assert_array_equal(arg.get(key, aux.get(key)), ref)
    assert P.join_params(arg, aux) == got
    # and writing them back gives MXNet's own bytes
    assert P.params_to_bytes(got) == (tmp_path / "net-0000.params").read_bytes()


def _root(a):
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a.obj if isinstance(a, memoryview) else a


def test_load_is_zero_copy_views(tmp_path):
    arrays = {"a": np.arange(1000, dtype=np.float32), "b": np.ones((10, 10), dtype=np.int64)}
    path = tmp_path / "p.params"
    P.save_params(path, arrays)
    got = P.load_params(path)
    assert not got["a"].flags.owndata and not got["b"].flags.owndata
    assert _root(got["a"]) is _root(got["b"])  # both view the one buffer the file was read into
    assert not isinstance(_root(got["a"]), np.ndarray)
    got["a"][0] = 5  # writable (copy-on-write for mapped files), and the file is untouched
    assert P.load_params(path)["a"][0] == 0


def test_big_file_is_memory_mapped(tmp_path):
    big = np.zeros((P._MMAP_THRESHOLD // 4 + 16,), dtype=np.float32)
    big[-1] = 7
    path = tmp_path / "big.params"
    P.save_params(path, {"big": big})
    got = P.load_params(path)["big"]
    assert got[-1] == 7 and not got.flags.owndata
    import mmap

    assert isinstance(_root(got), mmap.mmap)
    got[0] = 1  # copy-on-write mapping: writable, file unchanged
    assert P.load_params(path)["big"][0] == 0


def test_all_ir_dtypes_roundtrip_through_our_format():
    for name in ("int16", "uint16", "uint32", "uint64", "bfloat16"):
        from nnvm_bridge.ir.dtypes import to_numpy

        a = np.arange(6).reshape(2, 3).astype(to_numpy(name))
        got = P.load_params(P.params_to_bytes({"x": a}))["x"]
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got.astype(np.float64), a.astype(np.float64))


def test_legacy_and_v1_formats():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    body_v1 = struct.pack("<Ii2q", P.V1_MAGIC, 2, 2, 3) + struct.pack("<iii", 1, 0, 0) + a.tobytes()
    body_legacy = struct.pack("<I2I", 2, 2, 3) + struct.pack("<iii", 1, 0, 0) + a.tobytes()
    for body in (body_v1, body_legacy):
        data = struct.pack("<QQQ", 0x112, 0, 1) + body + struct.pack("<QQ", 1, 1) + b"w"
        np.testing.assert_array_equal(P.load_params(data)["w"], a)


# ---- hostile and broken files -----------------------------------------------------------------
def _valid_bytes():
    return P.params_to_bytes({"arg:w": np.arange(12, dtype=np.float32).reshape(3, 4), "aux:b": np.ones(2)})


def _fast_params_error(data_or_path, match=None):
    t0 = time.perf_counter()
    with pytest.raises(ParamsError, match=match) as info:
        P.load_params(data_or_path)
    assert time.perf_counter() - t0 < 0.5
    return info.value


def test_every_truncation_fails_cleanly(tmp_path):
    data = _valid_bytes()
    for cut in range(len(data) - 1):
        _fast_params_error(data[:cut])
    path = tmp_path / "trunc.params"
    path.write_bytes(data[:40])
    err = _fast_params_error(path)
    assert str(path) in str(err)


def test_wrong_magic_names_file(tmp_path):
    path = tmp_path / "model.params"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    err = _fast_params_error(path, "not an MXNet parameter file")
    assert err.file == str(path)
    _fast_params_error(P.tvm_params_to_bytes({"a": np.ones(2)}), "TVM param dict")


def test_absurd_sizes_fail_fast():
    head = struct.pack("<QQ", 0x112, 0)
    # 10**18 arrays claimed
    _fast_params_error(head + struct.pack("<Q", 10 ** 18), "claims")
    # ndim of a billion
    _fast_params_error(head + struct.pack("<QIii", 1, P.V2_MAGIC, 0, 10 ** 9), "ndim")
    # shape whose product is far beyond the file size
    arr = struct.pack("<IiI4q", P.V2_MAGIC, 0, 4, 100000, 100000, 100000, 100000) + struct.pack("<iii", 1, 0, 0)
    _fast_params_error(head + struct.pack("<Q", 1) + arr + b"\x00" * 64, "truncated or corrupt")
    # negative dims, unknown dtype, sparse storage, name length beyond the file
    neg = struct.pack("<Iii2q", P.V2_MAGIC, 0, 2, -5, 3) + struct.pack("<iii", 1, 0, 0)
    _fast_params_error(head + struct.pack("<Q", 1) + neg, "negative")
    bad_dtype = struct.pack("<Iiiq", P.V2_MAGIC, 0, 1, 1) + struct.pack("<iii", 1, 0, 99) + b"\x00" * 8
    _fast_params_error(head + struct.pack("<Q", 1) + bad_dtype, "dtype code 99")
    sparse = struct.pack("<Ii", P.V2_MAGIC, 1) + b"\x00" * 64
    _fast_params_error(head + struct.pack("<Q", 1) + sparse, "sparse storage")
    good = P.params_to_bytes([np.ones(1, np.float32)])[:-8]
    _fast_params_error(good + struct.pack("<QQ", 1, 10 ** 15) + b"abc", "truncated or corrupt")


def test_random_bytes_never_escape_as_other_errors():
    rng = np.random.default_rng(1234)
    valid = bytearray(_valid_bytes())
    for i in range(400):
        if i % 2:
            data = rng.integers(0, 256, size=int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        else:  # flip a few bytes of a valid file: deeper paths through the parser
            data = bytearray(valid)
            for pos in rng.integers(0, len(data), size=3):
                data[pos] = int(rng.integers(0, 256))
            data = bytes(data)
        try:
            P.load_params(data)
        except ParamsError:
            pass


def test_duplicate_and_mismatched_names():
    one = P.params_to_bytes([np.ones(1, np.float32), np.ones(1, np.float32)])[:-8]
    dup = one + struct.pack("<Q", 2) + struct.pack("<Q", 1) + b"a" + struct.pack("<Q", 1) + b"a"
    _fast_params_error(dup, "appears twice")
    few = one + struct.pack("<Q", 1) + struct.pack("<Q", 1) + b"a"
    _fast_params_error(few, "2 arrays but 1 names")
    bad_utf8 = one + struct.pack("<Q", 2) + struct.pack("<Q", 1) + b"\xff" + struct.pack("<Q", 1) + b"b"
    _fast_params_error(bad_utf8, "UTF-8")


def test_missing_file_and_directory(tmp_path):
    _fast_params_error(tmp_path / "nope.params", "does not exist")
    _fast_params_error(tmp_path, "directory")
    with pytest.raises(ParamsError):
        P.load_params(12345)


# ---- prefixes, npz, TVM param dicts -------------------------------------------------------------
def test_split_and_join():
    d = {"arg:w": 1, "aux:m": 2, "bare": 3}
    arg, aux = P.split_params(d)
    assert arg == {"w": 1, "bare": 3} and aux == {"m": 2}
    assert P.join_params(arg, aux) == {"arg:w": 1, "arg:bare": 3, "aux:m": 2}
    with pytest.raises(ParamsError, match="twice"):
        P.split_params({"arg:w": 1, "w": 2})


def test_npz_roundtrip_and_errors(tmp_path):
    d = {"arg:w": _sample("float32", (3, 3)), "b": _sample("int64", (2,))}
    path = tmp_path / "p.npz"
    P.save_npz(path, d)
    got = P.load_npz(path)
    assert set(got) == set(d)
    for k in d:
        np.testing.assert_array_equal(got[k], d[k])
    assert set(P.load_any_params(path)) == set(d)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ParamsError) as info:
        P.load_npz(tmp_path / "bad.npz")
    assert "bad.npz" in str(info.value)
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ParamsError):
        P.load_npz(obj)


def test_tvm_param_dict_matches_tvm(tmp_path):
    tvm = pytest.importorskip("tvm")
    from tvm.runtime import load_param_dict, save_param_dict

    d = {"w": _sample("float32", (2, 3)), "i": _sample("int64", (4,)), "h": _sample("float16", (1, 2)),
         "flag": _sample("bool", (3,)), "s": np.array(3.0, dtype=np.float64)}
    theirs = bytes(save_param_dict({k: tvm.runtime.tensor(v) for k, v in d.items()}))
    assert P.tvm_params_to_bytes(d) == theirs
    got = P.load_tvm_params(theirs)
    for k, v in d.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)
    back = load_param_dict(P.tvm_params_to_bytes({k: v for k, v in d.items() if k != "flag"}))
    np.testing.assert_array_equal(back["w"].numpy(), d["w"])
    path = tmp_path / "p.tvmparams"
    P.save_tvm_params(path, d)
    assert set(P.load_any_params(path)) == set(d)
    for cut in range(0, len(theirs) - 1, 7):
        with pytest.raises(ParamsError):
            P.load_tvm_params(theirs[:cut])


def test_save_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ParamsError, match="complex64"):
        P.save_params(tmp_path / "x.params", {"c": np.ones(2, dtype=np.complex64)})
    assert not os.path.exists(tmp_path / "x.params")


# ---- property: any supported array survives both formats ------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_DTYPES = st.sampled_from(["float32", "float64", "float16", "uint8", "int8", "int16", "int32", "int64", "uint16",
                           "uint32", "uint64", "bool"])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _DTYPES.flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))), max_size=4))
def test_any_arrays_roundtrip(arrays):
    for data, load in ((P.params_to_bytes(arrays), P.load_params), (P.tvm_params_to_bytes(arrays), P.load_tvm_params)):
        got = load(data)
        assert list(got) == list(arrays)
        for k, v in arrays.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape
            np.testing.assert_array_equal(got[k], v)
