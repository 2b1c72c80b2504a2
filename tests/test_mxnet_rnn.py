"""MXNet's fused RNN: Gluon rnn.LSTM / GRU / RNN layers and GluonNLP's LSTM language models, saved with
``net.export``, through export_model (onnxruntime), compile_model (TVM) and MXNet -> ONNX -> MXNet, each
against MXNet itself, within 1e-4 x max(1, max|ref|) (tests/tolerance.py).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
ort = pytest.importorskip("onnxruntime")

import nnvm_bridge as nb  # noqa: E402
from nnvm_bridge.ops.rnn import rnn_param_size  # noqa: E402
from tolerance import assert_close  # noqa: E402

RNG = np.random.default_rng(0)
SEQ, BATCH, FEATURES, HIDDEN = 3, 2, 3, 4


def rand(*shape):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32)


def mxnet_outputs(sym, feeds, params):
    args = {k: mx.nd.array(v, dtype=v.dtype) for k, v in {**feeds, **params}.items()}
    exe = sym.bind(mx.cpu(), args={k: v for k, v in args.items() if k in sym.list_arguments()},
                   aux_states={k: v for k, v in args.items() if k in sym.list_auxiliary_states()}, grad_req="null")
    return [o.asnumpy() for o in exe.forward(is_train=False)]


def load_exported(prefix):
    sym = mx.sym.load(prefix + "-symbol.json")
    params = {k.split(":", 1)[1]: v.asnumpy() for k, v in mx.nd.load(prefix + "-0000.params").items()}
    return sym, params


def check_all(sym_file, params_file, feeds, ref, tvm=True, roundtrip=True):
    """onnxruntime, TVM and the MXNet round trip against ``ref`` (MXNet's outputs)."""
    shapes = {k: v.shape for k, v in feeds.items()}
    model = nb.export_model(sym_file, params_file, shapes)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert_close(g, r)
    if roundtrip:
        back, back_params = nb.import_model(model)
        got = mxnet_outputs(back, {k: v for k, v in feeds.items() if k in back.list_arguments()},
                            {k: v.asnumpy() for k, v in back_params.items()})
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_close(g, r)
    if tvm:
        cm = nb.compile_model(sym_file, shape=shapes, params=params_file)
        got = cm.run({k: feeds[k] for k in cm.input_names})
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_close(g, r)
    return model


def gluon_layer(kind, layers, bidirectional, activation, layout="TNC"):
    extra = {"activation": activation} if kind == "RNN" else {}
    return getattr(mx.gluon.rnn, kind)(HIDDEN, num_layers=layers, bidirectional=bidirectional, layout=layout,
                                        input_size=FEATURES, **extra)


def export(net, inputs, tmp_path):
    """Random weights (biases too), hybridize, run, export; returns (prefix, MXNet's outputs as a flat list)."""
    mx.random.seed(0)
    net.initialize(mx.init.Uniform(0.5), force_reinit=True)
    for p in net.collect_params().values():
        p.set_data(mx.nd.array(RNG.uniform(-0.5, 0.5, p.shape)))
    net.hybridize()
    out = net(*inputs)
    prefix = str(tmp_path / "model")
    net.export(prefix)
    flat = []

    def walk(o):
        if isinstance(o, (list, tuple)):
            for x in o:
                walk(x)
        else:
            flat.append(o.asnumpy())
    walk(out)
    return prefix, flat


LAYERS = [("LSTM", 1, False, None), ("LSTM", 2, True, None), ("GRU", 1, False, None), ("GRU", 2, True, None),
          ("RNN", 2, False, "relu"), ("RNN", 1, True, "tanh")]


@pytest.mark.parametrize("kind,layers,bidirectional,activation", LAYERS,
                         ids=[f"{k}-{n}-{'bi' if b else 'uni'}" for k, n, b, _ in LAYERS])
def test_gluon_layer_with_begin_state(kind, layers, bidirectional, activation, tmp_path):
    net = gluon_layer(kind, layers, bidirectional, activation)
    x = rand(SEQ, BATCH, FEATURES)
    states = [rand(*s.shape) for s in net.begin_state(batch_size=BATCH)]
    prefix, ref = export(net, [mx.nd.array(x), [mx.nd.array(s) for s in states]], tmp_path)
    assert len(ref) == 1 + len(states)  # the output and every final state
    feeds = {"data0": x, **{f"data{i + 1}": s for i, s in enumerate(states)}}
    model = check_all(prefix + "-symbol.json", prefix + "-0000.params", feeds, ref)
    op_type = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN"}[kind]
    nodes = [n for n in model.graph.node if n.op_type == op_type]
    assert len(nodes) == layers  # one ONNX node per layer, both directions in it
    assert {n.input[1] for n in nodes} <= {t.name for t in model.graph.initializer}  # weights folded


class _InBlock(mx.gluon.HybridBlock):
    """A layer called without states inside a hybridized block: Gluon writes zeros of batch 0 (inferred)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def hybrid_forward(self, F, x):
        return self.layer(x)


@pytest.mark.parametrize("kind,layers,bidirectional,activation", [LAYERS[1], LAYERS[2], LAYERS[4]],
                         ids=["LSTM-2-bi", "GRU-1-uni", "RNN-2-uni"])
def test_gluon_layer_without_begin_state(kind, layers, bidirectional, activation, tmp_path):
    net = _InBlock(gluon_layer(kind, layers, bidirectional, activation, layout="NTC"))
    x = rand(BATCH, SEQ, FEATURES)
    prefix, ref = export(net, [mx.nd.array(x)], tmp_path)
    check_all(prefix + "-symbol.json", prefix + "-0000.params", {"data": x}, ref)


def test_rnn_symbol_flat_vector_computed_in_the_graph():
    """The flat parameter vector as a graph input (no parameters known): ONNX slices it with nodes; state_outputs
    False gives MXNet's single output."""
    S = mx.sym
    size = rnn_param_size("lstm", FEATURES, HIDDEN, 2, True)
    for state_outputs in (False, True):
        out = S.RNN(S.var("x"), S.var("p"), S.var("h"), S.var("c"), mode="lstm", state_size=HIDDEN, num_layers=2,
                    bidirectional=True, state_outputs=state_outputs)
        feeds = {"x": rand(SEQ, BATCH, FEATURES), "p": rand(size) * 0.5, "h": rand(4, BATCH, HIDDEN),
                 "c": rand(4, BATCH, HIDDEN)}
        ref = mxnet_outputs(out, feeds, {})
        assert len(ref) == (3 if state_outputs else 1)
        shapes = {k: v.shape for k, v in feeds.items()}
        model = nb.export_model(out, {}, shapes)
        assert "Gather" in {n.op_type for n in model.graph.node}  # gates reordered in the graph
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_close(g, r)
        cm = nb.compile_model(out, shape=shapes, params={})
        for g, r in zip(cm.run({k: feeds[k] for k in cm.input_names}), ref):
            assert_close(g, r)


@pytest.mark.parametrize("attrs,what", [(dict(projection_size=2), "projection_size"),
                                        (dict(lstm_state_clip_min=-1.0, lstm_state_clip_max=1.0), "lstm_state_clip"),
                                        (dict(use_sequence_length=True), "use_sequence_length")])
def test_rnn_features_without_an_equivalent_are_named(attrs, what):
    S = mx.sym
    ins = [S.var("x"), S.var("p"), S.var("h"), S.var("c")] + ([S.var("len")] if "use_sequence_length" in attrs else [])
    out = S.RNN(*ins, mode="lstm", state_size=HIDDEN, num_layers=1, **attrs)
    with pytest.raises(nb.UnsupportedOperatorError, match=what):
        nb.frontend.from_mxnet(out, shape={"x": (SEQ, BATCH, FEATURES)})


# ---- GluonNLP language models --------------------------------------------------------------------------
def _language_model(name, tmp_path):
    nlp = pytest.importorskip("gluonnlp")
    vocab = nlp.Vocab(nlp.data.count_tokens(list("abcdefghij") * 2))
    # the released StandardRNN applies nd.Dropout in hybrid_forward, which cannot hybridize unless dropout=0
    extra = {"dropout": 0.0} if name.startswith("standard") else {}
    net, _ = nlp.model.get_model(name, dataset_name=None, vocab=vocab, pretrained=False, **extra)
    tokens = RNG.integers(0, len(vocab), (SEQ, BATCH)).astype(np.float32)
    states = [rand(*s.shape) * 0.5 for s in _flatten(net.begin_state(batch_size=BATCH))]
    begin = _regroup(net.begin_state(batch_size=BATCH), [mx.nd.array(s) for s in states])
    prefix, ref = export(net, [mx.nd.array(tokens), begin], tmp_path)
    feeds = {"data0": tokens, **{f"data{i + 1}": s for i, s in enumerate(states)}}
    return prefix, feeds, ref


def _flatten(states):
    return [s for group in states for s in (group if isinstance(group, (list, tuple)) else [group])]


def _regroup(like, flat):
    it = iter(flat)
    return [[next(it) for _ in g] if isinstance(g, (list, tuple)) else next(it) for g in like]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["standard_lstm_lm_200", "awd_lstm_lm_600"])
def test_gluonnlp_language_model(name, tmp_path):
    prefix, feeds, ref = _language_model(name, tmp_path)
    assert len(ref) == len(feeds)  # the logits and every final state
    check_all(prefix + "-symbol.json", prefix + "-0000.params", feeds, ref)


# ---- ONNX's default GRU (linear_before_reset=0: the reset gate before the hidden matmul) ----------------
def test_onnx_gru_reset_before_matmul_in_every_emitter():
    from onnx import TensorProto, helper, numpy_helper

    d, g = 2, 3
    weights = {"W": rand(d, g * HIDDEN, FEATURES), "R": rand(d, g * HIDDEN, HIDDEN), "B": rand(d, 2 * g * HIDDEN)}
    node = helper.make_node("GRU", ["x", "W", "R", "B", "", "h0"], ["y", "y_h"], hidden_size=HIDDEN,
                            direction="bidirectional", linear_before_reset=0)
    graph = helper.make_graph(
        [node], "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (SEQ, BATCH, FEATURES)),
                        helper.make_tensor_value_info("h0", TensorProto.FLOAT, (d, BATCH, HIDDEN))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("y_h", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": rand(SEQ, BATCH, FEATURES), "h0": rand(d, BATCH, HIDDEN)}
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)

    graph_ir, params = nb.frontend.from_onnx(model)
    again = nb.frontend.to_onnx(graph_ir, params)
    gru = [n for n in again.graph.node if n.op_type == "GRU"]
    assert [a.i for n in gru for a in n.attribute if a.name == "linear_before_reset"] == [0]
    got = ort.InferenceSession(again.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    sym, mx_params = nb.import_model(model)  # MXNet's RNN cannot: unrolled
    assert "RNN" not in {n["op"] for n in json.loads(sym.tojson())["nodes"]}
    got_mx = mxnet_outputs(sym, feeds, {k: v.asnumpy() for k, v in mx_params.items()})
    got_tvm = nb.compile_model(model).run(feeds)
    for outs in (got, got_mx, got_tvm):
        assert len(outs) == len(ref)
        for o, r in zip(outs, ref):
            assert_close(o, r)
