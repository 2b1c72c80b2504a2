"""Rewrite reshape special values (-2, -3, -4) into explicit shapes."""
from __future__ import annotations

from ..graph import Graph
from ..symbolic import SymbolicDimError, is_symbolic
from .rewrite import copy_node, rewrite

_SPECIAL = (-2, -3, -4)


def reshape_spec_tags(src, spec):
    """Walk an NNVM reshape spec over input shape ``src``.

    Returns one tag per output dim: ``("copy", i)`` for a ``0`` copying input dim ``i``,
    ``("infer",)`` for ``-1`` and ``("fixed",)`` for everything else.
    """
    tags, i, j = [], 0, 0
    spec = list(spec)
    while j < len(spec):
        v = spec[j]
        if v == 0:
            tags.append(("copy", i))
            i += 1
        elif v == -1:
            tags.append(("infer",))
            i += 1
        elif v == -2:
            tags.extend(("fixed",) for _ in src[i:])
            i = len(src)
        elif v == -3:
            tags.append(("fixed",))
            i += 2
        elif v == -4:
            tags.extend([("fixed",), ("fixed",)])
            i += 1
            j += 2
        else:
            tags.append(("fixed",))
            i += 1
        j += 1
    return tags


def onnx_compatible_spec(src, spec):
    """An equivalent reshape spec that uses only positives, 0 and -1 (ONNX Reshape semantics).

    ``0`` is kept where it copies the input dim at the same position and ``-1`` where it was,
    so a symbolic batch dimension stays symbolic; other dims become explicit numbers.
    """
    from ...ops.transform import reshape_output_shape

    out = reshape_output_shape(src, spec)
    tags = reshape_spec_tags(src, spec)
    new = []
    for k, (dim, tag) in enumerate(zip(out, tags)):
        if tag == ("copy", k) or (is_symbolic(dim) and k < len(src) and src[k] == dim):
            new.append(0)
        elif tag == ("infer",) or (is_symbolic(dim) and -1 not in new and ("infer",) not in tags):
            new.append(-1)
        else:
            new.append(int(dim))  # SymbolicDimError: no 0/-1 form exists for this symbolic reshape
    return tuple(new)


def resolve_reshape(graph: Graph, shape=None, params=None) -> Graph:
    """Replace reshape specs containing -2/-3/-4 by ONNX-compatible ones, using inferred shapes.

    Reshapes whose input shape cannot be inferred are left unchanged.  The graph structure does
    not change, so inferred ``shape``/``dtype`` graph attributes stay valid and are kept.
    """
    from ...ops import get_op, node_attrs
    from .infer import infer_shape

    if not any(n.op == "reshape" and any(v in _SPECIAL for v in node_attrs(n).shape) for n in graph.nodes):
        return rewrite(graph, keep_attrs=True)
    shaped = graph if "shape" in graph.attrs and shape is None and params is None else \
        infer_shape(graph, shape=shape, params=params)
    op = get_op("reshape")

    def visit(node, inputs, rw):
        if node.op != "reshape":
            return None
        spec = node_attrs(node).shape
        if not any(v in _SPECIAL for v in spec):
            return None
        src = shaped.shape_of(node.inputs[0])
        if src is None:
            return None
        try:
            new_spec = onnx_compatible_spec(src, spec)
        except SymbolicDimError:
            return None  # left for the emitter, which says what it cannot express
        attrs = dict(node.attrs)
        attrs["shape"] = op.format_attrs({"shape": new_spec}, keep_defaults=True)["shape"]
        return copy_node(node, inputs, attrs)

    return rewrite(graph, visit, keep_attrs=True)
