"""The wrapper API: format-dispatching functions that chain an importer with an emitter.

``export_model`` is a drop-in for ``mx.onnx.export_model`` (same argument order); the
others delegate to the MXNet-object and TVM emitters.  Nothing heavy is imported here at
module level: MXNet, TVM and onnxruntime load only inside the functions that need them.
"""
from __future__ import annotations

import os
import time

import numpy as np

from .errors import BridgeError, DTypeError, ParamsError, ShapeError
from .ir import dtypes as _dt

_PREFIXES = ("arg:", "aux:")


# ---- argument normalisation ------------------------------------------------------------
def _is_gluon_block(obj) -> bool:
    # Duck-typed so that no MXNet import is needed to tell a block from a path.
    return hasattr(obj, "hybridize") and hasattr(obj, "collect_params")


def _to_numpy(name, value):
    if hasattr(value, "asnumpy"):  # mx.nd.NDArray
        value = value.asnumpy()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is bad user input
        raise ParamsError(f"parameter {name!r} is not an array ({type(value).__name__}): {exc}") from None
    try:
        _dt.canonical(arr.dtype)
    except DTypeError:
        raise ParamsError(f"parameter {name!r} has unsupported dtype {arr.dtype}") from None
    return arr


def split_user_params(params):
    """Path / dict (NDArrays or numpy, with or without arg:/aux: prefixes) / (arg, aux) pair
    -> (arg_params, aux_params) of numpy arrays; bare names count as arg params."""
    from .ir.params import load_params, split_params

    if params is None:
        return {}, {}
    if isinstance(params, (str, os.PathLike)):
        params = load_params(os.fspath(params))
    if isinstance(params, (tuple, list)) and len(params) == 2 and all(
            p is None or isinstance(p, dict) for p in params):
        arg, aux = ({str(k): v for k, v in (p or {}).items()} for p in params)
    elif isinstance(params, dict):
        arg, aux = split_params({str(k): v for k, v in params.items()})
    else:
        raise ParamsError(f"params must be a path, a dict or (arg_params, aux_params), got {type(params).__name__}")
    return ({k: _to_numpy(k, v) for k, v in arg.items()}, {k: _to_numpy(k, v) for k, v in aux.items()})


def normalize_params(params) -> dict:
    """Any accepted params form -> one {name: ndarray} dict (the IR's params)."""
    arg, aux = split_user_params(params)
    return {**arg, **aux}


def parse_shape_value(shape, what="input shape"):
    """A shape given as tuple/list of ints (or a numpy shape) -> tuple of ints."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} must be a sequence of integers, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ShapeError(f"{what} has a negative dimension: {dims}")
    return dims


def _is_single_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in value) and \
        len(value) > 0


def shapes_by_name(input_shape, input_names):
    """MXNet-style positional shapes (list in input order), one shape, or a dict -> {name: shape}."""
    if input_shape is None:
        return {}
    if isinstance(input_shape, dict):
        unknown = sorted(set(map(str, input_shape)) - set(input_names))
        if unknown:
            raise ShapeError(f"input_shape names {unknown} are not inputs of the model; inputs are {input_names}")
        return {str(k): parse_shape_value(v, f"shape of input {k!r}") for k, v in input_shape.items()}
    if _is_single_shape(input_shape):
        input_shape = [input_shape]
    if not isinstance(input_shape, (list, tuple)):
        raise ShapeError(f"input_shape must be a list of shapes or a dict name -> shape, got {input_shape!r}")
    if len(input_shape) != len(input_names):
        raise ShapeError(f"got {len(input_shape)} input shapes for {len(input_names)} inputs {input_names}")
    return {n: parse_shape_value(s, f"shape of input {n!r}") for n, s in zip(input_names, input_shape)}


def dtypes_by_name(input_type, input_names):
    """One dtype, a list in input order, or a dict -> {name: canonical dtype name}."""
    if input_type is None:
        return {}
    if isinstance(input_type, dict):
        return {str(k): _dt.canonical(v) for k, v in input_type.items()}
    if isinstance(input_type, (list, tuple)):
        if len(input_type) != len(input_names):
            raise DTypeError(f"got {len(input_type)} input types for {len(input_names)} inputs {input_names}")
        return {n: _dt.canonical(t) for n, t in zip(input_names, input_type)}
    name = _dt.canonical(input_type)
    return {n: name for n in input_names}


def set_input_hints(graph, shapes: dict, dtypes: dict):
    """Record shapes/dtypes on the data variables as MXNet's __shape__/__dtype__ hints."""
    for node in graph.variables:
        if node.name in shapes:
            node.attrs["__shape__"] = str(tuple(shapes[node.name]))
        if node.name in dtypes:
            node.attrs["__dtype__"] = str(_dt.to_mxnet(dtypes[node.name]))
    return graph


# ---- export ----------------------------------------------------------------------------
def _gluon_input_names(count: int):
    # What HybridBlock.export names positional inputs.
    return ["data"] if count == 1 else [f"data{i}" for i in range(count)]


def mxnet_data_inputs(sym, param_names) -> list:
    """Names of a symbol's data inputs in MXNet's order (variables that are neither params nor labels).

    Positional shapes (``[(1, 3, 224, 224)]``) are matched against these before the conversion,
    because the importer's handlers use input shapes while they convert.
    """
    from .frontend.mxnet import importer

    # weights are recognised by their slot, so a weight missing from params is not taken for an input
    return importer.data_input_names(sym, param_names)


def mxnet_to_graph(sym, params=None, input_shape=None, input_type=None):
    """Any MXNet model form -> (Graph, params) with input shapes/dtypes recorded on the inputs."""
    from .frontend import from_mxnet

    if _is_gluon_block(sym):
        if params is not None and not isinstance(params, (str, os.PathLike)):
            raise ParamsError("a Gluon block carries its own parameters: pass params=None (or a .params path)")
        if input_shape is None:
            raise ShapeError("exporting a Gluon block needs input_shape (the block is traced with it)")
        if isinstance(input_shape, dict):
            names = [str(k) for k in input_shape]
        else:
            count = 1 if _is_single_shape(input_shape) else len(input_shape)
            names = _gluon_input_names(count)
        shapes = shapes_by_name(input_shape, names)
        dtypes = dtypes_by_name(input_type, names)
        if isinstance(params, (str, os.PathLike)):
            sym.load_parameters(os.fspath(params))
        graph, out_params = from_mxnet(sym, shape=shapes, dtype=dtypes or None)
        return set_input_hints(graph, shapes, dtypes), out_params

    arg_params, aux_params = split_user_params(params)
    positional = isinstance(input_type, (list, tuple)) or not (input_shape is None or isinstance(input_shape, dict))
    names = mxnet_data_inputs(sym, list(arg_params) + list(aux_params)) if positional else None
    if names is None:
        shapes = {} if input_shape is None else {str(k): parse_shape_value(v, f"shape of input {k!r}")
                                                 for k, v in input_shape.items()}
        dtypes = None if input_type is None else (
            {str(k): _dt.canonical(v) for k, v in input_type.items()} if isinstance(input_type, dict)
            else _dt.canonical(input_type))
    else:
        shapes = shapes_by_name(input_shape, names)
        dtypes = dtypes_by_name(input_type, names)
    graph, out_params = from_mxnet(sym, arg_params=arg_params, aux_params=aux_params, shape=shapes or None,
                                   dtype=dtypes or None)
    names = graph.input_names(out_params) if names is None else names
    return set_input_hints(graph, shapes, dtypes_by_name(input_type, names)), out_params


def save_onnx(model, path):
    """Write an ONNX ModelProto, with external data when it is too big for one protobuf."""
    from frontend_ext.onnx.exporter import save_onnx as impl

    impl(model, os.fspath(path))
    return os.fspath(path)


def export_model(sym, params=None, input_shape=None, input_type=np.float32, onnx_file_path=None,
                 format="onnx", opset=None, dynamic_batch=False, verbose=False):
    """Export an MXNet model to ONNX; a drop-in for ``mx.onnx.export_model``.

    sym: symbol JSON path, JSON text, ``mx.sym.Symbol`` or Gluon ``HybridBlock``.
    params: ``.params`` path, dict of NDArrays/numpy arrays (``arg:``/``aux:`` prefixes allowed),
        ``(arg_params, aux_params)``, or None for a block.
    input_shape: list of shapes in input order (as MXNet), one shape, or dict name -> shape.
    input_type: one dtype for all inputs, a list in input order, or dict name -> dtype.
    onnx_file_path: where to save (big models get external data); None only returns the model.
    Returns the ``onnx.ModelProto``.
    """
    if str(format).lower() != "onnx":
        raise BridgeError(f"export format {format!r} is not supported; only 'onnx'")
    from .frontend import to_onnx

    t0 = time.perf_counter()
    graph, numpy_params = mxnet_to_graph(sym, params, input_shape, input_type)
    # With a path the exporter streams big parameters into external data instead of one protobuf.
    model = to_onnx(graph, numpy_params, opset=opset, dynamic_batch=dynamic_batch,
                    **({} if onnx_file_path is None else {"path": os.fspath(onnx_file_path)}))
    if verbose:
        import sys

        print(f"nnvm_bridge: exported {len(graph.op_nodes())} ops in {time.perf_counter() - t0:.2f} s"
              + (f" to {onnx_file_path}" if onnx_file_path else ""), file=sys.stderr)
    return model


# ---- delegates -------------------------------------------------------------------------
def import_model(model, format="onnx", shape=None, dtype=None):
    """ONNX model or path -> (mx.sym.Symbol, {name: mx.nd.NDArray}) (args and aux together).

    ``shape`` ({input: dims}) binds symbolic dims, e.g. a dynamic batch, before conversion.
    """
    from frontend_ext.mxnet.objects import import_model as impl

    return impl(model, format=format, shape=shape, dtype=dtype)


def import_to_gluon(model, format="onnx", ctx=None, shape=None, dtype=None):
    """ONNX model or path -> a runnable ``gluon.SymbolBlock``."""
    from frontend_ext.mxnet.objects import import_to_gluon as impl

    return impl(model, format=format, ctx=ctx, shape=shape, dtype=dtype)


def compile_model(model, target="llvm", shape=None, params=None, tuning=None, **options):
    """ONNX/MXNet model, path or (Graph) -> CompiledModel (``.run(inputs)``, ``.export_library(path)``).

    ``options`` go to ``frontend_ext.tvm.compile.compile_model``: ``offload`` ("auto", True, False: run
    conv/dense chains in PyTorch; False builds a pure-TVM library that loads without torch), ``dtype``,
    ``bind_params``."""
    from frontend_ext.tvm.compile import compile_model as impl

    return impl(model, target=target, shape=shape, params=params, tuning=tuning, **options)


def load_compiled(path):
    """A library written by ``CompiledModel.export_library`` -> CompiledModel."""
    from frontend_ext.tvm.compile import load_compiled as impl

    return impl(path)


__all__ = ["export_model", "import_model", "import_to_gluon", "compile_model", "load_compiled"]
