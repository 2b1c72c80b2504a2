"""Control flow that only the run time decides, through TVM (Relax If, recursive functions) and MXNet (_cond).

ir/passes/control_flow.py lowers what it can (a select, an unrolled loop); these models are the rest: an If
whose branches give different shapes on a run-time condition, Loops with a run-time trip count and a
data-dependent condition, and torchvision's detection post-processing (NonZero on the scores, an If that
returns no boxes when nothing is left, NMS and TopK otherwise), each compiled once and run at two input
sizes against onnxruntime.  MXNet gets ``_cond`` for such an If and ``_foreach`` for a loop that runs its
whole (symbolic or long) trip count, ``_while_loop`` for a loop the data stop (one with scan outputs is refused).
Small torch modules exported by the legacy exporter add what torchvision's Mask R-CNN writes: a Slice whose bounds
are data, masks pasted at their boxes in a scripted loop (TVM; MXNet refuses it with what to do), and a carried
value that grows by concatenation (a scan output of MXNet's ``_foreach``).
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from nnvm_bridge.errors import UnsupportedOperatorError  # noqa: E402
from nnvm_bridge.frontend.onnx.importer import from_onnx  # noqa: E402
from tolerance import assert_close  # noqa: E402


def _vi(name, dtype=T.FLOAT, shape=None):
    return h.make_tensor_value_info(name, dtype, shape)


def _int(name, value):
    return nh.from_array(np.asarray(value, np.int64), name)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    return h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=[h.make_opsetid("", opset)])


def if_shapes_model():
    """relu(concat(x, x)) if c else relu(x + x): the branches differ in length along axis 0."""
    then = h.make_graph([h.make_node("Concat", ["x", "x"], ["t"], axis=0)], "then", [], [_vi("t")])
    other = h.make_graph([h.make_node("Add", ["x", "x"], ["e"])], "else", [], [_vi("e")])
    return _model([h.make_node("If", ["c"], ["y0"], then_branch=then, else_branch=other),
                   h.make_node("Relu", ["y0"], ["y"])],
                  [_vi("x", shape=["N", 3]), _vi("c", T.BOOL, [1])], [_vi("y")])


def while_model():
    """while i < M and sum(y) < limit: y = 1.5 * y + x, scanning y (M and limit are inputs)."""
    body = h.make_graph([
        h.make_node("Mul", ["y_in", "k"], ["t"]), h.make_node("Add", ["t", "x"], ["y_out"]),
        h.make_node("ReduceSum", ["y_out"], ["s"], keepdims=0), h.make_node("Less", ["s", "limit"], ["cond_out"]),
        h.make_node("Identity", ["y_out"], ["scan"])], "body",
        [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("y_in", shape=["N", 2])],
        [_vi("cond_out", T.BOOL, []), _vi("y_out", shape=["N", 2]), _vi("scan", shape=["N", 2])],
        [nh.from_array(np.array(1.5, np.float32), "k")])
    return _model([h.make_node("Loop", ["M", "", "y0"], ["y", "ys"], body=body)],
                  [_vi("x", shape=["N", 2]), _vi("y0", shape=["N", 2]), _vi("M", T.INT64, []), _vi("limit", shape=[])],
                  [_vi("y", shape=["N", 2]), _vi("ys")])


def stopping_loop_model(trips_input=True):
    """while i < M and sum(y) < limit: y = 1.5 * y + x, no scan output: M an input, or (PyTorch's legacy export
    of a scripted while loop) int64's largest, the body ignoring its condition input and the loop's own
    condition computed before it."""
    body = h.make_graph([
        h.make_node("Mul", ["y_in", "k"], ["t"]), h.make_node("Add", ["t", "x"], ["y_out"]),
        h.make_node("ReduceSum", ["y_out"], ["s"], keepdims=0), h.make_node("Less", ["s", "limit"], ["cond_out"])],
        "body", [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("y_in", shape=["N", 2])],
        [_vi("cond_out", T.BOOL, []), _vi("y_out", shape=["N", 2])], [nh.from_array(np.array(1.5, np.float32), "k")])
    before = [h.make_node("ReduceSum", ["y0"], ["s0"], keepdims=0), h.make_node("Less", ["s0", "limit"], ["c0"])]
    inputs = [_vi("x", shape=["N", 2]), _vi("y0", shape=["N", 2]), _vi("limit", shape=[])]
    return _model(before + [h.make_node("Loop", ["M", "c0", "y0"], ["y"], body=body)],
                  inputs + ([_vi("M", T.INT64, [])] if trips_input else []), [_vi("y", shape=["N", 2])],
                  [] if trips_input else [_int("M", 2**63 - 1)])


def sliding_loop_model():
    """ONNX's test_loop11 with a run-time trip count: y += x[i:i + 1] for i < M, scanning y (the slice's
    bounds are values, its length 1 follows from them)."""
    body = h.make_graph([
        h.make_node("Add", ["i", "one"], ["end"]), h.make_node("Unsqueeze", ["i", "ax"], ["start1"]),
        h.make_node("Unsqueeze", ["end", "ax"], ["end1"]), h.make_node("Slice", ["x", "start1", "end1"], ["piece"]),
        h.make_node("Add", ["y_in", "piece"], ["y_out"]), h.make_node("Identity", ["cond_in"], ["cond_out"]),
        h.make_node("Identity", ["y_out"], ["scan"])], "body",
        [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("y_in", shape=[1])],
        [_vi("cond_out", T.BOOL, []), _vi("y_out", shape=[1]), _vi("scan", shape=[1])],
        [_int("one", 1), _int("ax", [0])])
    return _model([h.make_node("Loop", ["M", "", "y0"], ["y", "ys"], body=body)],
                  [_vi("x", shape=[8]), _vi("y0", shape=[1]), _vi("M", T.INT64, [])], [_vi("y", shape=[1]), _vi("ys")])


def rows_loop_model():
    """for i in range(x.size(0)): acc = acc * 0.5 + x[i], as PyTorch's legacy exporter writes a scripted loop:
    the trip count from Shape -> Gather, the row a Gather of x at the 0-d iteration number."""
    body = h.make_graph([h.make_node("Mul", ["a_in", "half"], ["t"]), h.make_node("Gather", ["x", "i"], ["row"]),
                         h.make_node("Add", ["t", "row"], ["a_out"]), h.make_node("Identity", ["c_in"], ["c_out"])],
                        "body", [_vi("i", T.INT64, []), _vi("c_in", T.BOOL, []), _vi("a_in", shape=[2])],
                        [_vi("c_out", T.BOOL, []), _vi("a_out", shape=[2])],
                        [nh.from_array(np.array(0.5, np.float32), "half")])
    return _model([h.make_node("Shape", ["x"], ["shape"]), h.make_node("Gather", ["shape", "zero"], ["n"]),
                   h.make_node("Loop", ["n", "true", "a0"], ["a"], body=body)],
                  [_vi("x", shape=["N", 2]), _vi("a0", shape=[2])], [_vi("a", shape=[2])],
                  [_int("zero", 0), nh.from_array(np.array(True), "true")])


def long_loop_model(trips=300):
    """A fixed trip count above the unrolling limit (256): acc = acc * 0.99 + x."""
    body = h.make_graph([h.make_node("Mul", ["a_in", "k"], ["t"]), h.make_node("Add", ["t", "x"], ["a_out"]),
                         h.make_node("Identity", ["c_in"], ["c_out"])], "body",
                        [_vi("i", T.INT64, []), _vi("c_in", T.BOOL, []), _vi("a_in", shape=["N"])],
                        [_vi("c_out", T.BOOL, []), _vi("a_out", shape=["N"])],
                        [nh.from_array(np.array(0.99, np.float32), "k")])
    return _model([h.make_node("Loop", ["M", "", "a0"], ["a"], body=body)], [_vi("x", shape=["N"]), _vi("a0", shape=["N"])],
                  [_vi("a", shape=["N"])], [_int("M", trips)])


def scan_model():
    """s += x_t; y_t = s * x_t over a sequence of symbolic length T (ONNX Scan: a loop of T iterations)."""
    body = h.make_graph([h.make_node("Add", ["s_in", "x_t"], ["s_out"]), h.make_node("Mul", ["s_out", "x_t"], ["y_t"])],
                        "body", [_vi("s_in", shape=[3]), _vi("x_t", shape=[3])],
                        [_vi("s_out", shape=[3]), _vi("y_t", shape=[3])])
    return _model([h.make_node("Scan", ["s0", "x"], ["s", "ys"], body=body, num_scan_inputs=1)],
                  [_vi("s0", shape=[3]), _vi("x", shape=["T", 3])], [_vi("s", shape=[3]), _vi("ys", shape=["T", 3])])


def detection_model(nms=True, topk=5):
    """torchvision's post-processing as the legacy exporter writes it: keep = NonZero(scores > 0.5); If nothing
    is kept, no index (an empty constant), else NMS of the kept boxes (``nms``) and the TopK best of what
    is left, k = min(5, n); the boxes and scores are Gathers of the result."""
    then = h.make_graph([h.make_node("Constant", [], ["none"], value=_int("v", np.zeros(0)))], "then", [],
                        [_vi("none", T.INT64, [0])])
    if nms:
        pick = [h.make_node("Unsqueeze", ["kept_boxes", "ax0"], ["b3"]),
                h.make_node("Unsqueeze", ["kept_scores", "ax01"], ["s3"]),
                h.make_node("NonMaxSuppression", ["b3", "s3", "max_out", "iou"], ["sel"]),
                h.make_node("Gather", ["sel", "two"], ["sel_idx"], axis=1),
                h.make_node("Gather", ["kept_scores", "sel_idx"], ["sel_scores"])]
        last = h.make_node("Gather", ["sel_idx", "top_i"], ["chosen"])
    else:
        pick = [h.make_node("Identity", ["kept_scores"], ["sel_scores"])]
        last = h.make_node("Identity", ["top_i"], ["chosen"])
    other = h.make_graph(pick + [h.make_node("Shape", ["sel_scores"], ["n_sel"]), h.make_node("Min", ["n_sel", "k"], ["kk"]),
                                 h.make_node("TopK", ["sel_scores", "kk"], ["top_s", "top_i"]), last],
                         "else", [], [_vi("chosen", T.INT64, ["K"])],
                         [_int("ax0", [0]), _int("ax01", [0, 1]), _int("max_out", [100]), _int("two", 2),
                          _int("k", [topk]), nh.from_array(np.array([0.5], np.float32), "iou")])
    nodes = [h.make_node("Greater", ["scores", "thr"], ["mask"]), h.make_node("NonZero", ["mask"], ["nz"]),
             h.make_node("Squeeze", ["nz", "ax0g"], ["keep"]), h.make_node("Gather", ["boxes", "keep"], ["kept_boxes"]),
             h.make_node("Gather", ["scores", "keep"], ["kept_scores"]), h.make_node("Size", ["kept_scores"], ["n"]),
             h.make_node("Equal", ["n", "zero"], ["nothing"]),
             h.make_node("If", ["nothing"], ["idx"], then_branch=then, else_branch=other),
             h.make_node("Gather", ["kept_boxes", "idx"], ["out_boxes"]),
             h.make_node("Gather", ["kept_scores", "idx"], ["out_scores"])]
    return _model(nodes, [_vi("boxes", shape=["N", 4]), _vi("scores", shape=["N"])],
                  [_vi("out_boxes", shape=["D", 4]), _vi("out_scores", shape=["D"])],
                  [nh.from_array(np.array(0.5, np.float32), "thr"), _int("ax0g", [0]), _int("zero", 0)], opset=13)


def boxes_and_scores(n, seed, detections=True):
    """Boxes that overlap often (NMS has work) and distinct scores (no ties in NMS or TopK)."""
    r = np.random.RandomState(seed)
    corner = r.rand(n, 2).astype(np.float32) * 20
    size = r.rand(n, 2).astype(np.float32) * 8 + 1
    scores = r.permutation(n).astype(np.float32) / n
    return {"boxes": np.concatenate([corner, corner + size], 1), "scores": scores if detections else scores * 0.4}


def _ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _compare(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w)


def _gluon_run(block, model, feeds):
    import mxnet as mx

    names = [vi.name for vi in model.graph.input]
    out = block(*[mx.nd.array(feeds[n], dtype="uint8" if feeds[n].dtype == bool else feeds[n].dtype)
                  for n in names])
    return [o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])]


IF_FEEDS = [{"x": np.random.RandomState(n).randn(n, 3).astype(np.float32), "c": np.array([c])}
            for n, c in ((2, True), (5, False), (4, True))]


# ---- TVM ---------------------------------------------------------------------------------------------
def test_if_with_branches_of_different_shapes_compiles_once_for_every_size():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    compiled = nb.compile_model(if_shapes_model())
    assert compiled.input_shapes["x"] == ("N", 3)
    for feeds in IF_FEEDS:
        _compare(compiled.run(feeds), _ort(if_shapes_model(), feeds))


def test_a_mask_of_its_own_length_inside_a_branch_is_unified():
    """optimum's merged decoders add the encoder mask (length ``T``) to scores over the cached encoder keys (``S``)
    inside the cache branch of an If: the broadcast of two symbols is found in the body and ``T`` becomes ``S``
    there too (an Expand's output shape), so both engines run it and the compiled model checks ``T == S``."""
    import nnvm_bridge as nb
    from nnvm_bridge.errors import ShapeError

    pytest.importorskip("tvm")
    pytest.importorskip("mxnet")
    then = h.make_graph([h.make_node("Shape", ["x"], ["s"]), h.make_node("Expand", ["m", "s"], ["wide"]),
                         h.make_node("Add", ["x", "wide"], ["t"])], "then", [], [_vi("t")])
    other = h.make_graph([h.make_node("Concat", ["x", "x"], ["e"], axis=0)], "else", [], [_vi("e")])
    model = _model([h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
                   [_vi("x", shape=["N", "S"]), _vi("m", shape=["N", "T"]), _vi("c", T.BOOL, [1])], [_vi("y")])
    compiled, block = nb.compile_model(model), nb.import_to_gluon(model)
    for n, k, c in ((2, 3, True), (3, 5, False), (1, 4, True)):
        rng = np.random.RandomState(n + k)
        feeds = {"x": rng.randn(n, k).astype(np.float32), "m": rng.randn(n, k).astype(np.float32), "c": np.array([c])}
        want = _ort(model, feeds)
        _compare(compiled.run(feeds), want)
        _compare(_gluon_run(block, model, feeds), want)
    with pytest.raises(ShapeError, match="input 'm' dim 1"):
        compiled.run({"x": np.ones((2, 3), np.float32), "m": np.ones((2, 4), np.float32), "c": np.array([True])})


def test_offload_to_pytorch_with_run_time_control_flow_is_refused():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    with pytest.raises(nb.errors.CompileError, match="control flow"):
        nb.compile_model(if_shapes_model(), shape={"x": (2, 3)}, offload=True)
    compiled = nb.compile_model(if_shapes_model(), shape={"x": (2, 3)}, offload="auto")  # falls back to TVM
    _compare(compiled.run(IF_FEEDS[0]), _ort(if_shapes_model(), IF_FEEDS[0]))


def test_loop_with_run_time_trip_count_and_condition_is_a_recursive_relax_function():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    model = while_model()
    compiled = nb.compile_model(model)
    r = np.random.RandomState(0)
    for n, trips, limit in ((2, 10, 30.0), (5, 3, 1e9), (4, 100, 50.0)):  # stops on the condition, on the count
        feeds = {"x": r.rand(n, 2).astype(np.float32), "y0": r.rand(n, 2).astype(np.float32),
                 "M": np.array(trips, np.int64), "limit": np.array(limit, np.float32)}
        _compare(compiled.run(feeds), _ort(model, feeds))
    # no iteration at all: the carried value comes back unchanged (onnxruntime's empty scan shape is its own)
    feeds = dict(feeds, M=np.array(0, np.int64))
    out = compiled.run(feeds)
    assert_close(out[0], feeds["y0"])
    assert out[1].shape[0] == 0


def test_loop_slicing_at_its_iteration_compiles():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    model = sliding_loop_model()
    compiled = nb.compile_model(model)
    x = np.arange(8, dtype=np.float32)
    for trips in (3, 6):
        feeds = {"x": x, "y0": np.ones(1, np.float32), "M": np.array(trips, np.int64)}
        _compare(compiled.run(feeds), _ort(model, feeds))


def test_loop_longer_than_the_unrolling_limit_runs_natively():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    model = long_loop_model(300)
    compiled = nb.compile_model(model)
    for n in (3, 7):
        feeds = {"x": np.random.RandomState(n).rand(n).astype(np.float32), "a0": np.zeros(n, np.float32)}
        _compare(compiled.run(feeds), _ort(model, feeds))


def test_lowering_is_kept_where_it_works():
    """Branches of equal shapes are a select and a short fixed loop is unrolled: no Relax function besides main."""
    from frontend_ext.tvm.to_relax import to_relax

    pytest.importorskip("tvm")
    then = h.make_graph([h.make_node("Neg", ["x"], ["t"])], "then", [], [_vi("t", shape=["N", 3])])
    other = h.make_graph([h.make_node("Relu", ["x"], ["e"])], "else", [], [_vi("e", shape=["N", 3])])
    model = _model([h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
                   [_vi("x", shape=["N", 3]), _vi("c", T.BOOL, [1])], [_vi("y", shape=["N", 3])])
    mod, _ = to_relax(*from_onnx(model))
    assert [gv.name_hint for gv in mod.get_global_vars() if gv.name_hint != "main" and
            not hasattr(mod[gv], "buffer_map")] == []
    mod, _ = to_relax(*from_onnx(long_loop_model(300)))
    assert any(gv.name_hint.startswith("loop_") for gv in mod.get_global_vars())


def test_detection_post_processing_with_if_and_nonzero_compiles_once_for_every_size():
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    model = detection_model()
    graph, _ = from_onnx(model)
    assert any(n.op == "if" for n in graph.op_nodes())  # Size(NonZero(..)) == 0 may be true: never folded
    compiled = nb.compile_model(model)
    for n, seed, detections in ((30, 0, True), (64, 1, True), (20, 2, False)):
        feeds = boxes_and_scores(n, seed, detections)
        want = _ort(model, feeds)
        assert want[0].shape[0] == (5 if detections else 0)
        _compare(compiled.run(feeds), want)


# ---- MXNet ---------------------------------------------------------------------------------------------
def test_if_with_branches_of_different_shapes_runs_in_gluon_as_cond():
    import nnvm_bridge as nb
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    pytest.importorskip("mxnet")
    text, _, _ = to_mxnet(*from_onnx(if_shapes_model()))
    assert '"_cond"' in text
    block = nb.import_to_gluon(if_shapes_model())
    for feeds in IF_FEEDS:
        _compare(_gluon_run(block, if_shapes_model(), feeds), _ort(if_shapes_model(), feeds))


def test_if_with_an_empty_4d_constant_branch_runs_in_gluon():
    """optimum's merged decoders give the branch that reuses the cache empty (0, heads, 1, dim) constants for the
    cache outputs it does not compute; MXNet reads a 0 dim of a parameter as unknown, so the emitter builds it."""
    import nnvm_bridge as nb

    pytest.importorskip("mxnet")
    empty = h.make_node("Constant", [], ["t"], value=nh.from_array(np.zeros((0, 2, 1, 4), np.float32)))
    then = h.make_graph([empty], "then", [], [_vi("t", shape=[None, 2, None, 4])])
    other = h.make_graph([h.make_node("Relu", ["x"], ["e"])], "else", [], [_vi("e", shape=[None, 2, None, 4])])
    model = _model([h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
                   [_vi("x", shape=["N", 2, "S", 4]), _vi("c", T.BOOL, [1])], [_vi("y")])
    block = nb.import_to_gluon(model)
    for n, c in ((3, True), (3, False), (1, False)):
        feeds = {"x": np.random.RandomState(n).randn(n, 2, 5, 4).astype(np.float32), "c": np.array([c])}
        _compare(_gluon_run(block, model, feeds), _ort(model, feeds))


def test_detection_post_processing_runs_in_gluon_at_two_sizes():
    """NonMaxSuppression as box_nms per batch and class, then TopK; MXNet 1.9 computes on no empty array (an
    input without any detection fails in MXNet already at the empty NonZero), so inputs with detections."""
    import nnvm_bridge as nb

    pytest.importorskip("mxnet")
    model = detection_model(nms=True)
    block = nb.import_to_gluon(model)
    for n, seed in ((30, 0), (64, 1)):
        feeds = boxes_and_scores(n, seed)
        _compare(_gluon_run(block, model, feeds), _ort(model, feeds))


@pytest.mark.parametrize("make", [scan_model, long_loop_model, rows_loop_model],
                         ids=["scan over a symbolic length", "300 trips", "rows of x at the iteration"])
def test_loop_of_a_whole_trip_count_runs_in_gluon_as_foreach(make):
    import nnvm_bridge as nb

    pytest.importorskip("mxnet")
    model = make()
    block = nb.import_to_gluon(model)
    r = np.random.RandomState(0)
    for n in (4, 9):
        feeds = {"s0": np.ones(3, np.float32), "x": r.rand(n, 3).astype(np.float32)} if make is scan_model else \
            {"x": r.rand(n, 2).astype(np.float32), "a0": r.rand(2).astype(np.float32)} if make is rows_loop_model \
            else {"x": r.rand(n).astype(np.float32), "a0": np.zeros(n, np.float32)}
        _compare(_gluon_run(block, model, feeds), _ort(model, feeds))


@pytest.mark.parametrize("trips_input", [True, False], ids=["trip count input", "no trip count"])
def test_loop_that_the_data_stop_runs_in_gluon_as_while_loop(trips_input):
    import nnvm_bridge as nb
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    pytest.importorskip("mxnet")
    model = stopping_loop_model(trips_input)
    assert '"_while_loop"' in to_mxnet(*from_onnx(model))[0]
    block = nb.import_to_gluon(model)
    r = np.random.RandomState(0)
    # stops on the condition, on the count, at once (the condition false before the loop), after no trip
    for n, trips, limit in ((2, 10, 30.0), (5, 3, 1e9), (3, 5, -1.0), (4, 0, 1e9)):
        feeds = {"x": r.rand(n, 2).astype(np.float32), "y0": r.rand(n, 2).astype(np.float32),
                 "limit": np.array(limit, np.float32)}
        if trips_input:
            feeds["M"] = np.array(trips, np.int64)
        elif trips == 0 or limit > 1e8:
            continue  # without a count the condition must stop it
        _compare(_gluon_run(block, model, feeds), _ort(model, feeds))


def test_loop_that_mxnet_cannot_unroll_is_refused_with_what_to_do():
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    with pytest.raises(UnsupportedOperatorError, match="compile with TVM"):
        to_mxnet(*from_onnx(while_model()))


# ---- lengths that the data decide, from PyTorch's legacy exporter (torchvision's Mask R-CNN paste) -----------
def _torch_export(module, args, names, dynamic_axes, path):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), input_names=names, output_names=["out"],
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    return onnx.load(str(path))


def _paste_functions():
    """torchvision's ``_onnx_paste_masks_in_image_loop`` in small: per box, the mask resized to the box's size,
    cut where the box leaves the image (Slice bounds from the box's values), zeros padded around it to the
    image's size (ConstantOfShape of box-dependent lengths), the rows concatenated onto a carried tensor that
    starts empty (a scripted loop)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def paste_one(mask, box, im_h, im_w):
        one, zero = torch.ones(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
        w = torch.max(torch.cat((box[2] - box[0] + one, one)))
        h = torch.max(torch.cat((box[3] - box[1] + one, one)))
        mask = F.interpolate(mask.expand((1, 1, mask.size(0), mask.size(1))), size=(int(h), int(w)),
                             mode="bilinear", align_corners=False)[0][0]
        x_0 = torch.max(torch.cat((box[0].unsqueeze(0), zero)))
        x_1 = torch.min(torch.cat((box[2].unsqueeze(0) + one, im_w.unsqueeze(0))))
        y_0 = torch.max(torch.cat((box[1].unsqueeze(0), zero)))
        y_1 = torch.min(torch.cat((box[3].unsqueeze(0) + one, im_h.unsqueeze(0))))
        cut = mask[(y_0 - box[1]):(y_1 - box[1]), (x_0 - box[0]):(x_1 - box[0])]
        rows = torch.cat((torch.zeros(y_0, cut.size(1)), cut, torch.zeros(im_h - y_1, cut.size(1))), 0)[0:im_h, :]
        return torch.cat((torch.zeros(rows.size(0), x_0), rows, torch.zeros(rows.size(0), im_w - x_1)), 1)[:, :im_w]

    @torch.jit._script_if_tracing
    def paste_all(masks, boxes, im_h, im_w):
        res = torch.zeros(0, im_h, im_w)
        for i in range(masks.size(0)):
            res = torch.cat((res, paste_one(masks[i][0], boxes[i], im_h, im_w).unsqueeze(0)))
        return res

    class Paste(torch.nn.Module):
        def forward(self, image, masks, boxes):
            im_h, im_w = (torch.scalar_tensor(d, dtype=torch.int64) for d in image.shape[-2:])
            return paste_all(masks, boxes.to(torch.int64), im_h, im_w)[:, None]

    return Paste()


def paste_model(path):
    torch = pytest.importorskip("torch")
    boxes = torch.tensor([[2.0, 3.0, 20.0, 30.0], [-4.0, 10.0, 45.0, 38.0]])
    return _torch_export(_paste_functions(), (torch.zeros(1, 3, 40, 50), torch.rand(2, 1, 14, 14), boxes),
                         ["image", "masks", "boxes"], {"image": {2: "h", 3: "w"}, "masks": {0: "n"}, "boxes": {0: "n"}},
                         path)


def _paste_feeds(hw, boxes, seed):
    return {"image": np.zeros((1, 3) + hw, np.float32), "boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "masks": np.random.RandomState(seed).rand(len(boxes), 1, 14, 14).astype(np.float32)}


# boxes inside, across every border, beyond the image, a box of one pixel; then no box at all
PASTE_FEEDS = [_paste_feeds((40, 50), [[2, 3, 20, 30], [-4, -10, 45, 38], [30, 25, 60, 48]], 0),
               _paste_feeds((33, 47), [[10, 1, 10, 1], [1, 2, 46, 32]], 1), _paste_feeds((33, 47), [], 2)]


def keypoints_model(path):
    """torchvision's ``_onnx_heatmaps_to_keypoints`` in small: per box, the keypoint maps resized to the box's
    size (Resize sizes = the maps' own first dims, then lengths from the box's values), flattened per keypoint
    (a reshape to (K, -1) of a length only run time knows) and the peak's column and row found (a scripted
    loop)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def peaks(maps, box):
        w = int(torch.ceil(torch.clamp(box[2] - box[0], min=1.0)))
        h = int(torch.ceil(torch.clamp(box[3] - box[1], min=1.0)))
        grown = F.interpolate(maps[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        width = torch.scalar_tensor(grown.size(2), dtype=torch.int64)
        pos = grown.reshape(maps.size(0), -1).argmax(dim=1)
        col = pos % width
        return torch.stack((col.float() + box[0], ((pos - col) // width).float() + box[1]), 1)

    @torch.jit._script_if_tracing
    def all_peaks(maps, boxes):
        res = torch.zeros(0, maps.size(1), 2)
        for i in range(maps.size(0)):
            res = torch.cat((res, peaks(maps[i], boxes[i]).unsqueeze(0)))
        return res

    class Keypoints(torch.nn.Module):
        def forward(self, maps, boxes):
            return all_peaks(maps, boxes)

    boxes = torch.tensor([[2.0, 3.0, 20.0, 30.0], [4.0, 10.0, 45.0, 38.0]])
    return _torch_export(Keypoints(), (torch.rand(2, 3, 6, 6), boxes), ["maps", "boxes"],
                         {"maps": {0: "n"}, "boxes": {0: "n"}}, path)


def _keypoint_feeds(boxes, seed):
    """Maps with one clear peak inside each (at a border, resizing repeats the edge pixel and the peak is a tie
    that float rounding may break either way)."""
    rng = np.random.RandomState(seed)
    maps = 0.5 * rng.rand(len(boxes), 3, 6, 6)
    for i, j in np.ndindex(maps.shape[:2]):
        maps[i, j, rng.randint(1, 5), rng.randint(1, 5)] = 1.0
    return {"maps": maps.astype(np.float32), "boxes": np.array(boxes, np.float32).reshape(-1, 4)}


# boxes of different sizes, one thinner than a pixel, then no box at all
KEYPOINT_FEEDS = [_keypoint_feeds([[2, 3, 20, 30], [4.5, 10, 45, 38], [30, 25, 30.2, 48]], 0),
                  _keypoint_feeds([[1, 1, 9, 5]], 1), _keypoint_feeds([], 2)]


def cut_model(path):
    """x[:, b0:b1] with the bounds from a float tensor's values (a Slice whose starts and ends are data)."""
    torch = pytest.importorskip("torch")

    class Cut(torch.nn.Module):
        def forward(self, x, b):
            b = b.to(torch.int64)
            return x[:, b[0]:b[1]] * 2.0

    return _torch_export(Cut(), (torch.rand(2, 10), torch.tensor([2.0, 7.0])), ["x", "b"], {"x": {0: "n"}}, path)


# bounds inside, from the end, beyond the axis, before its start, crossed (empty), equal (empty)
CUT_FEEDS = [{"x": np.random.RandomState(n).rand(n, 10).astype(np.float32), "b": np.array(b, np.float32)}
             for n, b in ((2, (2, 7)), (3, (-6, 9)), (3, (3, 40)), (1, (-20, 3)), (4, (8, 2)), (2, (5, 5)))]


def grow_model(path):
    """res = zeros(0, m); for i in range(n): res = cat((res, 2 * x[i] + 1)): a carried value that grows by
    concatenation onto an empty start (MXNet: a scan output of _foreach)."""
    torch = pytest.importorskip("torch")

    @torch.jit._script_if_tracing
    def grow(x):
        res = torch.zeros(0, x.size(1))
        for i in range(x.size(0)):
            res = torch.cat((res, (x[i] * 2.0 + 1.0).unsqueeze(0)))
        return res

    class Grow(torch.nn.Module):
        def forward(self, x):
            return grow(x) + 1.0

    return _torch_export(Grow(), (torch.rand(3, 5),), ["x"], {"x": {0: "n", 1: "m"}}, path)


GROW_FEEDS = [{"x": np.random.RandomState(k).rand(*s).astype(np.float32)}
              for k, s in enumerate([(3, 5), (6, 2), (0, 4)])]


@pytest.mark.parametrize("engine", ["tvm", "mxnet"])
def test_slice_whose_bounds_are_data_follows_python_rules(tmp_path, engine):
    import nnvm_bridge as nb

    pytest.importorskip(engine)
    model = cut_model(tmp_path / "cut.onnx")
    run = nb.compile_model(model).run if engine == "tvm" else \
        (lambda feeds, block=nb.import_to_gluon(model): _gluon_run(block, model, feeds))
    for feeds in CUT_FEEDS:
        _compare(run(feeds), _ort(model, feeds))


@pytest.mark.slow
@pytest.mark.parametrize("build, feeds", [(lambda p: paste_model(p / "paste.onnx"), PASTE_FEEDS),
                                          (lambda p: keypoints_model(p / "keypoints.onnx"), KEYPOINT_FEEDS)],
                         ids=["masks_pasted_at_their_boxes", "keypoint_peaks_of_maps_resized_to_their_boxes"])
def test_scripted_loop_whose_body_lengths_the_data_decide_compiles_once_for_every_size(tmp_path, build, feeds):
    import nnvm_bridge as nb

    pytest.importorskip("tvm")
    model = build(tmp_path)
    compiled = nb.compile_model(model)
    for f in feeds:
        _compare(compiled.run(f), _ort(model, f))


def test_loop_whose_body_lengths_the_data_decide_is_refused_by_mxnet_with_what_to_do(tmp_path):
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    with pytest.raises(UnsupportedOperatorError, match="lengths the data decide.*compile with TVM"):
        to_mxnet(*from_onnx(paste_model(tmp_path / "paste.onnx")))


@pytest.mark.parametrize("engine", ["tvm", "mxnet"])
def test_loop_growing_a_carried_concatenation_runs_at_every_length(tmp_path, engine):
    import nnvm_bridge as nb
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    pytest.importorskip(engine)
    model = grow_model(tmp_path / "grow.onnx")
    if engine == "tvm":
        run = nb.compile_model(model).run
    else:
        assert '"_foreach"' in to_mxnet(*from_onnx(model))[0]
        block = nb.import_to_gluon(model)
        run = lambda feeds: _gluon_run(block, model, feeds)  # noqa: E731
    for feeds in GROW_FEEDS:
        _compare(run(feeds), _ort(model, feeds))
