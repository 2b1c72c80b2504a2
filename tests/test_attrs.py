"""Attribute strings: lenient reading, canonical writing, the split quirk, errors naming node and op."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnvm_bridge.errors import AttributeParseError
from nnvm_bridge.ir import Node
from nnvm_bridge.ir import attrs as A
from nnvm_bridge.ops import get_op, node_attrs


@pytest.mark.parametrize("text,value", [
    ("True", True), ("true", True), ("1", True), ("t", True), ("yes", True), ("y", True),
    ("False", False), ("false", False), ("0", False), ("f", False), ("no", False), (" 0 ", False),
])
def test_bool_forms(text, value):
    assert A.parse_value("bool", text) is value


@pytest.mark.parametrize("text,value", [
    ("(1, 1)", (1, 1)), ("[1, 1]", (1, 1)), ("(1,)", (1,)), ("1", (1,)), ("()", ()), ("[]", ()),
    ("(3L, 3L)", (3, 3)), ("(2l,)", (2,)), ("  ( 1 ,2 ) ", (1, 2)), ("1, 2", (1, 2)), ("(-1, 0, -2)", (-1, 0, -2)),
    ("(2.0, 3)", (2, 3)),
])
def test_shape_forms(text, value):
    assert A.parse_value("shape", text) == value


@pytest.mark.parametrize("text,value", [
    ("64", 64), ("-3", -3), ("64L", 64), ("1e2", 100), ("3.0", 3), ("True", 1),
])
def test_int_forms(text, value):
    assert A.parse_value("int", text) == value


@pytest.mark.parametrize("text,value", [
    ("1e-05", 1e-5), ("0.001", 0.001), ("3", 3.0), ("-inf", -math.inf), ("inf", math.inf), (".5", 0.5),
])
def test_float_forms(text, value):
    assert A.parse_value("float", text) == value


def test_nan_and_tuple_of_tuples():
    assert math.isnan(A.parse_value("float", "nan"))
    assert A.parse_value("tuple_tuple_int", "((0, 0), (0, 0), (1, 1), (1, 1))") == ((0, 0), (0, 0), (1, 1), (1, 1))
    assert A.parse_value("tuple_tuple_int", "[[0, 1], [2, 3]]") == ((0, 1), (2, 3))
    assert A.parse_value("tuple_float", "(0.1, 0.1, 0.2, 0.2)") == (0.1, 0.1, 0.2, 0.2)
    assert A.parse_value("str", "'NCHW'") == "NCHW"
    assert A.parse_value("int", "None", optional=True) is None
    assert A.parse_value("int", None, optional=True) is None


def test_split_quirk():
    # "2" = two equal sections; "(2,)" / "[2]" = split at index 2
    assert A.parse_value("split", "2") == 2
    assert A.parse_value("split", "(2,)") == (2,)
    assert A.parse_value("split", "[2]") == (2,)
    assert A.parse_value("split", "(1, 3)") == (1, 3)
    assert A.format_value("split", 2) == "2"
    assert A.format_value("split", (2,)) == "(2,)"
    from nnvm_bridge.ir.passes import infer_shape
    from nnvm_bridge.ir import Graph

    x = Node("null", "x")
    sections = Node("split", "s1", [x[0]], {"indices_or_sections": "2", "axis": "0"})
    at_index = Node("split", "s2", [x[0]], {"indices_or_sections": "(2,)", "axis": "0"})
    g = infer_shape(Graph([sections[0], sections[1], at_index[0], at_index[1]]), shape={"x": (6, 3)})
    assert [g.shape_of(e) for e in g.outputs] == [(3, 3), (3, 3), (2, 3), (4, 3)]


@pytest.mark.parametrize("kind,value,text", [
    ("bool", True, "True"), ("bool", False, "False"), ("int", 64, "64"), ("float", 1e-5, "1e-05"),
    ("float", 0.001, "0.001"), ("float", 2.0, "2.0"), ("shape", (1, 1), "(1, 1)"), ("shape", (3,), "(3,)"),
    ("shape", (), "()"), ("tuple_tuple_int", ((0, 0), (1, 2)), "((0, 0), (1, 2))"),
    ("tuple_float", (0.5, 1.0), "(0.5, 1.0)"), ("int", None, "None"), ("float", -math.inf, "-inf"),
])
def test_canonical_writing(kind, value, text):
    assert A.format_value(kind, value) == text


@pytest.mark.parametrize("kind,text", [
    ("bool", "maybe"), ("bool", "2"), ("int", "abc"), ("int", "1.5"), ("int", "inf"), ("float", "x1"),
    ("shape", "(1, 2"), ("shape", "(1,, 2)"), ("shape", "((1, 2))"), ("shape", "None"), ("shape", ""),
    ("shape", "(1 2)"), ("tuple_tuple_int", "(1, 2)"), ("shape", "(" * 10 + ")" * 10),
])
def test_bad_values_are_rejected(kind, text):
    with pytest.raises(A.BadValue):
        A.parse_value(kind, text)


def test_bad_values_name_node_and_op():
    x = Node("null", "x")
    cases = [
        (Node("conv2d", "convA", [x[0], x[0]], {"channels": "many", "kernel_size": "(3, 3)", "use_bias": "0"}),
         "channels"),
        (Node("dense", "fcB", [x[0], x[0]], {"units": "10", "use_bias": "perhaps"}), "use_bias"),
        (Node("max_pool2d", "poolC", [x[0]], {"pool_size": "(2, 2", "strides": "(2, 2)"}), "pool_size"),
        (Node("relu", "reluD", [x[0]], {"alpha": "1"}), "unknown attribute"),
        (Node("conv2d", "convE", [x[0], x[0]], {"channels": "4"}), "missing required attribute 'kernel_size'"),
        (Node("upsampling", "upF", [x[0]], {"scale": "2", "method": "CUBIC"}), "must be one of"),
        (Node("cast", "castG", [x[0]], {"dtype": "float128"}), "must be one of"),
    ]
    for node, what in cases:
        with pytest.raises(AttributeParseError) as info:
            node_attrs(node)
        msg = str(info.value)
        assert what in msg and repr(node.name) in msg and repr(node.op) in msg, msg
        assert info.value.node == node.name and info.value.op == node.op


def test_dunder_hints_are_ignored_by_ops():
    x = Node("null", "x")
    n = Node("relu", "r", [x[0]], {"__lr_mult__": "2", "__ctx_group__": "dev1"})
    assert node_attrs(n) == {}


def test_defaults_applied_and_format_omits_them():
    x = Node("null", "x")
    n = Node("conv2d", "c", [x[0], x[0], x[0]], {"channels": "8", "kernel_size": "[3, 3]", "padding": "1"})
    a = node_attrs(n)
    assert a.strides == (1, 1) and a.groups == 1 and a.use_bias is True and a.padding == (1,)
    op = get_op("conv2d")
    assert op.format_attrs(dict(a)) == {"channels": "8", "kernel_size": "(3, 3)", "padding": "(1,)"}
    full = op.format_attrs(dict(a), keep_defaults=True)
    assert full["use_bias"] == "True" and full["layout"] == "NCHW"
    assert list(full) == sorted(full)
    with pytest.raises(AttributeParseError, match="unknown attribute"):
        op.format_attrs({"nonsense": 1})


_shape = st.lists(st.integers(-4, 1 << 40), max_size=6).map(tuple)
_float = st.floats(allow_nan=False, width=64)


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.tuples(st.just("shape"), _shape),
    st.tuples(st.just("int"), st.integers(-(1 << 62), 1 << 62)),
    st.tuples(st.just("float"), _float),
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("tuple_float"), st.lists(_float, max_size=4).map(tuple)),
    st.tuples(st.just("tuple_tuple_int"), st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1,
                                                   max_size=4).map(tuple)),
    st.tuples(st.just("split"), st.one_of(st.integers(1, 9), st.lists(st.integers(0, 9), min_size=1,
                                                                       max_size=3).map(tuple))),
))
def test_format_then_parse_roundtrips(kind_value):
    kind, value = kind_value
    text = A.format_value(kind, value)
    assert A.parse_value(kind, text) == value
    assert A.format_value(kind, A.parse_value(kind, text)) == text  # canonical form is a fixed point


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_text_never_escapes(text):
    for kind in A.ATTR_TYPES:
        try:
            A.parse_value(kind, text)
        except A.BadValue:
            pass
