"""Fuzz targets and hypothesis strategies shared by tests/test_fuzz_loaders.py (bounded, in CI) and
benchmarks/fuzz_report.py (longer runs that print the counts).

Each target feeds one reader hostile input and classifies the outcome: "ok" (accepted),
"bridge_error" (refused with a BridgeError) or -- the defect -- anything else, which is raised
as an AssertionError naming the foreign exception.  A target that takes longer than
``PER_INPUT_S`` is a hang and fails the same way.  ``COUNTS[target][outcome]`` records every try.
"""
from __future__ import annotations

import collections
import json
import os
import tempfile
import time

from hypothesis import strategies as st

from hostile_models import mxnet_params, mxnet_symbol, onnx_model, time_limit

PER_INPUT_S = 10
COUNTS: dict = collections.defaultdict(collections.Counter)
SLOWEST: dict = collections.defaultdict(float)


def run_target(name, fn, *args):
    """Run ``fn(*args)``; only BridgeError may come out.  Records the outcome under ``name``."""
    from nnvm_bridge.errors import BridgeError

    t0 = time.perf_counter()
    with time_limit(PER_INPUT_S):
        try:
            fn(*args)
            outcome = "ok"
        except BridgeError:
            outcome = "bridge_error"
        except AssertionError:
            COUNTS[name]["hang"] += 1
            raise
        except RecursionError as exc:
            COUNTS[name]["foreign"] += 1
            raise AssertionError(f"{name}: RecursionError escaped: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - this is the defect being hunted
            COUNTS[name]["foreign"] += 1
            raise AssertionError(f"{name}: foreign exception {type(exc).__name__}: {exc}") from exc
    COUNTS[name][outcome] += 1
    SLOWEST[name] = max(SLOWEST[name], time.perf_counter() - t0)
    return outcome


def summary() -> str:
    lines = []
    for name in sorted(COUNTS):
        c = COUNTS[name]
        total = sum(c.values())
        lines.append(f"  {name:<28} {total:6d} inputs: {c['ok']} accepted, {c['bridge_error']} BridgeError, "
                     f"{c['foreign']} foreign, {c['hang']} hangs; slowest {SLOWEST[name] * 1e3:.0f} ms")
    return "\n".join(lines)


# ---- byte-level mutation of valid files ------------------------------------------------------------
@st.composite
def mutated_bytes(draw, seed: bytes):
    """A valid file with a few random edits: flipped bytes, a cut, an insertion or a splice."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        else:
            j = draw(st.integers(0, len(data) - 1))
            data[i:i] = data[j:j + draw(st.integers(1, 32))]
    return bytes(data)


def bytes_inputs(seed: bytes):
    return st.one_of(mutated_bytes(seed), st.binary(max_size=512))


# ---- ONNX ------------------------------------------------------------------------------------------
ONNX_OPS = ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm", "Add", "Reshape", "MaxPool", "Concat",
            "BatchNormalization", "Transpose", "Softmax", "Unknown", "Slice", "Gather", "Resize", "Split"]
ATTR_NAMES = ["kernel_shape", "pads", "strides", "axis", "perm", "transB", "dilations", "group", "mode", "alpha",
              "epsilon", "split", "ceil_mode", "auto_pad", "allowzero"]


@st.composite
def onnx_models(draw):
    """The base model with structured edits: op types, attributes, inputs, initializers, opsets."""
    from onnx import helper

    m = onnx_model()
    g = m.graph
    names = ["x", "W", "B", "W2", "B2", "c", "r", "p", "f", "y", "", "ghost"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["op", "attr", "input", "init", "opset", "output", "drop_node"]))
        if kind == "op" and len(g.node):
            g.node[draw(st.integers(0, len(g.node) - 1))].op_type = draw(st.sampled_from(ONNX_OPS))
        elif kind == "attr" and len(g.node):
            node = g.node[draw(st.integers(0, len(g.node) - 1))]
            key = draw(st.sampled_from(ATTR_NAMES))
            value = draw(st.one_of(st.integers(-3, 9), st.floats(allow_nan=True, width=32),
                                   st.lists(st.integers(-2, 5), max_size=5), st.text(max_size=6),
                                   st.lists(st.floats(-2, 2, width=32), max_size=3)))
            try:
                attr = helper.make_attribute(key, value)
            except (ValueError, TypeError):
                continue
            for i, a in enumerate(node.attribute):
                if a.name == key:
                    del node.attribute[i]
                    break
            node.attribute.append(attr)
        elif kind == "input" and len(g.node):
            node = g.node[draw(st.integers(0, len(g.node) - 1))]
            if len(node.input) and draw(st.booleans()):
                node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
            else:
                node.input.append(draw(st.sampled_from(names)))
        elif kind == "init":
            t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            edit = draw(st.sampled_from(["dims", "raw", "dtype"]))
            if edit == "dims":
                del t.dims[:]
                t.dims.extend(draw(st.lists(st.integers(-1, 12), max_size=5)))
            elif edit == "raw":
                t.raw_data = draw(st.binary(max_size=64))
            else:
                t.data_type = draw(st.sampled_from([0, 2, 3, 6, 7, 8, 9, 10, 11, 14, 16, 99]))
        elif kind == "opset":
            m.opset_import[0].version = draw(st.integers(-1, 30))
            m.opset_import[0].domain = draw(st.sampled_from(["", "", "ai.onnx", "ai.onnx.ml", "com.example"]))
        elif kind == "output":
            g.output[0].name = draw(st.sampled_from(names))
        elif kind == "drop_node" and len(g.node):
            del g.node[draw(st.integers(0, len(g.node) - 1))]
    if draw(st.booleans()):  # sometimes also a shape request for the input
        return m, {"x": tuple(draw(st.lists(st.integers(0, 9), max_size=5)))}
    return m, None


def target_onnx_model(model_and_shape):
    from nnvm_bridge.frontend import from_onnx

    model, shape = model_and_shape
    return run_target("onnx: structured edits", from_onnx, model, shape)


def _write_temp(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def target_onnx_bytes(data: bytes):
    """Mutated serialized models, read from a file (the CLI's and most users' way)."""
    from nnvm_bridge.frontend import from_onnx

    path = _write_temp(data, ".onnx")
    try:
        return run_target("onnx: mutated file bytes", from_onnx, path)
    finally:
        os.remove(path)


# ---- MXNet symbol JSON -----------------------------------------------------------------------------
MX_OPS = ["Convolution", "BatchNorm", "Activation", "FullyConnected", "softmax", "Pooling", "Flatten", "Reshape",
          "Concat", "elemwise_add", "_plus_scalar", "Dropout", "SoftmaxOutput", "transpose", "LeakyReLU",
          "slice_axis", "Deconvolution", "null", "NoSuchOp"]
MX_ATTR_VALUES = ["(3, 3)", "(a, b)", "[1,1]", "()", "-1", "0", "4", "1e9", "True", "maybe", "None", "relu",
                  "max", "(1, 1, 1)", "((1,1),(2,2))", "nan", "99999999999999999999", "", "(3L, 3L)"]
MX_ATTR_KEYS = ["kernel", "num_filter", "pad", "stride", "num_hidden", "act_type", "fix_gamma", "pool_type",
                "shape", "axis", "axes", "p", "scalar", "flatten", "no_bias", "num_group", "eps", "begin", "end"]


@st.composite
def mxnet_symbols(draw):
    sym = mxnet_symbol()
    nodes = sym["nodes"]
    n = len(nodes)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["op", "attr", "input", "head", "drop_attr"]))
        i = draw(st.integers(0, n - 1))
        if kind == "op":
            nodes[i]["op"] = draw(st.sampled_from(MX_OPS))
        elif kind == "attr":
            nodes[i].setdefault("attrs", {})[draw(st.sampled_from(MX_ATTR_KEYS))] = draw(
                st.one_of(st.sampled_from(MX_ATTR_VALUES), st.text(max_size=8)))
        elif kind == "drop_attr" and nodes[i].get("attrs"):
            nodes[i]["attrs"].pop(draw(st.sampled_from(sorted(nodes[i]["attrs"]))))
        elif kind == "input":
            entry = draw(st.lists(st.integers(-2, n + 2), min_size=0, max_size=4))
            if nodes[i]["inputs"] and draw(st.booleans()):
                nodes[i]["inputs"][draw(st.integers(0, len(nodes[i]["inputs"]) - 1))] = entry
            else:
                nodes[i]["inputs"].append(entry)
        else:
            sym["heads"] = [draw(st.lists(st.integers(-1, n + 1), min_size=1, max_size=3))]
    shape = {"data": tuple(draw(st.lists(st.integers(0, 9), min_size=0, max_size=5)))} if draw(st.booleans()) \
        else {"data": (1, 3, 8, 8)}
    return sym, shape


def target_mxnet_symbol(sym_and_shape):
    from nnvm_bridge.frontend import from_mxnet

    sym, shape = sym_and_shape
    return run_target("mxnet: structured JSON edits", from_mxnet, json.dumps(sym), mxnet_params(), None, shape)


def target_mxnet_json_bytes(data: bytes):
    from nnvm_bridge.frontend import from_mxnet

    path = _write_temp(data, "-symbol.json")
    try:
        return run_target("mxnet: mutated JSON bytes", from_mxnet, path, mxnet_params(), None, {"data": (1, 3, 8, 8)})
    finally:
        os.remove(path)


# ---- .params ---------------------------------------------------------------------------------------
def valid_params_bytes() -> bytes:
    from nnvm_bridge.ir.params import params_to_bytes

    return params_to_bytes(mxnet_params())


def target_params_bytes(data: bytes):
    from nnvm_bridge.ir.params import load_any_params, load_params

    run_target("params: load_any_params", load_any_params, data)
    return run_target("params: load_params", load_params, data)


def target_params_in_model(data: bytes):
    """Mutated .params used for a real conversion: shapes and names meet the graph."""
    from nnvm_bridge.frontend import from_mxnet

    path = _write_temp(data, ".params")
    try:
        return run_target("params: from_mxnet(.params)", from_mxnet, json.dumps(mxnet_symbol()), path, None,
                          {"data": (1, 3, 8, 8)})
    finally:
        os.remove(path)


# ---- attribute strings -----------------------------------------------------------------------------
def attr_kinds():
    from nnvm_bridge.ir.attrs import ATTR_TYPES

    return sorted(ATTR_TYPES)


def target_attr_value(kind_and_text):
    from nnvm_bridge.ir import attrs as _attrs

    kind, text, optional = kind_and_text

    def parse():
        try:
            _attrs.parse_value(kind, text, optional=optional)
        except _attrs.BadValue as exc:  # the parser's own signal; the op table turns it into AttributeParseError
            from nnvm_bridge.errors import AttributeParseError

            raise AttributeParseError(str(exc)) from None

    return run_target("attrs: parse_value", parse)


attr_texts = st.one_of(st.text(max_size=24), st.sampled_from(MX_ATTR_VALUES),
                       st.text(alphabet="()[],-0123456789 .eLx", max_size=24))
