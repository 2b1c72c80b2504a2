#!/usr/bin/env bash
# One-shot GPU check for nnvm_bridge's TVM path, meant for the lent GPU machine (`run` tool):
#   carry build/gpu (tvm.tar.xz = the apache-tvm wheel without 3rdparty/web/src, the apache-tvm-ffi
#   cp312 wheel, and optionally a CUDA library compiled on the CPU machine: cuda_smoke.so + .meta.json).
# It unpacks TVM, then runs tools/gpu_check.py: correctness and latency of ResNet-18/50 and
# MobileNetV2 (imported from ONNX by nnvm_bridge, compiled for CUDA) against PyTorch eager and
# onnxruntime. Results go to $OUT/gpu_check.json (and stdout).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SITE=/tmp/nb_site
mkdir -p "$SITE"
t0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    "$ROOT"/build/gpu/apache_tvm_ffi-*.whl
tar xJf "$ROOT/build/gpu/tvm.tar.xz" -C "$SITE"
echo "setup took $(( $(date +%s) - t0 )) s"
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 "$ROOT/tools/gpu_check.py" --out "${OUT:-/tmp}/gpu_check.json" "$@"
