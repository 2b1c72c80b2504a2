"""NNVM graph JSON (and MXNet symbol JSON) reading and writing.

``parse_json`` validates the *structure* of a graph JSON (node list, input triples, heads) and
returns plain records; it is shared by the NNVM loader below and by the MXNet importer, whose
op names are MXNet's.  ``load_json`` builds an IR :class:`Graph` whose ops must be in the NNVM
op table; ``save_json`` writes NNVM graph JSON.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import InvalidModelError
from . import dtypes as _dt
from .graph import Entry, Graph, Node
from .symbolic import format_dim, is_symbolic, parse_dim

HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")


class TypedAttr(NamedTuple):
    """A graph attribute kept as NNVM's ``[type_name, value]`` pair."""

    type: str
    value: object


@dataclass
class RawNode:
    op: str
    name: str
    inputs: list  # [(node_id, index, version)]
    attrs: dict
    control_deps: list = field(default_factory=list)
    subgraphs: list = field(default_factory=list)


@dataclass
class RawGraph:
    nodes: list
    heads: list  # [(node_id, index, version)]
    attrs: dict
    arg_nodes: list
    source: str | None = None


def read_text(path_or_text, what="graph JSON") -> tuple:
    """Return (text, source_name) from a path or a JSON string."""
    if isinstance(path_or_text, (bytes, bytearray)):
        try:
            return bytes(path_or_text).decode("utf-8"), None
        except UnicodeDecodeError:
            raise InvalidModelError(f"{what} is not UTF-8 text") from None
    text = str(path_or_text)
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        return text, None
    path = os.fspath(path_or_text)
    if not os.path.exists(path):
        raise InvalidModelError(f"{what} file does not exist", file=path)
    if os.path.isdir(path):
        raise InvalidModelError(f"expected a {what} file, got a directory", file=path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidModelError(f"cannot read {what}: {exc.strerror}", file=path) from None
    try:
        return data.decode("utf-8"), path
    except UnicodeDecodeError:
        raise InvalidModelError(f"{what} is not UTF-8 text", file=path) from None


def _entry(v, what, n_nodes, limit, src):
    if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= 3 or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise InvalidModelError(f"{what}: expected [node_id, index, version], got {v!r}"[:200], file=src)
    nid = v[0]
    idx = v[1] if len(v) > 1 else 0
    ver = v[2] if len(v) > 2 else 0
    if not 0 <= nid < limit:
        kind = "refers to a later node (the graph is not in topological order, or has a cycle)" \
            if 0 <= nid < n_nodes else "is out of range"
        raise InvalidModelError(f"{what}: node id {nid} {kind}", file=src)
    if idx < 0:
        raise InvalidModelError(f"{what}: negative output index {idx}", file=src)
    return (nid, idx, ver)


def parse_json(path_or_text, what="graph JSON") -> RawGraph:
    text, src = read_text(path_or_text, what)
    try:
        obj = json.loads(text)
    except RecursionError:
        raise InvalidModelError(f"{what} is nested too deeply", file=src) from None
    except ValueError as exc:
        raise InvalidModelError(f"{what} is not valid JSON: {exc}", file=src) from None
    return parse_obj(obj, what, src)


def parse_obj(obj, what="graph JSON", src=None) -> RawGraph:
    if not isinstance(obj, dict):
        raise InvalidModelError(f"{what} must be a JSON object", file=src)
    nodes_js = obj.get("nodes")
    if not isinstance(nodes_js, list) or not nodes_js:
        raise InvalidModelError(f"{what} has no 'nodes' list", file=src)
    heads_js = obj.get("heads")
    if not isinstance(heads_js, list):
        raise InvalidModelError(f"{what} has no 'heads' list", file=src)
    n = len(nodes_js)
    nodes = []
    for i, js in enumerate(nodes_js):
        if not isinstance(js, dict):
            raise InvalidModelError(f"node {i} is not a JSON object", file=src)
        op, name = js.get("op"), js.get("name")
        if not isinstance(op, str) or not isinstance(name, str):
            raise InvalidModelError(f"node {i} lacks a string 'op' or 'name'", file=src)
        attrs = {}
        for key in ("param", "attr", "attrs"):  # legacy fields first, 'attrs' wins
            a = js.get(key)
            if a is None:
                continue
            if not isinstance(a, dict):
                raise InvalidModelError(f"'{key}' is not an object", node=name, op=op, file=src)
            for k, v in a.items():
                if isinstance(v, (dict, list)):
                    raise InvalidModelError(f"attribute {k!r} is not a string", node=name, op=op, file=src)
                attrs[str(k)] = v if isinstance(v, str) else json.dumps(v)
        for k in HIDDEN_KEYS:
            attrs.pop(k, None)
        if op == "null":
            # MXNet copies the owning op's attrs onto auto-created weights: keep only hints.
            attrs = {k: v for k, v in attrs.items() if k.startswith("__") and k.endswith("__")}
        ins = js.get("inputs", [])
        if not isinstance(ins, list):
            raise InvalidModelError("'inputs' is not a list", node=name, op=op, file=src)
        inputs = [_entry(v, f"node {name!r} input", n, i, src) for v in ins]
        cdeps = js.get("control_deps", []) or []
        if not isinstance(cdeps, list) or not all(isinstance(c, int) and 0 <= c < i for c in cdeps):
            raise InvalidModelError("bad 'control_deps'", node=name, op=op, file=src)
        subgraphs = js.get("subgraphs", []) or []
        nodes.append(RawNode(op, name, inputs, attrs, list(cdeps), list(subgraphs)))
    heads = [_entry(v, "graph head", n, n, src) for v in heads_js]
    if not heads:
        raise InvalidModelError(f"{what} has no outputs ('heads' is empty)", file=src)
    arg_nodes = obj.get("arg_nodes", [])
    gattrs = obj.get("attrs", {}) or {}
    if not isinstance(gattrs, dict):
        raise InvalidModelError("graph 'attrs' is not an object", file=src)
    return RawGraph(nodes, heads, gattrs, arg_nodes if isinstance(arg_nodes, list) else [], src)


def _decode_graph_attrs(raw: dict, src=None) -> dict:
    out = {}
    for key, pair in raw.items():
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InvalidModelError(f"graph attribute {key!r} is not a [type, value] pair", file=src)
        typ, val = pair
        try:
            if key == "shape" and typ == "list_shape":
                # symbolic dims are written as their text form ("N", "2*S + 1")
                out[key] = [tuple(parse_dim(x) if isinstance(x, str) else int(x) for x in s) if s else None
                            for s in val]
            elif key == "input_order" and typ == "list_str":
                out[key] = [str(x) for x in val]
            elif key == "structure" and typ == "str":  # sequences and optionals at the edge (ir/structure.py)
                out[key] = str(val)
            elif key == "dtype" and typ == "list_int":
                out[key] = [None if c == -1 else _dt.from_nnvm(c) for c in val]
            else:
                out[key] = TypedAttr(typ, val)
        except (TypeError, ValueError) as exc:
            raise InvalidModelError(f"graph attribute {key!r}: {exc}", file=src) from None
    return out


def build_graph(raw: RawGraph, check_ops: bool = True) -> Graph:
    """Turn parsed records into an IR Graph (ops checked against the NNVM op table)."""
    from ..ops import check_node, num_outputs

    nodes = []
    for rn in raw.nodes:
        subgraphs = [build_graph(parse_obj(sg, "subgraph", raw.source), check_ops) if isinstance(sg, dict) else sg
                     for sg in rn.subgraphs]
        node = Node(rn.op, rn.name, [], rn.attrs, [nodes[c] for c in rn.control_deps], subgraphs)
        node.inputs = [Entry(nodes[nid], idx, ver) for nid, idx, ver in rn.inputs]
        nodes.append(node)
    if check_ops:
        from ..errors import UnsupportedOperatorError
        from ..ops import OPS, canonical_name

        unknown = {}
        for nd in nodes:
            if nd.op != "null" and canonical_name(nd.op) not in OPS:
                unknown.setdefault(nd.op, []).append(nd.name)
        if unknown:
            raise UnsupportedOperatorError(unknown, direction="the NNVM op table", file=raw.source)
        for nd in nodes:
            if nd.op != "null":
                nd.op = canonical_name(nd.op)
                check_node(nd, file=raw.source)
    outputs = []
    for nid, idx, ver in raw.heads:
        node = nodes[nid]
        if check_ops and node.op != "null" and idx >= num_outputs(node):
            raise InvalidModelError(f"graph head refers to output {idx}, which does not exist", node=node.name,
                                    op=node.op, file=raw.source)
        outputs.append(Entry(node, idx, ver))
    return Graph(outputs, _decode_graph_attrs(raw.attrs, raw.source), nodes=nodes)


def load_json(path_or_text) -> Graph:
    """Load NNVM graph JSON (a path or a JSON string) into a Graph."""
    return build_graph(parse_json(path_or_text))


def graph_to_obj(graph: Graph) -> dict:
    nodes_js = []
    for node in graph.nodes:
        js = {"op": node.op, "name": node.name}
        if node.attrs:
            js["attrs"] = {k: node.attrs[k] for k in sorted(node.attrs)}
        js["inputs"] = [[graph.node_id(e.node), e.index, e.version] for e in node.inputs]
        if node.control_deps:
            js["control_deps"] = [graph.node_id(c) for c in node.control_deps]
        if node.subgraphs:
            js["subgraphs"] = [graph_to_obj(sg) for sg in node.subgraphs]  # MXNet's field: one graph each
        nodes_js.append(js)
    attrs = {}
    for key in sorted(graph.attrs):
        val = graph.attrs[key]
        if isinstance(val, TypedAttr):
            attrs[key] = [val.type, val.value]
        elif key == "shape":
            attrs[key] = ["list_shape", [[format_dim(d) if is_symbolic(d) else int(d) for d in s] if s is not None else []
                                         for s in val]]
        elif key == "input_order":
            attrs[key] = ["list_str", [str(x) for x in val]]
        elif key == "dtype":
            attrs[key] = ["list_int", [-1 if d is None else _dt.to_nnvm(d) for d in val]]
        else:
            attrs[key] = ["str", str(val)]
    obj = {
        "nodes": nodes_js,
        "arg_nodes": graph.arg_nodes,
        "node_row_ptr": graph.node_row_ptr,
        "heads": [[graph.node_id(e.node), e.index, e.version] for e in graph.outputs],
    }
    if attrs:
        obj["attrs"] = attrs
    return obj


def save_json(graph: Graph, path=None) -> str:
    """NNVM graph JSON text (written to ``path`` too when given)."""
    text = json.dumps(graph_to_obj(graph), indent=2)
    if path is not None:
        with open(path, "w") as f:
            f.write(text)
    return text
