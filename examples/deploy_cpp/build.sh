#!/bin/sh
# Builds deploy_model from main.cc against the TVM wheel of the Python found as $PYTHON (default python3):
# its tvm_ffi headers, libtvm_ffi.so and libtvm_runtime.so. The rpath points at the wheel's lib folders, so the
# program runs without LD_LIBRARY_PATH (and without Python).
#   PYTHON=.venv/bin/python [CXX=g++] [CXXFLAGS=-O2] examples/deploy_cpp/build.sh [OUTPUT]
# (OUTPUT defaults to deploy_model next to main.cc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/deploy_model}
set -- $("${PYTHON:-python3}" -c "
import os, tvm_ffi.libinfo as f, tvm.libinfo as t
print(f.find_include_path(), f.find_dlpack_include_path(),
      os.path.dirname(f.find_libtvm_ffi()), os.path.dirname(t.find_libtvm_runtime()))")
# libtvm_runtime.so is linked although main.cc calls none of its symbols: loading it registers the Relax VM
# (vm_load_executable) and the CPU device, hence --no-as-needed.
${CXX:-g++} -std=c++17 ${CXXFLAGS:--O2} -o "$out" "$here/main.cc" -I"$1" -I"$2" \
  -L"$3" -L"$4" -Wl,--no-as-needed -ltvm_ffi -ltvm_runtime -Wl,--as-needed -Wl,-rpath,"$3:$4"
echo "$out"
