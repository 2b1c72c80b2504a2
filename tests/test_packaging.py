"""Packaging: import lightness, public names, setup.py extras, entry points, Makefile/CI wiring."""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("mxnet", "tvm", "tvm_ffi", "onnxruntime", "torch")


def _run(code: str):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_import_does_not_load_mxnet_tvm_or_onnxruntime():
    code = ("import sys, json, nnvm_bridge as nb; nb.frontend; nb.export_model; nb.compile_model; "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_cli_help_is_light_too():
    # `nnvm-bridge --help` must not pay for MXNet/TVM imports either.
    code = ("import sys, json\nfrom nnvm_bridge import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n"
            f"    pass\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_public_api_names():
    import nnvm_bridge as nb

    for name in ("export_model", "import_model", "import_to_gluon", "compile_model", "load_compiled", "Graph",
                 "BridgeError", "__version__"):
        assert name in nb.__all__ and hasattr(nb, name), name
    for name in ("from_onnx", "from_mxnet", "to_onnx", "to_mxnet"):
        assert callable(getattr(nb.frontend, name)), name
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", nb.__version__)


def _setup_kwargs():
    """The keyword arguments setup.py passes to setuptools.setup (run for real, setup() captured)."""
    import runpy

    import setuptools

    captured = {}
    real = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        runpy.run_path(os.path.join(ROOT, "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = real
    return captured


def test_setup_extras_and_entry_point():
    import nnvm_bridge

    kw = _setup_kwargs()
    assert kw["version"] == nnvm_bridge.__version__
    assert sorted(kw["install_requires"]) == ["numpy", "onnx>=1.14"]
    extras = kw["extras_require"]
    assert {"mxnet", "tvm", "ort", "all", "test"} <= set(extras)
    assert "mxnet==1.9.1" in extras["mxnet"] and "numpy<1.24" in extras["mxnet"]
    assert "apache-tvm==0.27.0.post1" in extras["tvm"] and "apache-tvm-ffi==0.1.14.post1" in extras["tvm"]
    for dep in ("xgboost-cpu", "scipy<1.13", "psutil", "cloudpickle"):
        assert dep in extras["tvm"], dep
    assert "onnxruntime" in extras["ort"]
    assert set(extras["mxnet"]) | set(extras["tvm"]) | set(extras["ort"]) == set(extras["all"])
    assert {"pytest", "hypothesis", "psutil"} <= set(extras["test"])
    assert kw["entry_points"]["console_scripts"] == ["nnvm-bridge=nnvm_bridge.cli:main"]
    assert {"nnvm_bridge", "nnvm_bridge.ir", "nnvm_bridge.frontend", "frontend_ext"} <= set(kw["packages"])


def test_exactly_two_top_level_packages():
    # docs/architecture.md says why frontend_ext installs under its own name; nothing else may.
    assert {p.split(".")[0] for p in _setup_kwargs()["packages"]} == {"nnvm_bridge", "frontend_ext"}


def test_makefile_and_ci_agree_with_readme():
    with open(os.path.join(ROOT, "Makefile")) as f:
        make = f.read()
    for target in ("install", "test", "test-fast", "demo", "bench", "docs"):
        assert re.search(rf"^{re.escape(target)}:", make, re.M), target
    assert "-c constraints.txt" in make and '-e ".[all,test]"' in make
    with open(os.path.join(ROOT, "constraints.txt")) as f:
        assert "numpy==1.23.5" in f.read().split()
    ci = os.path.join(ROOT, ".ci", "run")
    assert os.access(ci, os.X_OK)
    with open(ci) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    assert "set -euo pipefail" in lines and lines[-2:] == ["make install", "make test"]
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert "make install" in readme and "make test" in readme
    test_cmd = re.search(r"^test:\n\t(.+)$", make, re.M).group(1)
    assert "pytest -q tests" in test_cmd and "not slow" not in test_cmd


def test_console_script_and_module_entry_points():
    script = os.path.join(os.path.dirname(sys.executable), "nnvm-bridge")
    if not os.path.exists(script):
        pytest.skip("package not installed with its console script (pip install -e .)")
    for cmd in ([script, "--version"], [sys.executable, "-m", "nnvm_bridge", "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().startswith("nnvm-bridge ")


def test_support_matrix_in_readme_is_current():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import gen_support_matrix as gen
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    block = readme.split(gen.START, 1)[1].split(gen.END, 1)[0]
    assert block.strip() == gen.render().strip(), "README support matrix is stale: run `make docs`"
