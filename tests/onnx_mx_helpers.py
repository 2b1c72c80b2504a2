"""Helpers for the ONNX -> MXNet tests: run a model in onnxruntime, MXNet Module and Gluon."""
from __future__ import annotations

import os

import numpy as np
from tolerance import assert_close  # noqa: E402,F401


def light_model_dir():
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def randomize_light_model(model, seed=0):
    """ONNX's light CNNs fill every weight with the constant 0.02 through ConstantOfShape; swap those
    for seeded random initializers (He-scaled, 1-d ones positive) so a wrong op shows up."""
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    keep = []
    new_inits = []
    for n in m.graph.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = tuple(int(d) for d in inits[n.input[0]])
            if len(shape) == 1:
                w = rng.uniform(0.5, 1.5, shape)
            else:
                fan = int(np.prod(shape[1:]))
                w = rng.standard_normal(shape) * np.sqrt(2.0 / fan)
            new_inits.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.graph.initializer.extend(new_inits)
    return m


def data_inputs(model):
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def ort_run(model, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def module_run(sym, params, feeds):
    """Bind ``sym`` in an ``mx.mod.Module`` (the MXNet 1.x inference API) and run one batch."""
    import mxnet as mx

    names = list(feeds)
    args = {k: v for k, v in params.items() if k in set(sym.list_arguments())}
    aux = {k: v for k, v in params.items() if k in set(sym.list_auxiliary_states())}
    mod = mx.mod.Module(sym, data_names=names, label_names=None, context=mx.cpu())
    # a layout without "N": inputs need not share a batch axis (RNN states are (layers, N, H))
    mod.bind(data_shapes=[mx.io.DataDesc(k, v.shape, dtype=v.dtype, layout="X" * max(v.ndim, 1))
                          for k, v in feeds.items()],
             for_training=False)
    mod.set_params(args, aux, allow_missing=False)
    mod.forward(mx.io.DataBatch([mx.nd.array(v, dtype=v.dtype) for v in feeds.values()]), is_train=False)
    return [o.asnumpy() for o in mod.get_outputs()]


def gluon_run(block, feeds):
    import mxnet as mx

    out = block(*[mx.nd.array(v, dtype=v.dtype) for v in feeds.values()])
    if isinstance(out, (list, tuple)):
        return [o.asnumpy() for o in out]
    return [out.asnumpy()]
