"""from_mxnet: MXNet symbol JSON + params (or a Gluon HybridBlock) -> NNVM Graph + params.

Steps: read the symbol (JSON text/dict/path, ``mx.sym.Symbol``, Gluon block), normalise the
params (numpy, no "arg:"/"aux:" prefixes; ``.params`` files are read without MXNet), pre-scan for
unsupported ops (all reported at once), find label inputs, convert node by node with the
registered handlers (MXNet defaults applied, weights checked), then run shape/dtype inference.

This is the driver of the MXNet import table: it loads the built-in handler modules and holds the
plug-in hook :func:`register_mxnet_op`.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ...errors import (BridgeError, DTypeError, InvalidModelError, OpTally, ParamsError, ShapeError,
                       UnsupportedOperatorError)
from ...ir import dtypes as _dt
from ...ir.graph import Entry, Graph
from ...ir.json_io import parse_json, parse_obj
from ...ir.passes import infer_shape, infer_type
from ...ops.registry import Attr
from . import (handlers_math, handlers_nlp, handlers_nn, handlers_quant, handlers_rnn,  # noqa: F401
               handlers_roi, handlers_tensor, handlers_vision)  # (they register the built-in handlers)
from .context import ConvertContext
from .defaults import MxAttrs
from .registry import MXNET_IMPORT

MXNET_IMPORT.mark_loaded()


# ---- the op table -----------------------------------------------------------------------------------------
def register_mxnet_op(name: str, fn: Callable, *, attrs: dict | None = None, labels=(), weights=(),
                      override: bool = False) -> None:
    """Plug-in hook: convert MXNet op ``name`` with ``fn(ctx, node, attrs, inputs)``.

    ``attrs`` maps the op's attribute names to :class:`nnvm_bridge.ops.registry.Attr` specs with MXNet's
    defaults (see :mod:`.defaults`); ``labels`` and ``weights`` list the input slots that are training
    labels or parameters.  An op that already has a handler raises ValueError unless ``override=True``.
    """
    spec = None if attrs is None else dict(attrs)
    if spec is not None and not all(isinstance(a, Attr) for a in spec.values()):
        raise TypeError(f"register_mxnet_op({name!r}): attrs maps attribute names to nnvm_bridge.ops.registry.Attr")
    MXNET_IMPORT.add(name, fn, attrs=spec, labels=tuple(labels), weights=tuple(weights), override=override)


def supported_ops() -> list:
    """Sorted names of the MXNet ops that have a handler."""
    return MXNET_IMPORT.supported()


# ---- inputs ---------------------------------------------------------------------------------------------
def _is_gluon_block(obj) -> bool:
    return hasattr(obj, "hybridize") and hasattr(obj, "collect_params")


def _read_symbol(symbol):
    """-> RawGraph of MXNet records."""
    if isinstance(symbol, dict):
        return parse_obj(symbol, "MXNet symbol JSON")
    if hasattr(symbol, "tojson") and callable(symbol.tojson):  # mx.sym.Symbol
        return parse_json(symbol.tojson(), "MXNet symbol JSON")
    if isinstance(symbol, (str, bytes, bytearray, os.PathLike)):
        return parse_json(symbol, "MXNet symbol JSON")
    raise InvalidModelError(f"cannot read an MXNet symbol from a {type(symbol).__name__}")


def _to_numpy(name, value, file=None):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "asnumpy"):  # mx.nd.NDArray
        return value.asnumpy()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is a bad parameter
        raise ParamsError(f"parameter {name!r} is not an array ({exc})", file=file) from None
    if arr.dtype == object:
        raise ParamsError(f"parameter {name!r} is not a numeric array", file=file)
    return arr


def _strip(name: str) -> str:
    return name[4:] if name.startswith(("arg:", "aux:")) else name


def _load_params_file(path):
    try:
        from ...ir.params import load_params
    except ImportError:  # pragma: no cover - params.py is part of the package
        raise ParamsError("reading .params files needs nnvm_bridge.ir.params", file=path) from None
    return load_params(path)


def _normalise_params(arg_params, aux_params):
    """-> (params dict name -> ndarray, given: bool)."""
    out = {}
    given = False
    for src in (arg_params, aux_params):
        if src is None:
            continue
        given = True
        file = None
        if isinstance(src, (str, bytes, os.PathLike)):
            file = os.fspath(src) if not isinstance(src, bytes) else None
            src = _load_params_file(src)
        if not hasattr(src, "items"):
            raise ParamsError(f"params must be a dict or a .params path, got {type(src).__name__}")
        for k, v in src.items():
            if not isinstance(k, str):
                raise ParamsError(f"parameter names must be strings, got {k!r}", file=file)
            out[_strip(k)] = _to_numpy(k, v, file)
    return out, given and bool(out)


def _normalise_shape(shape, file=None) -> dict:
    if shape is None:
        return {}
    if not isinstance(shape, dict):
        raise ShapeError(f"shape must be a dict {{input_name: shape}}, got {type(shape).__name__}", file=file)
    out = {}
    for k, v in shape.items():
        try:
            t = tuple(int(d) for d in v)
        except (TypeError, ValueError):
            raise ShapeError(f"shape of input {k!r} must be a tuple of ints, got {v!r}", file=file) from None
        if any(d < 0 for d in t):
            raise ShapeError(f"shape of input {k!r} has a negative dim: {t}", file=file)
        out[str(k)] = t
    return out


# ---- the converter ----------------------------------------------------------------------------------------
def _prescan(raw):
    unsupported = OpTally()
    for rn in raw.nodes:
        if rn.op != "null" and (rn.op not in MXNET_IMPORT or (rn.subgraphs and not MXNET_IMPORT.get(rn.op).subgraphs)):
            unsupported.add(rn.op, rn.name)
    unsupported.raise_if_any(direction="from_mxnet", file=raw.source,
                             extra="register a handler with nnvm_bridge.frontend.mxnet.register_mxnet_op")


def _label_variables(raw, params) -> set:
    """Variables consumed only as label slots of *Output ops (and not parameters)."""
    label_uses, other_uses = set(), set()
    for rn in raw.nodes:
        if rn.op == "null":
            continue
        h = MXNET_IMPORT.get(rn.op)
        for slot, (nid, _, _) in enumerate(rn.inputs):
            if raw.nodes[nid].op != "null":
                continue
            (label_uses if slot in h.labels else other_uses).add(nid)
    for nid, _, _ in raw.heads:
        other_uses.add(nid)
    return {nid for nid in label_uses - other_uses if raw.nodes[nid].name not in params}


def data_input_names(symbol, params=()) -> list:
    """Names of a symbol's data inputs, in graph order: variables that are not parameters, not
    labels of ``*Output`` ops and not used only in weight slots (conv/dense weights, BN stats, ...).

    This is what MXNet-style positional input shapes are matched against.
    """
    raw = symbol if hasattr(symbol, "nodes") and hasattr(symbol, "heads") else _read_symbol(symbol)
    _prescan(raw)
    names = {_strip(k) for k in params}
    labels = _label_variables(raw, names)
    weight_uses, other_uses = set(), set()
    for rn in raw.nodes:
        if rn.op == "null":
            continue
        h = MXNET_IMPORT.get(rn.op)
        for slot, (nid, _, _) in enumerate(rn.inputs):
            if slot in h.weights:
                weight_uses.add(nid)
            elif slot not in h.labels:
                other_uses.add(nid)
    other_uses.update(nid for nid, _, _ in raw.heads)
    weights = weight_uses - other_uses
    return [rn.name for i, rn in enumerate(raw.nodes)
            if rn.op == "null" and i not in labels and i not in weights and rn.name not in names]


def _input_hints(rn, shape, dtype) -> dict:
    attrs = dict(rn.attrs)
    if rn.name in shape:
        attrs["__shape__"] = str(tuple(shape[rn.name]))
    dt = dtype.get(rn.name) if isinstance(dtype, dict) else dtype
    if dt is not None:
        attrs["__dtype__"] = str(_dt.to_mxnet(_dt.canonical(dt)))
    return attrs


def _convert_op_node(ctx, raw, rn, results):
    """One MXNet op record through its handler -> list of Entries (one per MXNet output)."""
    h = MXNET_IMPORT.get(rn.op)
    ctx.node_name, ctx.op_name = rn.name, rn.op
    inputs = []
    for slot, (src, idx, _) in enumerate(rn.inputs):
        got = results[src]
        if got is None:
            if slot in h.labels:
                continue  # a dropped label
            raise InvalidModelError(f"input {slot} is a label variable used as data", node=rn.name, op=rn.op,
                                    file=raw.source)
        if idx >= len(got):
            raise InvalidModelError(f"input {slot} refers to output {idx} of {raw.nodes[src].name!r}, "
                                    f"which has {len(got)} usable outputs at inference", node=rn.name,
                                    op=rn.op, file=raw.source)
        inputs.append(got[idx])
    attrs = MxAttrs(rn.op, rn.name, rn.attrs, h.attrs, file=raw.source)
    try:
        res = h(ctx, rn, attrs, inputs)
    except UnsupportedOperatorError:
        raise
    except BridgeError as exc:
        if exc.node is None:  # a shared helper's error: say which node it came from
            raise type(exc)(exc.bare_message, node=rn.name, op=rn.op, file=raw.source) from None
        raise
    except (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise InvalidModelError(f"cannot convert: {type(exc).__name__}: {exc}", node=rn.name, op=rn.op,
                                file=raw.source) from None
    return list(res) if isinstance(res, (list, tuple)) and not isinstance(res, Entry) else [res]


def _convert_subgraph(ctx, sub, bindings, replace=None):
    """Inline a fused op's subgraph (MXNet JSON dict): its k-th variable is ``bindings[k]``; an inner op node
    whose index is in ``replace`` becomes ``replace[index](inputs)``. Returns the subgraph's head entries."""
    raw = parse_obj(sub, "MXNet subgraph", ctx.file)
    raw.source = ctx.file
    _prescan(raw)
    outer = ctx.node_name, ctx.op_name
    results, k = [], 0
    try:
        for nid, rn in enumerate(raw.nodes):
            if rn.op == "null":
                if k >= len(bindings):
                    raise InvalidModelError(f"its subgraph has more inputs than the {len(bindings)} given",
                                            node=outer[0], op=outer[1], file=ctx.file)
                results.append([bindings[k]])
                k += 1
            elif replace and nid in replace:
                results.append([replace[nid]([results[i][j] for i, j, _ in rn.inputs])])
            else:
                results.append(_convert_op_node(ctx, raw, rn, results))
    finally:
        ctx.node_name, ctx.op_name = outer
    return [results[i][j] for i, j, _ in raw.heads]


def convert_symbol(raw, params: dict, params_given: bool, shape: dict, dtype=None):
    """Convert parsed MXNet records into (Graph, params)."""
    _prescan(raw)
    labels = _label_variables(raw, params)
    data_inputs = [rn.name for i, rn in enumerate(raw.nodes)
                   if rn.op == "null" and i not in labels and rn.name not in params]
    label_names = {raw.nodes[i].name for i in labels}  # a label's shape may be given, as MXNet users do
    unknown = sorted(set(shape) - set(data_inputs) - set(params) - label_names)
    if unknown:
        raise ShapeError(f"shape given for unknown input(s) {unknown}; the symbol's inputs are {data_inputs}",
                         file=raw.source)
    if isinstance(dtype, dict):
        bad = sorted(set(dtype) - set(data_inputs) - set(params) - label_names)
        if bad:
            raise DTypeError(f"dtype given for unknown input(s) {bad}; the symbol's inputs are {data_inputs}",
                             file=raw.source)
    ctx = ConvertContext(params, params_given, shape, dtype, file=raw.source)
    ctx.convert_subgraph = lambda sub, bindings, replace=None: _convert_subgraph(ctx, sub, bindings, replace)
    results = []  # per raw node: list of Entries (None for dropped labels)
    for nid, rn in enumerate(raw.nodes):
        if rn.op == "null":
            if nid in labels:
                results.append(None)
                continue
            hints = _input_hints(rn, shape, dtype) if rn.name not in params else dict(rn.attrs)
            results.append([ctx.variable(rn.name, hints)])
            continue
        results.append(_convert_op_node(ctx, raw, rn, results))
    outputs = []
    for nid, idx, _ in raw.heads:
        got = results[nid]
        rn = raw.nodes[nid]
        if got is None or idx >= len(got):
            raise InvalidModelError(f"graph output refers to output {idx}, which is not available at inference",
                                    node=rn.name, op=rn.op, file=raw.source)
        e = got[idx]
        if e.node.is_variable and rn.op != "null":
            # an op that vanished at inference (Dropout, BlockGrad) ended up as an output: keep a named node
            ctx.node_name, ctx.op_name = rn.name, rn.op
            e = ctx.out("copy", [e], {}, name=rn.name)
        outputs.append(e)
    graph = Graph(outputs)
    used = {n.name for n in graph.variables}
    out_params = {k: v for k, v in ctx.params.items() if k in used}
    graph = infer_type(infer_shape(graph, params=out_params), params=out_params)
    return graph, out_params


def from_mxnet(symbol, arg_params=None, aux_params=None, shape=None, dtype=None):
    """MXNet symbol (JSON text, dict, path, ``mx.sym.Symbol``) or Gluon HybridBlock -> (Graph, params).

    ``arg_params``/``aux_params`` are dicts of numpy arrays or ``mx.nd.NDArray`` (keys with or
    without "arg:"/"aux:"), or a path to a ``.params`` file.  ``shape`` maps input names to shapes;
    ``dtype`` is one dtype or a dict per input.  Label inputs of ``*Output`` ops are dropped.
    """
    if _is_gluon_block(symbol):
        from .gluon import export_block

        symbol, block_params, shape = export_block(symbol, shape, dtype)
        if arg_params is None and aux_params is None:
            arg_params = block_params
    raw = _read_symbol(symbol)
    params, given = _normalise_params(arg_params, aux_params)
    params = {k: v for k, v in params.items()}  # our own copy: fix_gamma rewrites entries
    shape = _normalise_shape(shape, raw.source)
    if dtype is not None and not isinstance(dtype, dict):
        dtype = _dt.canonical(dtype)
    elif isinstance(dtype, dict):
        dtype = {str(k): _dt.canonical(v) for k, v in dtype.items()}
    return convert_symbol(raw, params, given, shape, dtype)


__all__ = ["from_mxnet", "convert_symbol", "data_input_names", "register_mxnet_op", "supported_ops"]
