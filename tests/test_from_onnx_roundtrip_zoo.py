"""MXNet -> ONNX -> MXNet round trips of Gluon model-zoo networks (random weights and BatchNorm
statistics): from_mxnet -> to_onnx -> from_onnx -> to_mxnet, run through import_model (Module) and
import_to_gluon, against the original Gluon outputs."""
from __future__ import annotations

import numpy as np
import pytest

from onnx_mx_helpers import assert_close, gluon_run, module_run

mx = pytest.importorskip("mxnet")

ZOO = [("resnet18_v1", 224), ("resnet18_v2", 224), ("mobilenet1.0", 224), ("mobilenetv2_1.0", 224),
       ("densenet121", 224), ("squeezenet1.0", 224), ("inceptionv3", 299), ("alexnet", 224), ("vgg11_bn", 224)]


def _net(name, size):
    import warnings

    from mxnet.gluon.model_zoo import vision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = vision.get_model(name, pretrained=False)
        net.initialize(mx.init.Xavier(magnitude=2.0))
        net.hybridize()
        x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        net(mx.nd.array(x))  # materialise deferred shapes
        rng = np.random.default_rng(1)
        for pname, p in net.collect_params().items():
            if pname.endswith(("running_mean", "beta")):
                p.set_data(mx.nd.array(rng.uniform(-0.2, 0.2, p.shape).astype(np.float32)))
            elif pname.endswith(("running_var", "gamma")):
                p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
        ref = net(mx.nd.array(x)).asnumpy()
    return net, x, ref


@pytest.mark.slow
@pytest.mark.parametrize("name,size", ZOO, ids=[z[0] for z in ZOO])
def test_gluon_zoo_round_trip_through_onnx(name, size):
    from nnvm_bridge import import_model, import_to_gluon
    from nnvm_bridge.frontend import from_mxnet, to_onnx

    net, x, ref = _net(name, size)
    scale = float(np.max(np.abs(ref)))
    assert scale > 0 and float(np.std(ref)) > 1e-3 * scale  # an informative reference
    graph, params = from_mxnet(net, shape={"data": x.shape})
    model = to_onnx(graph, params)
    inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    feeds = {inputs[0]: x}
    sym, mx_params = import_model(model)
    # compare relative to the output's own scale (squeezenet's random-weight outputs are ~1e-5)
    assert_close(module_run(sym, mx_params, feeds)[0] / scale, ref / scale)
    assert_close(gluon_run(import_to_gluon(model), feeds)[0] / scale, ref / scale)
