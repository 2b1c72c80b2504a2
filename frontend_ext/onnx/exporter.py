"""to_onnx: NNVM graph + params -> onnx.ModelProto (and files, with external data when large).

Usage::

    model = to_onnx(graph, params, opset=17, dynamic_batch=False)        # in memory
    model = to_onnx(graph, params, path="model.onnx")                    # also saved
    save_onnx(graph, "model.onnx", params=params)                        # same, by file
    save_onnx(model, "model.onnx")                                       # a ModelProto

Saving to a file switches to external data automatically once the parameters exceed
``external_threshold`` bytes (default just under protobuf's 2 GB limit): each tensor is then
streamed into ``<model>.onnx.data`` and only a reference stays in the protobuf.  Pass
``external_data=True``/``False`` to force either way.  Below it, a file export still streams the
weights from the arrays into the file (writer.write_model_streamed).  Every export is checked with
``onnx.checker.check_model(..., full_check=True)``; for files, on a view of the written file whose
big tensors reference their bytes in it, so the checker does not load the weights again.
"""
from __future__ import annotations

import os

import numpy as np

from nnvm_bridge.errors import (BridgeError, OpTally, ParamsError, ShapeError, UnsupportedOperatorError,
                                UnsupportedOpsetError, InvalidModelError)
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir.graph import Graph
from nnvm_bridge.ir.passes import expand_proposal
from nnvm_bridge.ir.symbolic import anonymous_dim, format_dim, is_symbolic, sym

from .builder import Builder
from .local_functions import BRIDGE_DOMAIN, FUNCTION_IR_VERSION
from .context import NodeContext
from .handlers import (control, datadep, detection, dynamic, elementwise, nn, normalization,  # noqa: F401
                       quantize, reduce, rnn, roi, sampling, scatter, tensor, transform)  # (they register)
from .handlers import runtime_resize  # noqa: F401,I001
from .registry import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, ONNX_EXPORT
from .writer import (EXTERNAL_DATA_THRESHOLD, DeferredInlineSink, ExternalDataSink, InlineSink, data_file_for,
                     checker_view, save_model_proto, write_model_streamed)

ONNX_EXPORT.mark_loaded()


def register_onnx_handler(op: str, fn, *, since=MIN_OPSET, check=None, override: bool = False) -> None:
    """Plug-in hook: write the IR op ``op`` from ONNX opset ``since`` with ``fn(ctx, node, attrs, inputs)``;
    ``check(ctx, node, attrs, inputs)`` may return a reason why a node cannot be written (it is then reported
    with the unsupported ops).  An existing (op, version) raises ValueError unless ``override=True``."""
    ONNX_EXPORT.add(op, fn, since=since, check=check, override=override)

PRODUCER = "nnvm_bridge"


def _check_opset(opset) -> int:
    if opset is None:
        return DEFAULT_OPSET
    try:
        value = int(opset)
    except (TypeError, ValueError):
        raise UnsupportedOpsetError(f"opset must be an integer in {MIN_OPSET}..{MAX_OPSET}, got {opset!r}") from None
    if not MIN_OPSET <= value <= MAX_OPSET:
        raise UnsupportedOpsetError(f"ONNX opset {value} is not supported for export; choose {MIN_OPSET}..{MAX_OPSET}")
    return value


def _check_params(params) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParamsError(f"params must be a dict name -> numpy array, got {type(params).__name__}")
    out = {}
    for name, value in params.items():
        if hasattr(value, "asnumpy"):  # an mx.nd.NDArray
            value = value.asnumpy()
        elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):
            value = value.numpy()
        arr = np.asarray(value)
        if arr.dtype == object:
            raise ParamsError(f"parameter {name!r} is not a numeric array")
        out[str(name)] = arr
    return out


def _prescan(graph: Graph, opset: int, node_view):
    """Report every op without a converter at ``opset`` at once (counts and node names)."""
    missing, too_new = _collect_unsupported(graph, opset, node_view)
    missing.raise_if_any(direction=f"ONNX export at opset {opset}")
    if too_new:
        names = "; ".join(f"{op} (nodes {', '.join(repr(n) for n in nodes[:3])})"
                          for op, nodes in sorted(too_new.ops.items()))
        raise UnsupportedOpsetError(f"these ops have ONNX converters only for opsets above {opset}: {names}")


def _collect_unsupported(graph: Graph, opset: int, node_view):
    """(nodes without a converter at ``opset``, or whose converter refuses them or whose hidden
    outputs are read; nodes whose op has converters only for newer opsets), as two OpTally."""
    from nnvm_bridge.ops import get_op, num_visible_outputs

    missing, too_new = OpTally(), OpTally()
    consumers = {}
    for node in graph.op_nodes():
        for e in node.inputs:
            if not e.node.is_variable:
                consumers.setdefault(id(e.node), set()).add(e.index)
    for e in graph.outputs:
        if not e.node.is_variable:
            consumers.setdefault(id(e.node), set()).add(e.index)
    convertible = []
    for node in graph.op_nodes():
        opdef = get_op(node.op, node.name)
        if opdef.internal or opdef.level == 5:
            missing.add(node.op, node.name)
            continue
        try:
            handler = ONNX_EXPORT.get(opdef.name, opset, node.name)
        except UnsupportedOpsetError:
            too_new.add(node.op, node.name)
            continue
        if handler is None:
            missing.add(node.op, node.name)
            continue
        if handler.check is not None:
            ctx, attrs, inputs = node_view(node)
            reason = handler.check(ctx, node, attrs, inputs)
            if reason:
                missing.add(node.op, node.name, reason)
                continue
        convertible.append(node)
    for node in convertible:
        visible = num_visible_outputs(node)
        if any(k >= visible for k in consumers.get(id(node), ())):
            missing.add(node.op, node.name, "hidden output used")
    return missing, too_new


def unsupported_ops(graph: Graph, opset=None, params=None, shape=None) -> dict:
    """{op (or "op (reason)"): [node names]} that to_onnx cannot convert at ``opset``; empty when
    everything converts.  Ops whose converters all need a newer opset are listed too."""
    from nnvm_bridge.ir.passes import infer_shape, infer_type

    opset = _check_opset(opset)
    params = _check_params(params)
    try:
        graph, params = expand_proposal(graph, params, shape=shape)
        g = infer_shape(graph, shape=shape, params=params)
    except BridgeError:
        g = Graph(graph.outputs, dict(graph.attrs), nodes=graph.nodes)
        g.attrs["shape"] = [None] * g.num_entries
    try:
        g = infer_type(g, params=params)
    except BridgeError:
        g.attrs["dtype"] = [None] * g.num_entries
    missing, too_new = _collect_unsupported(g, opset, _node_views(g, Builder(opset), {}, params))
    for op, nodes in too_new.ops.items():
        for name in nodes:
            missing.add(op, name, "needs a newer opset")
    return missing.ops


def _node_views(g: Graph, b: Builder, value_of: dict, params: dict):
    """node -> (ctx, attrs, inputs): what a handler gets besides the node itself."""
    from nnvm_bridge.ops import node_attrs

    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]
    ptr = g.node_row_ptr

    def node_view(node):
        nid = g.node_id(node)
        in_ids = [ptr[g.node_id(e.node)] + e.index for e in node.inputs]
        out_ids = range(ptr[nid], ptr[nid + 1])
        ctx = NodeContext(b, node, [shapes[i] for i in in_ids], [dtypes[i] for i in in_ids],
                          [shapes[i] for i in out_ids], [dtypes[i] for i in out_ids],
                          [params.get(e.node.name) if e.node.is_variable else None for e in node.inputs])
        if node.subgraphs:
            ctx.build_body = lambda body, s, d, outer: body_proto(body, s, d, outer, b.opset,
                                                                  b.fresh(f"{node.name}_body"))
        return ctx, node_attrs(node), [value_of.get((id(e.node), e.index)) for e in node.inputs]
    return node_view


def body_proto(body: Graph, shapes, dtypes, outer: dict, opset: int, prefix: str):
    """The GraphProto of a control-flow body (ir/control.py): its formals take ``shapes``/``dtypes``; a formal in
    ``outer`` reads that outer-scope value instead of being an input (ONNX If captures everything so, Loop its
    captured values); every other value is renamed under ``prefix`` so no name clashes with the outer graph."""
    import onnx

    from nnvm_bridge.ir.control import body_inputs

    formals = body_inputs(body)
    model = build_model(body, {}, opset, False, InlineSink(), shape={f: s for f, s in zip(formals, shapes)},
                        dtype={f: d for f, d in zip(formals, dtypes)}, graph_name=prefix)
    graph = model.graph
    names = {vi.name for vi in graph.input} | {t.name for t in graph.initializer} | \
        {o for n in graph.node for o in n.output} | {vi.name for vi in graph.output}
    mapping = {name: outer.get(name, f"{prefix}/{name}") for name in names}
    declared = {vi.name: vi for vi in graph.input}
    inputs = [declared.get(f) or _value_info(f, d or "float32", s, False)
              for f, s, d in zip(formals, shapes, dtypes) if f not in outer]
    del graph.input[:]
    graph.input.extend(inputs)
    for vi in graph.output:  # an output that is an outer value must still be a node's output
        if vi.name in outer:
            copy = f"{prefix}/{vi.name}_out"
            graph.node.append(onnx.helper.make_node("Identity", [vi.name], [copy], name=copy))
            mapping[copy] = copy
            vi.name = copy
    _rename_graph(graph, mapping)
    return graph


def _subgraph_reads(nodes) -> set:
    """The names the subgraphs of ``nodes`` read (If branches read outer values without listing them)."""
    out = set()
    for n in nodes:
        for a in n.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                out |= {x for m in g.node for x in m.input} | _subgraph_reads(g.node)
    return out


def _rename_graph(graph, mapping):
    """Rename values in ``graph`` and in the subgraphs of its nodes (which may read its values)."""
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        vi.name = mapping.get(vi.name, vi.name)
    for t in graph.initializer:
        t.name = mapping.get(t.name, t.name)
    for n in graph.node:
        n.input[:] = [mapping.get(x, x) if x else x for x in n.input]
        n.output[:] = [mapping.get(x, x) for x in n.output]
        for a in n.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                _rename_graph(g, mapping)


def _value_info(name, dtype, shape, dynamic_batch):
    from onnx import helper

    if shape is None:
        return helper.make_tensor_value_info(name, _dt.to_onnx(dtype), None)
    dims = [format_dim(d) if is_symbolic(d) else d for d in shape]  # a symbolic dim is a dim_param
    if dynamic_batch and dims:
        dims[0] = "N"
    return helper.make_tensor_value_info(name, _dt.to_onnx(dtype), dims)


def _symbolic_input_shapes(graph, params, shape, dynamic_axes):
    """``shape`` with the axes named in ``dynamic_axes`` ({input: {axis: name}} or {input: [axes]}) made
    symbolic; the other dims come from the given shapes or the graph's own."""
    from nnvm_bridge.ir.passes import infer_shape

    known = infer_shape(graph, shape=shape, params=params)
    inputs = {n.name: known.shape_of(n[0]) for n in graph.variables if n.name not in params}
    out = dict(shape or {})
    for name, axes in dynamic_axes.items():
        if name not in inputs:
            raise ShapeError(f"dynamic_axes names {name!r}, which is not a graph input; inputs are {sorted(inputs)}")
        dims = inputs[name]
        if dims is None:
            raise ShapeError("dynamic_axes needs the rank of this input; give its shape", node=name)
        named = axes if isinstance(axes, dict) else {a: None for a in axes}
        dims = list(dims)
        for axis, sym_name in named.items():
            if not isinstance(axis, int) or not -len(dims) <= axis < len(dims):
                raise ShapeError(f"dynamic axis {axis!r} is out of range for a {len(dims)}-d input", node=name)
            dims[axis] = sym(str(sym_name)) if sym_name else anonymous_dim(name, axis % len(dims))
        out[name] = tuple(dims)
    return out


def build_model(graph: Graph, params: dict, opset: int, dynamic_batch: bool, sink, shape=None, dtype=None,
                graph_name: str = "nnvm_bridge", dynamic_axes=None):
    """Emit the ModelProto; initializers for parameters come from ``sink``."""
    import onnx
    from onnx import helper

    from nnvm_bridge.ir.passes import infer_shape, infer_type
    from nnvm_bridge.ops import check_node, get_op

    if not isinstance(graph, Graph):
        raise InvalidModelError(f"to_onnx expects an nnvm_bridge Graph, got {type(graph).__name__}")
    for node in graph.op_nodes():
        check_node(node)
    if dynamic_axes:
        shape = _symbolic_input_shapes(graph, params, shape, dynamic_axes)
    graph, params = expand_proposal(graph, params, shape=shape)  # no ONNX op: other IR ops (ir/passes)
    # Unsupported ops are reported before a shape error: the IR's shape rules may not know
    # a layout that is itself the reason a node cannot be exported.
    try:
        g = infer_shape(graph, shape=shape, params=params)
        shape_error = None
    except ShapeError as exc:
        g, shape_error = Graph(graph.outputs, dict(graph.attrs), nodes=graph.nodes), exc
        g.attrs["shape"] = [None] * g.num_entries
    g = infer_type(g, dtype=dtype, params=params)
    shapes, dtypes = g.attrs["shape"], g.attrs["dtype"]
    ptr = g.node_row_ptr

    b = Builder(opset, dynamic_batch)
    value_of = {}

    def entry_key(e):
        return (id(e.node), e.index)

    node_view = _node_views(g, b, value_of, params)

    _prescan(g, opset, node_view)
    if shape_error is not None:
        raise shape_error

    out_names = g.output_names()
    wanted = {}
    for e, name in zip(g.outputs, out_names):
        wanted.setdefault(entry_key(e), name)
    for node in g.variables:
        b.reserve(node.name)
    for name in out_names:
        b.reserve(name)

    # The ModelProto is filled in place: make_graph/make_model would copy every weight again.
    model = onnx.ModelProto()
    graph_inputs = []
    seen_vars, param_names = set(), []
    for node in g.nodes:
        if not node.is_variable:
            continue
        value_of[(id(node), 0)] = node.name
        if node.name in seen_vars:
            continue  # variables are named values: same name, same input or parameter
        seen_vars.add(node.name)
        eid = ptr[g.node_id(node)]
        if node.name in params:
            param_names.append(node.name)
        else:
            if shapes[eid] is None:
                raise ShapeError("the shape of this graph input is unknown; pass shape= or set __shape__",
                                 node=node.name)
            graph_inputs.append(_value_info(node.name, dtypes[eid] or "float32", shapes[eid], dynamic_batch))

    for node in g.op_nodes():
        ctx, attrs, inputs = node_view(node)
        handler = ONNX_EXPORT.get(get_op(node.op).name, opset, node.name)
        b.scope = node.name
        start = len(b.nodes)
        try:
            result = handler(ctx, node, attrs, inputs)
        except UnsupportedOperatorError:
            raise
        except BridgeError as exc:
            if exc.node is None:  # say which node the converter was working on
                raise type(exc)(exc.bare_message, node=node.name, op=node.op) from None
            raise
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError) as exc:
            raise InvalidModelError(f"cannot convert to ONNX: {exc}", node=node.name, op=node.op) from None
        results = [result] if isinstance(result, str) else list(result)
        created = {}
        for n in b.nodes[start:]:
            for o in n.output:
                created[o] = n
        for k, value in enumerate(results):
            if value is None:
                continue
            key = (id(node), k)
            if value in created:
                want = wanted.get(key) or b.fresh(node.name if k == 0 else f"{node.name}_output{k}")
                _rename(b.nodes[start:], value, want)
                del created[value]
                value = want
            value_of[key] = value

    outputs, seen = [], set()
    for e, name in zip(g.outputs, out_names):
        value = value_of.get(entry_key(e))
        if value is None:
            raise UnsupportedOperatorError({f"{e.node.op} (output {e.index})": [e.node.name]},
                                           direction=f"ONNX export at opset {opset}")
        if value != name or name in seen:
            b.scope = name
            b.op("Identity", [value], outputs=[name])
        seen.add(name)
        eid = g.entry_id(e)
        outputs.append(_value_info(name, dtypes[eid] or "float32", shapes[eid], dynamic_batch))

    graph_proto = model.graph
    graph_proto.name = graph_name
    graph_proto.node.extend(b.nodes)
    graph_proto.input.extend(graph_inputs)
    graph_proto.output.extend(outputs)
    # Parameters are written last, and only those a node reads (batch_norm with scale=False
    # does not read gamma, for example): the streaming sink then never writes dead bytes.
    used = {name for n in b.nodes for name in n.input} | {o.name for o in outputs} | _subgraph_reads(b.nodes)
    for name in param_names:
        if name in used:
            sink.write_into(graph_proto.initializer.add(), name, params[name])
    graph_proto.initializer.extend(t for t in b.initializers if t.name in used)  # not those moved into functions
    opset_ids = [helper.make_opsetid("", opset)]
    model.opset_import.extend(opset_ids)
    model.producer_name = PRODUCER
    model.producer_version = _version()
    model.ir_version = helper.find_min_ir_version_for(opset_ids, ignore_unknown=True)
    if b.functions:
        model.functions.extend(b.functions.values())
        model.opset_import.append(helper.make_opsetid(BRIDGE_DOMAIN, 1))
        model.ir_version = max(model.ir_version, FUNCTION_IR_VERSION)
    return model


def _rename(nodes, old, new):
    for n in nodes:
        for i, o in enumerate(n.output):
            if o == old:
                n.output[i] = new
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new


def _version():
    try:
        from nnvm_bridge.version import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "0"


def _params_bytes(graph: Graph, params: dict) -> int:
    return sum(params[n.name].nbytes for n in graph.variables if n.name in params)


def to_onnx(graph, params, opset=None, dynamic_batch=False, *, shape=None, dtype=None, path=None,
            external_data=None, external_threshold=EXTERNAL_DATA_THRESHOLD, check=True, keep_weights=True,
            dynamic_axes=None):
    """Convert an NNVM graph and its params to an ONNX ModelProto.

    opset: 11..21 (default 17); the model imports exactly that default-domain opset.
    dynamic_batch: make dim 0 of inputs and outputs symbolic ("N").
    dynamic_axes: ``{input: {axis: name}}`` (or ``{input: [axes]}``), as torch.onnx users know it: those input
    axes become symbolic, shapes are inferred symbolically through the graph, and every symbolic dim is
    written as a ``dim_param``.  Dims that are symbolic in the graph itself (an ONNX file's dim_params, MXNet's
    0) are written as dim_params too.
    shape / dtype: input shapes / dtypes overriding the variables' ``__shape__``/``__dtype__`` hints.
    path: also save the model there; parameters go to ``<path>.data`` when ``external_data`` is
    True, or when it is None and they exceed ``external_threshold`` bytes.
    check: run onnx.checker.check_model(full_check=True) on the result.
    keep_weights: with path= and inline weights, False returns the ModelProto without its own copy
    of the weights (tensors of 1 MiB or more are external-data references to their bytes inside the
    written file; ``onnx.load(path)`` gives the whole model).  The CLI uses it: exporting VGG16 then
    peaks at about 1.1x the weights instead of 2.5x.
    """
    opset = _check_opset(opset)
    params = _check_params(params)
    big = isinstance(graph, Graph) and _params_bytes(graph, params) > external_threshold
    external = big if external_data is None else bool(external_data)
    if path is None:
        if big:
            raise ParamsError(f"the parameters exceed {external_threshold} bytes, more than one ONNX protobuf "
                              "can hold; pass path= (or use save_onnx) to write them as external data")
        model = build_model(graph, params, opset, dynamic_batch, InlineSink(), shape=shape, dtype=dtype,
                            dynamic_axes=dynamic_axes)
        if check:
            _check(model)
        return model
    path = os.fspath(path)
    if big and not external:
        raise ParamsError(f"the parameters exceed {external_threshold} bytes, more than one ONNX protobuf can "
                          "hold; leave external_data=None (or True) to write them to a .data file")
    if not external:
        # The weights go from the arrays straight into the file, the checker reads a view of the
        # file that references them, and only then does the returned proto get its own copy:
        # at no time are there more than two copies of the weights in memory.
        sink = DeferredInlineSink()
        model = build_model(graph, params, opset, dynamic_batch, sink, shape=shape, dtype=dtype,
                            dynamic_axes=dynamic_axes)
        layout = write_model_streamed(model, path, sink)
        view = checker_view(model, sink, layout, os.path.basename(path)) if check or not keep_weights else None
        if check:
            _check_view(view, path)
        if not keep_weights:
            return view
        sink.fill(model)
        return model
    data_path, location = data_file_for(path)
    sink = ExternalDataSink(data_path, location)
    try:
        model = build_model(graph, params, opset, dynamic_batch, sink, shape=shape, dtype=dtype,
                            dynamic_axes=dynamic_axes)
    except BaseException:
        sink.close()
        os.remove(data_path)  # no half-written data file next to a model that was not written
        raise
    sink.close()
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    if check:
        _check(path)
    return model


def save_onnx(model_or_graph, path, params=None, *, external_data=None, **kwargs):
    """Save a ModelProto, or export a Graph (with ``params``) straight to ``path``.

    Large models get external data (``<path>.data``) automatically; see :func:`to_onnx`.
    Returns the ModelProto.
    """
    import onnx

    if isinstance(model_or_graph, onnx.ModelProto):
        save_model_proto(model_or_graph, os.fspath(path), external=external_data)
        return model_or_graph
    return to_onnx(model_or_graph, params, path=path, external_data=external_data, **kwargs)


def _check_view(view, path):
    """onnx.checker (full_check) for a file written by write_model_streamed, without loading its
    weights: checking the path itself would read the file into a string and parse it (two more
    copies of the weights).  The checker reads ``view`` (see writer.checker_view), saved beside
    the model so that its external-data references resolve to the model file."""
    import tempfile

    fd, view_path = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".check.onnx",
                                     dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(view.SerializeToString())
        _check(view_path)
    finally:
        os.remove(view_path)


def _check(model_or_path):
    import onnx

    try:
        onnx.checker.check_model(model_or_path, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        # A failure here is a bug in a converter, not in the user's model: say so plainly.
        raise InvalidModelError(f"the exported ONNX model failed onnx.checker: {exc}") from exc
