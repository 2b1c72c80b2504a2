"""Checks of an ONNX model's structure before any converter runs.

What a stranger's file can get wrong, answered with the project's own errors instead of a
converter tripping over it later: no graph at all (an empty or foreign protobuf), no outputs,
a missing or impossible default-domain opset, and attributes whose type is not what the ONNX
schema declares (``kernel_shape`` given as a string, say).
"""
from __future__ import annotations

from ...errors import AttributeParseError, InvalidModelError, UnsupportedOpsetError

DEFAULT_DOMAINS = ("", "ai.onnx")

# The newest default-domain opset the converters claim: their versions were checked against ONNX's
# schema history up to here (tests/test_onnx_import_versions.py).  A newer model is refused rather
# than converted by converters written for older schemas.
NEWEST_OPSET = 28


def max_supported_opset() -> int:
    """The newest default-domain opset the importer accepts: NEWEST_OPSET, or the installed onnx
    package's newest when that is older (its schemas check the attribute types)."""
    from onnx import defs

    return min(NEWEST_OPSET, int(defs.onnx_opset_version()))


def check_opset(model, file=None) -> int:
    """The model's default-domain opset; UnsupportedOpsetError when it declares none (while using
    default-domain ops) or one outside 1..max_supported_opset()."""
    versions = [imp.version for imp in model.opset_import if imp.domain in DEFAULT_DOMAINS]
    uses_default = any((n.domain or "") in DEFAULT_DOMAINS for n in model.graph.node)
    if not versions:
        if uses_default:
            declared = ", ".join(f"{imp.domain}:{imp.version}" for imp in model.opset_import) or "none"
            raise UnsupportedOpsetError("the model imports no default-domain ('' or 'ai.onnx') opset but uses its "
                                        f"operators (opset imports: {declared})", file=file)
        return 1
    opset = int(max(versions))
    newest = max_supported_opset()
    if not 1 <= opset <= newest:
        raise UnsupportedOpsetError(f"default-domain opset {opset} is not supported; this importer handles "
                                    f"opsets 1..{newest}", file=file)
    return opset


def check_structure(model, file=None):
    """A graph that is there and declares outputs."""
    if not model.HasField("graph"):
        raise InvalidModelError("not an ONNX model: it has no graph (an empty or foreign file?)", file=file)
    if not len(model.graph.output):
        raise InvalidModelError("the ONNX graph declares no outputs", file=file)


def check_text_fields(model, file=None):
    """Names and op types must be text. protobuf hands a string field holding invalid UTF-8 back as bytes,
    which would otherwise surface later as a TypeError far from the cause (found by fuzzing)."""
    g = model.graph

    def bad(value):
        return not isinstance(value, str)
    for kind, items in (("graph input", g.input), ("graph output", g.output), ("initializer", g.initializer)):
        for i, item in enumerate(items):
            if bad(item.name):
                raise InvalidModelError(f"the name of {kind} #{i} is not valid UTF-8 text: {item.name!r}", file=file)
    for i, node in enumerate(g.node):
        fields = [("op_type", node.op_type), ("domain", node.domain), ("name", node.name)]
        fields += [("input", x) for x in node.input] + [("output", x) for x in node.output]
        fields += [("attribute name", a.name) for a in node.attribute]
        for what, value in fields:
            if bad(value):
                label = node.name if isinstance(node.name, str) and node.name else f"#{i}"
                raise InvalidModelError(f"node {label}: its {what} is not valid UTF-8 text: {value!r}", file=file)


def _node_name(node, index) -> str:
    return node.name or (node.output[0] if len(node.output) else f"{node.op_type}_{index}")


def check_attribute_types(model, opset: int, file=None):
    """Every attribute the schema declares must have the schema's type."""
    from onnx import AttributeProto, defs

    for i, node in enumerate(model.graph.node):
        domain = node.domain or ""
        if domain not in DEFAULT_DOMAINS:
            continue
        try:
            schema = defs.get_schema(node.op_type, opset, "")
        except Exception:  # noqa: BLE001 - unknown op or no schema at this opset: the pre-scan reports it
            continue
        for attr in node.attribute:
            spec = schema.attributes.get(attr.name)
            if spec is None:
                continue
            want = int(spec.type)
            if attr.type != want:
                got = AttributeProto.AttributeType.Name(attr.type) if attr.type in \
                    AttributeProto.AttributeType.values() else str(attr.type)
                raise AttributeParseError(
                    f"attribute {attr.name!r} has type {got}; {node.op_type}-{schema.since_version} declares "
                    f"{AttributeProto.AttributeType.Name(want)}", node=_node_name(node, i), op=node.op_type,
                    file=file)


def check_model(model, file=None) -> int:
    """All checks, in order; returns the default-domain opset."""
    check_structure(model, file)
    check_text_fields(model, file)
    opset = check_opset(model, file)
    check_attribute_types(model, opset, file)
    return opset
