"""The wrapper API: format-dispatching functions that chain an importer with an emitter.

``export_model`` is a drop-in for ``mx.onnx.export_model`` (same argument order); the
others delegate to the MXNet-object and TVM emitters.  Models are read by the one loader,
``model_files.load_model``.  Nothing heavy is imported here at module level: MXNet, TVM and
onnxruntime load only inside the functions that need them.
"""
from __future__ import annotations

import os
import time

import numpy as np

from .errors import BridgeError, InvalidModelError
from .ir import structure
from .model_files import load_model, mxnet_to_graph


# ---- export ----------------------------------------------------------------------------
def save_onnx(model, path):
    """Write an ONNX ModelProto, with external data when it is too big for one protobuf."""
    from frontend_ext.onnx.exporter import save_onnx as impl

    impl(model, os.fspath(path))
    return os.fspath(path)


def export_model(sym, params=None, input_shape=None, input_type=np.float32, onnx_file_path=None,
                 format="onnx", opset=None, dynamic_batch=False, verbose=False, dynamic_axes=None):
    """Export an MXNet model to ONNX; a drop-in for ``mx.onnx.export_model``.

    sym: symbol JSON path, JSON text, ``mx.sym.Symbol`` or Gluon ``HybridBlock``.
    params: ``.params`` path, dict of NDArrays/numpy arrays (``arg:``/``aux:`` prefixes allowed),
        ``(arg_params, aux_params)``, or None for a block.
    input_shape: list of shapes in input order (as MXNet), one shape, or dict name -> shape.
    input_type: one dtype for all inputs, a list in input order, or dict name -> dtype.
    onnx_file_path: where to save (big models get external data); None only returns the model.
    dynamic_axes: ``{input: {axis: name}}`` (or ``{input: [axes]}``): those axes are symbolic in the file
    (``dim_param``), e.g. ``{"data": {0: "N", 2: "H", 3: "W"}}``.
    Returns the ``onnx.ModelProto``.
    """
    if str(format).lower() != "onnx":
        raise BridgeError(f"export format {format!r} is not supported; only 'onnx'")
    from frontend_ext.onnx.exporter import to_onnx

    t0 = time.perf_counter()
    graph, numpy_params = mxnet_to_graph(sym, params, input_shape, input_type)
    # With a path the exporter streams big parameters into external data instead of one protobuf.
    model = to_onnx(graph, numpy_params, opset=opset, dynamic_batch=dynamic_batch, dynamic_axes=dynamic_axes,
                    **({} if onnx_file_path is None else {"path": os.fspath(onnx_file_path)}))
    if verbose:
        import sys

        print(f"nnvm_bridge: exported {len(graph.op_nodes())} ops in {time.perf_counter() - t0:.2f} s"
              + (f" to {onnx_file_path}" if onnx_file_path else ""), file=sys.stderr)
    return model


# ---- ONNX -> MXNet objects ---------------------------------------------------------------
def _onnx_to_ir(model, fmt, shape=None, dtype=None):
    fmt = (fmt or "onnx").lower()
    if fmt != "onnx":
        raise InvalidModelError(f"import format {fmt!r} is not supported here; use format='onnx'")
    from .frontend.onnx.importer import from_onnx

    # Symbolic dims stay symbolic: MXNet learns them at bind time, or to_mxnet says which node needs shape=.
    return from_onnx(model, shape=shape, dtype=dtype)


def import_model(model, format="onnx", shape=None, dtype=None):
    """ONNX model (path, bytes or ModelProto) -> (mx.sym.Symbol, {name: mx.nd.NDArray}).

    The dict holds arguments and auxiliary states together, as ``mx.contrib.onnx.import_model``'s
    ``(sym, arg_params, aux_params)`` merged; split it with ``sym.list_auxiliary_states()``.
    ``shape`` ({input: dims}) binds symbolic dims, e.g. a dynamic batch, before conversion.
    """
    from frontend_ext.mxnet.objects import to_mxnet_objects

    graph, params = _onnx_to_ir(model, format, shape, dtype)
    sym, args, aux = to_mxnet_objects(graph, params)
    return sym, {**args, **aux}


def import_to_gluon(model, format="onnx", ctx=None, shape=None, dtype=None):
    """ONNX model -> a runnable ``gluon.SymbolBlock`` with parameters loaded; call it with the data inputs
    in the model's input order (a sequence input as its tensors, docs/sequences.md)."""
    from frontend_ext.mxnet.objects import to_gluon_block

    graph, params = _onnx_to_ir(model, format, shape, dtype)
    # from_onnx records the file's data inputs in their declared order: no second read of the file.
    return to_gluon_block(graph, params, graph.attrs.get("input_order"), ctx=ctx)


# ---- TVM -------------------------------------------------------------------------------
def compile_model(model, target="llvm", shape=None, params=None, tuning=None, *, dtype=None, **options):
    """ONNX/MXNet model, path, Gluon block, mx.sym.Symbol or (Graph, params) -> CompiledModel
    (``.run(inputs)``, ``.export_library(path)``).

    ``options`` go to ``frontend_ext.tvm.compile.compile_graph``: ``offload`` ("auto", True, False: run
    conv/dense chains in PyTorch; False builds a pure-TVM library that loads without torch),
    ``bind_params``."""
    from frontend_ext.tvm.compile import compile_graph

    t0 = time.perf_counter()
    graph, graph_params, _, _ = load_model(model, params=params, shape=shape, dtype=dtype)
    shape = structure.flat_shapes(structure.of(graph), shape)  # a sequence's shapes -> its tensors'
    cm = compile_graph(graph, graph_params, target=target, shape=shape if isinstance(shape, dict) else None,
                       tuning=tuning, dtype=dtype, **options)
    cm.compile_seconds = time.perf_counter() - t0
    return cm


def load_compiled(path):
    """A library written by ``CompiledModel.export_library`` -> CompiledModel."""
    from frontend_ext.tvm.compile import load_compiled as impl

    return impl(path)


__all__ = ["export_model", "import_model", "import_to_gluon", "compile_model", "load_compiled"]
