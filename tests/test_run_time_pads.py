"""Pad and Slice by amounts computed at run time, as torchvision's detection transform writes them (issue 10;
tools/real_model_sweep.py's tv_fasterrcnn_mobilenet_320).

- Legacy exporter: each image is padded to a multiple of 32 by ``ceil(h / 32) * 32 - h`` computed in floats
  from the image's shape; the pads are then symbolic values and the output length an expression.
- Dynamo exporter: the resized height ``trunc(h * min(10 / h, 2))`` is computed in floats from run-time
  values (a new symbol, named by that computation), the canvas is ``ceil(v / 4) * 4`` long, and the image is
  written into the canvas' first ``v`` places: equal lengths must get the same symbol for TVM to add them.

Each graph is imported once (no shape=), compiled / bound once, run at two sizes and compared with onnxruntime
(tests/tolerance.py), through TVM and MXNet.
"""
from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import nnvm_bridge as nb  # noqa: E402


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                   for o in outputs], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _const(name, values, dtype=TensorProto.INT64):
    arr = np.asarray(values, dtype=np.float32 if dtype == TensorProto.FLOAT else np.int64)
    return helper.make_tensor(name, dtype, arr.shape, arr.reshape(-1).tolist())


def _round_up(src, step, out, tag):
    """out = int(ceil(float(src) / step) * step), as torchvision rounds sizes up."""
    return [helper.make_node("Cast", [src], [f"{tag}_f"], to=TensorProto.FLOAT),
            helper.make_node("Div", [f"{tag}_f", step], [f"{tag}_d"]),
            helper.make_node("Ceil", [f"{tag}_d"], [f"{tag}_c"]),
            helper.make_node("Mul", [f"{tag}_c", step], [f"{tag}_m"]),
            helper.make_node("Cast", [f"{tag}_m"], [out], to=TensorProto.INT64)]


def _legacy_pad_model():
    """x (2, H, W) padded at the end of H and W to multiples of 8, the pads as torch's F.pad list reversed."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "one", "three"], ["hw"])]
    nodes += _round_up("hw", "eight_f", "hw_up", "r")
    nodes += [helper.make_node("Sub", ["hw_up", "hw"], ["extra"]),
              helper.make_node("Concat", ["zeros3", "extra"], ["pads"], axis=0),
              helper.make_node("Pad", ["x", "pads", "value"], ["y"]),
              helper.make_node("Pad", ["x", "pads"], ["edge"], mode="edge")]
    inits = [_const("one", [1]), _const("three", [3]), _const("eight_f", 8.0, TensorProto.FLOAT),
             _const("zeros3", [0, 0, 0, 0]), _const("value", 0.5, TensorProto.FLOAT)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, "H", "W"])
    return _model(nodes, [x], ["y", "edge"], inits), [{"x": np.random.RandomState(k).rand(2, h, w).astype(np.float32)}
                                                     for k, (h, w) in enumerate([(5, 9), (16, 3)])]


def _dynamo_canvas_model():
    """v = trunc(n * min(10 / n, 2)) from x (N,); x padded to v (pads v - n); a canvas of ceil(v / 4) * 4
    zeros; its first v places plus the padded x; and a Slice of the canvas to v + 1."""
    nodes = [helper.make_node("Shape", ["x"], ["n"]),
             helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
             helper.make_node("Div", ["ten_f", "nf"], ["ratio"]),
             helper.make_node("Min", ["ratio", "two_f"], ["scale"]),
             helper.make_node("Mul", ["nf", "scale"], ["scaled"]),
             helper.make_node("Cast", ["scaled"], ["v"], to=TensorProto.INT64),
             helper.make_node("Sub", ["v", "n"], ["extra"]),
             helper.make_node("Concat", ["zero", "extra"], ["pads"], axis=0),
             helper.make_node("Pad", ["x", "pads"], ["padded"])]
    nodes += _round_up("v", "four_f", "canvas_len", "r")
    nodes += [helper.make_node("ConstantOfShape", ["canvas_len"], ["canvas"],
                               value=helper.make_tensor("c", TensorProto.FLOAT, [1], [0.25])),
              helper.make_node("Slice", ["canvas", "zero", "v"], ["head"]),
              helper.make_node("Add", ["head", "padded"], ["y"]),
              helper.make_node("Add", ["v", "one"], ["v1"]),
              helper.make_node("Slice", ["canvas", "zero", "v1"], ["longer"])]
    inits = [_const("ten_f", 10.0, TensorProto.FLOAT), _const("two_f", 2.0, TensorProto.FLOAT),
             _const("four_f", 4.0, TensorProto.FLOAT), _const("zero", [0]), _const("one", [1])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
    # n = 3: v = 6, canvas 8; n = 7: v = 10, canvas 12
    feeds = [{"x": np.random.RandomState(k).rand(n).astype(np.float32) + 1} for k, n in enumerate((3, 7))]
    return _model(nodes, [x], ["y", "canvas", "longer"], inits), feeds


def _window_pad_model():
    """Swin's windows: a stride-4 patch embedding (H // 4 by W // 4 patches) padded at the end to whole windows
    of 2 by ``(2 - n % 2) % 2``, then cut into the windows, whose count is the padded length divided by 2."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["patches"], strides=[4, 4], kernel_shape=[4, 4]),
             helper.make_node("Shape", ["patches"], ["s"]),
             helper.make_node("Slice", ["s", "two1", "four1"], ["hw"]),
             helper.make_node("Mod", ["hw", "two"], ["rest"]),
             helper.make_node("Sub", ["two", "rest"], ["short"]),
             helper.make_node("Mod", ["short", "two"], ["extra"]),
             helper.make_node("Concat", ["zeros6", "extra"], ["pads"], axis=0),
             helper.make_node("Pad", ["patches", "pads"], ["padded"]),
             helper.make_node("Shape", ["padded"], ["ps"]),
             helper.make_node("Slice", ["ps", "two1", "four1"], ["phw"]),
             helper.make_node("Div", ["phw", "two"], ["windows"]),
             helper.make_node("Slice", ["windows", "zero1", "one1"], ["wh"]),
             helper.make_node("Slice", ["windows", "one1", "two1"], ["ww"]),
             helper.make_node("Concat", ["one2", "wh", "two1", "ww", "two1"], ["cut"], axis=0),
             helper.make_node("Reshape", ["padded", "cut"], ["cells"]),
             helper.make_node("ReduceSum", ["cells", "axes"], ["y"], keepdims=0)]
    inits = [numpy_helper.from_array(np.random.RandomState(3).rand(2, 1, 4, 4).astype(np.float32), "w"),
             _const("two1", [2]), _const("four1", [4]), _const("two", 2), _const("zeros6", [0] * 6),
             _const("one2", [1, 2]), _const("axes", [3, 5]), _const("zero1", [0]), _const("one1", [1])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])
    # 12 x 20: 3 x 5 patches padded to 4 x 6; 16 x 8: 4 x 2 patches, no padding
    feeds = [{"x": np.random.RandomState(k).rand(1, 1, h, w).astype(np.float32)} for k, (h, w) in
             enumerate([(12, 20), (16, 8)])]
    return _model(nodes, [x], ["y"], inits, opset=18), feeds


def _shifted_window_model():
    """Swin's shifted windows (HF SwinLayer, legacy exporter; the sweep's swin_pad_dyn): the patches padded to whole
    windows of 2 as above, rolled by two along H (``x[:, :, -2:]`` before ``x[:, :, :-2]``), then cut into windows
    by the rolled length divided by 2: the two slices' lengths must add up to the padded length again."""
    model, feeds = _window_pad_model()
    nodes = list(model.graph.node)
    at = next(i for i, n in enumerate(nodes) if n.output[0] == "padded") + 1
    nodes[at:at] = [helper.make_node("Slice", ["padded", "minus2", "big", "two1"], ["tail"]),
                    helper.make_node("Slice", ["padded", "zero1", "minus2", "two1"], ["head"]),
                    helper.make_node("Concat", ["tail", "head"], ["rolled"], axis=2)]
    for n in nodes[at + 3:]:
        n.input[:] = ["rolled" if i == "padded" else i for i in n.input]
    # the legacy exporter's broadcast of index tensors (the shifted windows' mask): Expand to the shape with
    # -1 read as 1; a length is never -1, so the Expand keeps the tail's shape and adds to it
    nodes += [helper.make_node("Shape", ["tail"], ["ts"]),
              helper.make_node("Equal", ["ts", "minus1"], ["neg"]),
              helper.make_node("Where", ["neg", "one1", "ts"], ["to"]),
              helper.make_node("Expand", ["tail", "to"], ["spread"]),
              helper.make_node("Add", ["spread", "tail"], ["twice"])]
    inits = list(model.graph.initializer) + [_const("minus2", [-2]), _const("big", [2 ** 62]), _const("minus1", -1)]
    outputs = list(model.graph.output) + [helper.make_tensor_value_info("twice", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", model.graph.input, outputs, inits)
    return helper.make_model(graph, opset_imports=model.opset_import), feeds


def _patch_merging_model():
    """Swin's patch merging (HF SwinPatchMerging at a size the exporter saw unpadded): the H // 4 by W // 4 patches,
    channels last, cut into their four 2 x 2 phases by strided slices (``x[:, 0::2, 0::2]``, ``x[:, 1::2, 0::2]``,
    ...), concatenated along the channels and flattened to tokens: the phases' lengths must stay of one form for
    the concatenation and the reshape to keep their shapes."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["patches"], strides=[4, 4], kernel_shape=[4, 4]),
             helper.make_node("Transpose", ["patches"], ["nhwc"], perm=[0, 2, 3, 1])]
    phases = [f"phase{h0}{w0}" for w0 in (0, 1) for h0 in (0, 1)]
    nodes += [helper.make_node("Slice", ["nhwc", f"start_{p[-2:]}", "big2", "axes12", "two2"], [p]) for p in phases]
    nodes += [helper.make_node("Concat", phases, ["merged"], axis=3),
              helper.make_node("Reshape", ["merged", "flat"], ["y"])]
    inits = [numpy_helper.from_array(np.random.RandomState(3).rand(2, 1, 4, 4).astype(np.float32), "w"),
             _const("big2", [2 ** 62] * 2), _const("axes12", [1, 2]), _const("two2", [2, 2]),
             _const("flat", [1, -1, 8])] + [_const(f"start_{p[-2:]}", [int(p[-2]), int(p[-1])]) for p in phases]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])
    feeds = [{"x": np.random.RandomState(k).rand(1, 1, h, w).astype(np.float32)} for k, (h, w) in
             enumerate([(32, 16), (16, 48)])]
    return _model(nodes, [x], ["y"], inits), feeds


def _reference(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [sess.run(None, f) for f in feeds]


@pytest.mark.parametrize("build", [_legacy_pad_model, _dynamo_canvas_model, _window_pad_model,
                                   _shifted_window_model, _patch_merging_model])
def test_tvm_runs_run_time_pads_and_slices_at_two_sizes(build):
    pytest.importorskip("tvm")
    model, feeds = build()
    cm = nb.compile_model(model, offload=False)
    for f, want in zip(feeds, _reference(model, feeds)):
        for got, ref in zip(cm.run(f), want, strict=True):
            assert_close(got, ref)


@pytest.mark.parametrize("build", [_legacy_pad_model, _dynamo_canvas_model, _window_pad_model,
                                   _shifted_window_model, _patch_merging_model])
def test_mxnet_runs_run_time_pads_and_slices_at_two_sizes(build):
    mx = pytest.importorskip("mxnet")
    model, feeds = build()
    block = nb.import_to_gluon(model)
    for f, want in zip(feeds, _reference(model, feeds)):
        outs = block(mx.nd.array(f["x"]))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for got, ref in zip(outs, want, strict=True):
            assert_close(got.asnumpy(), ref)


def test_equal_run_time_lengths_share_a_symbol():
    """v computed twice by the same expression: one symbol, so the two results add in TVM."""
    from nnvm_bridge.ir.passes import infer_shape

    model, _ = _dynamo_canvas_model()
    graph, params = nb.frontend.from_onnx(model)
    g = infer_shape(graph, params=params)
    y, canvas, longer = (g.attrs["shape"][g.entry_id(o)] for o in g.outputs)
    assert str(longer[0]) == f"1 + {y[0]}" or str(longer[0]) == f"{y[0]} + 1"
    assert "value_" in str(y[0]) and str(canvas[0]).startswith("size_")
    assert {"bind_dims", "dyn_pad", "dyn_full"} <= set(graph.op_counts())
