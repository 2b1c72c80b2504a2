"""Peak RSS of `nnvm-bridge convert` on Gluon VGG16 (~553 MB of float32 weights), as a multiple of the weights.

    python benchmarks/bench_export_peak_vgg16.py --work /tmp/vgg16

Makes vgg16-symbol.json / vgg16-0000.params once (model zoo, random weights, hybridized, one forward,
net.export), then runs
    /usr/bin/time -v nnvm-bridge convert vgg16-symbol.json --input-shape 1,3,224,224 -o vgg16.onnx
in a fresh process and prints "Maximum resident set size" over the .params file size.
(2026-11, 2-core dev box: 2.22 GB = 4.01x before streaming the inline export; 0.60 GB = 1.08x after.)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys


def make_vgg16(work):
    import mxnet as mx

    net = mx.gluon.model_zoo.vision.vgg16(pretrained=False)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    net.export(os.path.join(work, "vgg16"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="folder for the symbol, params and ONNX files")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    symbol = os.path.join(args.work, "vgg16-symbol.json")
    params = os.path.join(args.work, "vgg16-0000.params")
    if not (os.path.exists(symbol) and os.path.exists(params)):
        make_vgg16(args.work)
    cli = shutil.which("nnvm-bridge", path=os.path.dirname(sys.executable)) or shutil.which("nnvm-bridge")
    cmd = ["/usr/bin/time", "-v", cli, "convert", symbol, "--input-shape", "1,3,224,224",
           "-o", os.path.join(args.work, "vgg16.onnx")]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    weights = os.path.getsize(params)
    print(f"{' '.join(cmd)}\npeak RSS {peak_kb * 1024 / 1e6:.0f} MB; weights {weights / 1e6:.0f} MB; "
          f"{peak_kb * 1024 / weights:.2f}x")


if __name__ == "__main__":
    main()
