"""from_onnx: ONNX ModelProto / file / bytes -> (NNVM Graph, params).

Steps: load (external data only from inside the model's folder), read the default-domain opset,
pre-scan every node for unsupported ops (reported together), sort the nodes topologically
(rejecting cycles), bind initializers (whether or not they are also graph inputs), then run one
versioned converter per node.  Constants and shape arithmetic fold while converting
(see context.py).

This module is the driver of the ONNX import table (registry.py): it imports every converter
module below, then marks the table loaded.
"""
from __future__ import annotations

import numpy as np

from ...errors import (BridgeError, DTypeError, InvalidModelError, OpTally, ShapeError, UnsupportedOperatorError,
                       UnsupportedOpsetError, require)
from ...ir import dtypes as _dt
from ...ir import structure
from ...ir.graph import Entry, Graph
from ...ir.symbolic import anonymous_dim, bind_shape, parse_dim, plain_symbol
from ...ops import num_visible_outputs
from . import (convert_control, convert_datadep, convert_deform_conv, convert_einsum, convert_extra,  # noqa: F401
               convert_image, convert_indexing, convert_linalg, convert_math, convert_nn, convert_quant,
               convert_random, convert_resize, convert_rnn, convert_roi, convert_scatter,
               convert_signal, convert_tensor, convert_training, run_time_values, shape_values)
from . import convert_sequence, structured_io  # noqa: F401  (sequences and optionals)
from . import convert_bridge_domain  # noqa: F401  (this project's own ops, written by to_onnx)
from .context import ImportContext, OnnxNode
from .graph_inputs import input_variable, tensor_type_dims, unknown_dim
from .registry import ONNX_IMPORT
from .sequence_values import is_structured
from .tensors import load_model, tensor_to_array
from .validate import DEFAULT_DOMAINS, check_model

ONNX_IMPORT.mark_loaded()


def register_onnx_op(op_type: str, fn, *, since=1, override: bool = False) -> None:
    """Plug-in hook: convert the default-domain ONNX op ``op_type`` from opset ``since`` (an int or a tuple of
    schema versions) with ``fn(ctx, node, attrs, inputs)``; an op of another domain is named
    "<domain>.<op type>" ("com.microsoft.QLinearConcat") with that domain's opset versions.  An existing
    (op, version) raises ValueError unless ``override=True``."""
    ONNX_IMPORT.add(op_type, fn, since=since, override=override)


def supported_ops() -> dict:
    """{ONNX op type: sorted schema versions with a converter} (the support matrix's ONNX import column)."""
    return ONNX_IMPORT.supported()


def model_opset(model) -> int:
    """The default-domain opset; 1 when the model declares none (as the ONNX spec says)."""
    versions = [imp.version for imp in model.opset_import if imp.domain in DEFAULT_DOMAINS]
    return int(max(versions)) if versions else 1


def declared_shape_dtype(vi):
    """What a graph input's ValueInfoProto declares: (shape with None for symbolic dims, or None;
    dtype name, or None)."""
    dims = declared_dims(vi)
    if dims is not None:
        dims = tuple(d if isinstance(d, int) and d > 0 else None for d in dims)
    return dims, _declared_dtype(vi)


def _declared_dtype(vi):
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None or not tt.elem_type:
        return None
    try:
        return _dt.from_onnx(tt.elem_type)
    except DTypeError:
        return None


def declared_dims(vi):
    """A graph input's declared shape with its symbolic dims, or None when not even the rank is declared
    (``graph_inputs.tensor_type_dims``)."""
    if not vi.type.HasField("tensor_type"):
        return None
    return tensor_type_dims(vi.type.tensor_type, vi.name)


def _input_shapes(g, initialized, given):
    """{graph input: shape} from the file's declarations and ``shape=``.  A given shape replaces the declared
    one (None or < 0 keeps the declared dim of that axis); its ints bind the symbols declared there, which
    then bind the same symbols in every other input."""
    declared = {vi.name: declared_dims(vi) for vi in g.input if vi.name not in initialized}
    shapes, values = {}, {}
    for name, dims in given.items():
        if name not in declared or dims is None:
            continue
        decl = declared[name]
        aligned = decl is not None and len(decl) == len(dims)
        dims = tuple((decl[i] if aligned else anonymous_dim(name, i)) if unknown_dim(d) else parse_dim(d)
                     for i, d in enumerate(dims))
        shapes[name] = dims
        for d_decl, d in zip(decl if aligned else (), dims):
            if isinstance(d, int) and plain_symbol(d_decl):
                values.setdefault(plain_symbol(d_decl), d)
    return {name: bind_shape(shapes.get(name, decl), values) for name, decl in declared.items()}


def _sort_nodes(nodes, known, file):
    """Kahn's order over ONNX tensor names; a leftover node means a cycle (or a missing input)."""
    producers = {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            if o:
                producers[o] = i
    indeg = [0] * len(nodes)
    users = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        needs = [x for x in n.inputs if x] + sorted(convert_control.outer_names(n.proto))  # subgraphs read outer names
        deps = {producers[x] for x in needs if x not in known and x in producers and producers[x] != i}
        indeg[i] = len(deps)
        for d in deps:
            users[d].append(i)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):
        stuck = [nodes[i] for i in range(len(nodes)) if indeg[i] > 0]
        raise InvalidModelError(f"graph contains a cycle through {len(stuck)} node(s)", node=stuck[0].name,
                                op=stuck[0].op_type, file=file)
    return [nodes[i] for i in order]


def table_key(node) -> str:
    """A node's key in the import table: the op type in the default domain, "<domain>.<op type>" in
    another (``com.microsoft.QLinearConcat``), so no other domain's op can take a default-domain name."""
    return node.op_type if node.domain in DEFAULT_DOMAINS else f"{node.domain}.{node.op_type}"


def domain_opsets(model, opset) -> dict:
    """{domain: declared opset}, the default domains at ``opset``."""
    versions = {imp.domain: int(imp.version) for imp in model.opset_import}
    versions.update(dict.fromkeys(DEFAULT_DOMAINS, opset))
    return versions


def _prescan(nodes, opsets, file):
    """Every op without a converter, reported at once; then every op whose converters are all
    newer than the model's opset of its domain."""
    missing = OpTally()
    nodes = nodes + [OnnxNode(p, i) for n in nodes for i, p in enumerate(convert_control.nested_nodes(n.proto))]
    for n in nodes:
        if table_key(n) not in ONNX_IMPORT:
            missing.add(n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}:{n.op_type}", n.name)
    missing.raise_if_any(direction=f"ONNX import (opset {opsets['']})", file=file)
    for n in nodes:
        ONNX_IMPORT.get(table_key(n), opsets.get(n.domain, 1), n.name)


def from_onnx(model, shape=None, dtype=None):
    """Import an ONNX model.

    ``shape``: {input name: shape} binds (or overrides) input shapes, symbolic dims included.
    ``dtype``: one dtype for every data input or {input name: dtype}.
    Returns ``(graph, params)`` with params {name: numpy array}.
    """
    require("onnx", "onnx")
    model, base_dir, file = load_model(model)
    opset = check_model(model, file)  # graph and outputs present, opset in range, attribute types
    g = model.graph
    ctx = ImportContext(opset, file=file, model=model)
    ctx.convert_node = lambda c, n: _convert_node(c, n, opsets.get(n.domain, 1))
    shape = dict(shape or {})
    per_dtype = dtype if isinstance(dtype, dict) else {}
    common_dtype = None if (dtype is None or isinstance(dtype, dict)) else _dt.canonical(dtype)

    nodes = [OnnxNode(p, i) for i, p in enumerate(g.node)]
    opsets = domain_opsets(model, opset)
    _prescan(nodes, opsets, file)

    # initializers first: a graph input with an initializer is an overridable parameter
    for t in g.initializer:
        ctx.vals[t.name] = tensor_to_array(t, base_dir, file)
        ctx.reserve(t.name)
        ctx.initializer_names.add(t.name)
    inputs, input_trees = [], []
    structured = {vi.name for vi in g.input if vi.name not in ctx.vals and structured_io.is_structured_type(vi.type)}
    for vi in g.input:
        ctx.reserve(vi.name)  # before a sequence's tensors are named
    input_shapes = _input_shapes(g, ctx.vals, {k: v for k, v in shape.items() if k not in structured})
    for vi in g.input:
        if vi.name in ctx.vals:
            continue
        if vi.name in structured:
            ctx.vals[vi.name], tree = structured_io.bind_input(ctx, vi, shape.get(vi.name), vi.name in shape)
            input_trees.append((vi.name, tree))
            inputs.extend(structure.leaves(tree))
            continue
        input_trees.append((vi.name, vi.name))
        s = input_shapes[vi.name]
        d = per_dtype.get(vi.name) or common_dtype or _declared_dtype(vi) or "float32"
        ctx.vals[vi.name] = input_variable(ctx, vi.name, s, _dt.canonical(d))
        inputs.append(vi.name)
    unknown_shape_keys = set(shape) - set(inputs) - set(ctx.vals) - structured
    if unknown_shape_keys:
        raise ShapeError(f"shape= names {sorted(unknown_shape_keys)}, which are not inputs of the model "
                         f"(inputs: {inputs})", file=file)

    # graph outputs keep their ONNX tensor names: no IR node may take one of them first
    for o in g.output:
        ctx.reserve(o.name)
    nodes = _sort_nodes(nodes, set(ctx.vals), file)
    consumers = {x for n in nodes for x in n.inputs if x} | {o.name for o in g.output}
    ctx.consumers = consumers
    for n in nodes:
        _convert_node(ctx, n, opsets.get(n.domain, 1))

    outputs, output_trees = _named_outputs(ctx, g, set(inputs) | ctx.initializer_names)
    graph = Graph(outputs)
    # the file's data inputs as it declares them, unused ones included: compiled models keep this signature
    graph.attrs["input_order"] = [name for name in inputs if name not in ctx.initializer_names]
    if structured or any(tree != name for name, tree in output_trees):  # sequences or optionals at the edge
        graph.attrs[structure.KEY] = structure.describe(input_trees, output_trees)
    used = {n.name for n in graph.nodes if n.is_variable}
    params = {k: np.ascontiguousarray(v) for k, v in ctx.params.items() if k in used}
    for t in g.initializer:
        if t.name in used and t.name not in params:
            params[t.name] = np.ascontiguousarray(ctx.vals[t.name])
    return graph, params


def _declared_rank(value_info):
    t = value_info.type.tensor_type
    return len(t.shape.dim) if value_info.type.HasField("tensor_type") and t.HasField("shape") else None


def _named_outputs(ctx, g, variable_names):
    """The IR output entries, arranged so that ``Graph.output_names()`` gives the ONNX output names, and each
    ONNX output's layout tree (its own name for a tensor; ir/structure.py for sequences and optionals, whose
    tensors are outputs of their own).

    A node whose only visible output is a graph output is renamed after that tensor (the
    converters named it after the ONNX *node*).  Outputs that cannot carry the name themselves get
    a ``copy`` node named after the tensor: one output of a multi-output node, a second graph
    output that is the same IR value, a folded constant or a renamed input/initializer.  An
    output that is a graph input or initializer under its own name stays that variable.
    """
    outputs, trees, by_name, named = [], [], {}, set()
    for o in g.output:
        if o.name not in ctx.vals:
            raise InvalidModelError(f"graph output {o.name!r} is produced by no node", file=ctx.file)
        ctx.node = None
        value = ctx.value(o.name)
        if is_structured(value):
            tree, flat = structured_io.output_leaves(ctx, o.name, value)
        else:
            tree, flat = o.name, [(o.name, o.name)]
        trees.append((o.name, tree))
        for name, x in flat:
            if name in by_name:  # the same output listed twice: one value (output_names dedups)
                outputs.append(by_name[name])
                continue
            e = ctx.entry(x)
            if name == o.name and _declared_rank(o) == 0 and ctx.shape(e) == (1,):
                e = ctx.emit1("reshape", [e], {"shape": ()})  # NNVM ops give (1,) where ONNX means a scalar
            by_name[name] = e = _name_output(ctx, e, name, variable_names, named)
            outputs.append(e)
    return outputs, trees


def _name_output(ctx, e, name, variable_names, named):
    node = e.node
    if node.is_variable and node.name == name:
        pass  # a graph input or initializer passed straight through keeps its name
    elif (not node.is_variable and id(node) not in named and e.index == 0 and name not in variable_names
          and num_visible_outputs(node) == 1):
        ctx.give_name(node, name)
        named.add(id(node))
    elif name not in variable_names:
        e = ctx.emit1("copy", [e])
        ctx.give_name(e.node, name)
    else:  # an invalid model reusing an input's name: keep the IR names unique
        e = ctx.emit1("copy", [e], name=name)
    return e


def _convert_node(ctx, n, opset):
    converter = ONNX_IMPORT.get(table_key(n), opset, n.name)
    ctx.node = n
    for x in n.inputs:
        if x and x not in ctx.vals:
            raise InvalidModelError(f"input {x!r} is produced by no node, graph input or initializer",
                                    node=n.name, op=n.op_type, file=ctx.file)
    symbolic = shape_values.evaluate(ctx, n)
    if symbolic is not None and not shape_values.has_dims(symbolic[0]):
        ctx.vals[n.outputs[0]] = shape_values.as_constant(*symbolic)  # the dims it needs are all known
        ctx.node = None
        return
    try:
        results = converter(ctx, n, n.attrs, n.inputs)
    except UnsupportedOperatorError:
        raise
    except BridgeError as exc:
        if exc.node is None:
            raise type(exc)(exc.bare_message, node=n.name, op=n.op_type, file=ctx.file) from None
        raise
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise InvalidModelError(f"cannot convert: {type(exc).__name__}: {exc}", node=n.name, op=n.op_type,
                                file=ctx.file) from None
    if isinstance(results, Entry) or not isinstance(results, (list, tuple)):
        results = [results]
    for i, name in enumerate(n.outputs):
        if not name:
            continue
        r = results[i] if i < len(results) else None
        if r is None:
            if name in ctx.consumers:
                raise UnsupportedOperatorError({f"{n.op_type} output {i}": [n.name]},
                                               direction="ONNX import", file=ctx.file)
            continue
        if isinstance(r, (np.generic, int, float, bool)):
            r = np.asarray(r)
        if not isinstance(r, np.ndarray) and not is_structured(r):
            value = ctx.const(r)
            if value is not None:
                r = value
        ctx.vals[name] = r
    ctx.keep_scalar(n)
    if symbolic is not None and isinstance(ctx.vals.get(n.outputs[0]), Entry):
        ctx.shape_values[n.outputs[0]] = symbolic[0]
    elif symbolic is None:
        run_time_values.name_run_time_ints(ctx, n)
        shape_values.record_partial(ctx, n)
    ctx.node = None


__all__ = ["from_onnx", "model_opset", "declared_shape_dtype", "declared_dims", "supported_ops",
           "UnsupportedOpsetError"]
