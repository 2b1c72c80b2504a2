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

    for p in net.collect_params().values():
        # GluonCV's SSD feature expanders ask Xavier for their BatchNorm vectors too, which it refuses: those
        # start at BatchNorm's defaults (calibrated below)
        if p.name.endswith(("gamma", "running_var", "moving_var")):
            p.init = mx.init.One()
        elif p.name.endswith(("beta", "running_mean", "moving_mean")):
            p.init = mx.init.Zero()
        elif p.name.endswith("bias") and p.init is None:  # FPN's lateral convs hold bare bias vectors
            p.init = mx.init.Zero()
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


def calibrate_exported(sym_file, params_file, x, rng=RNG):
    """Give every BatchNorm of the exported symbol the statistics of its input on ``x`` (times random factors
    near 1) and random affine parameters, in graph order, so each sees calibrated inputs: also the BatchNorms
    that no Gluon block holds (SSD's feature expanders are symbols), which ``calibrate_batchnorm`` misses."""
    import json

    import mxnet as mx

    saved = mx.nd.load(params_file)
    params = {k.split(":", 1)[1]: v for k, v in saved.items()}
    graph = json.loads(mx.sym.load(sym_file).tojson())
    for node in graph["nodes"]:
        if node["op"] != "BatchNorm":
            continue
        # the BN's input as the symbol's one output (names need not be unique: Mask R-CNN repeats some)
        feed = mx.sym.load_json(json.dumps({**graph, "heads": [node["inputs"][0]]}))
        args = {n: params[n] if n != "data" else mx.nd.array(x) for n in feed.list_arguments()}
        aux = {n: params[n] for n in feed.list_auxiliary_states()}
        data = feed.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null").forward()[0].asnumpy()
        data = data.astype(np.float64)
        axes = tuple(i for i in range(data.ndim) if i != 1)
        c = data.shape[1]
        gamma, beta, mean, var = (graph["nodes"][i[0]]["name"] for i in node["inputs"][1:5])
        params[gamma] = mx.nd.array(rng.uniform(0.5, 1.5, c))
        params[beta] = mx.nd.array(rng.uniform(-0.2, 0.2, c))
        params[mean] = mx.nd.array(data.mean(axis=axes) * rng.uniform(0.9, 1.1, c))
        params[var] = mx.nd.array(data.var(axis=axes) * rng.uniform(0.9, 1.1, c) + 1e-3)
    mx.nd.save(params_file, {k: params[k.split(":", 1)[1]] for k in saved})


def run_exported(sym_file, params_file, feeds, dtype=None):
    """MXNet's outputs on the exported files (``dtype="float64"``: the whole net cast to float64, and the
    float32 constants of detectors, anchors made with dtype="float32" and argsort's float32 indices, made
    float64 too, or MXNet refuses the mix); ROIAlign's skipped rows are zeros (``zero_unassigned_roi_align``)."""
    import json

    import mxnet as mx

    with open(sym_file) as f:
        graph = zero_unassigned_roi_align(json.load(f))
    if dtype == "float64":
        for node in graph["nodes"]:
            attrs = node.setdefault("attrs", {})
            if attrs.get("dtype") == "float32" or (node["op"] in ("argsort", "topk") and "dtype" not in attrs):
                attrs["dtype"] = "float64"
    sym_file = sym_file.replace("-symbol.json", f"-reference-{dtype}-symbol.json")
    with open(sym_file, "w") as f:
        json.dump(graph, f)
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


# ---- detections -------------------------------------------------------------------------------------
def detection_rows(r):
    """(batch, detections, values): CenterNet's ids and scores are (batch, k), Mask R-CNN's masks (batch, k, h, w)."""
    return r.reshape(r.shape[0], r.shape[1], -1)


def float32_noise(ref32, ref64):
    """MXNet float32's own error per output, on the detections float32 and float64 agree on (same class,
    score within 1e-4) at the same place: on random-weight nets it can exceed 1e-4 relative on the boxes.
    Detections whose float64 score ties with another's within 1e-4 are left out: float32 may swap them, and a
    swapped box would pass for error."""
    rows = [detection_rows(r) for r in ref32], [detection_rows(r) for r in ref64]
    same = (rows[0][0] == rows[1][0]).all(-1) & (np.abs(rows[0][1] - rows[1][1]) <= 1e-4).all(-1)
    scores = rows[1][1][..., 0]
    same &= (np.abs(scores[:, :, None] - scores[:, None, :]) <= 1e-4).sum(-1) == 1
    return [float(np.abs(a - b)[same].max()) if same.any() else 0.0 for a, b in zip(*rows)]


def match_detections(got, ref, tols):
    """(problem, errors): ``problem`` None when every detection row of ``ref`` (ids, scores, boxes, ...: one row
    across the outputs) has a row of ``got`` within ``tols`` (one per output) at its place or at the place of a
    detection whose score ties with it within twice the scores' tolerance (those may swap), else what differs;
    ``errors``: per output, the largest difference between the rows matched."""
    if len(got) != len(ref):
        return f"{len(got)} outputs, MXNet has {len(ref)}", []
    for i, (g, r) in enumerate(zip(got, ref)):
        if np.shape(g) != r.shape:
            return f"output {i}: shape {np.shape(g)} != MXNet's {r.shape}", []
    ref = [detection_rows(r) for r in ref]
    widths = [r.shape[-1] for r in ref]
    got_rows = np.concatenate([np.asarray(g, np.float64).reshape(r.shape) for g, r in zip(got, ref)], axis=-1)
    ref_rows = np.concatenate([r.astype(np.float64) for r in ref], axis=-1)
    tol = np.concatenate([np.full(w, t) for w, t in zip(widths, tols)])
    bounds = np.cumsum([0] + widths)
    errors = [0.0] * len(ref)
    score_col = widths[0]
    for b in range(ref_rows.shape[0]):
        free = list(range(ref_rows.shape[1]))
        cut = ref_rows[b, -1, score_col]

        def at_cut(row):  # tied with the last kept detection: another such row may take its place
            return abs(row[score_col] - cut) <= 2 * tols[1]
        for i, row in enumerate(ref_rows[b]):
            ties = [j for j in free if abs(ref_rows[b, j, score_col] - row[score_col]) <= 2 * tols[1]]
            match = [j for j in ([i] if i in free else []) + ties if np.all(np.abs(got_rows[b, j] - row) <= tol)]
            if not match:
                if at_cut(row):
                    continue
                return (f"MXNet's detection {i} of image {b} {row[:6]} has no match (at {i}: "
                        f"{got_rows[b, i][:6]})"), errors
            free.remove(match[0])
            diff = np.abs(got_rows[b, match[0]] - row)
            errors = [max(e, float(diff[lo:hi].max())) for e, lo, hi in zip(errors, bounds[:-1], bounds[1:])]
        extra = [j for j in free if not any(np.all(np.abs(got_rows[b, j] - r) <= tol) for r in ref_rows[b])]
        if not all(at_cut(got_rows[b, j]) for j in extra):
            return f"detections {extra} of image {b} are not MXNet's", errors
    return None, errors
