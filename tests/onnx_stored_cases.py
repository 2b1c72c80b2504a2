"""An older onnx release's stored node test cases, read without installing that release.

onnx wheels carry their node cases as files (``onnx/backend/test/data/node/<case>/model.onnx`` and
``test_data_set_<k>/{input,output}_<i>.pb``).  The first use downloads the wheel with pip (``--no-deps``,
into a temporary folder), extracts just that folder into the cache and drops the wheel; later uses read
the cache.  Values are read the way onnx's own backend runner reads them, by the graph's declared types.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

NODE_DATA = "onnx/backend/test/data/node/"
CACHE_ENV = "NNVM_BRIDGE_ONNX_CASE_CACHE"
# onnx's loader gives every stored node case these tolerances
RTOL, ATOL = 1e-3, 1e-7


@dataclass
class StoredCase:
    name: str
    model: object
    data_sets: list
    rtol: float = RTOL
    atol: float = ATOL


def cache_dir(version: str) -> str:
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "nnvm_bridge")
    return os.path.join(root, f"onnx-{version}-node")


def ensure_cases(version: str) -> str:
    """The folder holding ``version``'s case folders, downloaded and extracted on first use."""
    target = cache_dir(version)
    if os.path.isdir(target) and os.listdir(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"onnx=={version}", "--no-deps", "--only-binary",
                        ":all:", "-d", tmp, "-q"], check=True)
        wheels = glob.glob(os.path.join(tmp, "onnx-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip downloaded no onnx {version} wheel for this platform")
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as z:
            for member in z.namelist():
                if member.startswith(NODE_DATA) and not member.endswith("/"):
                    path = os.path.join(partial, member[len(NODE_DATA):])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with z.open(member) as src, open(path, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        os.replace(partial, target)
    return target


def _read_value(path, type_proto):
    """A tensor as an ndarray; a sequence or optional as its proto (the harness reports those as non-tensors)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    with open(path, "rb") as f:
        data = f.read()
    if type_proto.HasField("tensor_type"):
        t = onnx.TensorProto()
        t.ParseFromString(data)
        array = numpy_helper.to_array(t)
        if type_proto.tensor_type.elem_type == onnx.TensorProto.BFLOAT16 and array.dtype == np.uint16:
            import ml_dtypes  # onnx 1.14 stored bfloat16 data as uint16 tensors of the bits

            array = array.view(ml_dtypes.bfloat16)
        return array
    proto = onnx.SequenceProto() if type_proto.HasField("sequence_type") else onnx.OptionalProto()
    proto.ParseFromString(data)
    return proto


def _read_case(folder):
    import onnx

    model = onnx.load(os.path.join(folder, "model.onnx"))
    data_sets = []
    for set_dir in sorted(glob.glob(os.path.join(folder, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(set_dir, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(set_dir, "output_*.pb")))
        inputs = [_read_value(os.path.join(set_dir, f"input_{i}.pb"), model.graph.input[i].type)
                  for i in range(n_in)]
        outputs = [_read_value(os.path.join(set_dir, f"output_{i}.pb"), model.graph.output[i].type)
                   for i in range(n_out)]
        data_sets.append((inputs, outputs))
    return StoredCase(os.path.basename(folder), model, data_sets)


def load_cases(version: str) -> dict:
    """name -> StoredCase for every stored node case of onnx ``version``."""
    root = ensure_cases(version)
    return {name: _read_case(os.path.join(root, name)) for name in sorted(os.listdir(root))
            if os.path.isfile(os.path.join(root, name, "model.onnx"))}
