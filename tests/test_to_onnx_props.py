"""Property tests: for random attributes and shapes, the exported model run in onnxruntime
equals the op table's own numpy ``compute`` (a second, independent reference)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontend_ext.onnx.exporter import to_onnx
from nnvm_bridge.ops import get_op, node_attrs
from onnx_export_helpers import assert_close, run_ort, single_op

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
opsets = st.sampled_from([11, 12, 13, 17, 18, 21])
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def _reference(graph, feeds):
    n = graph.outputs[0].node
    arrays = [feeds[e.node.name] for e in n.inputs]
    return get_op(n.op).compute(node_attrs(n), arrays)


def _check(op, attrs, feeds, opset, outputs=1, dynamic_batch=False, other_batch=None):
    g, p, f = single_op(op, dict(attrs), feeds, outputs=outputs)
    model = to_onnx(g, p, opset=opset, dynamic_batch=dynamic_batch)
    for got, want in zip(run_ort(model, f), _reference(g, f)):
        assert_close(got, want)
    if other_batch is not None:
        g2, _, f2 = single_op(op, dict(attrs), other_batch, outputs=outputs)
        for got, want in zip(run_ort(model, f2), _reference(g2, f2)):
            assert_close(got, want)


@st.composite
def reshape_cases(draw):
    """An input shape and an MXNet reshape spec using 0, -1, -2, -3 and -4."""
    shape = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    spec, i, used_minus1 = [0], 1, False  # dim 0 is copied so the spec also holds for other batches
    while i < len(shape):
        choice = draw(st.sampled_from(["copy", "value", "merge", "split", "rest", "infer"]))
        if choice == "merge" and i + 1 < len(shape):
            spec.append(-3)
            i += 2
        elif choice == "split" and shape[i] % 2 == 0:
            spec += [-4, 2, -1]
            i += 1
        elif choice == "rest":
            spec.append(-2)
            i = len(shape)
        elif choice == "infer" and not used_minus1:
            spec.append(-1)
            used_minus1 = True
            i += 1
        elif choice == "value":
            spec.append(shape[i])
            i += 1
        else:
            spec.append(0)
            i += 1
    return tuple(shape), tuple(spec)


@SETTINGS
@given(reshape_cases(), opsets, st.booleans())
def test_reshape_special_values(case, opset, dynamic):
    shape, spec = case
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    other = {"x": np.arange(np.prod(shape) * 3, dtype=np.float32).reshape((shape[0] * 3,) + shape[1:])}
    _check("reshape", {"shape": spec}, {"x": x}, opset, dynamic_batch=dynamic,
           other_batch=other if dynamic else None)


@SETTINGS
@given(shapes, st.data(), opsets)
def test_strided_slice(shape, data, opset):
    n = data.draw(st.integers(1, len(shape)))
    begin, end, stride = [], [], []
    for d in shape[:n]:
        begin.append(data.draw(st.integers(-d - 2, d + 2)))
        end.append(data.draw(st.integers(-d - 2, d + 2)))
        stride.append(data.draw(st.sampled_from([1, 2, -1, -2])))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = x[tuple(slice(b, e, s) for b, e, s in zip(begin, end, stride))]  # numpy itself, as a third opinion
    g, p, f = single_op("strided_slice", {"begin": tuple(begin), "end": tuple(end), "stride": tuple(stride)},
                        {"x": x})
    np.testing.assert_array_equal(_reference(g, f)[0], want)
    _check("strided_slice", {"begin": tuple(begin), "end": tuple(end), "stride": tuple(stride)}, {"x": x}, opset)


@SETTINGS
@given(shapes, st.data(), opsets)
def test_transpose(shape, data, opset):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _check("transpose", {"axes": perm}, {"x": x}, opset)


@SETTINGS
@given(shapes, st.data(), opsets, st.sampled_from(["sum", "mean", "max", "min", "prod"]))
def test_reductions(shape, data, opset, op):
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape),
                              unique_by=lambda a: a % len(shape)))
    attrs = {"axis": tuple(axes), "keepdims": data.draw(st.booleans()), "exclude": data.draw(st.booleans())}
    x = np.random.default_rng(2).uniform(0.5, 1.5, shape).astype(np.float32)
    _check(op, attrs, {"x": x}, opset)


@SETTINGS
@given(shapes, st.data(), opsets, st.sampled_from(["add", "sub", "mul", "div", "max", "min", "mod", "pow",
                                                   "greater", "less_equal", "not_equal"]))
def test_broadcast_binary(shape, data, opset, op):
    # the second operand drops leading dims and squashes some to 1
    k = data.draw(st.integers(0, len(shape) - 1))
    other = tuple(1 if data.draw(st.booleans()) else d for d in shape[k:])
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 3, shape).astype(np.float32)
    b = rng.uniform(0.5, 3, other).astype(np.float32)
    if data.draw(st.booleans()):
        a, b = b, a
    _check(f"broadcast_{op}", {}, {"a": a, "b": b}, opset)


@SETTINGS
@given(shapes, st.data(), opsets)
def test_split(shape, data, opset):
    axis = data.draw(st.integers(0, len(shape) - 1))
    dim = shape[axis]
    if data.draw(st.booleans()):
        divisors = [s for s in range(1, dim + 1) if dim % s == 0]
        ios = data.draw(st.sampled_from(divisors))
        n = ios
    else:
        ios = tuple(sorted(data.draw(st.lists(st.integers(1, max(1, dim - 1)), min_size=1, max_size=2,
                                                 unique=True))))
        if dim == 1:
            return
        n = len(ios) + 1
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    _check("split", {"indices_or_sections": ios, "axis": axis}, {"x": x}, opset, outputs=n)


@SETTINGS
@given(shapes, st.data(), opsets)
def test_take(shape, data, opset):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    dim = int(np.prod(shape)) if axis is None else shape[axis]
    idx = np.array(data.draw(st.lists(st.integers(-2, dim + 2), min_size=1, max_size=5)), np.int32)
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    _check("take", {"axis": axis}, {"x": x, "i": idx}, opset)


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_clip_and_where_compute_agree(opset):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    _check("clip", {"a_min": -1.0, "a_max": 0.5}, {"x": x}, opset)
    _check("where", {}, {"c": np.array([1, 0, 1], np.float32), "x": x, "y": -x}, opset)
