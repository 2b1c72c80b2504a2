"""Graph JSON: NNVM v0.6 fixture, MXNet 1.9 and legacy MXNet symbol JSON, round trips, bad input."""
import importlib.util
import json
import os

import numpy as np
import pytest

from nnvm_bridge.errors import InvalidModelError, UnsupportedOperatorError
from nnvm_bridge.ir import Graph, Node, load_json, parse_json, save_json
from nnvm_bridge.ir.json_io import TypedAttr, graph_to_obj
from nnvm_bridge.ir.passes import infer_shape, infer_type

FIX = os.path.join(os.path.dirname(__file__), "fixtures")
NNVM_FIXTURE = os.path.join(FIX, "nnvm_v06_graph.json")
MX19_FIXTURE = os.path.join(FIX, "mxnet19_symbol.json")
LEGACY_FIXTURE = os.path.join(FIX, "mxnet_legacy_symbol.json")


def _read(path):
    with open(path) as f:
        return json.load(f)


# ---- the NNVM v0.6 fixture ----------------------------------------------------------------------
def test_nnvm_fixture_loads_with_graph_attrs():
    g = load_json(NNVM_FIXTURE)
    raw = _read(NNVM_FIXTURE)
    assert [n.name for n in g.nodes] == [n["name"] for n in raw["nodes"]]
    assert g.arg_nodes == raw["arg_nodes"]
    assert g.node_row_ptr == raw["node_row_ptr"]  # batch_norm has 3 outputs
    assert g.num_entries == 18
    # typed graph attrs: shape/dtype decoded, others kept as [type, value] pairs
    assert g.attrs["shape"][g.entry_id(g.outputs[0])] == (1, 10)
    assert g.attrs["dtype"] == ["float32"] * 18
    assert g.attrs["storage_id"] == TypedAttr("list_int", raw["attrs"]["storage_id"][1])
    assert g.attrs["shape_num_unknown_nodes"] == TypedAttr("size_t", 0)
    # the aux inputs of batch_norm carry version 1
    bn = g.nodes[8]
    assert [e.version for e in bn.inputs] == [0, 0, 0, 1, 1]


def test_nnvm_fixture_shapes_match_our_inference():
    g = load_json(NNVM_FIXTURE)
    stored = g.attrs["shape"]
    inferred = infer_shape(g, shape={"data": (1, 3, 8, 8), "conv0_weight": (4, 3, 3, 3), "conv0_bias": (4,),
                                     "bn0_gamma": (4,), "bn0_beta": (4,), "bn0_moving_mean": (4,),
                                     "bn0_moving_var": (4,), "fc1_weight": (10, 64), "fc1_bias": (10,)})
    assert inferred.attrs["shape"] == stored
    assert infer_type(g).attrs["dtype"] == g.attrs["dtype"]


def test_nnvm_fixture_roundtrip_is_stable():
    g = load_json(NNVM_FIXTURE)
    text = save_json(g)
    obj = json.loads(text)
    raw = _read(NNVM_FIXTURE)
    for key in ("arg_nodes", "node_row_ptr", "heads"):
        assert obj[key] == raw[key]
    assert obj["attrs"] == raw["attrs"]  # every graph attr, typed pairs included, survives
    for ours, theirs in zip(obj["nodes"], raw["nodes"]):
        assert ours["op"] == theirs["op"] and ours["name"] == theirs["name"]
        assert ours["inputs"] == theirs["inputs"]
        assert list(ours.get("attrs", {})) == sorted(ours.get("attrs", {}))  # written in sorted key order
    assert save_json(load_json(text)) == text  # fixed point


def test_save_json_writes_file(tmp_path):
    g = load_json(NNVM_FIXTURE)
    path = tmp_path / "g.json"
    text = save_json(g, path)
    assert path.read_text() == text
    assert save_json(load_json(str(path))) == text


# ---- MXNet 1.9 symbol JSON ------------------------------------------------------------------------
def test_mxnet19_fixture_is_real_mxnet_output():
    pytest.importorskip("mxnet")
    spec = importlib.util.spec_from_file_location("make_mxnet_fixture", os.path.join(FIX, "make_mxnet_fixture.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(module.build_symbol().tojson()) == _read(MX19_FIXTURE)


def test_mxnet19_fixture_parses():
    raw = parse_json(MX19_FIXTURE)
    by_name = {n.name: n for n in raw.nodes}
    # weights copy their op's attrs in MXNet JSON; only dunder hints survive on variables
    assert by_name["conv0_weight"].attrs == {"__ctx_group__": "dev1"}
    assert by_name["fc1_bias"].attrs == {}
    assert by_name["bn0_moving_mean"].attrs == {"__init__": '["zero", {}]'}
    assert by_name["fc1_weight"].attrs["__lr_mult__"] == "2.0"
    assert by_name["data"].attrs == {"__dtype__": "0", "__shape__": "(1, 3, 8, 8)"}
    # op attrs are kept as strings, exactly as written
    assert by_name["conv0"].attrs["kernel"] == "(3, 3)"
    assert by_name["bn0"].attrs == {"eps": "2e-05", "fix_gamma": "False"}
    assert by_name["bn0"].inputs[3] == (6, 0, 1)  # version of a mutated aux state
    assert raw.attrs["mxnet_version"] == ["int", 10901]
    assert raw.heads == [(16, 0, 0)]
    # MXNet op names are not NNVM ops: the NNVM loader refuses them, listing all at once
    with pytest.raises(UnsupportedOperatorError) as info:
        load_json(MX19_FIXTURE)
    assert {"Convolution", "BatchNorm", "FullyConnected", "SoftmaxOutput"} <= set(info.value.ops)


def test_legacy_mxnet_json_merges_param_and_attr():
    raw = parse_json(LEGACY_FIXTURE)
    by_name = {n.name: n for n in raw.nodes}
    assert by_name["conv"].attrs == {"kernel": "(3, 3)", "no_bias": "False", "num_filter": "5",
                                     "stride": "(1, 1)"}  # param merged, ctx_group/lr_mult hidden
    assert by_name["act"].attrs == {"act_type": "tanh"}  # mirror_stage is a hidden key
    assert by_name["fc_weight"].attrs == {}  # copied op attr dropped
    assert by_name["data"].attrs == {"__shape__": "(2, 3, 6, 6)"}
    assert by_name["fc"].inputs == [(4, 0, 0), (5, 0, 0), (6, 0, 0)]  # 2-element entries get version 0
    assert raw.heads == [(9, 0, 0)]


def test_legacy_mxnet_json_agrees_with_mxnet_upgrade():
    mx = pytest.importorskip("mxnet")
    sym = mx.sym.load(LEGACY_FIXTURE)
    theirs = json.loads(sym.tojson())
    ours = parse_json(LEGACY_FIXTURE)
    assert [n["name"] for n in theirs["nodes"]] == [n.name for n in ours.nodes]
    for t, o in zip(theirs["nodes"], ours.nodes):
        plain = {k: v for k, v in (t.get("attrs") or {}).items() if not k.startswith("__")}
        if t["op"] == "null":
            plain = {}
        assert o.attrs.keys() - {"__shape__"} == plain.keys() and all(o.attrs[k] == v for k, v in plain.items())


def test_parse_accepts_key_order_and_attr_precedence():
    text = json.dumps({"nodes": [
        {"op": "null", "name": "x", "inputs": []},
        {"op": "leaky_relu", "name": "lr", "param": {"alpha": "0.1"}, "attr": {"alpha": "0.2"},
         "attrs": {"alpha": "0.3"}, "inputs": [[0, 0]]}], "heads": [[1, 0]], "arg_nodes": [0]})
    g = load_json(text)
    assert g.nodes[1].attrs == {"alpha": "0.3"}  # 'attrs' wins over legacy fields
    assert save_json(load_json(save_json(g))) == save_json(g)


# ---- round trips of built graphs ----------------------------------------------------------------
def _built_graph():
    x = Node("null", "x", attrs={"__shape__": "(2, 6)"})
    sp = Node("split", "sp", [x[0]], {"indices_or_sections": "(2, 4)", "axis": "1"})
    sp3 = Node("split", "sp3", [x[0]], {"indices_or_sections": "3", "axis": "-1"})
    add = Node("broadcast_add", "add", [sp[0], sp3[0]])
    cat = Node("concatenate", "cat", [add[0], sp[1], sp[2]], {"axis": "1"})
    return Graph([cat[0], sp3[2]])


def test_built_graph_roundtrip_and_multi_output_entries():
    g = _built_graph()
    text = save_json(g)
    g2 = load_json(text)
    assert save_json(g2) == text
    assert g2.node_row_ptr == [0, 1, 4, 7, 8, 9]
    assert g2.output_names() == ["cat", "sp3_output2"]
    shapes = infer_shape(g2).attrs["shape"]
    assert shapes[g2.entry_id(g2.outputs[0])] == (2, 6)
    obj = graph_to_obj(g2)
    assert obj["heads"] == [[4, 0, 0], [2, 2, 0]]


def test_roundtrip_with_inferred_attrs():
    g = infer_type(infer_shape(_built_graph()))
    text = save_json(g)
    g2 = load_json(text)
    assert g2.attrs["shape"] == g.attrs["shape"] and g2.attrs["dtype"] == g.attrs["dtype"]
    assert save_json(g2) == text


# ---- malformed JSON ----------------------------------------------------------------------------
@pytest.mark.parametrize("text,match", [
    ("{", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"nodes": [], "heads": []}', "no 'nodes' list"),
    ('{"nodes": [{"op": "null", "name": "x"}]}', "no 'heads' list"),
    ('{"nodes": [{"op": "null", "name": "x", "inputs": []}], "heads": []}', "no outputs"),
    ('{"nodes": [{"op": "null", "name": "x", "inputs": []}], "heads": [[3, 0, 0]]}', "out of range"),
    ('{"nodes": [{"op": "relu", "name": "r", "inputs": [[0, 0, 0]]}], "heads": [[0, 0, 0]]}', "later node"),
    ('{"nodes": [{"op": "null", "name": "x", "inputs": []}, {"op": "relu", "name": "r", "inputs": [["a", 0]]}],'
     ' "heads": [[1, 0, 0]]}', "expected \\[node_id"),
    ('{"nodes": [{"op": 3, "name": "x"}], "heads": []}', "lacks a string"),
    ('{"nodes": [{"op": "null", "name": "x", "inputs": []}, {"op": "relu", "name": "r", "attrs": {"a": [1]},'
     ' "inputs": [[0, 0]]}], "heads": [[1, 0, 0]]}', "not a string"),
])
def test_malformed_json_raises_invalid_model(text, match):
    with pytest.raises(InvalidModelError, match=match):
        load_json(text)


def test_bad_nodes_name_node_and_op():
    x = {"op": "null", "name": "x", "inputs": []}
    bad_attr = json.dumps({"nodes": [x, {"op": "conv2d", "name": "c1", "attrs": {"channels": "four",
                                                                                "kernel_size": "(3, 3)"},
                                         "inputs": [[0, 0], [0, 0]]}], "heads": [[1, 0]]})
    with pytest.raises(InvalidModelError) as info:
        load_json(bad_attr)
    assert "'c1'" in str(info.value) and "conv2d" in str(info.value)
    arity = json.dumps({"nodes": [x, {"op": "relu", "name": "r1", "inputs": [[0, 0], [0, 0]]}],
                        "heads": [[1, 0]]})
    with pytest.raises(InvalidModelError, match="expects 1 inputs") as info:
        load_json(arity)
    assert "'r1'" in str(info.value)
    head = json.dumps({"nodes": [x, {"op": "relu", "name": "r2", "inputs": [[0, 0]]}], "heads": [[1, 1]]})
    with pytest.raises(InvalidModelError, match="output 1") as info:
        load_json(head)
    assert "'r2'" in str(info.value)


def test_missing_file_and_bad_bytes(tmp_path):
    with pytest.raises(InvalidModelError, match="does not exist") as info:
        load_json(str(tmp_path / "none.json"))
    assert "none.json" in str(info.value)
    with pytest.raises(InvalidModelError, match="UTF-8"):
        load_json(b"\xff\xfe{")
    deep = "[" * 100000 + "]" * 100000
    with pytest.raises(InvalidModelError):
        load_json('{"nodes": ' + deep + "}")


def test_deep_chain_needs_no_recursion():
    x = Node("null", "x")
    cur = x
    for i in range(5000):
        cur = Node("relu", f"r{i}", [cur[0]])
    g = Graph([cur[0]])
    g2 = load_json(save_json(g))
    assert len(g2.nodes) == 5001
    assert infer_shape(g2, shape={"x": (2,)}).shape_of(g2.outputs[0]) == (2,)


def test_numpy_free_attr_values_in_json():
    # numbers and booleans given as JSON scalars (not strings) are accepted and kept as strings
    text = json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                 {"op": "leaky_relu", "name": "l", "attrs": {"alpha": 0.5}, "inputs": [[0, 0]]}],
                       "heads": [[1, 0]]})
    g = load_json(text)
    assert g.nodes[1].attrs == {"alpha": "0.5"}
    out = g.nodes[1]
    from nnvm_bridge.ops import node_attrs

    assert node_attrs(out).alpha == 0.5
    np.testing.assert_allclose(0.5, node_attrs(out).alpha)
