# nnvm_bridge developer tasks.  `make install && make test` is what CI (.ci/run) runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: install test test-fast demo bench docs clean

# The constraints file keeps numpy at 1.23.5: torch/scipy/onnx may try to upgrade it, and
# `import mxnet` (1.9.1) breaks on numpy >= 1.24.
install:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e ".[all,test]"

# All tests, slow (model-zoo sized) ones included.
test:
	$(PY) -m pytest -q tests --durations=30

test-fast:
	$(PY) -m pytest -q -m "not slow" tests

# Gluon resnet18_v1 (random weights) -> ONNX, checked with onnxruntime against MXNet.
demo:
	$(PY) tools/demo.py

# Conversion time and peak RSS, nnvm_bridge vs mx.onnx.export_model (creates bench_out/mx2onnx-venv).
bench:
	$(PY) benchmarks/convert.py

# Regenerate the support matrix between the markers in README.md.
docs:
	$(PY) tools/gen_support_matrix.py --write README.md

clean:
	rm -rf build dist *.egg-info .pytest_cache bench_out/demo
