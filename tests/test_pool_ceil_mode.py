"""Pooling with ceil_mode on every backend.

ONNX (onnxruntime, PyTorch) with ceil_mode=1 drops a last window that would start inside the end
padding; the IR keeps MXNet's pooling_convention="full" windows (ops/common.pool_out).  So:
* an ONNX model imported with from_onnx must give onnxruntime's numbers in the IR interpreter, in
  MXNet (to_mxnet) and in TVM (to_relax), whether or not a window is dropped;
* an MXNet "full" symbol must still give MXNet's numbers in onnxruntime (to_onnx), in TVM and in
  the IR interpreter.
Tolerance: max|got - want| <= 1e-5 * max(1, max|want|); max pooling selects values, so it must be exact.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from nnvm_bridge.errors import UnsupportedOperatorError
from nnvm_bridge.frontend import from_mxnet, from_onnx, to_mxnet, to_onnx
from nnvm_bridge.ir.interpreter import run_graph
from nnvm_bridge.ops.common import pool_out
from onnx_mx_helpers import ort_run
from tolerance import assert_close

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")

TOL = 1e-5
RNG = np.random.default_rng(7)

# (id, spatial input shape, kernel, strides, pads as begins + ends or an auto_pad string,
#  whether onnxruntime drops a window that the IR's ceil mode keeps)
GEOMETRIES = [
    ("1d_drop", (3,), (2,), (2,), (1, 1), True),
    ("1d_cross_end", (4,), (3,), (2,), (1, 1), False),  # the last window reaches past the end padding
    ("1d_stride_gt_kernel", (7,), (2,), (3,), (1, 1), True),
    ("2d_start_on_pad", (2, 2), (3, 3), (3, 3), (1, 1, 1, 1), True),  # ONNX's *_ceil_last_window_starts_on_pad
    ("2d_kernel1_stride2", (2, 2), (1, 1), (2, 2), (0, 0, 0, 0), True),  # no padding at all
    ("2d_asym_one_dim_drops", (5, 6), (3, 2), (2, 2), (1, 0, 1, 1), True),
    ("2d_cross_end", (6, 7), (3, 3), (2, 2), (1, 1, 1, 1), False),
    # H's last window reaches past the end padding while W drops one: with count_include_pad the
    # part past the padding must not count
    ("2d_drop_and_cross_end", (4, 3), (3, 2), (2, 2), (1, 1, 1, 1), True),
    ("2d_same_upper", (5, 6), (3, 3), (2, 2), "SAME_UPPER", False),
    ("3d_drop", (3, 4, 5), (2, 2, 2), (2, 2, 2), (1, 0, 1, 1, 1, 0), True),
]

# the node kinds each geometry is checked with: (op, extra attributes)
KINDS = [
    ("MaxPool", {}),
    ("AveragePool", {"count_include_pad": 0}),
    ("AveragePool", {"count_include_pad": 1}),
    ("LpPool", {"p": 2}),
    ("LpPool", {"p": 3}),
]


def _pads_attrs(pads):
    return {"auto_pad": pads} if isinstance(pads, str) else {"pads": list(pads)}


def pool_model(spatial, kernel, strides, pads, kinds=KINDS, dims=None, opset=19):
    """One ONNX model: input x (2, 3, *spatial) pooled by each kind, with ceil_mode=1; one output each."""
    dims = dims or (2, 3) + tuple(spatial)
    nodes, outs = [], []
    for i, (op, extra) in enumerate(kinds):
        nodes.append(helper.make_node(op, ["x"], [f"y{i}"], name=f"pool{i}", kernel_shape=list(kernel),
                                      strides=list(strides), ceil_mode=1, **_pads_attrs(pads), **extra))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "pools", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
                              outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _case(geom):
    _, spatial, kernel, strides, pads, drops = geom
    model = pool_model(spatial, kernel, strides, pads)
    x = RNG.standard_normal((2, 3) + tuple(spatial)).astype(np.float32)
    want = ort_run(model, {"x": x})
    return model, x, want, drops


def _check_all(got, want):
    assert len(got) == len(want)
    for (op, _), g, w in zip(KINDS, got, want):
        if op == "MaxPool":
            np.testing.assert_array_equal(g, w)
        else:
            assert_close(g, w, TOL)


@pytest.mark.parametrize("geom", GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_geometry_drops_a_window_as_labelled(geom):
    # guards the labels: the set must hold cases where ONNX and the IR's ceil mode differ, and cases where they do not
    _, spatial, kernel, strides, pads, drops = geom
    if isinstance(pads, str):
        assert not drops  # SAME padding fits the windows exactly
        return
    nsp = len(spatial)
    ir_shape = tuple(pool_out(spatial[i], kernel[i], strides[i], pads[i], pads[nsp + i], True) for i in range(nsp))
    model, x, want, drops = _case(geom)
    assert (want[0].shape[2:] != ir_shape) == drops


@pytest.mark.parametrize("geom", GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_onnx_import_matches_onnxruntime_in_the_ir_interpreter(geom):
    model, x, want, drops = _case(geom)
    graph, params = from_onnx(model)
    _check_all(run_graph(graph, {"x": x}, params), want)
    # a dropped window is expressed in floor mode; no pool keeps a ceil mode that would disagree
    if drops:
        assert not any(n.attrs.get("ceil_mode") == "True" for n in graph.op_nodes())


@pytest.mark.parametrize("geom", GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_onnx_import_matches_onnxruntime_in_mxnet(geom):
    mx = pytest.importorskip("mxnet")
    from onnx_mx_helpers import module_run

    model, x, want, _ = _case(geom)
    graph, params = from_onnx(model)
    sym_json, args, aux = to_mxnet(graph, params)
    sym = mx.sym.load_json(sym_json)
    got = module_run(sym, {k: mx.nd.array(v) for k, v in {**args, **aux}.items()}, {"x": x})
    _check_all(got, want)


@pytest.mark.parametrize("geom", GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_onnx_import_matches_onnxruntime_in_tvm(geom):
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    model, x, want, _ = _case(geom)
    got = compile_model(model, offload=False).run({"x": x})
    _check_all(got, want)


# ---- unknown spatial sizes ----------------------------------------------------------------------
def _dynamic(kernel, strides, pads, kinds):
    return pool_model((0, 0), kernel, strides, pads, kinds=kinds, dims=("N", 3, "H", "W"))


@pytest.mark.parametrize("op, extra", [("MaxPool", {}), ("AveragePool", {"count_include_pad": 1}),
                                       ("LpPool", {"p": 2})])
def test_unknown_spatial_size_that_may_drop_a_window_is_refused_naming_the_node(op, extra):
    # end padding 1 > kernel - stride 0: some sizes (e.g. 3) make onnxruntime drop the last window
    model = _dynamic((2, 2), (2, 2), (1, 1, 1, 1), [(op, extra)])
    with pytest.raises(UnsupportedOperatorError) as err:
        from_onnx(model)
    assert "pool0" in str(err.value) and op in str(err.value) and "ceil_mode" in str(err.value)
    # with the shape given, the same model imports and matches onnxruntime
    x = RNG.standard_normal((1, 3, 3, 5)).astype(np.float32)
    graph, params = from_onnx(model, shape={"x": x.shape})
    assert_close(run_graph(graph, {"x": x}, params)[0], ort_run(model, {"x": x})[0], TOL)


def test_unknown_spatial_size_that_cannot_drop_keeps_ceil_mode_and_matches_every_size():
    # kernel 3, stride 2, end padding 1 <= kernel - stride: no input size drops a window (ResNet-style stems)
    kinds = [("MaxPool", {}), ("AveragePool", {"count_include_pad": 1}), ("AveragePool", {"count_include_pad": 0})]
    model = _dynamic((3, 3), (2, 2), (1, 1, 1, 1), kinds)
    graph, params = from_onnx(model)
    assert [n.attrs.get("ceil_mode") for n in graph.op_nodes() if "pool" in n.op] == ["True"] * 3
    for h, w in [(4, 5), (5, 6), (6, 7), (7, 8), (9, 9)]:
        x = RNG.standard_normal((1, 3, h, w)).astype(np.float32)
        for got, want in zip(run_graph(graph, {"x": x}, params), ort_run(model, {"x": x})):
            assert_close(got, want, TOL)


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1)], ids=["no_pad", "pad1"])
def test_symbolic_size_that_cannot_drop_compiles_in_tvm_once_for_every_size(pads):
    # GoogLeNet's and SqueezeNet's ceil-mode max pools (kernel 3, stride 2) on a symbolic H, W: no size drops
    # a window, so Relax's own ceil mode gives the IR's windows and one library serves every size
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    kinds = [("MaxPool", {}), ("AveragePool", {"count_include_pad": 0})]
    model = _dynamic((3, 3), (2, 2), pads, kinds)
    cm = compile_model(model, offload=False)
    for h, w in [(7, 8), (9, 9), (12, 5)]:
        x = RNG.standard_normal((2, 3, h, w)).astype(np.float32)
        got, want = cm.run({"x": x}), ort_run(model, {"x": x})
        np.testing.assert_array_equal(got[0], want[0])
        assert_close(got[1], want[1], TOL)


def test_kernel_larger_than_the_input_in_mxnet_at_every_size():
    # HF EfficientNet's pooler: AvgPool2d(kernel = its channel count, ceil_mode=True) over a small symbolic
    # feature map, one window; MXNet's Pooling refuses a kernel larger than its input
    mx = pytest.importorskip("mxnet")
    import nnvm_bridge as nb

    kinds = [("MaxPool", {}), ("AveragePool", {"count_include_pad": 0})]
    for model in (_dynamic((8, 8), (8, 8), (0, 0, 0, 0), kinds), _dynamic((3, 3), (2, 2), (0, 0, 0, 0), kinds)):
        block = nb.import_to_gluon(model)
        for h, w in [(3, 2), (5, 7), (9, 17), (16, 24)]:
            x = RNG.standard_normal((2, 3, h, w)).astype(np.float32)
            _check_all([y.asnumpy() for y in block(mx.nd.array(x))], ort_run(model, {"x": x}))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
def test_zero_stride_is_refused_naming_the_node(op):
    from nnvm_bridge.errors import AttributeParseError

    model = pool_model((4, 4), (2, 2), (0, 2), (1, 1, 1, 1), kinds=[(op, {})])
    with pytest.raises(AttributeParseError) as err:
        from_onnx(model)
    assert "pool0" in str(err.value) and op in str(err.value) and "strides" in str(err.value)


# ---- MXNet pooling_convention="full" -> IR -> ONNX / TVM / interpreter ---------------------------
# (spatial shape, kernel, stride, symmetric pad): the IR keeps windows that ONNX would drop, down to
# a window with no input element at all (max gives the lowest float there, as in MXNet)
MX_GEOMETRIES = [
    ("1d_window_starts_in_pad", (3,), (2,), (2,), (1,)),
    ("2d_window_starts_in_pad", (3, 5), (2, 3), (2, 2), (1, 1)),
    ("2d_starts_in_pad_and_cross_end", (4, 3), (3, 2), (2, 2), (1, 1)),  # H's last window reaches past the padding
    ("2d_stride_gt_kernel", (5, 5), (3, 3), (3, 3), (1, 1)),
    ("2d_empty_window", (2, 4), (1, 1), (2, 2), (0, 0)),
    ("2d_no_drop", (6, 7), (3, 3), (2, 2), (1, 1)),
]


def _mx_full_case(geom):
    mx = pytest.importorskip("mxnet")
    _, spatial, kernel, stride, pad = geom
    data = mx.sym.var("data")
    common = dict(kernel=kernel, stride=stride, pad=pad, pooling_convention="full")
    sym = mx.sym.Group([mx.sym.Pooling(data, pool_type="max", name="pmax", **common),
                        mx.sym.Pooling(data, pool_type="avg", count_include_pad=False, name="pavg0", **common),
                        mx.sym.Pooling(data, pool_type="avg", count_include_pad=True, name="pavg1", **common)])
    x = RNG.standard_normal((2, 3) + tuple(spatial)).astype(np.float32)
    ex = sym.bind(mx.cpu(), {"data": mx.nd.array(x)}, grad_req="null")
    want = [o.asnumpy() for o in ex.forward(is_train=False)]
    graph, params = from_mxnet(sym, {}, {}, shape={"data": x.shape})
    return graph, params, x, want


def _check_mx(got, want):
    assert len(got) == 3
    np.testing.assert_array_equal(got[0], want[0])
    assert_close(got[1], want[1], TOL)
    assert_close(got[2], want[2], TOL)


@pytest.mark.parametrize("geom", MX_GEOMETRIES, ids=[g[0] for g in MX_GEOMETRIES])
def test_mxnet_full_convention_round_trips_through_onnxruntime(geom):
    graph, params, x, want = _mx_full_case(geom)
    _check_mx(ort_run(to_onnx(graph, params), {"data": x}), want)


@pytest.mark.parametrize("geom", MX_GEOMETRIES, ids=[g[0] for g in MX_GEOMETRIES])
def test_mxnet_full_convention_in_the_ir_interpreter(geom):
    graph, params, x, want = _mx_full_case(geom)
    _check_mx(run_graph(graph, {"data": x}, params), want)


@pytest.mark.parametrize("geom", MX_GEOMETRIES, ids=[g[0] for g in MX_GEOMETRIES])
def test_mxnet_full_convention_in_tvm(geom):
    # Relax's own ceil mode drops the last window like ONNX; the emitter must keep the IR's windows
    pytest.importorskip("tvm")
    from nnvm_bridge import compile_model

    graph, params, x, want = _mx_full_case(geom)
    _check_mx(compile_model((graph, params), shape={"data": x.shape}, offload=False).run({"data": x}), want)
