"""SHA-256 of the ONNX files nnvm_bridge writes for every Gluon zoo classifier (random weights, seeded).

A refactoring must not change what the exporter writes: run this before and after, and diff.
    python tools/zoo_digests.py > before.txt   ...   python tools/zoo_digests.py > after.txt
Each model goes three ways: from the Gluon block, from `net.export` files through `export_model`
(streamed to a file), and at opsets 11/13/17/21 from the files.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="zoo names (default: all 34)")
    args = p.parse_args(argv)
    import nnvm_bridge as nb
    from nnvm_bridge.frontend import from_mxnet, to_onnx
    from test_zoo_export import ZOO, make_model

    for name in args.models or ZOO:
        net, x, _, _ = make_model(name)
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, name)
            net.export(prefix)
            graph, params = from_mxnet(net, shape={"data": x.shape})
            row = [name, "block", _digest(to_onnx(graph, params).SerializeToString())]
            out = os.path.join(tmp, "m.onnx")
            nb.export_model(prefix + "-symbol.json", prefix + "-0000.params", [x.shape], onnx_file_path=out)
            with open(out, "rb") as f:
                row += ["file", _digest(f.read())]
            graph, params = from_mxnet(prefix + "-symbol.json", prefix + "-0000.params", shape={"data": x.shape})
            for opset in (11, 13, 17, 21):
                row += [f"opset{opset}", _digest(to_onnx(graph, params, opset=opset).SerializeToString())]
            row += ["dyn", _digest(to_onnx(graph, params, dynamic_batch=True).SerializeToString())]
        print(" ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
