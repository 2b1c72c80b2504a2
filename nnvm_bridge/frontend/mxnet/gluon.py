"""Read a Gluon HybridBlock as symbol JSON + numpy params, in memory (what ``block.export`` writes).

The block is hybridized and run once on zeros of the given input shape(s), as ``export`` requires,
so deferred-initialised parameters get their shapes.  Inputs are named as Gluon names them:
``data`` for one input, ``data0``, ``data1``, ... for several.
"""
from __future__ import annotations

from ...errors import InvalidModelError, ParamsError, ShapeError, require


def _input_shapes(shape) -> list:
    """Accept {"data": shape} / {"data0": s0, "data1": s1} / a tuple / a list of tuples."""
    if shape is None:
        raise ShapeError("reading a Gluon block needs the input shape: shape={'data': (1, 3, 224, 224)}")
    if isinstance(shape, dict):
        if "data" in shape and len(shape) == 1:
            return [tuple(shape["data"])]
        names = [f"data{i}" for i in range(len(shape))]
        if sorted(shape) != sorted(names):
            raise ShapeError(f"Gluon inputs are named 'data' (one input) or 'data0', 'data1', ... ; got "
                             f"{sorted(shape)}")
        return [tuple(shape[n]) for n in names]
    shape = tuple(shape)
    if shape and all(isinstance(s, (tuple, list)) for s in shape):
        return [tuple(s) for s in shape]
    return [shape]


def export_block(block, shape=None, dtype=None):
    """-> (symbol JSON text, {name: numpy array} without arg:/aux: prefixes, {input name: shape})."""
    mx = require("mxnet", "mxnet")
    shapes = _input_shapes(shape)
    names = ["data"] if len(shapes) == 1 else [f"data{i}" for i in range(len(shapes))]
    dts = dtype if isinstance(dtype, dict) else {n: dtype for n in names}
    try:
        block.hybridize()
        args = [mx.nd.zeros(s, dtype=dts.get(n) or "float32") for n, s in zip(names, shapes)]
        block(*args)
    except (mx.base.MXNetError, RuntimeError, ValueError, AssertionError) as exc:
        raise InvalidModelError(f"running the Gluon block on zeros of shape {shapes} failed: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    cached = getattr(block, "_cached_graph", None)
    if not cached:
        raise InvalidModelError(f"{type(block).__name__} did not build a symbolic graph (is it a HybridBlock?)")
    inputs, sym = cached
    in_names = [s.name for s in inputs]
    arg_names = set(sym.list_arguments())
    aux_names = set(sym.list_auxiliary_states())
    params = {}
    for name, param in block.collect_params().items():
        if name not in arg_names and name not in aux_names:
            continue  # unused by this forward (Gluon's export asserts instead)
        try:
            params[name] = param.data().asnumpy()
        except (mx.base.MXNetError, RuntimeError) as exc:
            raise ParamsError(f"parameter {name!r} has no data ({exc})") from None
    return sym.tojson(), params, dict(zip(in_names, shapes))
