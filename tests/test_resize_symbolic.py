"""Resize on symbolic spatial axes (issue 10): the IR's ``dyn_resize`` through TVM, MXNet and ONNX at two sizes.

Files: torch's F.interpolate exported with dynamic H/W by the legacy and dynamo exporters (what
torchvision's segmentation and detection models write), and hand-built Resize nodes covering every
coordinate mode and nearest mode (and linear, cubic) with sizes from a Shape -> Slice -> Concat chain or
fixed scales. Each is
imported once (no shape=), compiled once / made one Gluon block, run at two input sizes and compared with
onnxruntime: max|got - ref| <= 1e-4 * max(1, max|ref|) (tests/tolerance.py).
"""
from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.errors import ShapeError  # noqa: E402
from nnvm_bridge.ir.interpreter import run_graph  # noqa: E402

COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                    "half_pixel_symmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _onnx_reference(path, names, feeds):
    """ONNX's reference values of the outputs ``names`` (a model of the nodes that make them only: the
    reference has no tf_half_pixel_for_nn at opset 19)."""
    from onnx.reference import ReferenceEvaluator

    model = onnx.load(str(path))
    graph = model.graph
    keep = [n for n in graph.node if n.op_type != "Resize" or n.output[0] in names]
    outputs = [o for o in graph.output if o.name in names]
    del graph.node[:], graph.output[:]
    graph.node.extend(keep)
    graph.output.extend(outputs)
    return dict(zip([o.name for o in outputs], ReferenceEvaluator(model).run(None, feeds)))


def _expected(path, feeds, onnx_reference=()):
    """onnxruntime's outputs of ``path``, those named in ``onnx_reference`` from ONNX's reference instead."""
    names = [o.name for o in onnx.load(str(path)).graph.output]
    refs = ort.InferenceSession(str(path)).run(None, feeds)
    if onnx_reference:
        ref = _onnx_reference(path, set(onnx_reference), feeds)
        refs = [ref.get(name, got) for name, got in zip(names, refs)]
    return refs


def _check(path, feeds_list, engines=("ir", "tvm", "mxnet"), onnx_reference=()):
    """Every output of ``path`` at each feed, against onnxruntime (or ONNX's reference for the outputs named in
    ``onnx_reference``), through one graph / library / block."""
    refs = [_expected(path, feeds, onnx_reference) for feeds in feeds_list]
    if "ir" in engines:  # the op's numpy reference, and the IR written back to ONNX (symbolic dims kept)
        graph, params = nb.frontend.from_onnx(str(path))
        opset = max(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))
        back = ort.InferenceSession(nb.frontend.to_onnx(graph, params, opset=opset).SerializeToString())
        for feeds, ref in zip(feeds_list, refs):
            for got, want in zip(run_graph(graph, feeds, params), ref, strict=True):
                assert_close(got, want)
            # the file written back is the same Resize to onnxruntime: its answers, wherever they differ from ONNX's
            for got, want in zip(back.run(None, feeds), _expected(path, feeds), strict=True):
                assert_close(got, want)
    if "tvm" in engines:
        cm = nb.compile_model(str(path))
        for feeds, ref in zip(feeds_list, refs):
            for got, want in zip(cm.run(feeds), ref, strict=True):
                assert_close(got, want)
    if "mxnet" in engines:
        mx = pytest.importorskip("mxnet")
        block = nb.import_to_gluon(str(path))
        for feeds, ref in zip(feeds_list, refs):
            out = block(*[mx.nd.array(v, dtype=v.dtype) for v in feeds.values()])
            out = out if isinstance(out, (list, tuple)) else [out]
            for got, want in zip(out, ref, strict=True):
                assert_close(got.asnumpy(), want)


def _images(*sizes, channels=3):
    return [{"x": np.random.RandomState(h * 31 + w).randn(1, channels, h, w).astype(np.float32)}
            for h, w in sizes]


# ---- torch F.interpolate, exported with dynamic H/W -------------------------------------------------------
_INTERPOLATE = {
    # output size from the input's own (symbolic) H/W, as LRASPP's head does
    "bilinear_size": dict(size="input", mode="bilinear", align_corners=False),
    "bilinear_align_corners_size": dict(size="input", mode="bilinear", align_corners=True),
    "nearest_size": dict(size="input", mode="nearest"),
    "bilinear_scale2": dict(scale_factor=2, mode="bilinear", align_corners=False),
    "nearest_scale2": dict(scale_factor=2, mode="nearest"),
    # a fixed output size from a symbolic input, as SSDlite's transform does
    "bilinear_fixed": dict(size=(20, 24), mode="bilinear", align_corners=False),
    "bicubic_scale2": dict(scale_factor=2, mode="bicubic", align_corners=False),
    # sizes floor(float(H) * 2) computed in the file (torchvision's detection transform recomputes them)
    "bilinear_recomputed_scale2": dict(scale_factor=2, mode="bilinear", align_corners=False,
                                       recompute_scale_factor=True),
    "nearest_recomputed_scale1.5": dict(scale_factor=1.5, mode="nearest", recompute_scale_factor=True),
}


def _interpolate_file(tmp_path, kind, exporter):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    kw = dict(_INTERPOLATE[kind])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)

        def forward(self, x):
            y = self.conv(x)
            size = x.shape[-2:] if kw.get("size") == "input" else kw.get("size")
            return F.interpolate(y, **dict(kw, size=size))

    path = tmp_path / f"{kind}.{exporter}.onnx"
    x = torch.randn(1, 3, 16, 18)
    with torch.no_grad():
        if exporter == "dynamo":
            dims = {2: torch.export.Dim("H", min=4, max=512), 3: torch.export.Dim("W", min=4, max=512)}
            torch.onnx.export(Net().eval(), (x,), str(path), input_names=["x"], dynamo=True,
                              dynamic_shapes={"x": dims})
        else:
            torch.onnx.export(Net().eval(), (x,), str(path), input_names=["x"], dynamo=False, opset_version=17,
                              dynamic_axes={"x": {2: "H", 3: "W"}})
    return path


@pytest.mark.parametrize("kind", sorted(_INTERPOLATE))
def test_interpolate_legacy_export_two_sizes(tmp_path, kind):
    # floor(1.5 * H), which no MXNet tensor has, is cut at run time from the sizes the file computes
    _check(_interpolate_file(tmp_path, kind, "legacy"), _images((16, 18), (23, 13)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bilinear_size", "bilinear_scale2", "nearest_size"])
def test_interpolate_dynamo_export_two_sizes(tmp_path, kind):
    _check(_interpolate_file(tmp_path, kind, "dynamo"), _images((16, 18), (23, 13)))


# ---- hand-built Resize nodes: every mode in one file ------------------------------------------------------
def _model(tmp_path, nodes, outputs, inputs, opset=19):
    graph = helper.make_graph(nodes, "resize", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                       for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "resize.onnx"
    onnx.save(model, str(path))
    return path


def _sizes_chain(nodes):
    """sizes = Concat(Shape(x)[0:2], Shape(like)[2:4]): the target H/W of another (symbolic) input."""
    const = lambda name, v: helper.make_node("Constant", [], [name], value=helper.make_tensor(  # noqa: E731
        name, TensorProto.INT64, [len(v)], v))
    nodes += [helper.make_node("Shape", ["x"], ["xs"]), helper.make_node("Shape", ["like"], ["ls"]),
              const("c0", [0]), const("c2", [2]), const("c4", [4]),
              helper.make_node("Slice", ["xs", "c0", "c2"], ["nc"]),
              helper.make_node("Slice", ["ls", "c2", "c4"], ["hw"]),
              helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0)]
    return "sizes"


def _every_mode(nodes, make_inputs):
    outputs = []
    for mode in COORDINATE_MODES:
        for nearest in NEAREST_MODES:
            out = f"nearest_{mode}_{nearest}"
            nodes.append(helper.make_node("Resize", make_inputs(), [out], mode="nearest",
                                          coordinate_transformation_mode=mode, nearest_mode=nearest))
            outputs.append(out)
        out = f"linear_{mode}"
        nodes.append(helper.make_node("Resize", make_inputs(), [out], mode="linear",
                                      coordinate_transformation_mode=mode))
        outputs.append(out)
    for mode, exclude, a in (("half_pixel", 0, -0.75), ("align_corners", 0, -0.5), ("asymmetric", 1, -0.75)):
        out = f"cubic_{mode}_{exclude}"
        nodes.append(helper.make_node("Resize", make_inputs(), [out], mode="cubic", cubic_coeff_a=a,
                                      exclude_outside=exclude, coordinate_transformation_mode=mode))
        outputs.append(out)
    return outputs


def _sized_inputs():
    sym = lambda name, dims: helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)  # noqa: E731
    return [sym("x", [1, 2, "H", "W"]), sym("like", [1, 1, "H2", "W2"])]


def _sized_feeds(*pairs):
    rng = np.random.RandomState(3)
    return [{"x": rng.randn(1, 2, *hw).astype(np.float32), "like": np.zeros((1, 1) + hw2, np.float32)}
            for hw, hw2 in pairs]


# up and down by ratios that put source coordinates on halves (2 -> 5, 7 -> 3), and a target of length 1
_SIZE_PAIRS = (((5, 7), (9, 3)), ((8, 2), (3, 5)), ((4, 6), (1, 13)))


@pytest.mark.slow
def test_every_mode_with_sizes_from_shapes(tmp_path):
    nodes = []
    sizes = _sizes_chain(nodes)
    outputs = _every_mode(nodes, lambda: ["x", "", "", sizes])
    _check(_model(tmp_path, nodes, outputs, _sized_inputs()), _sized_feeds(*_SIZE_PAIRS))


def _scaled_model(tmp_path, scales):
    nodes = [helper.make_node("Constant", [], ["scales"], value=helper.make_tensor(
        "scales", TensorProto.FLOAT, [4], scales))]
    outputs = _every_mode(nodes, lambda: ["x", "", "scales"])
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "H", "W"])]
    return _model(tmp_path, nodes, outputs, inputs)


@pytest.mark.slow
def test_every_mode_with_integer_scales(tmp_path):
    """Output lengths 2*H and 3*W: MXNet counts them over the input's axes repeated."""
    _check(_scaled_model(tmp_path, [1.0, 1.0, 2.0, 3.0]), _images((5, 7), (3, 4), channels=2))


def _align_corners_outputs(path):
    return [o.name for o in onnx.load(str(path)).graph.output if "align_corners" in o.name]


def test_fractional_scales_tvm_and_mxnet_error(tmp_path):
    """floor(1.5 * H) and floor(W / 2): TVM computes them from the symbols; no MXNet tensor has those
    lengths, so import_to_gluon asks for shape=. align_corners with scales divides by the unrounded length
    n * scale as ONNX's reference does (onnxruntime by the rounded one; onnx/onnx#2462)."""
    path = _scaled_model(tmp_path, [1.0, 1.0, 1.5, 0.5])
    _check(path, _images((5, 7), (6, 9), channels=2), engines=("ir", "tvm"),
           onnx_reference=_align_corners_outputs(path))
    with pytest.raises(ShapeError, match="shape="):
        nb.import_to_gluon(str(path))


def test_output_length_and_taps_round_as_onnxruntime_on_symbolic_axes(tmp_path):
    """A scale of 0.7 on 10: float32(10) * float32(0.7) is 7.0 in float32 (onnxruntime's length; ONNX's
    reference and shape inference say 6), and half-pixel taps land on ties (3.5 / 0.7 - 0.5): the run-time taps
    reproduce onnxruntime's float32 arithmetic."""
    nodes = [helper.make_node("Constant", [], ["scales"], value=helper.make_tensor(
        "scales", TensorProto.FLOAT, [4], [1.0, 1.0, 0.7, 0.7]))]
    nodes.append(helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest"))
    path = _model(tmp_path, nodes, ["y"], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])])
    x = np.arange(100, dtype=np.float32).reshape(1, 1, 10, 10)
    assert ort.InferenceSession(str(path)).run(None, {"x": x})[0].shape == (1, 1, 7, 7)
    _check(path, [{"x": x}], engines=("ir", "tvm"))


def _static_and_symbolic(tmp_path, scales, shape):
    """The same every-mode Resize model with static H/W and with symbolic H/W."""
    paths = []
    for name, dims in (("static", list(shape)), ("symbolic", list(shape[:2]) + ["H", "W"])):
        nodes = [helper.make_node("Constant", [], ["scales"], value=helper.make_tensor(
            "scales", TensorProto.FLOAT, [4], scales))]
        outputs = _every_mode(nodes, lambda: ["x", "", "scales"])
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)]
        graph = helper.make_graph(nodes, "resize", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT,
                                                                                          None) for o in outputs])
        path = tmp_path / f"{name}_{scales[2]}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
        paths.append(path)
    return paths


@pytest.mark.parametrize("scale", [0.7, 1.3, 2.5, 0.6])
def test_static_and_symbolic_axes_give_one_answer(tmp_path, scale):
    """One model, its H/W static or symbolic: the same lengths and the same numbers (constant taps and run-time
    taps are one float32 recipe), onnxruntime's: 10 * 0.7 is 7 there (ONNX's reference says 6) and half-pixel
    taps tie (3.5 / 0.7 - 0.5). At 0.6 on 10 a half_pixel_symmetric and a tf_half_pixel_for_nn tap land on
    ties that onnxruntime's arithmetic (float64 in the first) breaks the other way: there the two paths must
    still agree with each other."""
    static, symbolic = _static_and_symbolic(tmp_path, [1.0, 1.0, scale, scale], (1, 2, 10, 10))
    x = np.random.RandomState(0).randn(1, 2, 10, 10).astype(np.float32)
    outs = {}
    for path in (static, symbolic):
        graph, params = nb.frontend.from_onnx(str(path))
        outs[path] = run_graph(graph, {"x": x}, params)
    want = _expected(static, {"x": x})  # n * scale is a whole float32 here: align_corners is onnxruntime's too
    names = [o.name for o in onnx.load(str(static)).graph.output]
    for name, a, b, ref in zip(names, outs[static], outs[symbolic], want, strict=True):
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
        if scale != 0.6 or not name.startswith(("nearest_half_pixel_symmetric", "nearest_tf_half_pixel")):
            assert_close(a, ref)
    assert outs[static][0].shape[2:] == (int(np.float32(10) * np.float32(scale)),
                                         int(np.float32(10) * np.float32(scale)))


@pytest.mark.slow
def test_static_and_symbolic_axes_give_one_answer_through_tvm(tmp_path):
    static, symbolic = _static_and_symbolic(tmp_path, [1.0, 1.0, 0.7, 1.3], (1, 2, 10, 7))
    x = np.random.RandomState(1).randn(1, 2, 10, 7).astype(np.float32)
    a, b = (nb.compile_model(str(p)).run({"x": x}) for p in (static, symbolic))
    assert a[0].shape == (1, 2, 7, 9)
    for got, want in zip(a, b, strict=True):
        assert_close(got, want)


def test_half_pixel_symmetric_needs_opset_19_to_export(tmp_path):
    """The exporter's check reports the node with the unsupported ops (onnx's Resize has the mode from 19)."""
    from frontend_ext.onnx.exporter import unsupported_ops

    from nnvm_bridge.errors import UnsupportedOperatorError

    nodes = [helper.make_node("Constant", [], ["scales"], value=helper.make_tensor(
        "scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 1.5])),
        helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                         coordinate_transformation_mode="half_pixel_symmetric")]
    path = _model(tmp_path, nodes, ["y"], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])])
    graph, params = nb.frontend.from_onnx(str(path))
    assert unsupported_ops(graph, opset=18) == {"dyn_resize (half_pixel_symmetric before opset 19)": ["y"]}
    with pytest.raises(UnsupportedOperatorError, match="half_pixel_symmetric before opset 19"):
        nb.frontend.to_onnx(graph, params, opset=18)
    nb.frontend.to_onnx(graph, params, opset=19)


def test_sizes_computed_at_run_time_from_the_image_size(tmp_path):
    """torchvision's detection transform (legacy export): scale = 12 / min(H, W) in float, sizes =
    Concat(Shape(x)[:2], floor(float([H, W]) * scale)). No symbol expresses those lengths: the batch and channels
    come from ONNX's shape inference, H and W are symbols named by that computation, bound from the sizes when
    they run (TVM); MXNet cuts positions of those lengths at run time."""
    const = lambda name, v, t=TensorProto.INT64: helper.make_node("Constant", [], [name], value=helper.make_tensor(  # noqa: E731
        name, t, [len(v)] if isinstance(v, list) else [], v if isinstance(v, list) else [v]))
    nodes = [helper.make_node("Shape", ["x"], ["xs"]), const("c0", [0]), const("c2", [2]), const("c4", [4]),
             const("twelve", 12.0, TensorProto.FLOAT),
             helper.make_node("Slice", ["xs", "c0", "c2"], ["nc"]),
             helper.make_node("Slice", ["xs", "c2", "c4"], ["hw"]),
             helper.make_node("Cast", ["hw"], ["hw_f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMin", ["hw_f"], ["low"], keepdims=0),
             helper.make_node("Div", ["twelve", "low"], ["scale"]),
             helper.make_node("Mul", ["hw_f", "scale"], ["scaled"]),
             helper.make_node("Floor", ["scaled"], ["floored"]),
             helper.make_node("Cast", ["floored"], ["new_hw"], to=TensorProto.INT64),
             helper.make_node("Concat", ["nc", "new_hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")]
    path = _model(tmp_path, nodes, ["y"], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "H", "W"])],
                  opset=17)
    feeds = _images((5, 7), (8, 6), channels=2)  # scales 2.4 and 2: outputs 12 x 16 and 16 x 12
    assert [ort.InferenceSession(str(path)).run(None, f)[0].shape for f in feeds] == [(1, 2, 12, 16), (1, 2, 16, 12)]
    _check(path, feeds)


def test_position_grid_resized_to_a_strided_convs_output(tmp_path):
    """DINOv2's embeddings: a position grid resized to (H // 8, W // 8) from Shape arithmetic, added to the
    patch convolution's output, whose length (H - 8) // 8 + 1 is the same dim written another way."""
    rng = np.random.RandomState(0)
    const = lambda name, v: helper.make_node("Constant", [], [name], value=helper.make_tensor(  # noqa: E731
        name, TensorProto.INT64, [len(v)], v))
    inits = [onnx.numpy_helper.from_array(rng.randn(4, 3, 8, 8).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(rng.randn(1, 4, 4, 4).astype(np.float32), "pos")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["patches"], kernel_shape=[8, 8], strides=[8, 8]),
             helper.make_node("Shape", ["x"], ["xs"]), const("c2", [2]), const("c4", [4]), const("p", [8]),
             const("lead", [1, 4]), helper.make_node("Slice", ["xs", "c2", "c4"], ["hw"]),
             helper.make_node("Div", ["hw", "p"], ["grid"]),
             helper.make_node("Concat", ["lead", "grid"], ["sizes"], axis=0),
             helper.make_node("Resize", ["pos", "", "", "sizes"], ["grid_pos"], mode="cubic"),
             helper.make_node("Add", ["patches", "grid_pos"], ["y"])]
    graph = helper.make_graph(nodes, "dinov2_embeddings",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "grid.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    feeds = [{"x": rng.randn(n, 3, h, w).astype(np.float32)} for n, h, w in ((2, 32, 32), (1, 48, 43))]
    _check(path, feeds)
