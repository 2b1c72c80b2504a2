"""ONNX node conformance through from_onnx -> to_relax -> TVM: a fixed sample of the cases.

The full run (`python benchmarks/tvm_conformance.py`) writes benchmarks/results/tvm_conformance_nnvm.json,
whose "failures" map is the expected-failure list with reasons (with NNVM_BRIDGE_ONNX_CASES=1.14.1: onnx
1.14.1's cases and tvm_conformance_nnvm_onnx1.14.1.json, written by `--cases 1.14.1`). Here every 25th case
that the list does not excuse must pass, and every 25th excused case must still fail (so the list stays honest).
"""
import json
import os
import sys

import pytest

pytest.importorskip("tvm")
pytest.importorskip("onnx")

import onnx_conformance  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results",
                       f"tvm_conformance_nnvm{onnx_conformance.case_set_suffix()}.json")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
if onnx_conformance.case_set() != "installed" and not os.path.exists(RESULTS):
    pytest.skip(f"no {os.path.basename(RESULTS)}; write it with benchmarks/tvm_conformance.py --cases "
                f"{onnx_conformance.case_set()}", allow_module_level=True)


def _expected_failures():
    with open(RESULTS) as f:
        return json.load(f)["failures"]


def _sample(step=25):
    import onnx_conformance as oc

    xfail = _expected_failures()
    names = oc.case_names()
    passing = [n for n in names if n not in xfail][::step]
    failing = [n for n in sorted(xfail) if not xfail[n].startswith("unsupported")][::step]
    return passing, failing


PASSING, FAILING = _sample() if os.path.exists(RESULTS) else ([], [])


def test_results_file_is_present_and_counts_add_up():
    with open(RESULTS) as f:
        res = json.load(f)
    assert res["cases"] == res["passed"] + len(res["failures"])
    assert res["passed"] >= 900


@pytest.mark.parametrize("name", PASSING)
def test_listed_as_passing_passes(name):
    import onnx_conformance as oc
    from tvm_conformance import run_nnvm

    run_nnvm(oc.cases()[name])


@pytest.mark.parametrize("name", FAILING)
def test_listed_as_failing_still_fails(name):
    import onnx_conformance as oc
    from tvm_conformance import run_nnvm

    with pytest.raises(Exception):
        run_nnvm(oc.cases()[name])
