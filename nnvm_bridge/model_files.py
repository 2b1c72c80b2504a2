"""Loading any model form into the IR, and model files on disk.

``load_model`` is the one loader every facade entry point (Python API, CLI, bench) uses: paths of ONNX or MXNet
files, ONNX ``ModelProto``/bytes, ``mx.sym.Symbol``, Gluon ``HybridBlock``, or an IR ``Graph`` -> (Graph, params).

Naming rules (MXNet's own): ``prefix-symbol.json`` goes with ``prefix-<epoch>.params``
(the highest epoch wins) or ``prefix.params``; ``.onnx`` is ONNX.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

import numpy as np

from .errors import DTypeError, InvalidModelError, ParamsError, ShapeError
from .ir import Graph
from .ir import dtypes as _dt
from .ir import structure
from .ir.params import normalize_params

ONNX, MXNET, IR = "onnx", "mxnet", "ir"
_EPOCH = re.compile(r"-(\d{4,})\.params$")


class LoadedModel(NamedTuple):
    graph: Graph
    params: dict
    format: str  # ONNX, MXNET or IR
    params_path: str | None  # the .params file read for an MXNet symbol file


# ---- file names -----------------------------------------------------------------------------------------
def detect_format(path) -> str:
    """``.onnx`` -> ONNX; ``*-symbol.json`` or ``.json`` -> MXNet; otherwise InvalidModelError."""
    name = os.fspath(path).lower()
    if name.endswith(".onnx"):
        return ONNX
    if name.endswith(".json"):
        return MXNET
    raise InvalidModelError("cannot tell the model format from the file name: expected '.onnx' or "
                            "'-symbol.json'/'.json' (MXNet)", file=os.fspath(path))


def mxnet_prefix(path) -> str:
    """``a/b-symbol.json`` -> ``a/b``; ``a/b.json`` -> ``a/b``; ``a/b`` (no suffix) -> ``a/b``."""
    path = os.fspath(path)
    for suffix in ("-symbol.json", ".json"):
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return path


def find_mxnet_params(json_path):
    """The ``.params`` beside a symbol file (highest epoch first), or None when there is none."""
    prefix = mxnet_prefix(json_path)
    folder = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    best, best_epoch = None, -1
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    for name in names:
        if not name.startswith(base + "-"):
            continue
        m = _EPOCH.search(name)
        if m and name == f"{base}-{m.group(1)}.params" and int(m.group(1)) > best_epoch:
            best, best_epoch = os.path.join(folder, name), int(m.group(1))
    if best is not None:
        return best
    plain = prefix + ".params"
    return plain if os.path.isfile(plain) else None


def mxnet_output_paths(dst, epoch: int = 0):
    """Where an MXNet model named by ``dst`` is written: (prefix-symbol.json, prefix-0000.params)."""
    prefix = mxnet_prefix(dst)
    return f"{prefix}-symbol.json", f"{prefix}-{epoch:04d}.params"


# ---- input shapes and dtypes ----------------------------------------------------------------------------
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
            node.attrs["__dtype__"] = _dt.dtype_hint(dtypes[node.name])
    return graph


# ---- the loader -----------------------------------------------------------------------------------------
def is_gluon_block(obj) -> bool:
    # Duck-typed so that no MXNet import is needed to tell a block from a path.
    return hasattr(obj, "hybridize") and hasattr(obj, "collect_params")


def _is_mx_symbol(obj) -> bool:
    return type(obj).__name__ == "Symbol" and hasattr(obj, "tojson")


def _is_onnx_object(obj) -> bool:
    return type(obj).__name__ == "ModelProto" or isinstance(obj, (bytes, bytearray))


def load_model(model, params=None, shape=None, dtype=None) -> LoadedModel:
    """Any model form -> LoadedModel(graph, params, format, params_path).

    ``params``: for MXNet symbols, a ``.params`` path, a dict (``arg:``/``aux:`` prefixes allowed) or an
    ``(arg_params, aux_params)`` pair; found beside a ``-symbol.json`` file when None; not allowed for ONNX.
    ``shape``: dict name -> shape, or (MXNet style) a list of shapes in input order / one shape.
    ``dtype``: one dtype, a list in input order, or a dict.  Given shapes and dtypes are recorded on the
    graph's data variables as ``__shape__``/``__dtype__`` hints.
    """
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], Graph):
        model, params = model
    if isinstance(model, Graph):
        arg, aux = normalize_params(params)
        return LoadedModel(model, {**arg, **aux}, IR, None)
    if is_gluon_block(model):
        return LoadedModel(*_gluon_to_graph(model, params, shape, dtype), MXNET, None)
    if _is_mx_symbol(model):
        return LoadedModel(*mxnet_to_graph(model, params, shape, dtype), MXNET, None)
    if _is_onnx_object(model):
        return LoadedModel(*_onnx_to_graph(model, params, shape, dtype), ONNX, None)
    if not isinstance(model, (str, os.PathLike)):
        raise InvalidModelError(f"cannot load a {type(model).__name__}: give an ONNX model or path, an MXNet "
                                "symbol JSON path (with params), an mx.sym.Symbol, a Gluon HybridBlock or an "
                                "nnvm_bridge Graph")
    src = os.fspath(model)
    fmt = detect_format(src)
    if not os.path.exists(src):
        raise InvalidModelError("model file does not exist", file=src)
    if fmt == ONNX:
        return LoadedModel(*_onnx_to_graph(src, params, shape, dtype), ONNX, None)
    params_path = None
    if params is None:
        params_path = find_mxnet_params(src)
        if params_path is None:
            raise ParamsError("no parameter file found beside the symbol file (looked for "
                              f"{mxnet_prefix(src)}-NNNN.params and {mxnet_prefix(src)}.params); pass params "
                              "(--params on the command line)", file=src)
        params = params_path
    elif isinstance(params, (str, os.PathLike)):
        params_path = os.fspath(params)
    if params_path is not None and not os.path.isfile(params_path):
        raise ParamsError("parameter file does not exist", file=params_path)
    return LoadedModel(*mxnet_to_graph(src, params, shape, dtype), MXNET, params_path)


def _onnx_to_graph(model, params, shape, dtype):
    from .frontend.onnx.importer import from_onnx

    file = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    if params is not None:
        raise ParamsError("params are only for MXNet models; ONNX files carry their weights", file=file)
    named_dtype = None if isinstance(dtype, (list, tuple)) else dtype  # a list is positional: hints below
    graph, out_params = from_onnx(model, shape=shape if isinstance(shape, dict) else None, dtype=named_dtype)
    names = graph.input_names(out_params)
    shape = structure.flat_shapes(structure.of(graph), shape)  # a sequence's shapes -> its tensors'
    return set_input_hints(graph, shapes_by_name(shape, names), dtypes_by_name(dtype, names)), out_params


def _gluon_input_names(count: int):
    # What HybridBlock.export names positional inputs.
    return ["data"] if count == 1 else [f"data{i}" for i in range(count)]


def _gluon_to_graph(block, params, input_shape, input_type):
    from .frontend.mxnet.importer import from_mxnet

    if params is not None and not isinstance(params, (str, os.PathLike)):
        raise ParamsError("a Gluon block carries its own parameters: pass params=None (or a .params path)")
    if input_shape is None:
        raise ShapeError("a Gluon block needs input shapes (the block is traced with them)")
    if isinstance(input_shape, dict):
        names = [str(k) for k in input_shape]
    else:
        names = _gluon_input_names(1 if _is_single_shape(input_shape) else len(input_shape))
    shapes = shapes_by_name(input_shape, names)
    dtypes = dtypes_by_name(input_type, names)
    if isinstance(params, (str, os.PathLike)):
        block.load_parameters(os.fspath(params))
    graph, out_params = from_mxnet(block, shape=shapes, dtype=dtypes or None)
    return set_input_hints(graph, shapes, dtypes), out_params


def mxnet_to_graph(sym, params=None, input_shape=None, input_type=None):
    """An MXNet symbol (path, JSON text, mx.sym.Symbol) or Gluon block -> (Graph, params) with input
    shapes/dtypes recorded on the inputs.  Positional shapes and dtypes follow MXNet's data-input order."""
    from .frontend.mxnet.importer import data_input_names, from_mxnet

    if is_gluon_block(sym):
        return _gluon_to_graph(sym, params, input_shape, input_type)
    arg_params, aux_params = normalize_params(params)
    positional = isinstance(input_type, (list, tuple)) or not (input_shape is None or isinstance(input_shape, dict))
    # weights are recognised by their slot, so a weight missing from params is not taken for an input
    names = data_input_names(sym, list(arg_params) + list(aux_params)) if positional else None
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


# ---- writing --------------------------------------------------------------------------------------------
def write_mxnet(graph, params, dst):
    """Write the IR as an MXNet model: ``prefix-symbol.json`` and ``prefix-0000.params``."""
    from frontend_ext.mxnet.to_mxnet import to_mxnet

    from .ir.params import join_params, save_params

    json_path, params_path = mxnet_output_paths(dst)
    symbol_json, arg_params, aux_params = to_mxnet(graph, params)
    with open(json_path, "w", encoding="utf-8") as f:
        f.write(symbol_json)
    save_params(params_path, join_params(arg_params, aux_params))
    return json_path, params_path


def write_onnx(graph, params, dst, opset=None, dynamic_batch=False, dynamic_axes=None):
    """Write the IR as an ONNX file (external data for big models); returns the ModelProto, whose
    big tensors reference their bytes in the file instead of holding a copy (``onnx.load(dst)``
    reads the whole model)."""
    from frontend_ext.onnx.exporter import to_onnx

    # Given a path, the exporter streams big parameters into external data (<dst>.data).
    # keep_weights=False: the file has the weights; the proto returned need not copy them again
    return to_onnx(graph, params, opset=opset, dynamic_batch=dynamic_batch, path=os.fspath(dst),
                   keep_weights=False, dynamic_axes=dynamic_axes)
