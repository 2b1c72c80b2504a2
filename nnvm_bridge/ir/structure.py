"""ONNX sequence and optional values at a graph's edge: the IR holds only tensors.

An ONNX model may take or give a sequence of tensors or an optional value. The importer resolves their
structure (a sequence's length, an optional's presence) at import time, so the IR graph has one flat input or
output per tensor, and ``graph.attrs["structure"]`` (JSON text) says how the model's own inputs and outputs are
made of them:

    {"inputs": [[name, tree], ...], "outputs": [[name, tree], ...]}

where a *tree* is the flat tensor's name (a tensor, or an optional that holds one), a list of trees (a
sequence, in order) or None (an empty optional).  Graphs of tensors only have no ``structure``.  The facade
(a compiled model, the conformance harness) uses the functions below to take the model's values and give its
values back; the graph emitters (to_relax, to_mxnet, to_onnx) only see the flat tensors.
"""
from __future__ import annotations

import json

from ..errors import ShapeError

KEY = "structure"


def describe(inputs, outputs) -> str:
    """The ``graph.attrs["structure"]`` text for ``[(name, tree)]`` inputs and outputs."""
    return json.dumps({"inputs": [[n, t] for n, t in inputs], "outputs": [[n, t] for n, t in outputs]})


def of(graph):
    """The graph's structure ({"inputs": [...], "outputs": [...]} with (name, tree) pairs), or None."""
    text = graph.attrs.get(KEY) if graph is not None else None
    return parse(text) if text else None


def parse(text):
    raw = json.loads(text) if isinstance(text, str) else text
    return {side: [(name, tree) for name, tree in raw.get(side, [])] for side in ("inputs", "outputs")}


def leaves(tree) -> list:
    """The flat tensor names of a tree, in order."""
    if tree is None:
        return []
    if isinstance(tree, str):
        return [tree]
    return [name for item in tree for name in leaves(item)]


def describe_tree(tree) -> str:
    if tree is None:
        return "an empty optional"
    if isinstance(tree, str):
        return "a tensor"
    return f"a sequence of {len(tree)}"


def flatten(tree, value, what) -> dict:
    """{flat name: array} for ``value`` laid out as ``tree`` (a list for a sequence, None for an empty optional)."""
    if isinstance(tree, str):
        if value is None or isinstance(value, (list, tuple)):
            raise ShapeError(f"{what} is {describe_tree(tree)} in the imported model, got "
                             f"{'None' if value is None else f'a list of {len(value)}'}")
        return {tree: value}
    if tree is None:
        if value is not None:
            raise ShapeError(f"{what} is an empty optional in the imported model (imported with shape None); "
                             "import again with its shape to pass a value")
        return {}
    if not isinstance(value, (list, tuple)) or len(value) != len(tree):
        got = f"a list of {len(value)}" if isinstance(value, (list, tuple)) else type(value).__name__
        raise ShapeError(f"{what} is a sequence of {len(tree)} tensors in the imported model, got {got}; a "
                         "sequence's length is fixed at import: import again with shape={name: [shape, ...]}")
    flat = {}
    for k, (t, v) in enumerate(zip(tree, value)):
        flat.update(flatten(t, v, f"{what}[{k}]"))
    return flat


def rebuild(tree, arrays):
    """The value that ``tree`` describes, taking its tensors from the iterator ``arrays`` in order."""
    if tree is None:
        return None
    if isinstance(tree, str):
        return next(arrays)
    return [rebuild(t, arrays) for t in tree]


def flat_inputs(structure, inputs: dict) -> dict:
    """The model's inputs ({name: array, list or None}) as the flat tensors the IR graph takes."""
    if structure is None:
        return dict(inputs)
    flat = {}
    for name, tree in structure["inputs"]:
        if name in inputs:
            flat.update(flatten(tree, inputs[name], f"input {name!r}"))
    return flat


def model_outputs(structure, arrays) -> list:
    """The model's outputs (lists for sequences, None for empty optionals) from the graph's flat outputs
    ``arrays``, which are the trees' leaves in order (passes may rename the IR's output nodes)."""
    if structure is None:
        return list(arrays)
    arrays = iter(arrays)
    return [rebuild(tree, arrays) for _, tree in structure["outputs"]]


def flat_shapes(structure, shapes):
    """A user's ``shape=`` dict with a sequence's shapes (a list, one shape per tensor) and optionals spread to
    the flat inputs; an empty optional has no tensor."""
    if structure is None or not isinstance(shapes, dict):
        return shapes
    trees = dict(structure["inputs"])
    flat = {}
    for name, shape in shapes.items():
        if name in trees:
            _spread(trees[name], shape, flat)
        else:
            flat[name] = shape
    return flat


def _spread(tree, shape, out):
    if isinstance(tree, str):
        out[tree] = shape
    elif tree is not None and isinstance(shape, (list, tuple)):
        for t, s in zip(tree, shape):
            _spread(t, s, out)
