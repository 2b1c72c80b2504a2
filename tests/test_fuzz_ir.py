"""Property-based fuzzing of the IR readers: graph JSON, attribute strings.

Whatever bytes or structures come in, the only exceptions allowed out are BridgeError
subclasses.  Bounded by hypothesis settings so CI stays fast; the example counts are
reported by ``pytest --hypothesis-show-statistics``.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnvm_bridge.errors import BridgeError
from nnvm_bridge.ir.json_io import build_graph, parse_json, parse_obj
from nnvm_bridge.ops import OPS

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                         st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                              st.dictionaries(st.text(max_size=6), c, max_size=4)),
                           max_leaves=20)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_graph_json(data):
    try:
        build_graph(parse_json(data))
    except BridgeError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_random_text_as_graph_json(text):
    try:
        build_graph(parse_json("{" + text))
    except BridgeError:
        pass


op_names = st.sampled_from(sorted(OPS) + ["null", "Convolution", "no_such_op"])
attr_text = st.one_of(st.text(max_size=12), st.sampled_from(
    ["(1, 1)", "[3,3]", "3", "()", "None", "True", "false", "1e-5", "(a, b)", "((0,0),(1,1))", "-1", "nan",
     "inf", "(1,)", "float32", "[[1]]", "99999999999999999999"]))


@st.composite
def graph_objects(draw):
    n = draw(st.integers(1, 8))
    nodes = []
    for i in range(n):
        op = draw(op_names)
        ins = draw(st.lists(st.lists(st.integers(-1, n + 1), min_size=1, max_size=3), max_size=4))
        attrs = draw(st.dictionaries(st.sampled_from(
            ["axis", "channels", "kernel_size", "shape", "units", "indices_or_sections", "scalar", "pool_size",
             "num_args", "dtype", "pad_width", "a_min", "a_max", "__shape__", "reps", "k", "zzz"]), attr_text,
            max_size=4))
        nodes.append({"op": op, "name": f"n{i}", "attrs": attrs, "inputs": ins})
    heads = draw(st.lists(st.lists(st.integers(-1, n), min_size=1, max_size=3), max_size=3))
    obj = {"nodes": nodes, "arg_nodes": [], "heads": heads}
    if draw(st.booleans()):
        obj["attrs"] = draw(st.dictionaries(st.sampled_from(["shape", "dtype", "x"]), json_values, max_size=2))
    return obj


@FUZZ
@given(graph_objects())
def test_random_graph_structures(obj):
    from nnvm_bridge.ir import save_json
    from nnvm_bridge.ir.passes import infer_shape, infer_type

    try:
        g = build_graph(parse_obj(obj))
        g = infer_type(infer_shape(g))
        save_json(g)
    except BridgeError:
        pass


@FUZZ
@given(json_values)
def test_random_json_values(obj):
    try:
        build_graph(parse_json(json.dumps(obj)))
    except BridgeError:
        pass


@FUZZ
@given(st.sampled_from(sorted(OPS)), st.dictionaries(st.text(max_size=10), attr_text, max_size=5))
def test_random_attrs_for_every_op(opname, raw):
    op = OPS[opname]
    try:
        attrs = op.parse_attrs(raw, node="n")
    except BridgeError:
        return
    # whatever parses must be written back and re-parsed to the same values
    again = op.parse_attrs(op.format_attrs(attrs), node="n")
    for k, v in attrs.items():
        w = again[k]
        if isinstance(v, float) and v != v:
            assert w != w
        else:
            assert w == v or (isinstance(v, (tuple, list)) and tuple(w) == tuple(v)), (k, v, w)


def test_deeply_nested_json_is_refused():
    text = "[" * 100000 + "]" * 100000
    with pytest.raises(BridgeError):
        parse_json(text)
