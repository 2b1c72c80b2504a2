"""Runs ONNX's backend node test cases through from_onnx -> to_mxnet -> MXNet.

Shared by tests/test_onnx_conformance_mxnet.py, tools/onnx_conformance_table.py and
benchmarks/tvm_conformance.py.  Two case sets (``NNVM_BRIDGE_ONNX_CASES``, or ``use_case_set``):

* ``installed`` (the default): built in memory by the installed onnx package (``collect_testcases``),
  ~10 s, cached per process;
* ``1.14.1``: onnx 1.14.1's 1168 stored cases (``backend/test/data/node`` of its wheel), read from a
  cache directory (``NNVM_BRIDGE_ONNX_CASE_CACHE``, default ``~/.cache/nnvm_bridge/onnx-1.14.1-node``)
  that the first use fills with ``pip download onnx==1.14.1 --no-deps``; the installed onnx stays.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

CASE_SETS = ("installed", "1.14.1")
CASE_SET_ENV = "NNVM_BRIDGE_ONNX_CASES"
_CASES = None
_CASE_SET = None

# Cases known to give different results between runs (reason per case); counted as failures and
# marked non-strict.  Empty: the earlier entries were an importer bug (node ids reused), now fixed.
FLAKY: dict = {}


def case_set() -> str:
    """The chosen case set: ``use_case_set``'s, else the environment's, else ``installed``."""
    chosen = _CASE_SET or os.environ.get(CASE_SET_ENV) or "installed"
    if chosen not in CASE_SETS:
        raise ValueError(f"{CASE_SET_ENV}={chosen!r}: the case sets are {', '.join(CASE_SETS)}")
    return chosen


def use_case_set(name: str):
    """Choose the case set for this process and the worker processes it starts."""
    global _CASES, _CASE_SET
    if name not in CASE_SETS:
        raise ValueError(f"unknown case set {name!r}; the case sets are {', '.join(CASE_SETS)}")
    if name != _CASE_SET:
        _CASE_SET, _CASES = name, None
    os.environ[CASE_SET_ENV] = name


def case_set_suffix() -> str:
    """'' for the installed set, else e.g. '_onnx1.14.1' (for result and table file names)."""
    return "" if case_set() == "installed" else f"_onnx{case_set()}"


def xfail_module() -> str:
    """The module (in tests/) holding the chosen case set's expected-failure list."""
    return "onnx_conformance_xfail" + case_set_suffix().replace(".", "")  # onnx_conformance_xfail_onnx1141


def cases():
    global _CASES
    if _CASES is None:
        if case_set() == "installed":
            from onnx.backend.test.case.node import collect_testcases

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _CASES = {c.name: c for c in collect_testcases(None)}
        else:
            import onnx_stored_cases

            _CASES = onnx_stored_cases.load_cases(case_set())
    return _CASES


def case_names():
    return sorted(cases())


def op_of(case) -> str:
    ops = [n.op_type for n in case.model.graph.node]
    return ops[0] if len(set(ops)) == 1 else (ops[-1] if ops else "?")


# How MXNet's asnumpy() gives bfloat16: the bits. (No bfloat16 inputs: several MXNet ops abort the process on them.)
MX_BFLOAT16 = np.dtype([("bfloat16", "<u2")])


def _to_mx_input(v, legacy_ops=False):
    v = np.asarray(v)
    if v.dtype == np.bool_:
        v = v.astype(np.uint8)  # MXNet's executor has no bool: 0/1 uint8
    if v.ndim == 0 and legacy_ops:
        return v.reshape(1)  # MXNet's legacy ops have no 0-d arrays: a scalar is (1,), as the importer stores one
    return v


def _legacy_ops_only(symbol_json) -> bool:
    """True unless the symbol uses MXNet's numpy-semantics ops (``_np*``), the ones that know 0-d arrays."""
    import json

    # (_npx_reshape is every Reshape's form: legacy-shaped itself)
    return not any(n["op"].startswith("_np") and n["op"] != "_npx_reshape" for n in json.loads(symbol_json)["nodes"])


def _from_mx_output(v):
    if v.dtype == MX_BFLOAT16:
        import ml_dtypes

        return v.view(np.uint16).view(ml_dtypes.bfloat16)
    return v


def _as_array(v):
    import onnx
    from onnx import numpy_helper

    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, np.generic):
        return np.asarray(v)
    return v


def _as_value(v):
    """A data set's value as numpy: an array, a list (a sequence) or None (an empty optional); the stored
    cases' SequenceProto / OptionalProto read as onnx's own loader gives them."""
    import onnx
    from onnx import numpy_helper

    if isinstance(v, onnx.SequenceProto):
        v = numpy_helper.to_list(v)
    elif isinstance(v, onnx.OptionalProto):
        v = numpy_helper.to_optional(v)
    if v is None:
        return None
    if isinstance(v, list):
        return [_as_value(x) for x in v]
    return _as_array(v)


def _shape_of(v):
    """``shape=`` for a value: a tensor's shape, a sequence's list of shapes, None for an empty optional."""
    if v is None:
        return None
    if isinstance(v, list):
        return [_shape_of(x) for x in v]
    return np.asarray(v).shape


class Mismatch(AssertionError):
    pass


def run_case(case):
    """Import the case's model, run every data set in MXNet, compare with the expected outputs.

    Raises on any failure (BridgeError for conversion, MXNetError for MXNet, Mismatch for numbers).
    """
    import mxnet as mx

    from frontend_ext.mxnet.to_mxnet import to_mxnet
    from nnvm_bridge.ir import structure

    model = case.model
    inits = {t.name for t in model.graph.initializer}
    input_names = [i.name for i in model.graph.input if i.name not in inits]
    for inputs, expected in case.data_sets:
        inputs = [_as_value(v) for v in inputs]
        expected = [_as_value(v) for v in expected]
        feeds = dict(zip(input_names, inputs))
        graph, params, feeds = import_case(model, feeds)
        layout = structure.of(graph)  # sequences and optionals: flat tensors in the IR
        feeds = structure.flat_inputs(layout, feeds)
        text, args, aux = to_mxnet(graph, params)
        sym = mx.sym.load_json(text)
        arrays = {}
        legacy_ops = _legacy_ops_only(text)
        for k, v in list(feeds.items()) + list(args.items()) + list(aux.items()):
            v = _to_mx_input(v, legacy_ops)
            if v.dtype.type not in mx.ndarray.ndarray._DTYPE_NP_TO_MX:
                raise Mismatch(f"MXNet has no {v.dtype} arrays")
            arrays[k] = mx.nd.array(v, dtype=v.dtype)
        missing = [n for n in sym.list_arguments() + sym.list_auxiliary_states() if n not in arrays]
        if missing:
            raise Mismatch(f"unbound arguments {missing}")
        if _shapes_known_only_at_run_time(text):
            outs = _run_in_gluon(graph, params, feeds, arrays)
        else:
            ex = sym.bind(mx.cpu(), {n: arrays[n] for n in sym.list_arguments()}, grad_req="null",
                          aux_states={n: arrays[n] for n in sym.list_auxiliary_states()})
            outs = ex.forward(is_train=False)
        outs = structure.model_outputs(layout, [_from_mx_output(o.asnumpy()) for o in outs])
        if len(outs) != len(expected):
            raise Mismatch(f"{len(outs)} outputs, expected {len(expected)}")
        for got, want in zip(outs, expected):
            compare_values(got, want, case.rtol, case.atol)


def _shapes_known_only_at_run_time(symbol_json) -> bool:
    """True where an op reads a tensor whose length only run time knows (a ``_contrib_boolean_mask`` output):
    MXNet's legacy executor infers every shape before it runs and fails "Shape is unknown" there, while Gluon's
    CachedOp, which ``import_to_gluon`` returns, runs it."""
    import json

    nodes = json.loads(symbol_json)["nodes"]
    masks = {i for i, n in enumerate(nodes) if n["op"] == "_contrib_boolean_mask"}
    return any(i[0] in masks for n in nodes for i in n["inputs"])


def _run_in_gluon(graph, params, feeds, arrays):
    """The graph's outputs from the Gluon block that ``import_to_gluon`` builds, fed ``arrays`` by name."""
    from frontend_ext.mxnet.objects import to_gluon_block

    names = [n for n in feeds if n in arrays]
    block = to_gluon_block(graph, params, input_order=names)
    outs = block(*[arrays[n] for n in names])
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


def freeze_inputs(model, values):
    """A copy of ``model`` with the given graph inputs turned into initializers."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [i for i in m.graph.input if i.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), k) for k, v in values.items())
    return m


def import_case(model, feeds):
    """from_onnx with the case's input shapes (a sequence's: a list of shapes) -> (graph, params, remaining feeds).

    Static backends need operator arguments (shapes, axes, scales, RNN weights, a sequence's split or
    trip count...) as constants: when the importer says so, every tensor input after the first is bound as
    an initializer, then, if still needed (e.g. Range), every tensor input (a sequence stays an input)."""
    from nnvm_bridge.errors import ShapeError, UnsupportedOperatorError
    from nnvm_bridge.frontend import from_onnx

    def shapes(frozen):
        return {k: _shape_of(v) for k, v in feeds.items() if k not in frozen}

    def needs_constants(exc):
        return "must be a constant" in str(exc)

    try:
        return (*from_onnx(model, shape=shapes({})), feeds)
    except (ShapeError, UnsupportedOperatorError) as exc:
        if not needs_constants(exc):
            raise
    tensors = {k: v for k, v in feeds.items() if isinstance(v, np.ndarray)}
    frozen = {k: v for k, v in list(feeds.items())[1:] if k in tensors}
    try:
        graph, params = from_onnx(freeze_inputs(model, frozen), shape=shapes(frozen))
    except (ShapeError, UnsupportedOperatorError) as again:
        if not needs_constants(again):
            raise
        frozen = tensors
        graph, params = from_onnx(freeze_inputs(model, frozen), shape=shapes(frozen))
    return graph, params, {k: v for k, v in feeds.items() if k not in frozen}


def compare_values(got, want, rtol, atol):
    """``compare`` through sequences (lists) and empty optionals (None)."""
    if want is None or isinstance(want, list):
        if want is None and got is not None:
            raise Mismatch("an empty optional was expected")
        if isinstance(want, list) and (not isinstance(got, list) or len(got) != len(want)):
            raise Mismatch(f"expected a sequence of {len(want)}, got "
                           f"{f'{len(got)}' if isinstance(got, list) else type(got).__name__}")
        for g, w in zip(got or (), want or ()):
            compare_values(g, w, rtol, atol)
        return
    if got is None or isinstance(got, list):
        raise Mismatch(f"expected a tensor, got {'None' if got is None else 'a sequence'}")
    compare(np.asarray(got), want, rtol, atol)


def compare(got, want, rtol, atol):
    want = np.asarray(want)
    if want.ndim == 0 and got.shape == (1,):
        got = got.reshape(())  # MXNet has no 0-d arrays
    if got.shape != want.shape:
        raise Mismatch(f"shape {got.shape} != expected {want.shape}")
    if want.dtype == np.bool_:
        got = got != 0
    elif want.dtype.kind == "V" and got.dtype == want.dtype:  # bfloat16, float8 (ml_dtypes): as float32
        got, want = got.astype(np.float32), want.astype(np.float32)
    elif got.dtype != want.dtype:
        if want.dtype.kind in "iu" and got.dtype.kind == "f":
            raise Mismatch(f"dtype {got.dtype} != expected {want.dtype}")
        got = got.astype(want.dtype)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=max(rtol, 1e-4), atol=max(atol, 1e-6), equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def failure_reason(exc) -> str:
    """A short, stable reason for the expected-failure list."""
    from nnvm_bridge.errors import BridgeError, UnsupportedOperatorError, UnsupportedOpsetError

    if isinstance(exc, UnsupportedOperatorError):
        return "unsupported: " + ", ".join(sorted(exc.ops))
    if isinstance(exc, UnsupportedOpsetError):
        return "opset: " + exc.bare_message
    if isinstance(exc, BridgeError):
        return f"{type(exc).__name__}: {exc.bare_message}"[:160]
    msg = str(exc).strip().splitlines()
    text = msg[0] if msg else type(exc).__name__
    if type(exc).__name__ in ("MXNetError", "RuntimeError"):
        m = re.search(r"(Check failed: [^\n]*|Error in operator [^:]*: [^\n]*)", str(exc))
        text = m.group(1) if m else text
        text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+: ", "", text)
        return ("MXNet: " + text)[:160]
    if isinstance(exc, AssertionError):
        return "numbers differ from the reference" if "Not equal" in str(exc) or "Mismatch" in str(exc) \
            else ("mismatch: " + text)[:160]
    return f"{type(exc).__name__}: {text}"[:160]


def run_case_mxnet_contrib(case):
    """The same case through MXNet's own importer (mx.contrib.onnx), for comparison."""
    import mxnet as mx
    from mxnet.contrib.onnx.onnx2mx.import_onnx import GraphProto

    from nnvm_bridge.frontend.onnx.importer import model_opset

    model = case.model
    inits = {t.name for t in model.graph.initializer}
    input_names = [i.name for i in model.graph.input if i.name not in inits]
    for inputs, expected in case.data_sets:
        inputs = [_as_array(v) for v in inputs]
        expected = [_as_array(v) for v in expected]
        if any(not isinstance(v, np.ndarray) for v in list(inputs) + list(expected)):
            raise Mismatch("sequence/optional values are not tensors")
        sym, args, aux = GraphProto().from_onnx(model.graph, model_opset(model))
        feeds = dict(zip(input_names, inputs))
        arrays = {k: mx.nd.array(_to_mx_input(v), dtype=_to_mx_input(v).dtype) for k, v in feeds.items()}
        arrays.update(args)
        ex = sym.bind(mx.cpu(), {n: arrays[n] for n in sym.list_arguments()}, grad_req="null",
                      aux_states={n: aux[n] for n in sym.list_auxiliary_states()})
        outs = [o.asnumpy() for o in ex.forward(is_train=False)]
        if len(outs) != len(expected):
            raise Mismatch(f"{len(outs)} outputs, expected {len(expected)}")
        for got, want in zip(outs, expected):
            compare(got, want, case.rtol, case.atol)
