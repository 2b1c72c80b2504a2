import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    # Single source of truth: nnvm_bridge/version.py (read as text: setup must not import the package).
    with open(os.path.join(HERE, "nnvm_bridge", "version.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def read_readme():
    path = os.path.join(HERE, "README.md")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


EXTRAS = {
    # MXNet 1.9.1 is the last release; `import mxnet` needs numpy < 1.24 (np.bool).
    "mxnet": ["mxnet==1.9.1", "numpy<1.24"],
    # apache-tvm-ffi 0.1.15.post2 segfaults when saving TVM objects (tuning databases): pin 0.1.14.post1.
    # xgboost (the CPU-only wheel: the default one pulls 350 MB of NCCL), scipy, psutil and cloudpickle are what
    # MetaSchedule tuning needs.
    "tvm": ["apache-tvm==0.27.0.post1", "apache-tvm-ffi==0.1.14.post1", "xgboost-cpu", "scipy<1.13", "psutil",
            "cloudpickle"],
    "ort": ["onnxruntime"],
    "plot": ["matplotlib"],  # `nnvm-bridge bench --plot`
    # torch is a reference implementation in some op tests; constraints.txt pins the CPU build 2.13.0.
    # gluoncv / gluonnlp: the model zoos of tests/test_gluon_zoo_models.py (gluonnlp builds with Cython).
    # transformers / timm / torchvision / onnxscript: the PyTorch-exported real models of tests/test_real_models.py
    # (torchvision 0.28's wheel is CUDA-linked; the tests define its two custom ops before importing it).
    "test": ["pytest", "hypothesis", "psutil", "torch", "gluoncv==0.10.5.post0", "gluonnlp==0.10.0", "cython",
             "matplotlib", "transformers==4.47.1", "timm==1.0.31", "torchvision==0.28.0", "onnxscript"],
}
EXTRAS["all"] = sorted({req for name in ("mxnet", "tvm", "ort") for req in EXTRAS[name]})

setup(
    name="nnvm_bridge",
    version=read_version(),
    description="MXNet <-> ONNX conversion through the NNVM graph IR, and TVM compilation",
    long_description=read_readme(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["nnvm_bridge", "nnvm_bridge.*", "frontend_ext", "frontend_ext.*"]),
    python_requires=">=3.9",
    install_requires=["numpy", "onnx>=1.14"],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["nnvm-bridge=nnvm_bridge.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
