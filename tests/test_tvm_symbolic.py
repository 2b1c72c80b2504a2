"""to_relax with symbolic dims: one compiled library for every batch/sequence size (issue 10, items 2 and 7).

Hand-built IR graphs declare symbolic input dims in their ``__shape__`` hints; each is compiled once, run at two
sizes and compared with the numpy interpreter of the IR. Tolerance: max|tvm - ref| <= 1e-4 * max(1, max|ref|).
"""
import numpy as np
import pytest

tvm = pytest.importorskip("tvm")

from nnvm_bridge import compile_model, load_compiled  # noqa: E402
from nnvm_bridge.errors import CompileError, ShapeError  # noqa: E402
from nnvm_bridge.ir import Graph, Node, variable  # noqa: E402
from nnvm_bridge.ir.interpreter import run_graph  # noqa: E402
from nnvm_bridge.ops import get_op  # noqa: E402

RNG = np.random.default_rng(7)


def node(op, name, inputs, **kw):
    return Node(op, name, inputs, get_op(op).format_attrs(kw))


def var(name, hint, dtype="float32"):
    from nnvm_bridge.ir import dtypes

    return variable(name, {"__shape__": hint, "__dtype__": str(dtypes.to_mxnet(dtype))})


def close(got, ref):
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.dtype.kind in "iub":
        np.testing.assert_array_equal(got, ref)
    else:
        err = float(np.abs(got.astype(np.float64) - ref).max()) if ref.size else 0.0
        assert err <= 1e-4 * max(1.0, float(np.abs(ref).max())), err


def check_sizes(graph, params, feeds_list, cm=None):
    """Compile ``graph`` once (unless ``cm`` is given) and compare every feed with the interpreter."""
    cm = cm or compile_model(graph, params=params, offload=False)
    for feeds in feeds_list:
        refs = run_graph(graph, feeds, params)
        got = cm.run(feeds)
        assert len(got) == len(refs)
        for g, r in zip(got, refs):
            close(g, np.asarray(r))
    return cm


def rand(*shape):
    return RNG.standard_normal(shape).astype("float32")


# ---- graphs ---------------------------------------------------------------------------------------------
def conv_pool_dense():
    x = var("x", "(N, 3, 16, 16)")
    params = {"w": rand(4, 3, 3, 3), "b": rand(4), "fw": rand(10, 4 * 8 * 8 + 4 * 6 * 6), "fb": rand(10)}
    c = node("conv2d", "conv", [x[0], variable("w")[0], variable("b")[0]], channels=4, kernel_size=(3, 3),
             padding=(1, 1))
    r = node("relu", "relu", [c[0]])
    p = node("max_pool2d", "pool", [r[0]], pool_size=(2, 2), strides=(2, 2))
    # ceil mode over a static length: the IR keeps the last window that Relax would drop (a padded tail)
    q = node("avg_pool2d", "cpool", [r[0]], pool_size=(2, 2), strides=(3, 3), padding=(1, 1), ceil_mode=True,
             count_include_pad=True)  # 7x7
    q = node("strided_slice", "crop", [q[0]], begin=(0, 0, 1, 1), end=(2 ** 31, 4, 7, 7))
    cat = node("concatenate", "cat", [node("flatten", "f1", [p[0]])[0], node("flatten", "f2", [q[0]])[0]], axis=1)
    d = node("dense", "fc", [cat[0], variable("fw")[0], variable("fb")[0]], units=10)
    return Graph([d[0]]), params


def attention():
    """dense -> reshape (0, 0, H, D) -> transpose -> batch_matmul -> softmax -> batch_matmul -> reshape back."""
    x = var("x", "(N, S, 16)")
    params = {f"{k}w": rand(16, 16) * 0.3 for k in "qkvo"}
    params.update({f"{k}b": rand(16) for k in "qkvo"})

    def dense(k, src):
        return node("dense", f"{k}_proj", [src, variable(f"{k}w")[0], variable(f"{k}b")[0]], units=16)[0]

    def heads(k):
        h = node("reshape", f"{k}_split", [dense(k, x[0])], shape=(0, 0, 2, 8))
        t = node("transpose", f"{k}_t", [h[0]], axes=(0, 2, 1, 3))
        return node("reshape", f"{k}_merge", [t[0]], shape=(-3, 0, 0))[0]  # (N*2, S, 8)
    q, k, v = heads("q"), heads("k"), heads("v")
    s = node("batch_matmul", "scores", [q, k], transpose_b=True)
    s = node("__mul_scalar__", "scale", [s[0]], scalar=8 ** -0.5)
    a = node("softmax", "attn", [s[0]], axis=-1)
    o = node("batch_matmul", "ctx", [a[0], v])
    o = node("reshape", "unmerge", [o[0]], shape=(-4, -1, 2, 0, 0))  # (N, 2, S, 8)
    o = node("transpose", "o_t", [o[0]], axes=(0, 2, 1, 3))
    o = node("reshape", "o_join", [o[0]], shape=(0, 0, -1))
    return Graph([dense("o", o[0])]), params


def slices_and_concat():
    a, b = var("a", "(N, S, 4)"), var("b", "(N, T, 4)")
    cat = node("concatenate", "cat", [a[0], b[0]], axis=1)  # (N, S + T, 4)
    inner = node("strided_slice", "inner", [cat[0]], begin=(0, 1, 0), end=(2 ** 31, -1, 4))  # (N, S + T - 2, 4)
    back = node("strided_slice", "back", [a[0]], begin=(-1, -1), end=(-2 ** 31, -2 ** 31), stride=(-2, -1))
    halves = node("split", "halves", [b[0]], indices_or_sections=2, axis=1)
    shp = node("shape_of", "shp", [cat[0]])
    idx = variable("idx", {"__shape__": "(2,)", "__dtype__": "6"})  # int64 indices (the axis length is symbolic)
    picked = node("take", "pick", [a[0], idx[0]], axis=1)
    ones = node("ones_like", "ones", [inner[0]])
    return Graph([inner[0], back[0], halves[0], halves[1], shp[0], picked[0], ones[0]])


# ---- tests ----------------------------------------------------------------------------------------------
def test_conv_pool_dense_one_library_for_every_batch():
    graph, params = conv_pool_dense()
    cm = compile_model(graph, params=params)  # offload="auto": symbolic batch, so pure TVM
    assert cm.info["offload"] == []
    assert cm.input_shapes == {"x": ("N", 3, 16, 16)} and cm.output_shapes == [("N", 10)]
    check_sizes(graph, params, [{"x": rand(1, 3, 16, 16)}, {"x": rand(3, 3, 16, 16)}], cm)


def test_offload_true_refuses_symbolic_shapes():
    pytest.importorskip("torch")
    graph, params = conv_pool_dense()
    with pytest.raises(CompileError, match="static input shapes"):
        compile_model(graph, params=params, offload=True)


def test_attention_block_dynamic_batch_and_sequence():
    graph, params = attention()
    cm = check_sizes(graph, params, [{"x": rand(2, 5, 16)}, {"x": rand(3, 9, 16)}])
    assert cm.input_shapes == {"x": ("N", "S", 16)}


def test_slices_concat_split_shape_of_take_on_symbolic_axes():
    graph = slices_and_concat()
    idx = np.array([0, 2], dtype="int64")
    cm = check_sizes(graph, {}, [{"a": rand(2, 3, 4), "b": rand(2, 4, 4), "idx": idx},
                                 {"a": rand(5, 7, 4), "b": rand(5, 2, 4), "idx": idx}])
    assert cm.output_shapes[0] == ("N", "-2 + S + T", 4)


def test_library_keeps_the_symbolic_signature(tmp_path):
    graph, params = attention()
    cm = compile_model(graph, params=params, offload=False)
    path = cm.export_library(str(tmp_path / "attn.so"))
    cm2 = load_compiled(path)
    assert cm2.input_shapes == {"x": ("N", "S", 16)} and cm2.output_shapes == cm.output_shapes
    check_sizes(graph, params, [{"x": rand(1, 4, 16)}, {"x": rand(4, 6, 16)}], cm2)


def test_wrong_sizes_give_shape_errors():
    cm = compile_model(slices_and_concat(), offload=False)
    feeds = {"a": rand(2, 3, 4), "b": rand(3, 4, 4), "idx": np.zeros(2, "int64")}
    with pytest.raises(ShapeError, match=r"input 'b' dim 0 is 3, but N is 2"):
        cm.run(feeds)
    with pytest.raises(ShapeError, match=r"input 'a' dim 2 is 5, expected 4.*\(N, S, 4\)"):
        cm.run({**feeds, "a": rand(3, 3, 5)})
    with pytest.raises(ShapeError, match="rank 2"):
        cm.run({**feeds, "a": rand(3, 3)})


def test_symbol_only_inside_an_expression_is_refused():
    x = var("x", "(2*N, 4)")
    with pytest.raises(CompileError, match="N, which no input has as a whole dim"):
        compile_model(Graph([node("relu", "r", [x[0]])[0]]), offload=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode,layers,bidirectional,reset_before", [("lstm", 2, False, True), ("gru", 1, True, False),
                                                                      ("rnn_tanh", 1, True, True)])
def test_rnn_over_a_symbolic_sequence_loops(mode, layers, bidirectional, reset_before):
    """One library for every sequence length (rnn_scan.py's loop kernels), checked against the unrolled graph
    that shape= gives at each length."""
    from nnvm_bridge.ops.rnn import RNN_GATES

    g, H, I, D = RNN_GATES[mode], 5, 3, 2 if bidirectional else 1
    size = sum(D * (g * H * ((I if k == 0 else H * D) + H) + 2 * g * H) for k in range(layers))
    x = var("x", "(T, N, 3)")
    params = {"p": rand(size) * 0.5, "h": rand(layers * D, 2, H)}
    ins = [x[0], variable("p")[0], variable("h")[0]]
    if mode == "lstm":
        params["c"] = rand(layers * D, 2, H)
        ins.append(variable("c")[0])
    r = node("rnn", "rnn", ins, state_size=H, num_layers=layers, mode=mode, bidirectional=bidirectional,
             linear_before_reset=reset_before)
    graph = Graph([r[k] for k in range(3 if mode == "lstm" else 2)])
    cm = compile_model(graph, params=params, offload=False)
    assert cm.input_shapes == {"x": ("T", "N", 3)}
    for t in (1, 4):
        feeds = {"x": rand(t, 2, 3)}
        static = compile_model(graph, params=params, shape={"x": (t, 2, 3)}, offload=False)
        for got, ref in zip(cm.run(feeds), static.run(feeds)):
            close(got, ref)


def test_broadcasting_a_symbol_against_a_size_or_another_symbol():
    a, b, c = var("a", "(N, S)"), var("b", "(1, 4)"), var("c", "(N, T)")
    cm = compile_model(Graph([node("broadcast_add", "y", [a[0], b[0]])[0]]), offload=False)
    assert cm.output_shapes == [("N", 4)]
    A, B = rand(3, 4), rand(1, 4)
    close(cm.run({"a": A, "b": B})[0], A + B)
    with pytest.raises(Exception, match="match_cast"):  # S must be 4 here: checked when it runs, never misread
        cm.run({"a": rand(3, 1), "b": B})
    # S against T: taken as one length (T := S, the later input's symbol gives way), checked when it runs
    cm = compile_model(Graph([node("broadcast_mul", "z", [a[0], c[0]])[0]]), offload=False)
    assert cm.input_shapes == {"a": ("N", "S"), "c": ("N", "S")}
    A, C = rand(2, 5), rand(2, 5)
    close(cm.run({"a": A, "c": C})[0], A * C)
    with pytest.raises(ShapeError, match="input 'c' dim 1 is 1, but S is 5"):
        cm.run({"a": A, "c": rand(2, 1)})
    twice = node("concatenate", "aa", [a[0], a[0]], axis=1)  # (N, 2*S)
    thrice = node("concatenate", "ccc", [c[0], c[0], c[0]], axis=1)  # (N, 3*T): no plain symbol to solve for
    # 2*S against 3*T: taken as one length too (either may be 1 in ONNX; TVM cannot compile that), checked
    # on the input sizes when it runs
    cm = compile_model(Graph([node("broadcast_mul", "z", [twice[0], thrice[0]])[0]]), offload=False)
    A, C = rand(2, 3), rand(2, 2)
    close(cm.run({"a": A, "c": C})[0], np.concatenate([A, A], 1) * np.concatenate([C, C, C], 1))
    with pytest.raises(ShapeError, match=r"needs 2\*S == max\(2\*S, 3\*T\), but .* they are 4 and 6"):
        cm.run({"a": rand(2, 2), "c": C})


# ---- item 7: the source model's signature ---------------------------------------------------------------
def declared_order_graph():
    """Uses ``mask`` then ``ids``; the source declared ids, unused, mask (``unused`` was folded away)."""
    ids, mask = var("ids", "(N, S)"), var("mask", "(N, S)")
    y = node("elemwise_mul", "y", [node("relu", "r", [mask[0]])[0], ids[0]])
    g = Graph([y[0]])
    g.attrs["input_order"] = ["ids", "unused", "mask"]
    return g


def test_inputs_follow_the_declared_order_and_unused_ones_are_ignored(tmp_path):
    graph = declared_order_graph()
    cm = compile_model(graph, offload=False)
    assert cm.input_names == ["ids", "unused", "mask"]
    ids, mask = rand(2, 3), rand(2, 3)
    ref = np.maximum(mask, 0) * ids
    close(cm.run({"ids": ids, "unused": np.zeros(7, "int64"), "mask": mask})[0], ref)
    path = cm.export_library(str(tmp_path / "sig.so"))
    assert load_compiled(path).input_names == ["ids", "unused", "mask"]
    # a TVM-only caller passes every input by position, in the source model's order
    from tvm import relax

    vm = relax.VirtualMachine(tvm.runtime.load_module(path), tvm.cpu())
    args = [tvm.runtime.tensor(a) for a in (ids, np.zeros((2, 3), "float32"), mask)]
    close(vm["main"](*args).numpy(), ref)


# ---- ONNX files from torch.onnx.export with dynamic_axes, through the facade ----------------------------


def _export(tmp_path, module, args, names, dynamic_axes):
    torch = pytest.importorskip("torch")
    path = str(tmp_path / "m.onnx")
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=names, output_names=["out"], dynamic_axes=dynamic_axes,
                          opset_version=17, dynamo=False)
    return path


def _vs_onnxruntime(path, cm, feeds_list):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for feeds in feeds_list:
        ref = sess.run(None, feeds)[0]
        close(cm.run(feeds)[0], ref)


def test_torch_cnn_with_a_dynamic_batch(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5))
    path = _export(tmp_path, net, (torch.randn(1, 3, 8, 8),), ["x"], {"x": {0: "N"}, "out": {0: "N"}})
    cm = compile_model(path)
    _vs_onnxruntime(path, cm, [{"x": rand(1, 3, 8, 8)}, {"x": rand(3, 3, 8, 8)}])
    assert cm.input_shapes == {"x": ("N", 3, 8, 8)}  # the file's dim_param


def test_torch_attention_with_dynamic_batch_and_sequence(tmp_path):
    torch = pytest.importorskip("torch")

    class Attn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.out = torch.nn.Linear(16, 48), torch.nn.Linear(16, 16)

        def forward(self, x, mask):
            n, s, _ = x.shape
            q, k, v = self.qkv(x).reshape(n, s, 3, 2, 8).permute(2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5 + mask[:, None, None, :], dim=-1)
            return self.out((a @ v).transpose(1, 2).reshape(n, s, 16))
    path = _export(tmp_path, Attn(), (torch.randn(2, 5, 16), torch.zeros(2, 5)), ["x", "mask"],
                   {"x": {0: "N", 1: "S"}, "mask": {0: "N", 1: "S"}, "out": {0: "N", 1: "S"}})
    cm = compile_model(path)
    assert cm.input_names == ["x", "mask"]
    _vs_onnxruntime(path, cm, [{"x": rand(2, 5, 16), "mask": np.zeros((2, 5), "float32")},
                               {"x": rand(3, 11, 16), "mask": rand(3, 11)}])


def test_onnx_signature_keeps_the_file_order_and_an_unused_input(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("ids", "unused", "mask")]
    graph = helper.make_graph([helper.make_node("Mul", ["mask", "ids"], ["out"])], "sig", inputs,
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 3])])
    path = str(tmp_path / "sig.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    cm = compile_model(path, offload=False)
    assert cm.input_names == ["ids", "unused", "mask"]
    ids, mask = rand(2, 3), rand(2, 3)
    close(cm.run({"ids": ids, "unused": rand(2, 3), "mask": mask})[0], ids * mask)


def test_positions_after_a_symbolic_past_length():
    """GPT-2 with past key/values: position ids = range(past, past + sequence), past read from a shape tensor.
    TVM 0.27's FuseTIR failed on the fused shape_to_tensor + arange kernel (cpu/pipeline.py keeps it apart)."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Shape", ["past"], ["sp"]), helper.make_node("Slice", ["sp", "i2", "i3"], ["p1"]),
             helper.make_node("Squeeze", ["p1", "i0"], ["p"]), helper.make_node("Shape", ["ids"], ["si"]),
             helper.make_node("Gather", ["si", "one"], ["s"], axis=0), helper.make_node("Add", ["s", "p"], ["end"]),
             helper.make_node("Range", ["p", "end", "one"], ["pos"]), helper.make_node("Add", ["ids", "pos"], ["out"])]
    inits = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("i2", 2), ("i3", 3), ("i0", 0))]
    inits.append(helper.make_tensor("one", TensorProto.INT64, [], [1]))
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "S"]),
              helper.make_tensor_value_info("past", TensorProto.FLOAT, ["B", 2, "P", 4])]
    graph = helper.make_graph(nodes, "positions", inputs,
                              [helper.make_tensor_value_info("out", TensorProto.INT64, ["B", "S"])], inits)
    cm = compile_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), offload=False)
    for b, s, p in ((2, 3, 5), (1, 1, 9)):
        ids = RNG.integers(0, 100, (b, s))
        got = cm.run({"ids": ids, "past": rand(b, 2, p, 4)})[0]
        np.testing.assert_array_equal(got, ids + np.arange(p, p + s))
