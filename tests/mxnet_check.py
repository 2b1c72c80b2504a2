"""Shared checks for the from_mxnet tests: MXNet forward (the reference) vs ONNX Runtime on the export."""
from __future__ import annotations

import numpy as np
from tolerance import assert_close as close  # noqa: E402,F401

mx = None


def _mx():
    global mx
    if mx is None:
        import mxnet

        mx = mxnet
    return mx


def random_params(sym, shapes, rng, given=None, positive=()):
    """Random args/aux for every non-input argument of ``sym`` (shapes from MXNet's own inference)."""
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    given = dict(given or {})
    args, aux = {}, {}
    for name, s in zip(sym.list_arguments(), arg_shapes):
        if name in shapes or name.endswith("label"):
            continue
        args[name] = given.pop(name) if name in given else rng.normal(0, 0.5, s).astype(np.float32)
    for name, s in zip(sym.list_auxiliary_states(), aux_shapes):
        if name in given:
            aux[name] = given.pop(name)
        elif name.endswith("var") or name in positive:
            aux[name] = rng.uniform(0.5, 2.0, s).astype(np.float32)
        else:
            aux[name] = rng.normal(0, 0.5, s).astype(np.float32)
    return args, aux


def mx_forward(sym, inputs: dict, args: dict, aux: dict, labels=()):
    m = _mx()
    arg_shapes, _, _ = sym.infer_shape(**{k: v.shape for k, v in inputs.items()})
    bind_args = {}
    for name, s in zip(sym.list_arguments(), arg_shapes):
        if name in inputs:
            bind_args[name] = m.nd.array(inputs[name], dtype=inputs[name].dtype)
        elif name in args:
            bind_args[name] = m.nd.array(args[name], dtype=args[name].dtype)
        else:  # a label
            bind_args[name] = m.nd.zeros(s)
    ex = sym.bind(m.cpu(), args=bind_args, aux_states={k: m.nd.array(v) for k, v in aux.items()},
                  grad_req="null")
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def run_onnx(graph, params, inputs: dict, opset=None):
    import onnxruntime as ort

    from nnvm_bridge.frontend import to_onnx

    model = to_onnx(graph, params, opset=opset)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: inputs[n] for n in names}), model


def check_symbol(sym, inputs: dict, *, rtol=1e-4, params=None, positive=(), seed=0, numerics=True, opset=None):
    """from_mxnet(sym) must infer MXNet's output shapes and (through ONNX) match MXNet's forward."""
    from nnvm_bridge.frontend import from_mxnet

    rng = np.random.default_rng(seed)
    shapes = {k: v.shape for k, v in inputs.items()}
    args, aux = random_params(sym, shapes, rng, params, positive)
    graph, out_params = from_mxnet(sym, args, aux, shape=shapes)
    _, out_shapes, _ = sym.infer_shape(**shapes)
    got = [graph.shape_of(e) for e in graph.outputs]
    assert got == [tuple(s) for s in out_shapes], (got, out_shapes)
    if not numerics:
        return graph, out_params
    ref = mx_forward(sym, inputs, args, aux)
    outs, _ = run_onnx(graph, out_params, inputs, opset=opset)
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        close(o, r, rtol)
    return graph, out_params
