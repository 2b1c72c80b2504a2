"""MXNet objects from an ONNX model: ``import_model`` (Symbol + NDArray params) and
``import_to_gluon`` (a runnable ``gluon.SymbolBlock``).  MXNet is imported only here, lazily."""
from __future__ import annotations

from nnvm_bridge.errors import BridgeError, InvalidModelError, require


def _mx():
    return require("mxnet", "mxnet")


def _to_ir(model, fmt, shape=None, dtype=None):
    fmt = (fmt or "onnx").lower()
    if fmt != "onnx":
        raise InvalidModelError(f"import format {fmt!r} is not supported here; use format='onnx'")
    from nnvm_bridge.errors import ShapeError
    from nnvm_bridge.frontend import from_onnx

    try:
        return from_onnx(model, shape=shape, dtype=dtype)
    except ShapeError as exc:
        bound = _bind_symbolic_dims(model, shape)
        if not bound:
            raise
        # MXNet graphs are static: shape arithmetic over a symbolic dim needs a value
        import warnings

        warnings.warn(f"{exc}; binding the symbolic input dims to 1 ({bound}); pass shape= to choose",
                      stacklevel=3)
        return from_onnx(model, shape=bound, dtype=dtype)


def _onnx_input_order(model):
    """Data input names in the ONNX graph's declared order (the order SymbolBlock is called with)."""
    from nnvm_bridge.frontend.onnx.tensors import load_model

    proto, _, _ = load_model(model)
    inits = {t.name for t in proto.graph.initializer}
    return [vi.name for vi in proto.graph.input if vi.name not in inits]


def _bind_symbolic_dims(model, shape):
    """{input: shape} with every symbolic (unknown) dim of the data inputs set to 1, or None when the
    model has no symbolic dims to bind."""
    from nnvm_bridge.frontend.onnx.importer import _value_info_hint
    from nnvm_bridge.frontend.onnx.tensors import load_model

    proto, _, _ = load_model(model)
    inits = {t.name for t in proto.graph.initializer}
    shape = dict(shape or {})
    changed = False
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        dims = shape.get(vi.name)
        if dims is None:
            dims, _ = _value_info_hint(vi)
        if dims is None:
            continue
        fixed = tuple(1 if (d is None or int(d) <= 0) else int(d) for d in dims)
        changed = changed or fixed != tuple(dims)
        shape[vi.name] = fixed
    return shape if changed else None


def to_mxnet_objects(graph, params):
    """(Graph, params) -> (mx.sym.Symbol, arg NDArrays, aux NDArrays)."""
    mx = _mx()
    from .to_mxnet import to_mxnet

    text, args, aux = to_mxnet(graph, params)
    try:
        sym = mx.sym.load_json(text)
    except mx.base.MXNetError as exc:  # pragma: no cover - would be a to_mxnet bug
        raise BridgeError(f"MXNet rejected the generated symbol: {str(exc).splitlines()[0]}") from None
    nd = mx.nd
    arg_nd = {k: nd.array(v, dtype=v.dtype) for k, v in args.items()}
    aux_nd = {k: nd.array(v, dtype=v.dtype) for k, v in aux.items()}
    return sym, arg_nd, aux_nd


def import_model(model, format="onnx", shape=None, dtype=None):
    """ONNX model (path, bytes or ModelProto) -> (mx.sym.Symbol, {name: mx.nd.NDArray}).

    The dict holds arguments and auxiliary states together, as ``mx.contrib.onnx.import_model``'s
    ``(sym, arg_params, aux_params)`` merged; split it with ``sym.list_auxiliary_states()``.
    """
    graph, params = _to_ir(model, format, shape, dtype)
    sym, args, aux = to_mxnet_objects(graph, params)
    merged = dict(args)
    merged.update(aux)
    return sym, merged


def data_inputs(sym, params):
    """Names of the symbol's data inputs (arguments that are not parameters)."""
    return [n for n in sym.list_arguments() if n not in params]


def import_to_gluon(model, format="onnx", ctx=None, shape=None, dtype=None):
    """ONNX model -> ``gluon.SymbolBlock`` with parameters loaded; call it with the data inputs
    in the model's input order."""
    mx = _mx()
    graph, params = _to_ir(model, format, shape, dtype)
    sym, args, aux = to_mxnet_objects(graph, params)
    ctx = ctx or mx.cpu()
    allp = dict(args)
    allp.update(aux)
    names = [n for n in _onnx_input_order(model) if n in set(sym.list_arguments()) and n not in allp]
    inputs = [mx.sym.var(n) for n in names]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = mx.gluon.SymbolBlock(sym, inputs)
    for name, p in block.collect_params().items():
        if name not in allp:
            raise InvalidModelError(f"parameter {name!r} has no value")
        value = allp[name]
        p.dtype = value.dtype
        p.grad_req = "null"
        p._load_init(value.as_in_context(ctx), ctx)
    return block


__all__ = ["import_model", "import_to_gluon", "to_mxnet_objects", "data_inputs"]
