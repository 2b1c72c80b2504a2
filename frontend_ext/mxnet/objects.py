"""MXNet objects from the IR: ``to_mxnet_objects`` (Symbol + NDArray params) and ``to_gluon_block``
(a runnable ``gluon.SymbolBlock``).  MXNet is imported only here, lazily."""
from __future__ import annotations

import re

import numpy as np

from nnvm_bridge.errors import BridgeError, InvalidModelError, require


def _mx():
    return require("mxnet", "mxnet")


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


_BLOCK_CLASS = []


def _bridge_block_class(mx):
    """``SymbolBlock`` that (1) takes bool inputs: the symbol declares them uint8 (MXNet's legacy executor has no
    bool), and a bool NDArray fed as is reaches ops such as ``where`` that fail on it ("Unknown type enum 7");
    (2) runs under numpy shape semantics, where a 0 dim is empty, not unknown (data-dependent ops give empty
    arrays). One class per process."""
    if not _BLOCK_CLASS:
        class BridgeSymbolBlock(mx.gluon.SymbolBlock):
            def forward(self, x, *args):
                x, *args = [a.astype("uint8") if isinstance(a, mx.nd.NDArray) and np.dtype(a.dtype) == np.bool_
                            else a for a in (x, *args)]
                try:
                    with mx.util.np_shape(True):
                        return super().forward(x, *args)
                except mx.base.MXNetError as exc:
                    raise mxnet_run_error(exc) from exc

        _BLOCK_CLASS.append(BridgeSymbolBlock)
    return _BLOCK_CLASS[0]


def mxnet_run_error(exc) -> BridgeError:
    """MXNet's failure to run the imported graph as this project's error: MXNet's own words (the operator and the
    failed check, not its traceback) and what to do instead."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    key = next((ln for ln in lines if "Error in operator" in ln or "Check failed" in ln or "failed" in ln),
               next((ln for ln in lines if not ln.startswith(("Traceback", "File ", "[bt]", "Stack trace"))),
                    type(exc).__name__))
    key = re.sub(r"\[\d\d:\d\d:\d\d\] \S+: ", "", key.replace("MXNetError: ", "")).rstrip(" :.")
    op = re.search(r"Error in operator (\S+?):", key)
    return BridgeError(f"MXNet could not run the imported model at these input sizes: {key[:400]}. Give the input "
                       "sizes with shape= when importing (MXNet then binds fixed shapes), or compile the model with "
                       "compile_model (TVM)", node=op.group(1) if op else None)


def to_gluon_block(graph, params, input_order=None, ctx=None):
    """(Graph, params) -> ``gluon.SymbolBlock`` with parameters loaded, called with the data inputs in
    ``input_order`` (the source model's order; inputs the graph no longer uses are left out)."""
    mx = _mx()
    sym, args, aux = to_mxnet_objects(graph, params)
    ctx = ctx or mx.cpu()
    allp = dict(args)
    allp.update(aux)
    order = graph.input_names(params) if input_order is None else input_order
    names = [n for n in order if n in set(sym.list_arguments()) and n not in allp]
    inputs = [mx.sym.var(n) for n in names]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = _bridge_block_class(mx)(sym, inputs)
    for name, p in block.collect_params().items():
        if name not in allp:
            raise InvalidModelError(f"parameter {name!r} has no value")
        value = allp[name]
        p.dtype = value.dtype
        p.grad_req = "null"
        p._load_init(value.as_in_context(ctx), ctx)
    return block


__all__ = ["to_mxnet_objects", "to_gluon_block"]
