"""to_onnx on symbolic axes (dynamic_axes) of the ops detectors slice and upsample with: strided_slice keeps the
user's bounds there (ONNX Slice clamps them as python does), repeat reshapes to a run-time shape, and
box_decode reads its columns to the end rather than the box count seen at import."""
from __future__ import annotations

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.ir.symbolic import SymbolicDimError  # noqa: E402

RNG = np.random.default_rng(5)


def run_at_sizes(sym, shape, axes, sizes, reference=None):
    """One ONNX file with ``axes`` of input x symbolic, run at each of ``sizes`` (full input shapes) against
    ``reference(x)`` (default: MXNet)."""
    model = nb.export_model(sym, {}, {"x": shape}, dynamic_axes={"x": axes})
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for s in sizes:
        x = RNG.uniform(-1, 1, s).astype(np.float32)
        ref = reference(x) if reference else sym.eval(ctx=mx.cpu(), x=mx.nd.array(x))[0].asnumpy()
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref, rtol=1e-6, atol=1e-6, err_msg=str(s))


@pytest.mark.parametrize("bounds", [(1, None, 1), (-3, -1, 1), (5, 100, 1), (-1, None, -2), (None, 2, -1)],
                         ids=["to_the_end", "negative_bounds", "past_the_end", "backwards_from_last",
                              "backwards_to_an_index"])
def test_strided_slice_on_a_symbolic_axis(bounds):
    """Against numpy's slicing (the IR's semantics; MXNet 1.9.1 fails on some of these empty slices)."""
    b, e, s = bounds
    sym = mx.sym.slice(mx.sym.var("x"), begin=(None, b), end=(None, e), step=(1, s))
    run_at_sizes(sym, (2, 8), {1: "L"}, [(2, 8), (2, 3), (2, 13)], lambda x: x[:, b:e:s])


def test_strided_slice_backwards_from_before_the_start_is_refused():
    """python gives nothing when a backward slice starts before index 0, ONNX would start at 0."""
    sym = mx.sym.slice(mx.sym.var("x"), begin=(None, -4), end=(None, None), step=(1, -1))
    with pytest.raises(SymbolicDimError, match="backwards on a symbolic axis"):
        nb.export_model(sym, {}, {"x": (2, 8)}, dynamic_axes={"x": {1: "L"}})


def test_repeat_on_symbolic_axes():
    x = mx.sym.var("x")
    sym = mx.sym.repeat(mx.sym.repeat(x, repeats=2, axis=2), repeats=3, axis=3)  # YOLOv3's upsampling
    run_at_sizes(sym, (1, 2, 4, 5), {2: "H", 3: "W"}, [(1, 2, 4, 5), (1, 2, 3, 7)])


def test_box_decode_on_a_symbolic_box_count():
    data, anchors = mx.sym.var("x"), mx.sym.var("anchors")
    sym = mx.sym.contrib.box_decode(data, mx.sym.slice_like(anchors, data, axes=(1,)), std0=0.1, std1=0.1,
                                    std2=0.2, std3=0.2, format="corner")
    table = np.sort(RNG.uniform(0, 10, (1, 64, 4)).astype(np.float32), axis=-1)  # precomputed anchors, cut
    model = nb.export_model(sym, {"anchors": mx.nd.array(table)}, {"x": (1, 20, 4)}, dynamic_axes={"x": {1: "N"}})
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (20, 7, 64):
        x = RNG.uniform(-1, 1, (1, n, 4)).astype(np.float32)
        ref = sym.eval(ctx=mx.cpu(), x=mx.nd.array(x), anchors=mx.nd.array(table))[0].asnumpy()
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref, rtol=1e-6, atol=1e-5, err_msg=f"{n} boxes")
