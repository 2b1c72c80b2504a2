"""The package layers, checked on the import graph (function-local imports count: a lazy import is
still a dependency).

core (errors, registry, ir/, ops/) -> importers (frontend/onnx, frontend/mxnet) -> emitters (frontend_ext/)
-> facade (api, cli, model_files, bench, the nnvm_bridge and nnvm_bridge.frontend packages).
No module imports a layer above its own, and the graph has no cycle.
"""
from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("nnvm_bridge", "frontend_ext")

# Longest prefix wins; a package's own __init__ is matched by its exact name.
LAYERS = {
    "nnvm_bridge.errors": 0, "nnvm_bridge.registry": 0, "nnvm_bridge.version": 0,
    "nnvm_bridge.ir": 0, "nnvm_bridge.ops": 0,
    "nnvm_bridge.frontend.onnx": 1, "nnvm_bridge.frontend.mxnet": 1,
    "frontend_ext": 2,
    "nnvm_bridge": 3, "nnvm_bridge.frontend": 3,
}
NAMES = ["core", "importers", "emitters", "facade"]


def _modules():
    out = {}
    for pkg in PACKAGES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].split(os.sep)
                    is_pkg = rel[-1] == "__init__"
                    if is_pkg:
                        rel = rel[:-1]
                    out[".".join(rel)] = (os.path.join(dirpath, f), is_pkg)
    return out


def _imports(name, path, is_pkg, known):
    """Every module ``name`` imports (module level or inside functions), resolved to known modules."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            # "from pkg import sub" imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _layer(mod):
    best = max((p for p in LAYERS if mod == p or mod.startswith(p + ".")), key=len, default=None)
    return LAYERS[best] if best is not None else None


def _graph():
    mods = _modules()
    return {name: _imports(name, path, is_pkg, mods) for name, (path, is_pkg) in mods.items()}


def test_every_module_has_a_layer():
    assert [m for m in _graph() if _layer(m) is None] == []


def test_no_module_imports_a_layer_above_its_own():
    bad = [f"{m} ({NAMES[_layer(m)]}) imports {t} ({NAMES[_layer(t)]})"
           for m, targets in sorted(_graph().items()) for t in sorted(targets) if _layer(t) > _layer(m)]
    assert bad == []


def test_import_graph_has_no_cycle():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []
