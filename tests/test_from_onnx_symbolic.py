"""from_onnx without shape= keeps the file's dynamic axes as symbolic dims (issue 10, items 1-2).

Fixtures are small torch.onnx (legacy exporter) files with dynamic_axes (tests/onnx_dynamic_fixtures.py): a
CNN and an MLP with a dynamic batch, an attention block with dynamic batch and sequence (Shape/Gather/Concat/
Reshape chains, a mask through Expand/Where, arange over the sequence), an LSTM with a dynamic sequence, a GRU
with dynamic batch and sequence, and a GPT-2 style decoder step with past keys/values of dynamic length.  Each is checked at two
sizes against onnxruntime: the shapes that infer_shape gives evaluate to onnxruntime's, the numpy
interpreter computes the symbolic graph right, and binding the dims with shape= gives a static graph
that computes the same.
"""
from __future__ import annotations

import numpy as np
import pytest

from nnvm_bridge.frontend.onnx.importer import from_onnx
from nnvm_bridge.ir.interpreter import run_graph
from nnvm_bridge.ir.json_io import save_json
from nnvm_bridge.ir.passes import infer_shape
from nnvm_bridge.ir.symbolic import Dim, evaluate, is_static

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from onnx_dynamic_fixtures import model  # noqa: E402,F401  (the shared pytest fixture)

SIZES = (2, 5)


def _reference(path, feeds):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _close(got, ref):
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), atol=tol, rtol=0)


def _has_numpy_rules(graph):
    from nnvm_bridge.ops import get_op

    return all(get_op(n.op).compute is not None for n in graph.op_nodes())


def _run_static(graph, params, feeds):
    """The interpreter where every op has a numpy rule; MXNet (through to_mxnet) for the rest (rnn)."""
    if _has_numpy_rules(graph):
        return np.asarray(run_graph(graph, feeds, params)[0])
    mx = pytest.importorskip("mxnet")
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    text, args, aux = to_mxnet(graph, params)
    sym = mx.sym.load_json(text)
    arrays = {k: mx.nd.array(v, dtype=v.dtype) for k, v in list(feeds.items()) + list(args.items())}
    aux = {k: mx.nd.array(v, dtype=v.dtype) for k, v in aux.items()}
    ex = sym.bind(mx.cpu(), {n: arrays[n] for n in sym.list_arguments()}, grad_req="null", aux_states=aux)
    return ex.forward(is_train=False)[0].asnumpy()


def _bindings(graph, feeds):
    values = {}
    for node in graph.nodes:
        if node.is_variable and node.name in feeds:
            from nnvm_bridge.ir.symbolic import match_dims, parse_shape_hint

            match_dims(parse_shape_hint(node.attrs["__shape__"], node.name), feeds[node.name].shape, values)
    return values


def test_dims_stay_symbolic(model):
    name, path, make_inputs = model
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    shapes = g.attrs["shape"]
    out = shapes[g.entry_id(g.outputs[0])]
    assert out is not None and not is_static(out), out
    assert any(isinstance(d, Dim) for d in out)
    # nothing folded a symbolic dim into a parameter: parameters do not depend on the size
    graph2, params2 = from_onnx(path)
    assert sorted(params) == sorted(params2)


def test_infer_shape_and_numbers_match_onnxruntime_at_two_sizes(model):
    name, path, make_inputs = model
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    out_shapes = [g.attrs["shape"][g.entry_id(e)] for e in g.outputs]
    for n in SIZES:
        feeds = make_inputs(n)
        refs = _reference(path, feeds)
        values = _bindings(graph, feeds)
        for shape, ref in zip(out_shapes, refs):
            assert tuple(evaluate(d, values) if isinstance(d, Dim) else d for d in shape) == ref.shape
        if _has_numpy_rules(graph):  # the symbolic graph itself computes (rnn has no numpy rule)
            for got, ref in zip(run_graph(graph, feeds, params), refs):
                _close(np.asarray(got), ref)


def test_shape_binds_the_dims(model):
    name, path, make_inputs = model
    for n in SIZES:
        feeds = make_inputs(n)
        ref = _reference(path, feeds)[0]
        graph, params = from_onnx(path, shape={k: v.shape for k, v in feeds.items()})
        g = infer_shape(graph, params=params)
        assert all(is_static(s) for s in g.attrs["shape"] if s is not None)
        assert not any(node.op.startswith("dyn_") or node.op == "shape_of" for node in graph.op_nodes())
        _close(_run_static(graph, params, feeds), ref)
        # the same graph as from a file declaring those sizes (static files import as before)
        static_graph, static_params = from_onnx(_fixed_dims(path, feeds))
        assert save_json(static_graph) == save_json(graph)
        assert sorted(static_params) == sorted(params)
        for k, v in params.items():
            np.testing.assert_array_equal(static_params[k], v)


def _fixed_dims(path, feeds):
    import onnx

    model = onnx.load(path)
    for vi in model.graph.input:
        if vi.name in feeds:
            for d, n in zip(vi.type.tensor_type.shape.dim, feeds[vi.name].shape):
                d.Clear()
                d.dim_value = n
    return model


# ---- small hand-made graphs: one converter at a time, at two sizes ------------------------------------------
def _graph_model(nodes, inputs, outputs, inits=(), opset=17):
    from onnx import helper

    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, dims, elem=None):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT if elem is None else elem, dims)


def _ints(name, values):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _check_at_sizes(model, feeds_list):
    """Import once without shape=, then for each feed: shapes from infer_shape and the interpreter's numbers
    agree with onnxruntime."""
    graph, params = from_onnx(model)
    g = infer_shape(graph, params=params)
    shapes = [g.attrs["shape"][g.entry_id(e)] for e in g.outputs]
    assert any(not is_static(s) for s in shapes), shapes
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for feeds in feeds_list:
        refs = sess.run(None, feeds)
        values = _bindings(graph, feeds)
        for shape, got, ref in zip(shapes, run_graph(graph, feeds, params), refs):
            want = ref.shape if ref.ndim else (1,)  # the IR has no 0-d tensors
            assert tuple(evaluate(d, values) if isinstance(d, Dim) else d for d in shape) == want
            _close(np.asarray(got).reshape(ref.shape).astype(np.float64), ref.astype(np.float64))
    return graph


def _rand(*shape):
    return np.random.RandomState(sum(shape)).randn(*shape).astype(np.float32)


def test_dims_without_value_or_name_become_anonymous_symbols():
    from onnx import helper

    model = _graph_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [None, 3])], [_vi("y", None)])
    model.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    graph, _ = from_onnx(model)
    x = [n for n in graph.variables if n.name == "x"][0]
    assert x.attrs["__shape__"] == "(x_dim0, 3)"


def test_shape_binds_symbols_shared_by_other_inputs():
    from onnx import helper

    model = _graph_model([helper.make_node("Add", ["a", "b"], ["y"])], [_vi("a", ["N", "S"]), _vi("b", ["N", "S"])],
                         [_vi("y", None)])
    graph, params = from_onnx(model, shape={"a": (2, 7)})
    hints = {n.name: n.attrs["__shape__"] for n in graph.variables}
    assert hints == {"a": "(2, 7)", "b": "(2, 7)"}


def test_reshape_to_a_shape_computed_from_another_input():
    """(T, 4) -> Shape(ids) ++ [4]: no 0/-1 spec gives (N, S, 4), so the target is taken at run time."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Shape", ["ids"], ["s"]),
             helper.make_node("Concat", ["s", "four"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    model = _graph_model(nodes, [_vi("x", ["T", 4]), _vi("ids", ["N", "S"], TensorProto.INT64)], [_vi("y", None)],
                         [_ints("four", [4])])
    graph = _check_at_sizes(model, [{"x": _rand(6, 4), "ids": np.zeros((2, 3), np.int64)},
                                    {"x": _rand(20, 4), "ids": np.zeros((5, 4), np.int64)}])
    assert "dyn_reshape" in graph.op_counts()


def test_trilu_size_dropout_mask_and_argmax_last_index_over_symbolic_dims():
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Trilu", ["x", "k"], ["lower"], upper=0),
             helper.make_node("Size", ["x"], ["size"]),
             helper.make_node("Dropout", ["x"], ["d", "mask"]),
             helper.make_node("ArgMax", ["x"], ["last"], axis=0, keepdims=0, select_last_index=1)]
    outputs = [_vi("lower", None), _vi("size", None, TensorProto.INT64), _vi("mask", None, TensorProto.BOOL),
               _vi("last", None, TensorProto.INT64)]
    model = _graph_model(nodes, [_vi("x", ["N", "M"])], outputs, [_ints("k", 1)])
    x1, x2 = np.round(_rand(3, 5)), np.round(_rand(6, 4))  # ties: the last index matters
    _check_at_sizes(model, [{"x": x1}, {"x": x2}])


def test_tile_by_the_batch_size_broadcasts():
    """ViT's cls_token.repeat(batch, 1, 1): Tile with repeats Concat(Shape(x)[:1], [1, 1])."""
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("Shape", ["x"], ["s"], end=1),
             helper.make_node("Concat", ["s", "ones"], ["reps"], axis=0),
             helper.make_node("Tile", ["cls", "reps"], ["t"]),
             helper.make_node("Concat", ["t", "x"], ["y"], axis=1)]
    cls = numpy_helper.from_array(_rand(1, 1, 4), "cls")
    model = _graph_model(nodes, [_vi("x", ["N", 3, 4])], [_vi("y", None)], [_ints("ones", [1, 1]), cls])
    _check_at_sizes(model, [{"x": _rand(2, 3, 4)}, {"x": _rand(5, 3, 4)}])



def test_tile_by_the_batch_size_of_axes_longer_than_one():
    """DeBERTa-v2's rel_embeddings.repeat(batch, 1, 1) of a (heads, span, dim) tensor, and repeats mixing a
    static count and a symbolic one over a symbolic axis: each copy laid out as numpy.tile does, in TVM and
    MXNet too."""
    from onnx import helper, numpy_helper

    from nnvm_bridge import compile_model, import_to_gluon

    mx = pytest.importorskip("mxnet")
    nodes = [helper.make_node("Shape", ["x"], ["s"], end=1),
             helper.make_node("Concat", ["s", "ones"], ["reps"], axis=0),
             helper.make_node("Tile", ["rel", "reps"], ["t"]),
             helper.make_node("Concat", ["two", "s"], ["reps2"], axis=0),
             helper.make_node("Tile", ["x", "reps2"], ["u"])]
    rel = numpy_helper.from_array(_rand(2, 6, 4), "rel")
    model = _graph_model(nodes, [_vi("x", ["N", 3])], [_vi("t", None), _vi("u", None)],
                         [_ints("ones", [1, 1]), _ints("two", [2]), rel])
    feeds = [{"x": _rand(2, 3)}, {"x": _rand(5, 3)}]
    _check_at_sizes(model, feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm, block = compile_model(model, offload=False), import_to_gluon(model)
    for f in feeds:
        refs = sess.run(None, f)
        for got, ref in zip(cm.run(f), refs):
            _close(got, ref)
        for got, ref in zip(block(mx.nd.array(f["x"])), refs):
            _close(got.asnumpy(), ref)

def test_flatten_split_and_resize_keep_the_symbolic_batch():
    from onnx import helper

    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=3),
             helper.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=2),
             helper.make_node("Shape", ["x"], ["s"], end=2),
             helper.make_node("Concat", ["s", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["up"], mode="linear")]
    model = _graph_model(nodes, [_vi("x", ["N", 3, 4, 4])], [_vi("flat", None), _vi("a", None), _vi("b", None),
                                                             _vi("up", None)], [_ints("hw", [8, 6])], opset=18)
    graph = _check_at_sizes(model, [{"x": _rand(2, 3, 4, 4)}, {"x": _rand(4, 3, 4, 4)}])
    assert "shape_of" not in graph.op_counts()  # nothing needed the sizes at run time


def test_a_mask_of_its_own_length_against_the_scores():
    """torch.export names GPT-2's mask length ``total`` apart from the scores' ``past + sequence``; the Expand to
    the scores' shape gives max(S, T), which neither TVM nor MXNet can build: both take T as S
    (ir/passes/unify.py), and the compiled model refuses a mask of another length."""
    from onnx import helper

    from nnvm_bridge import compile_model, import_to_gluon
    from nnvm_bridge.errors import ShapeError

    mx = pytest.importorskip("mxnet")
    nodes = [helper.make_node("Shape", ["scores"], ["s"]), helper.make_node("Expand", ["mask", "s"], ["m"]),
             helper.make_node("Add", ["scores", "m"], ["y"])]
    model = _graph_model(nodes, [_vi("scores", ["N", "S"]), _vi("mask", ["N", "T"])], [_vi("y", None)])
    graph, params = from_onnx(model)
    g = infer_shape(graph, params=params)
    assert "max(S, T)" in str(g.attrs["shape"][g.entry_id(g.outputs[0])])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm, block = compile_model(model, offload=False), import_to_gluon(model)
    assert cm.input_shapes == {"scores": ("N", "S"), "mask": ("N", "S")}
    for n, s in ((2, 3), (3, 7)):
        feeds = {"scores": _rand(n, s), "mask": _rand(n, s) + 1}
        ref = sess.run(None, feeds)[0]
        _close(cm.run(feeds)[0], ref)
        _close(block(mx.nd.array(feeds["scores"]), mx.nd.array(feeds["mask"])).asnumpy(), ref)
    with pytest.raises(ShapeError, match="input 'mask' dim 1 is 1, but S is 3"):
        cm.run({"scores": _rand(2, 3), "mask": _rand(2, 1)})


def test_a_dim_param_that_reads_like_an_expression_is_a_name():
    """optimum labels GPT-2's mask length "past_sequence_length + 1" while the mask covers past + sequence:
    read as that sum, it met past + sequence in the Add and nothing compiled; read as a name, it is unified
    with past + sequence and checked when the compiled model runs."""
    from onnx import helper

    from nnvm_bridge import compile_model, import_to_gluon
    from nnvm_bridge.errors import ShapeError

    mx = pytest.importorskip("mxnet")
    nodes = [helper.make_node("Concat", ["past", "x"], ["keys"], axis=1),
             helper.make_node("Add", ["keys", "mask"], ["y"])]
    model = _graph_model(nodes, [_vi("x", ["N", "S"]), _vi("past", ["N", "past_sequence_length"]),
                                 _vi("mask", ["N", "past_sequence_length + 1"])], [_vi("y", None)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm, block = compile_model(model, offload=False), import_to_gluon(model)
    assert cm.input_shapes["mask"] == ("N", "S + past_sequence_length")
    for n, s, p in ((2, 3, 5), (1, 1, 7)):
        feeds = {"x": _rand(n, s), "past": _rand(n, p), "mask": _rand(n, p + s)}
        ref = sess.run(None, feeds)[0]
        _close(cm.run(feeds)[0], ref)
        _close(block(*[mx.nd.array(feeds[k]) for k in ("x", "past", "mask")]).asnumpy(), ref)
    with pytest.raises(ShapeError, match="input 'mask' dim 1"):
        cm.run({"x": _rand(2, 3), "past": _rand(2, 5), "mask": _rand(2, 6)})


@pytest.mark.parametrize("op", ["Conv", "MatMul", "LayerNormalization"])
def test_a_symbol_where_the_weights_fix_the_length_becomes_that_length(op):
    """optimum declares an image model's channels dynamic (``num_channels``), and an input's feature axis can be
    named too: the weights fix it, so the symbol takes the weights' length, the compiled model reports it and
    refuses other lengths; onnxruntime checks the same when it runs."""
    from onnx import helper, numpy_helper

    from nnvm_bridge import compile_model, import_to_gluon
    from nnvm_bridge.errors import ShapeError

    mx = pytest.importorskip("mxnet")
    rng = np.random.RandomState(0)
    if op == "Conv":
        dims, inits = ["N", "num_channels", "H", "W"], [numpy_helper.from_array(rng.randn(4, 3, 3, 3).astype("f"), "w")]
        node, sizes = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), [(2, 3, 5, 6), (1, 3, 4, 4)]
    elif op == "MatMul":
        dims, inits = ["N", "features"], [numpy_helper.from_array(rng.randn(3, 5).astype(np.float32), "w")]
        node, sizes = helper.make_node("MatMul", ["x", "w"], ["y"]), [(2, 3), (4, 3)]
    else:
        dims, inits = ["N", "features"], [numpy_helper.from_array(rng.rand(3).astype("f") + 0.5, n) for n in "wb"]
        node, sizes = helper.make_node("LayerNormalization", ["x", "w", "b"], ["y"]), [(2, 3), (4, 3)]
    model = _graph_model([node], [_vi("x", dims)], [_vi("y", None)], inits)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm, block = compile_model(model, offload=False), import_to_gluon(model)
    assert cm.input_shapes["x"][1] == 3
    for size in sizes:
        x = _rand(*size)
        ref = sess.run(None, {"x": x})[0]
        _close(cm.run({"x": x})[0], ref)
        _close(block(mx.nd.array(x)).asnumpy(), ref)
    wrong = (2, 4) + sizes[0][2:]
    with pytest.raises(ShapeError, match="input 'x' dim 1 is 4"):
        cm.run({"x": _rand(*wrong)})


def test_slice_from_minus_the_sequence_length():
    """T5's relative position bias ``bias[:, -seq:, :]``: the start is Neg(Shape(x)[1]); on an axis of length seq
    it starts at 0 (a plain slice), on one of another length T it starts at T - seq (at run time)."""
    from onnx import helper

    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "one"], ["seq"], axis=0),
             helper.make_node("Neg", ["seq"], ["minus"]), helper.make_node("Unsqueeze", ["minus", "zero"], ["start"]),
             helper.make_node("Slice", ["x", "start", "big", "one1"], ["whole"]),
             helper.make_node("Slice", ["y", "start", "big", "zero"], ["tail"])]
    model = _graph_model(nodes, [_vi("x", ["N", "S"]), _vi("y", ["T", 2])], [_vi("whole", None), _vi("tail", None)],
                         [_ints("one", 1), _ints("zero", [0]), _ints("one1", [1]), _ints("big", [2 ** 63 - 1])])
    graph = _check_at_sizes(model, [{"x": _rand(2, 3), "y": _rand(5, 2)}, {"x": _rand(3, 4), "y": _rand(4, 2)}])
    assert graph.op_counts().get("dyn_slice") == 1  # only the tail of y needs its start at run time


def test_reversed_slices_reach_the_first_element():
    """x[:, ::-1] with the end written as -INT64_MAX (torch's F.pad pads, Swin's window padding) kept every
    element; the importer once wrote the end as -1, which strided_slice reads as the last index (empty)."""
    from onnx import helper

    nodes = [helper.make_node("Slice", ["x", "minus1", "end", "one", "minus1"], ["rev"]),
             helper.make_node("Slice", ["x", "minus1", "minus5", "one", "minus2"], ["odd"])]
    model = _graph_model(nodes, [_vi("x", ["N", 4])], [_vi("rev", None), _vi("odd", None)],
                         [_ints("minus1", [-1]), _ints("end", [-2 ** 63 + 1]), _ints("one", [1]),
                          _ints("minus5", [-5]), _ints("minus2", [-2])])
    _check_at_sizes(model, [{"x": _rand(2, 4)}, {"x": _rand(3, 4)}])


def test_unsqueeze_of_a_run_time_scalar():
    """torchvision's detection transform: min/max over the image size (ReduceMin to a 0-d tensor), Unsqueeze and
    Concat into the Resize sizes. The IR gives a full reduction as (1,); the ONNX rank (0) comes from ONNX's shape
    inference, so Unsqueeze gives (1,) and (1, 1), not (1, 1) and (1, 1, 1)."""
    from onnx import helper

    nodes = [helper.make_node("ReduceMin", ["x"], ["low"], keepdims=0),
             helper.make_node("ReduceMax", ["x"], ["high"], keepdims=0),
             helper.make_node("Mul", ["low", "high"], ["both"]),
             helper.make_node("Unsqueeze", ["low", "zero"], ["low1"]),
             helper.make_node("Unsqueeze", ["both", "zero"], ["both1"]),
             helper.make_node("Concat", ["low1", "both1"], ["pair"], axis=0),
             helper.make_node("Unsqueeze", ["both", "zero_one"], ["both11"]),
             helper.make_node("Add", ["x", "both11"], ["y"])]
    model = _graph_model(nodes, [_vi("x", ["N", 3])], [_vi("pair", None), _vi("y", None)],
                         [_ints("zero", [0]), _ints("zero_one", [0, 1])])
    _check_at_sizes(model, [{"x": _rand(2, 3)}, {"x": _rand(5, 3)}])


def test_last_sample_cut_from_a_conv_output_broadcasts_against_its_input():
    """wav2vec2's positional convolution: padding k // 2 on both sides gives length L + 1, ``[..., :-1]`` cuts the
    extra sample and the result is added to the conv's input, of length L = S // 10 - 1 after its feature
    convolutions, whose least value is -1: the cut length is L (a size's extent is >= 1), not max(L, 0), and TVM
    can then broadcast the two."""
    from onnx import helper

    import nnvm_bridge as nb

    rng = np.random.RandomState(0)
    w1, w2 = rng.randn(4, 1, 10).astype(np.float32), rng.randn(4, 4, 3).astype(np.float32)
    w3 = rng.randn(4, 4, 4).astype(np.float32)
    from onnx import numpy_helper

    nodes = [helper.make_node("Unsqueeze", ["x", "one"], ["x3"]),
             helper.make_node("Conv", ["x3", "w1"], ["f1"], kernel_shape=[10], strides=[5]),
             helper.make_node("Conv", ["f1", "w2"], ["feat"], kernel_shape=[3], strides=[2]),
             helper.make_node("Conv", ["feat", "w3"], ["pos"], kernel_shape=[4], pads=[2, 2]),
             helper.make_node("Slice", ["pos", "zero", "minus1", "two"], ["cut"]),
             helper.make_node("Add", ["feat", "cut"], ["y"])]
    model = _graph_model(nodes, [_vi("x", ["N", "S"])], [_vi("y", None)],
                         [_ints("one", [1]), _ints("zero", [0]), _ints("minus1", [-1]), _ints("two", [2]),
                          *(numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3")))])
    feeds = [{"x": _rand(2, 100)}, {"x": _rand(3, 147)}]
    _check_at_sizes(model, feeds)
    cm = nb.compile_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for f in feeds:
        _close(cm.run(f)[0].astype(np.float64), sess.run(None, f)[0].astype(np.float64))


def test_mxnet_fills_a_tensor_one_longer_than_any_other():
    """HF Whisper's decoder mask: a fill of length sequence + 1, cut back to the sequence. No tensor of the graph
    has the length S + 1 for MXNet to broadcast_like; S and one more slab of the fill give it."""
    mx = pytest.importorskip("mxnet")
    from onnx import TensorProto, helper

    import nnvm_bridge as nb

    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "one"], ["seq"], axis=0),
             helper.make_node("Add", ["seq", "one"], ["longer"]),
             helper.make_node("Unsqueeze", ["longer", "zero"], ["dims"]),
             helper.make_node("ConstantOfShape", ["dims"], ["fill"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [-2.5])),
             helper.make_node("Slice", ["fill", "zero", "minus1"], ["cut"]),
             helper.make_node("Add", ["x", "cut"], ["y"]), helper.make_node("ReduceSum", ["fill"], ["total"])]
    model = _graph_model(nodes, [_vi("x", ["N", "S"])], [_vi("y", None), _vi("total", None)],
                         [_ints("one", 1), _ints("zero", [0]), _ints("minus1", [-1])])
    block = nb.import_to_gluon(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in (_rand(2, 5), _rand(3, 8)):
        for got, ref in zip(block(mx.nd.array(x)), sess.run(None, {"x": x})):
            _close(got.asnumpy().reshape(ref.shape).astype(np.float64), ref.astype(np.float64))


def _min_length_model(with_slice):
    """GPT-Neo's dynamo attention: x of shape (N, S, 4) reshaped to (N, min(8, S), 4) (valid only while S <= 8,
    where it is S) and added to x; with ``with_slice`` also a constant of length 8 cut to min(8, S), added too."""
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Gather", ["s", "one"], ["seq"]), helper.make_node("Min", ["eight", "seq"], ["m"]),
             helper.make_node("Concat", ["n", "m", "four"], ["spec"], axis=0),
             helper.make_node("Reshape", ["x", "spec"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"])]
    inits = [_ints("zero", [0]), _ints("one", [1]), _ints("eight", [8]), _ints("four", [4])]
    if with_slice:
        nodes += [helper.make_node("Slice", ["table", "zero", "m", "zero"], ["cut"]),
                  helper.make_node("Add", ["y", "cut"], ["z"])]
        inits.append(numpy_helper.from_array(_rand(8, 4), "table"))
    out = "z" if with_slice else "y"
    return _graph_model(nodes, [_vi("x", ["N", "S", 4])], [_vi(out, None)], inits, opset=13)


@pytest.mark.parametrize("with_slice", [False, True])
def test_a_reshape_to_a_min_of_the_sequence_keeps_the_sequence(with_slice):
    """The element counts force (N, min(8, S), 4) to be (N, S, 4), and min(8, S) broadcast against S can only be
    S: the IR says S, and TVM (which cannot broadcast two different symbols) and MXNet build it; numbers match
    onnxruntime at two sizes, and the interpreter refuses a sequence longer than 8 as onnxruntime does."""
    from nnvm_bridge import compile_model, import_to_gluon
    from nnvm_bridge.errors import ShapeError

    mx = pytest.importorskip("mxnet")
    model = _min_length_model(with_slice)
    graph, params = from_onnx(model)
    g = infer_shape(graph, params=params)
    assert str(g.attrs["shape"][g.entry_id(g.outputs[0])]) == "(N, S, 4)"
    feeds = [{"x": _rand(2, 3, 4)}, {"x": _rand(3, 8, 4)}]
    _check_at_sizes(model, feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    cm, block = compile_model(model, offload=False), import_to_gluon(model)
    for f in feeds:
        ref = sess.run(None, f)[0]
        _close(cm.run(f)[0], ref)
        _close(block(mx.nd.array(f["x"])).asnumpy(), ref)
    too_long = {"x": _rand(2, 9, 4)}
    with pytest.raises(Exception, match="cannot be reshaped"):
        sess.run(None, too_long)
    with pytest.raises(ShapeError, match="cannot reshape"):
        run_graph(graph, too_long, params)
    if with_slice:  # the compiled broadcast of min(8, S) against S (the run-time reshape itself is unchecked)
        with pytest.raises(ShapeError, match=r"needs min\(8, S\) == S, but .* they are 8 and 9"):
            cm.run(too_long)


def _export_legacy(module, args, names, dynamic_axes, path):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, path, input_names=names, output_names=["out"],
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    return path


def _engines(path):
    """``run(feeds) -> first output`` on TVM and on MXNet, both without shape=."""
    mx = pytest.importorskip("mxnet")
    import nnvm_bridge as nb

    cm, block = nb.compile_model(path, offload=False), nb.import_to_gluon(path)
    names = [s.name for s in block._cached_graph[0]]
    return {"tvm": lambda f: cm.run(f)[0],
            "mxnet": lambda f: block(*[mx.nd.array(f[n]) for n in names]).asnumpy()}


def _check_engines(path, good, bad, refused):
    """Each engine matches onnxruntime on the ``good`` feeds; on the ``bad`` ones, which onnxruntime refuses,
    each raises (TVM a ShapeError naming the dims it took as equal, ``refused`` a regex), never a number."""
    from nnvm_bridge.errors import BridgeError, ShapeError

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    engines = _engines(path)
    for f in good:
        ref = sess.run(None, f)[0]
        for run in engines.values():
            _close(run(f), ref)
    for f in bad:
        with pytest.raises(Exception):
            sess.run(None, f)
        with pytest.raises(ShapeError, match=refused):
            engines["tvm"](f)
        with pytest.raises(BridgeError, match="MXNet could not run"):
            engines["mxnet"](f)


def test_a_patch_grid_of_the_square_root_of_the_patch_count(tmp_path):
    """DPT's reassemble stage (issue 10): the token count P = (H // 4) * (W // 4) reshaped to an
    int(sqrt(P)) square grid (Cast, Pow 0.5, Cast: isqrt(P) in the IR), then a stride-2 convolution upsampled
    by 2 and added to the grid, which only fits an even side. Without shape=, TVM and MXNet match onnxruntime
    where it runs (16 x 64 has a square count too) and refuse the sizes it refuses: an odd side (36 x 36), a
    count that is no square (32 x 48)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Grid(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch, self.down = nn.Conv2d(3, 4, 4, stride=4), nn.Conv2d(4, 4, 3, stride=2, padding=1)

        def forward(self, x):
            tokens = self.patch(x).flatten(2).transpose(1, 2)  # (B, P, C), as a ViT's
            count = tokens.shape[1]
            side = (count ** 0.5).to(torch.int64) if torch.jit.is_tracing() else int(count ** 0.5)  # torch_int
            grid = tokens.reshape(tokens.shape[0], side, side, 4).permute(0, 3, 1, 2)
            return grid + nn.functional.interpolate(self.down(grid), scale_factor=2.0)

    path = _export_legacy(Grid(), (torch.randn(1, 3, 32, 32),), ["x"], {"x": {0: "B", 2: "H", 3: "W"}},
                          str(tmp_path / "grid.onnx"))
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    assert "isqrt(floordiv(H, 4)*floordiv(W, 4))" in str(g.attrs["shape"][g.entry_id(g.outputs[0])])
    _check_engines(path, [{"x": _rand(2, 3, 32, 32)}, {"x": _rand(1, 3, 48, 48)}, {"x": _rand(2, 3, 16, 64)}],
                   [{"x": _rand(1, 3, 36, 36)}, {"x": _rand(1, 3, 32, 48)}], r"this model needs .* but with these")


def test_a_concat_of_a_reshaped_batch_against_the_batch(tmp_path):
    """DPT under torch.export (issue 10): ``reshape(-1, 4, 8)`` of (B, N, 8) tokens, concatenated with a (B, 4, 3)
    tensor on the last axis, is valid only where 8 * B * N // 32 is B (N = 4). The IR takes the two first dims
    as one (B); TVM checks that equality when it runs, MXNet's concat checks its shapes itself."""
    torch = pytest.importorskip("torch")

    class Cat(torch.nn.Module):
        def forward(self, x, y):
            return torch.cat([x.reshape(-1, 4, 8) * 2.0, y], dim=2)

    path = _export_legacy(Cat(), (torch.randn(2, 4, 8), torch.randn(2, 4, 3)), ["x", "y"],
                          {"x": {0: "B", 1: "N"}, "y": {0: "B"}}, str(tmp_path / "cat.onnx"))
    graph, params = from_onnx(path)
    g = infer_shape(graph, params=params)
    assert str(g.attrs["shape"][g.entry_id(g.outputs[0])]) == "(B, 4, 11)"
    good = [{"x": _rand(n, 4, 8), "y": _rand(n, 4, 3)} for n in (2, 5)]
    _check_engines(path, good, [{"x": _rand(2, 8, 8), "y": _rand(2, 4, 3)}],
                   r"this model needs floordiv\(.*\) == B, but with these inputs they are 4 and 2")
