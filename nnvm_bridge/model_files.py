"""Model files on disk: telling formats apart by name, finding MXNet's params file, and
loading/writing a model through the IR.  Used by the CLI; also usable from Python.

Naming rules (MXNet's own): ``prefix-symbol.json`` goes with ``prefix-<epoch>.params``
(the highest epoch wins) or ``prefix.params``; ``.onnx`` is ONNX.
"""
from __future__ import annotations

import os
import re

from .errors import InvalidModelError, ParamsError

ONNX, MXNET = "onnx", "mxnet"
_EPOCH = re.compile(r"-(\d{4,})\.params$")


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


def load_graph(src, params=None, shape=None, dtype=None):
    """Read a model file into the IR.

    ``shape`` is a dict name -> shape or a list in input order; ``dtype`` one dtype, a list or a dict.
    Returns ``(graph, params, format, params_path)``; input shapes/dtypes are recorded on the graph's
    data variables as ``__shape__``/``__dtype__`` hints.
    """
    from . import api

    src = os.fspath(src)
    fmt = detect_format(src)
    if not os.path.exists(src):
        raise InvalidModelError("model file does not exist", file=src)
    if fmt == ONNX:
        from .frontend import from_onnx

        if params is not None:
            raise ParamsError("--params is only for MXNet models; ONNX files carry their weights", file=src)
        shape_dict = shape if isinstance(shape, dict) else None
        graph, out_params = from_onnx(src, shape=shape_dict)
        names = graph.input_names(out_params)
        api.set_input_hints(graph, api.shapes_by_name(shape, names), api.dtypes_by_name(dtype, names))
        return graph, out_params, fmt, None
    params_path = params if params is not None else find_mxnet_params(src)
    if params_path is None:
        raise ParamsError("no parameter file found beside the symbol file (looked for "
                          f"{mxnet_prefix(src)}-NNNN.params and {mxnet_prefix(src)}.params); pass --params",
                          file=src)
    if not os.path.isfile(os.fspath(params_path)):
        raise ParamsError("parameter file does not exist", file=os.fspath(params_path))
    graph, out_params = api.mxnet_to_graph(src, os.fspath(params_path), shape, dtype)
    return graph, out_params, fmt, os.fspath(params_path)


def write_mxnet(graph, params, dst):
    """Write the IR as an MXNet model: ``prefix-symbol.json`` and ``prefix-0000.params``."""
    from .frontend import to_mxnet
    from .ir.params import join_params, save_params

    json_path, params_path = mxnet_output_paths(dst)
    symbol_json, arg_params, aux_params = to_mxnet(graph, params)
    with open(json_path, "w", encoding="utf-8") as f:
        f.write(symbol_json)
    save_params(params_path, join_params(arg_params, aux_params))
    return json_path, params_path


def write_onnx(graph, params, dst, opset=None, dynamic_batch=False):
    """Write the IR as an ONNX file (external data for big models); returns the ModelProto, whose
    big tensors reference their bytes in the file instead of holding a copy (``onnx.load(dst)``
    reads the whole model)."""
    from .frontend import to_onnx

    # Given a path, the exporter streams big parameters into external data (<dst>.data).
    # keep_weights=False: the file has the weights; the proto returned need not copy them again
    return to_onnx(graph, params, opset=opset, dynamic_batch=dynamic_batch, path=os.fspath(dst),
                   keep_weights=False)
