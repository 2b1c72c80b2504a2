"""GluonCV / GluonNLP models with random weights, for the tests and tools/gluon_model_sweep.py.

Weights are Xavier-initialised; BatchNorm gets random affine parameters and the statistics of what it sees on
the test input (times factors near 1), as shared/reference/REAL_MODELS.md says: random statistics give
meaningless outputs (boxes of 1e17). Models are saved with ``net.export`` and read back from those files.
"""
from __future__ import annotations

import sys

import numpy as np

RNG = np.random.default_rng(0)


class GluonCVMissing(ImportError):
    pass


def import_gluoncv():
    """gluoncv 0.10.5 refuses to import next to torch >= 2 (a version check that raises RuntimeError)."""
    saved = sys.modules.get("torch")
    sys.modules["torch"] = None  # makes gluoncv's optional `import torch` fail as if torch were absent
    try:
        import gluoncv
    except ImportError as exc:
        raise GluonCVMissing(str(exc)) from None
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved
    return gluoncv


def calibrate_batchnorm(net, *inputs, rng=RNG):
    """Give every BatchNorm the statistics of what it sees on ``inputs`` (times random factors near 1)."""
    import mxnet as mx

    bns = []

    def collect(block):
        if isinstance(block, mx.gluon.nn.BatchNorm):
            bns.append(block)
    net.apply(collect)
    for bn in bns:
        bn.gamma.set_data(mx.nd.array(rng.uniform(0.5, 1.5, bn.gamma.shape)))
        bn.beta.set_data(mx.nd.array(rng.uniform(-0.2, 0.2, bn.beta.shape)))
    # each BatchNorm's statistics are set just before it runs, so it sees calibrated inputs: one pass does all
    def hook(bn, args):
        data = args[0].asnumpy().astype(np.float64)
        axes = tuple(i for i in range(data.ndim) if i != 1)
        c = data.shape[1]
        bn.running_mean.set_data(mx.nd.array(data.mean(axis=axes) * rng.uniform(0.9, 1.1, c)))
        bn.running_var.set_data(mx.nd.array(data.var(axis=axes) * rng.uniform(0.9, 1.1, c) + 1e-3))
    handles = [bn.register_forward_pre_hook(hook) for bn in bns]
    net(*inputs)
    for h in handles:
        h.detach()


def export_block(net, inputs, folder, calibrate=True):
    """Initialise, calibrate, hybridize and export ``net``; returns (symbol file, params file)."""
    import mxnet as mx

    mx.random.seed(0)
    net.initialize(mx.init.Xavier(), force_reinit=True)
    nd_inputs = [mx.nd.array(v, dtype=v.dtype) for v in inputs]
    if calibrate:
        net(*nd_inputs)  # finishes deferred initialisation (layers without in_channels)
        calibrate_batchnorm(net, *nd_inputs)
    net.hybridize()
    net(*nd_inputs)
    prefix = str(folder / "model") if hasattr(folder, "joinpath") else f"{folder}/model"
    net.export(prefix)
    return prefix + "-symbol.json", prefix + "-0000.params"


def run_exported(sym_file, params_file, feeds, dtype=None):
    """MXNet's outputs on the exported files (``dtype="float64"``: the whole net cast to float64)."""
    import mxnet as mx

    block = mx.gluon.SymbolBlock.imports(sym_file, list(feeds), params_file)
    if dtype is not None:
        block.cast(dtype)
    outs = block(*[mx.nd.array(v, dtype=dtype or v.dtype) for v in feeds.values()])
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return [o.asnumpy() for o in outs]


def zero_unassigned_roi_align(graph: dict) -> dict:
    """The symbol JSON ``graph`` with every ROIAlign's rows of a negative batch index set to zeros.

    GluonCV's FPN R-CNNs pool each level's rois with the others' batch index set to -1 and sum the levels,
    counting on zeros there; MXNet 1.9.1's CPU ROIAlign skips those rows, leaving whatever its output buffer
    held (two runs of one model differ), so the reference is made to say what the model means, as the IR does.
    """
    nodes, moved = [], {}

    def add(op, name, inputs, attrs=None):
        nodes.append({"op": op, "name": name, "attrs": attrs or {}, "inputs": inputs})
        return len(nodes) - 1

    for i, node in enumerate(graph["nodes"]):
        node = dict(node, inputs=[[moved[e[0]], e[1], e[2] if len(e) > 2 else 0] for e in node["inputs"]])
        k = len(nodes)
        nodes.append(node)
        if node["op"] == "_contrib_ROIAlign":
            name = node["name"]
            column = add("slice_axis", f"{name}_batch_index", [node["inputs"][1]],
                         {"axis": "1", "begin": "0", "end": "1"})
            assigned = add("_greater_equal_scalar", f"{name}_assigned", [[column, 0, 0]], {"scalar": "0"})
            assigned = add("reshape", f"{name}_assigned4", [[assigned, 0, 0]], {"shape": "(-1, 1, 1, 1)"})
            assigned = add("broadcast_like", f"{name}_assigned_all", [[assigned, 0, 0], [k, 0, 0]])
            zeros = add("zeros_like", f"{name}_zeros", [[k, 0, 0]])
            k = add("where", f"{name}_defined", [[assigned, 0, 0], [k, 0, 0], [zeros, 0, 0]])
        moved[i] = k
    return {"nodes": nodes, "arg_nodes": [i for i, n in enumerate(nodes) if n["op"] == "null"],
            "heads": [[moved[h[0]], h[1], h[2] if len(h) > 2 else 0] for h in graph["heads"]],
            "attrs": graph.get("attrs", {})}
