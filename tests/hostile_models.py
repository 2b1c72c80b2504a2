"""Small valid models and helpers for the hostile-input, fuzzing and determinism tests.

Everything is built by hand (symbol JSON as a dict, ONNX with onnx.helper, params with this
project's writer) so the tests need neither MXNet nor network access, and each hostile case is a
small, named edit of a model that is known to convert.
"""
from __future__ import annotations

import contextlib
import copy
import json
import signal
import time

import numpy as np

SHAPE = (1, 3, 8, 8)
TIME_LIMIT_S = 10  # "within a few seconds": a hang becomes a test failure, not a stuck CI job


# ---- MXNet -----------------------------------------------------------------------------------------
def mxnet_symbol() -> dict:
    """conv -> BatchNorm -> relu -> FullyConnected -> softmax, as MXNet 1.9 writes it."""
    def var(name):
        return {"op": "null", "name": name, "inputs": []}

    nodes = [
        var("data"), var("conv_weight"), var("conv_bias"),
        {"op": "Convolution", "name": "conv", "attrs": {"kernel": "(3, 3)", "num_filter": "4", "pad": "(1, 1)"},
         "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        var("bn_gamma"), var("bn_beta"), var("bn_moving_mean"), var("bn_moving_var"),
        {"op": "BatchNorm", "name": "bn", "attrs": {"fix_gamma": "False"},
         "inputs": [[3, 0, 0], [4, 0, 0], [5, 0, 0], [6, 0, 1], [7, 0, 1]]},
        {"op": "Activation", "name": "relu", "attrs": {"act_type": "relu"}, "inputs": [[8, 0, 0]]},
        var("fc_weight"), var("fc_bias"),
        {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "10"},
         "inputs": [[9, 0, 0], [10, 0, 0], [11, 0, 0]]},
        {"op": "softmax", "name": "prob", "inputs": [[12, 0, 0]]},
    ]
    return {"nodes": nodes, "arg_nodes": [0, 1, 2, 4, 5, 6, 7, 10, 11], "heads": [[13, 0, 0]],
            "attrs": {"mxnet_version": ["int", 10901]}}


def mxnet_params(seed=0) -> dict:
    """Params of :func:`mxnet_symbol` with MXNet's ``arg:``/``aux:`` prefixes."""
    rng = np.random.default_rng(seed)
    f = np.float32
    return {"arg:conv_weight": rng.standard_normal((4, 3, 3, 3)).astype(f),
            "arg:conv_bias": rng.standard_normal(4).astype(f),
            "arg:bn_gamma": (rng.random(4) + 0.5).astype(f), "arg:bn_beta": rng.standard_normal(4).astype(f),
            "aux:bn_moving_mean": rng.standard_normal(4).astype(f),
            "aux:bn_moving_var": (rng.random(4) + 0.5).astype(f),
            "arg:fc_weight": (0.1 * rng.standard_normal((10, 4 * 8 * 8))).astype(f),
            "arg:fc_bias": rng.standard_normal(10).astype(f)}


def node_index(sym: dict, name: str) -> int:
    return next(i for i, n in enumerate(sym["nodes"]) if n["name"] == name)


def write_mxnet(folder, sym=None, params=None, prefix="net"):
    """Write ``prefix-symbol.json`` and ``prefix-0000.params``; returns (json path, params path)."""
    from nnvm_bridge.ir.params import save_params

    json_path, params_path = f"{folder}/{prefix}-symbol.json", f"{folder}/{prefix}-0000.params"
    with open(json_path, "w") as f:
        f.write(json.dumps(mxnet_symbol() if sym is None else sym) if not isinstance(sym, str) else sym)
    save_params(params_path, mxnet_params() if params is None else params)
    return json_path, params_path


# ---- ONNX ------------------------------------------------------------------------------------------
def onnx_model(opset=13, seed=0):
    """Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, initializers not listed as inputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B"),
             numpy_helper.from_array(rng.standard_normal((10, 4)).astype(np.float32), "W2"),
             numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "B2")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "W2", "B2"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 10))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hostile")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def find_node(model, name):
    return next(n for n in model.graph.node if n.name == name)


def find_init(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def clone(model):
    return copy.deepcopy(model)


def save_onnx(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return str(path)


# ---- assertions ------------------------------------------------------------------------------------
@contextlib.contextmanager
def time_limit(seconds=TIME_LIMIT_S):
    """Turn a hang into an AssertionError (SIGALRM: main thread, POSIX)."""
    def on_alarm(signum, frame):
        raise AssertionError(f"no answer within {seconds} s (hang)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def expect_error(fn, error_cls, *must_name, seconds=TIME_LIMIT_S):
    """Call ``fn``; it must raise ``error_cls`` (a BridgeError subclass) quickly, and the message
    must contain every string in ``must_name`` (file, node, op names).  Returns the exception."""
    from nnvm_bridge.errors import BridgeError

    assert issubclass(error_cls, BridgeError)
    t0 = time.perf_counter()
    with time_limit(seconds):
        try:
            fn()
        except BridgeError as exc:
            err = exc
        except AssertionError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a foreign exception is exactly the defect
            raise AssertionError(f"foreign exception escaped: {type(exc).__name__}: {exc}") from exc
        else:
            raise AssertionError(f"no error raised; expected {error_cls.__name__}")
    elapsed = time.perf_counter() - t0
    assert isinstance(err, error_cls), f"expected {error_cls.__name__}, got {type(err).__name__}: {err}"
    text = str(err)
    for name in must_name:
        assert str(name) in text, f"error message does not name {name!r}: {text}"
    assert elapsed < seconds, elapsed
    return err
